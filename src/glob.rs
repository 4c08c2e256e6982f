//! Glob matching for event-type patterns: `*` matches any run of characters (including none),
//! `?` exactly one; everything else matches itself.
//!
//! The one matcher every part of hookgate uses to compare an event type with a pattern: the
//! [`Router`](crate::Router), the spool's routes and log filter, the spec's event lookup, and the
//! generated sender enums. It imports nothing from the crate, so any of them can depend on it.

/// Does `pattern` match `text`?
///
/// ```
/// use hookgate::glob;
/// assert!(glob::matches("ALERT_*", "ALERT_TRIGGERED"));
/// assert!(glob::matches("job.*", "job.failed"));
/// assert!(!glob::matches("job.*", "jobs.failed"));
/// assert!(glob::matches("*", "anything"));
/// ```
pub fn matches(pattern: &str, text: &str) -> bool {
    // Event types are ASCII in practice: match their bytes without allocating. Otherwise `?` must
    // take a whole character, so match characters.
    if pattern.is_ascii() && text.is_ascii() {
        match_units(pattern.as_bytes(), text.as_bytes(), b'?', b'*')
    } else {
        let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
        match_units(&p, &t, '?', '*')
    }
}

/// Iterative matching with one backtrack point (the last `*`): linear in practice, never
/// exponential, whatever the pattern.
fn match_units<T: PartialEq + Copy>(p: &[T], t: &[T], one: T, any: T) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == any)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("ticket.?losed", "ticket.closed"));
        assert!(matches("DEVICE_OFFLINE", "DEVICE_OFFLINE"));
        assert!(!matches("DEVICE_OFFLINE", "DEVICE_ONLINE"));
        assert!(matches("CONDITION.*", "CONDITION.TRIGGERED"));
        assert!(matches("**x", "abx"));
        assert!(!matches("", "a"));
        // `?` takes one character, not one byte.
        assert!(matches("caf?.created", "café.created"));
        assert!(!matches("caf??.created", "café.created"));
        assert!(matches("*é", "café"));
    }
}

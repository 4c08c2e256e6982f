//! Glob matching for event-type patterns: `*` matches any run of characters (including none),
//! `?` exactly one; everything else matches itself.

/// Does `pattern` match `text`?
///
/// ```
/// use hookgate::route::glob_match;
/// assert!(glob_match("ALERT_*", "ALERT_TRIGGERED"));
/// assert!(glob_match("job.*", "job.failed"));
/// assert!(!glob_match("job.*", "jobs.failed"));
/// assert!(glob_match("*", "anything"));
/// ```
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Event types are ASCII in practice: match their bytes without allocating. Otherwise `?` must
    // take a whole character, so match characters.
    if pattern.is_ascii() && text.is_ascii() {
        matches(pattern.as_bytes(), text.as_bytes(), b'?', b'*')
    } else {
        let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
        matches(&p, &t, '?', '*')
    }
}

/// Iterative matching with one backtrack point (the last `*`): linear in practice, never
/// exponential, whatever the pattern.
fn matches<T: PartialEq + Copy>(p: &[T], t: &[T], one: T, any: T) -> bool {
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
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("ticket.?losed", "ticket.closed"));
        assert!(glob_match("DEVICE_OFFLINE", "DEVICE_OFFLINE"));
        assert!(!glob_match("DEVICE_OFFLINE", "DEVICE_ONLINE"));
        assert!(glob_match("CONDITION.*", "CONDITION.TRIGGERED"));
        assert!(glob_match("**x", "abx"));
        assert!(!glob_match("", "a"));
        // `?` takes one character, not one byte.
        assert!(glob_match("caf?.created", "café.created"));
        assert!(!glob_match("caf??.created", "café.created"));
        assert!(glob_match("*é", "café"));
    }
}

//! Rust names from spec names: `ALERT_TRIGGERED` -> `AlertTriggered` / `alert_triggered`.

/// Words of a name: split on anything not alphanumeric and on lower-to-upper case changes.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        let boundary = matches!(prev, Some(p) if (p.is_ascii_lowercase() || p.is_ascii_digit()) && c.is_ascii_uppercase());
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
        prev = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `order.created` -> `OrderCreated`; never empty, never starting with a digit.
pub fn pascal(text: &str) -> String {
    let mut out: String = words(text)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("Value");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

/// `deviceId` -> `device_id`; a valid identifier (raw for keywords).
pub fn snake(text: &str) -> String {
    let mut out = words(text)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        out.push_str("value");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    match out.as_str() {
        // Keywords that cannot be raw identifiers.
        "self" | "super" | "crate" | "extern" => format!("{out}_"),
        kw if KEYWORDS.contains(&kw) => format!("r#{out}"),
        _ => out,
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof",
    "unsized", "virtual", "yield",
];

/// The name serde sees for an identifier (without `r#`).
pub fn serde_name(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal("ALERT_TRIGGERED"), "AlertTriggered");
        assert_eq!(pascal("order.created"), "OrderCreated");
        assert_eq!(pascal("livesLeft"), "LivesLeft");
        assert_eq!(pascal("1st"), "V1st");
        assert_eq!(pascal("*"), "Value");
        assert_eq!(snake("deviceId"), "device_id");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("event_timestamp"), "event_timestamp");
        assert_eq!(snake("2fa"), "_2fa");
        assert_eq!(serde_name("r#type"), "type");
    }
}

//! Name templates of the broker destinations: text with `{source}` and `{event}` placeholders,
//! as in a NATS subject (`webhooks.{source}.{event}`) or a Redis stream key (`hooks:{source}`).
//! Parsing is shared; what a rendered value may contain is each destination's own business.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Source,
    Event,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// A `{` without its `}`, or the other way round.
    Brace,
    /// A placeholder other than `{source}` and `{event}`.
    UnknownPlaceholder(String),
}

/// The pieces of `text`, in order.
pub(crate) fn parse(text: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest.to_owned()));
                rest = "";
            }
            Some(at) if rest[at..].starts_with('}') => return Err(TemplateError::Brace),
            Some(at) => {
                if at > 0 {
                    parts.push(Part::Literal(rest[..at].to_owned()));
                }
                let after = &rest[at + 1..];
                let close = after
                    .find(['{', '}'])
                    .filter(|&end| after[end..].starts_with('}'))
                    .ok_or(TemplateError::Brace)?;
                parts.push(match &after[..close] {
                    "source" => Part::Source,
                    "event" => Part::Event,
                    other => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
                });
                rest = &after[close + 1..];
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_literals_and_braces() {
        assert_eq!(
            parse("a.{source}.{event}"),
            Ok(vec![
                Part::Literal("a.".into()),
                Part::Source,
                Part::Literal(".".into()),
                Part::Event
            ])
        );
        assert_eq!(
            parse("{event}{source}"),
            Ok(vec![Part::Event, Part::Source])
        );
        assert_eq!(parse("x}"), Err(TemplateError::Brace));
        assert_eq!(parse("x{source"), Err(TemplateError::Brace));
        assert_eq!(parse("x{a{b}"), Err(TemplateError::Brace));
        assert_eq!(
            parse("x{id}"),
            Err(TemplateError::UnknownPlaceholder("id".into()))
        );
    }
}

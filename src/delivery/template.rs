//! Name templates of the broker destinations: text with `{source}` and `{event}` placeholders,
//! as in a NATS subject (`webhooks.{source}.{event}`) or a Redis stream key (`hooks:{source}`).
//!
//! [`NameTemplate`] is the one type both destinations hold: parsing and rendering are shared;
//! what a template may say and what a rendered value may contain are each destination's own
//! checks (NATS: no wildcard, no empty token; Redis: no brace in the key).

/// A placeholder of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// `{source}`: the source's name.
    Source,
    /// `{event}`: the event type.
    Event,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text kept as it is.
    Literal(String),
    /// A value of the event.
    Placeholder(Placeholder),
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// A `{` without its `}`, or the other way round.
    Brace,
    /// A placeholder other than `{source}` and `{event}`.
    UnknownPlaceholder(String),
}

/// A parsed name template: its text and its pieces. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameTemplate {
    text: String,
    parts: Vec<Part>,
}

impl NameTemplate {
    /// Parse `text`.
    pub(crate) fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            text: text.to_owned(),
            parts: parse(text)?,
        })
    }

    /// The text it was parsed from.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The pieces, in order.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The literal pieces, in order.
    pub(crate) fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Literal(text) => Some(text.as_str()),
            Part::Placeholder(_) => None,
        })
    }

    /// The name for an event of type `event` from `source`: the literals as they are, and each
    /// placeholder's value as `push` writes it (what a value may contain is the destination's
    /// business).
    pub(crate) fn render(
        &self,
        source: &str,
        event: &str,
        mut push: impl FnMut(&mut String, Placeholder, &str),
    ) -> String {
        let mut name = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Placeholder(p @ Placeholder::Source) => push(&mut name, *p, source),
                Part::Placeholder(p @ Placeholder::Event) => push(&mut name, *p, event),
            }
        }
        name
    }
}

/// The pieces of `text`, in order.
fn parse(text: &str) -> Result<Vec<Part>, TemplateError> {
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
                parts.push(Part::Placeholder(match &after[..close] {
                    "source" => Placeholder::Source,
                    "event" => Placeholder::Event,
                    other => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
                }));
                rest = &after[close + 1..];
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: Part = Part::Placeholder(Placeholder::Source);
    const EVENT: Part = Part::Placeholder(Placeholder::Event);

    #[test]
    fn placeholders_literals_and_braces() {
        assert_eq!(
            parse("a.{source}.{event}"),
            Ok(vec![
                Part::Literal("a.".into()),
                SOURCE,
                Part::Literal(".".into()),
                EVENT
            ])
        );
        assert_eq!(parse("{event}{source}"), Ok(vec![EVENT, SOURCE]));
        assert_eq!(parse("x}"), Err(TemplateError::Brace));
        assert_eq!(parse("x{source"), Err(TemplateError::Brace));
        assert_eq!(parse("x{a{b}"), Err(TemplateError::Brace));
        assert_eq!(
            parse("x{id}"),
            Err(TemplateError::UnknownPlaceholder("id".into()))
        );
    }

    #[test]
    fn rendering_writes_literals_and_lets_the_destination_write_values() {
        let template = NameTemplate::parse("a.{source}.{event}").unwrap();
        assert_eq!(template.text(), "a.{source}.{event}");
        assert_eq!(template.literals().collect::<Vec<_>>(), ["a.", "."]);
        let name = template.render("homa", "ticket", |name, placeholder, value| {
            name.push_str(match placeholder {
                Placeholder::Source => "S",
                Placeholder::Event => "E",
            });
            name.push_str(value);
        });
        assert_eq!(name, "a.Shoma.Eticket");
    }
}

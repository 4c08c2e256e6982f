//! How strictly a source holds its events to their spec: [`ValidationMode`] and the [`Verdict`]
//! a validator gives.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rejection::Problem;

/// What a mismatch between an event and its spec does.
///
/// Most senders document only part of what they send; a schema written from guesses must not
/// drop real events. The mode says what a mismatch costs:
///
/// * `enforce` (the default): a mismatch in a documented part is refused with `422`; parts of the
///   spec marked assumed (`x-hookgate-assumed: true`) are only reported, as in `report`;
/// * `report`: every mismatch is accepted and recorded (a metric, a log line per new place, and
///   the list kept with the event);
/// * `off`: no validation.
///
/// In a configuration it is `validate = "enforce" | "report" | "off"`; the booleans of earlier
/// versions still read (`true` is `enforce`, `false` is `off`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ValidationMode {
    /// Refuse mismatches in documented parts (422); report those in assumed parts.
    #[default]
    Enforce,
    /// Accept every mismatch and record it.
    Report,
    /// Do not validate.
    Off,
}

impl ValidationMode {
    /// The mode's name in configurations and specs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Report => "report",
            Self::Off => "off",
        }
    }

    /// The mode named `name` (`enforce`, `report`, `off`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "enforce" => Some(Self::Enforce),
            "report" => Some(Self::Report),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

impl fmt::Display for ValidationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ValidationMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ValidationMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Sources stored by earlier versions (and their configurations) say `validate = true`.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Flag(bool),
            Name(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Flag(true) => Ok(Self::Enforce),
            Written::Flag(false) => Ok(Self::Off),
            Written::Name(name) => Self::from_name(&name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown validation mode {name:?} (enforce, report, off)"
                ))
            }),
        }
    }
}

/// What a [`Validator`](super::Validator) found in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The event fits.
    Valid,
    /// The event does not fit, but is accepted: the problems are recorded with it.
    Mismatched(Vec<Problem>),
    /// The event is refused with 422, for these problems.
    Invalid(Vec<Problem>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Table {
        validate: ValidationMode,
    }

    #[test]
    fn names_and_the_old_booleans_read() {
        for (text, mode) in [
            ("validate = \"enforce\"", ValidationMode::Enforce),
            ("validate = \"report\"", ValidationMode::Report),
            ("validate = \"off\"", ValidationMode::Off),
            ("validate = true", ValidationMode::Enforce),
            ("validate = false", ValidationMode::Off),
        ] {
            let table: Table = toml::from_str(text).unwrap();
            assert_eq!(table.validate, mode, "{text}");
        }
        let err = toml::from_str::<Table>("validate = \"lenient\"").unwrap_err();
        assert!(err.to_string().contains("enforce, report, off"), "{err}");
        let json = serde_json::to_string(&Table {
            validate: ValidationMode::Report,
        })
        .unwrap();
        assert_eq!(json, r#"{"validate":"report"}"#);
    }
}

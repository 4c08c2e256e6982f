//! `x-extensible-enum`: a list of known values that the sender keeps growing.
//!
//! NinjaRMM adds `statusCode`s between API releases; rejecting an unknown one would drop real
//! traffic. A field marked `x-extensible-enum` accepts any value, and a value outside the known
//! list is counted (per place and value) and logged once at warning level, so operators see the
//! spec drifting. Closed `enum`s stay strict.
//!
//! Specs write it two ways, and both are read ([`extensible_values`]):
//!
//! * Zalando's: the list itself, in place of `enum`: `x-extensible-enum: [A, B]`;
//! * a flag beside the list: `enum: [A, B]` with `x-extensible-enum: true` (`false` leaves the
//!   `enum` closed).
//!
//! [`convert`](super::convert) rewrites the second form into the first, so that the validator
//! never sees a closed `enum` the spec meant to be open.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use serde_json::{Map, Value};

use crate::tree::Sonic;

/// Distinct (place, value) pairs remembered at most; past it only the total grows.
const MAX_DISTINCT: usize = 1024;

thread_local! {
    // Set while hookgate collects the errors of an event that already failed `is_valid`: that
    // second pass must not count the same unknown values again.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn only_enum_like_tokens_are_logged() {
        assert!(super::looks_like_token("NODE_CLONING_DETECTED"));
        assert!(!super::looks_like_token("John Smith <john@example.com>"));
        assert!(!super::looks_like_token(&"A".repeat(65)));
    }

    #[test]
    fn both_forms_give_the_known_values() {
        let list = json!({"type": "string", "x-extensible-enum": ["A", "B"]});
        let flag = json!({"type": "string", "enum": ["A", "B"], "x-extensible-enum": true});
        assert_eq!(
            super::extensible_values(&list),
            Some(&vec![json!("A"), json!("B")])
        );
        assert_eq!(
            super::extensible_values(&flag),
            Some(&vec![json!("A"), json!("B")])
        );
        let closed = json!({"enum": ["A"], "x-extensible-enum": false});
        assert_eq!(super::extensible_values(&closed), None);
        assert_eq!(super::extensible_values(&json!({"enum": ["A"]})), None);
        assert_eq!(
            super::extensible_values(&json!({"x-extensible-enum": true})),
            None
        );
    }
}

/// The known values of an extensible enum, in either form: the `x-extensible-enum` list, or the
/// `enum` list of a schema whose `x-extensible-enum` is `true`. `None` for a closed enum or no
/// enum at all.
pub fn extensible_values(schema: &Value) -> Option<&Vec<Value>> {
    match schema.get("x-extensible-enum")? {
        Value::Array(values) => Some(values),
        Value::Bool(true) => schema.get("enum").and_then(Value::as_array),
        _ => None,
    }
}

/// Run `f` without counting unknown values.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    QUIET.with(|q| q.set(true));
    let out = f();
    QUIET.with(|q| q.set(false));
    out
}

/// Unknown values seen in extensible enums.
#[derive(Debug, Default)]
pub struct UnknownValues {
    total: AtomicU64,
    seen: Mutex<HashMap<(String, String), u64>>,
}

impl UnknownValues {
    /// How many unknown values were seen in all.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Each (schema place, value) seen, with its count, sorted.
    pub fn counts(&self) -> Vec<(String, String, u64)> {
        let seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut counts: Vec<_> = seen
            .iter()
            .map(|((place, value), n)| (place.clone(), value.clone(), *n))
            .collect();
        counts.sort();
        counts
    }

    fn record(&self, place: &str, value: &str) {
        if QUIET.with(Cell::get) {
            return;
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        // Labelled by schema place only: values come from the sender and are unbounded.
        metrics::counter!(crate::observe::UNKNOWN_ENUM_VALUES, "place" => place.to_owned())
            .increment(1);
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = (place.to_owned(), value.to_owned());
        let distinct = seen.len();
        match seen.get_mut(&key) {
            Some(n) => *n += 1,
            None if distinct < MAX_DISTINCT => {
                // Bodies stay out of logs: an enum token is named, anything else is not.
                let shown = if looks_like_token(value) {
                    value
                } else {
                    "(not an enum-like token; not shown)"
                };
                tracing::warn!(
                    place,
                    value = shown,
                    "value not in the spec's extensible enum; accepted (the sender added it?)"
                );
                seen.insert(key, 1);
            }
            None => {}
        }
    }
}

/// Short, and made of the characters enum values are made of.
fn looks_like_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

struct ExtensibleEnum {
    known: HashSet<String>,
    place: String,
    unknown: Arc<UnknownValues>,
}

impl ExtensibleEnum {
    fn check(&self, instance: &sonic_rs::Value) {
        if let Some(s) = sonic_rs::JsonValueTrait::as_str(instance) {
            if !self.known.contains(s) {
                self.unknown.record(&self.place, s);
            }
        }
    }
}

impl<'i> Keyword<'i, Sonic> for ExtensibleEnum {
    fn validate(&self, instance: &'i sonic_rs::Value) -> Result<(), ValidationError<'i>> {
        self.check(instance);
        Ok(())
    }

    fn is_valid(&self, instance: &'i sonic_rs::Value) -> bool {
        self.check(instance);
        true
    }
}

/// What a keyword factory returns to `jsonschema`.
type Built<'a> = Result<Box<dyn for<'i> Keyword<'i, Sonic>>, ValidationError<'a>>;

/// The factory `jsonschema` calls for each `x-extensible-enum` in a schema.
pub(crate) fn factory(
    unknown: Arc<UnknownValues>,
) -> impl for<'a> Fn(&'a Map<String, Value>, &'a Value, Location) -> Built<'a> + Send + Sync + 'static
{
    move |_parent, value, location| {
        // `convert` has turned the `true` form into a list already; what is left is malformed.
        let Value::Array(values) = value else {
            return Err(ValidationError::custom(
                "x-extensible-enum must be a list of values, or `true` beside an `enum`",
            ));
        };
        let known = values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        // The schema place of the keyword, e.g. /properties/statusCode/x-extensible-enum,
        // minus the keyword itself.
        let place = location
            .as_str()
            .trim_end_matches("/x-extensible-enum")
            .to_owned();
        Ok(Box::new(ExtensibleEnum {
            known,
            place,
            unknown: Arc::clone(&unknown),
        }))
    }
}

//! Why a condition holds or not: what `hookgate sources test` shows for each route.

use serde::Serialize;
use serde_json::Value;

use super::{Condition, ConditionSpec, Filter, Place, Test};
use crate::event::Event;
use crate::tree;

/// How one condition fared on an event (what `hookgate sources test` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The condition, as it is written.
    pub condition: ConditionSpec,
    /// Whether it held.
    pub held: bool,
    /// What was found, and why that holds or not:
    /// `"/severity" is "MINOR", not one of ["CRITICAL","MAJOR"]`.
    pub why: String,
}

impl Condition {
    /// Whether it holds for `event`, and why (a cold path: it renders what it found).
    pub fn explain(&self, event: &Event) -> Verdict {
        let held = self.holds(event);
        let (place, found) = match &self.place {
            Place::Body(pointer) => (
                format!("{pointer:?}"),
                tree::pointer(event.json(), pointer).cloned(),
            ),
            Place::Header(name) => {
                let mut values: Vec<Value> = event
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| match std::str::from_utf8(v.as_bytes()) {
                        Ok(text) => Value::from(text),
                        Err(_) => Value::from("(not UTF-8)"),
                    })
                    .collect();
                let found = match values.len() {
                    0 => None,
                    1 => values.pop(),
                    _ => Some(Value::Array(values)),
                };
                (format!("header {name}"), found)
            }
        };
        let why = match found {
            None => format!("{place} is missing"),
            Some(value) => {
                let found = render(&value);
                let not = if held { "" } else { "not " };
                match &self.test {
                    Test::Exists(_) => format!("{place} is present ({found})"),
                    Test::Equals(_) if held => format!("{place} is {found}"),
                    Test::Equals(v) => format!("{place} is {found}, not {}", render(v)),
                    Test::OneOf(vs) => format!(
                        "{place} is {found}, {not}one of {}",
                        render(&Value::Array(vs.clone()))
                    ),
                    Test::Glob(p)
                        if value.is_string() || matches!(self.place, Place::Header(_)) =>
                    {
                        format!("{place} is {found}, {not}matching {p:?}")
                    }
                    Test::Glob(p) => format!("{place} is {found}, not a string to match {p:?}"),
                    Test::Compare(comparison, n) if value.is_number() => {
                        format!("{place} is {found}, {not}{} {n}", comparison.symbol())
                    }
                    Test::Compare(..) => format!("{place} is {found}, not a number"),
                }
            }
        };
        Verdict {
            condition: self.spec(),
            held,
            why,
        }
    }
}

impl Filter {
    /// How each condition fares on `event`, in order (every one, also after one failed).
    pub fn explain(&self, event: &Event) -> Vec<Verdict> {
        self.conditions.iter().map(|c| c.explain(event)).collect()
    }
}

/// A value as compact JSON, shortened past 80 characters (a reason, not a dump).
fn render(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 {
        return text;
    }
    let mut short: String = text.chars().take(77).collect();
    short.push_str("...");
    short
}

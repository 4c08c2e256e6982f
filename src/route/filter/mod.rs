//! Content filters: conditions a route puts on an event's body and headers.
//!
//! A route picks events by type (exact names and [`glob`]s); a [`Filter`] narrows
//! that down by what the event says. Each [`Condition`] looks at one place, a JSON pointer
//! (RFC 6901) into the body or a header, and applies one test to what it finds there:
//!
//! | test | holds when the value found |
//! |---|---|
//! | `equals = V` | is the JSON value `V` (same type; numbers by value, so `1` equals `1.0`) |
//! | `one_of = [V, ...]` | is one of them |
//! | `glob = "P"` | is a string matching `P` (`*` any run of characters, `?` one) |
//! | `exists = true` / `false` | is there (`null` counts) / is not |
//! | `gt`, `gte`, `lt`, `lte` = `N` | is a number `>`, `>=`, `<`, `<=` `N` (a string `"5"` is not a number) |
//!
//! * A filter holds when **every** condition does (and the route's type pattern matched first).
//! * A pointer that finds nothing is an answer, not an error: every test is false on it but
//!   `exists = false`.
//! * Headers are named case-insensitively and read as text, so only `equals` and `one_of` (with
//!   strings), `glob` and `exists` apply to them. A header sent several times holds when one of
//!   its values does. An event carries only the headers its source keeps (`keep_headers`); a
//!   condition on another header never sees one.
//!
//! Conditions are written as [`ConditionSpec`]s (a TOML inline table or a JSON object, the same
//! keys) and checked by [`Condition::parse`], which says what is wrong in a [`FilterError`].
//!
//! This is the one matcher of content: the spool sink's fan-out
//! ([`SpoolRoute`](crate::spool::SpoolRoute)), the [`Router`](crate::Router) and the dry run of
//! `hookgate sources test` all call [`Filter::holds`]. A route without conditions has an empty
//! filter, and nothing of this module runs for it. Bodies are read where the pipeline parsed
//! them (the tree), never parsed again.
//!
//! # Example
//!
//! ```
//! use hookgate::route::filter::{ConditionSpec, Filter};
//! use hookgate::{Event, EventId, EventKind};
//! use serde_json::json;
//!
//! let specs: Vec<ConditionSpec> = serde_json::from_value(json!([
//!     {"pointer": "/severity", "one_of": ["CRITICAL", "MAJOR"]},
//!     {"pointer": "/priority", "gte": 3},
//! ]))
//! .unwrap();
//! let filter = Filter::parse(&specs).unwrap();
//!
//! let event = |body: serde_json::Value| {
//!     let raw = bytes::Bytes::from(body.to_string());
//!     Event::new("ninja", EventId::new("1"), EventKind::new("CONDITION"), raw, body)
//! };
//! assert!(filter.holds(&event(json!({"severity": "MAJOR", "priority": 4}))));
//! assert!(!filter.holds(&event(json!({"severity": "MINOR", "priority": 4}))));
//! assert!(!filter.holds(&event(json!({"severity": "MAJOR"}))), "a missing value is no match");
//!
//! let why = filter.explain(&event(json!({"severity": "MINOR", "priority": 4})));
//! assert_eq!(why[0].why, r#""/severity" is "MINOR", not one of ["CRITICAL","MAJOR"]"#);
//! assert_eq!(why[1].why, r#""/priority" is 4, >= 3"#);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::header::GetAll;
use serde_json::{Number, Value};

use crate::event::Event;
use crate::glob;
use crate::tree::{self, View};

mod explain;
mod spec;

pub use self::explain::Verdict;
pub use self::spec::{ConditionError, ConditionSpec, FilterError, headers_not_kept};

/// Where a condition looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The body, at this JSON pointer.
    Body(String),
    /// A header the source keeps.
    Header(HeaderName),
}

/// How two numbers must compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `gt`: greater than.
    Gt,
    /// `gte`: greater than or equal to.
    Gte,
    /// `lt`: less than.
    Lt,
    /// `lte`: less than or equal to.
    Lte,
}

impl Comparison {
    fn key(self) -> &'static str {
        match self {
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
        }
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Self::Gt => ordering.is_gt(),
            Self::Gte => ordering.is_ge(),
            Self::Lt => ordering.is_lt(),
            Self::Lte => ordering.is_le(),
        }
    }
}

/// The test a condition applies to the value it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The value is this one.
    Equals(Value),
    /// The value is one of these (never empty).
    OneOf(Vec<Value>),
    /// The value is a string matching this glob.
    Glob(String),
    /// The value is there (`true`) or not (`false`).
    Exists(bool),
    /// The value is a number comparing so with this one.
    Compare(Comparison, Number),
}

/// One checked condition: a place and a test. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    place: Place,
    test: Test,
}

/// All of a route's conditions; empty (the default) for a route without any. Cheap to clone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Filter {
    conditions: Arc<[Condition]>,
}

// ===== impl Condition =====

impl Condition {
    /// Where it looks.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// What it tests.
    pub fn test(&self) -> &Test {
        &self.test
    }

    /// Whether the condition holds for `event`.
    pub fn holds(&self, event: &Event) -> bool {
        match &self.place {
            // The tree the pipeline parsed, when there is one: no second parse, no
            // `serde_json::Value` built.
            Place::Body(pointer) => match event.parsed_tree() {
                Some(tree) => self.test.on_json(tree::pointer(tree, pointer)),
                None => self.test.on_json(tree::pointer(event.json(), pointer)),
            },
            Place::Header(name) => self.test.on_header(event.headers().get_all(name)),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(&self.spec()) {
            Ok(text) => f.write_str(&text),
            Err(_) => f.write_str("(condition)"),
        }
    }
}

// ===== impl Test =====

impl Test {
    /// The test on what a pointer found in the body (`None`: nothing there).
    fn on_json<'a, V: View<'a>>(&self, found: Option<V>) -> bool {
        let Some(node) = found else {
            return matches!(self, Test::Exists(false));
        };
        match self {
            Test::Exists(want) => *want,
            Test::Equals(expected) => same(node, expected),
            Test::OneOf(values) => values.iter().any(|v| same(node, v)),
            Test::Glob(pattern) => node.text().is_some_and(|t| glob::matches(pattern, t)),
            Test::Compare(comparison, bound) => node
                .number()
                .and_then(|n| compare_numbers(&n, bound))
                .is_some_and(|o| comparison.accepts(o)),
        }
    }

    /// The test on a header's values (none: it was not sent, or the source does not keep it).
    fn on_header(&self, values: GetAll<'_, http::HeaderValue>) -> bool {
        let mut values = values.iter().peekable();
        if let Test::Exists(want) = self {
            return values.peek().is_some() == *want;
        }
        values.any(|value| {
            let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
                return false;
            };
            match self {
                Test::Equals(expected) => expected.as_str() == Some(text),
                Test::OneOf(options) => options.iter().any(|o| o.as_str() == Some(text)),
                Test::Glob(pattern) => glob::matches(pattern, text),
                // Refused by `Condition::parse` for headers.
                Test::Compare(..) | Test::Exists(_) => false,
            }
        })
    }
}

/// Whether `node` is the JSON value `expected`: the same type, numbers by value.
fn same<'a, V: View<'a>>(node: V, expected: &Value) -> bool {
    match expected {
        Value::Null => node.is_json_null(),
        Value::Bool(b) => node.boolean() == Some(*b),
        Value::Number(n) => node
            .number()
            .is_some_and(|m| compare_numbers(&m, n) == Some(Ordering::Equal)),
        Value::String(s) => node.text() == Some(s.as_str()),
        Value::Array(items) => node.array_elements().is_some_and(|mut elements| {
            items
                .iter()
                .all(|item| elements.next().is_some_and(|e| same(e, item)))
                && elements.next().is_none()
        }),
        Value::Object(members) => {
            node.object_members()
                .is_some_and(|found| found.count() == members.len())
                && members
                    .iter()
                    .all(|(key, v)| node.member(key).is_some_and(|m| same(m, v)))
        }
    }
}

/// Two numbers compared by value: integers exactly, anything else as `f64`.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

// ===== impl Filter =====

impl Filter {
    /// A filter of `conditions`, all of which must hold.
    pub fn new(conditions: Vec<Condition>) -> Self {
        Self {
            conditions: conditions.into(),
        }
    }

    /// Check every condition as written; what is wrong with each that is not a condition.
    pub fn parse(specs: &[ConditionSpec]) -> Result<Self, Vec<ConditionError>> {
        let mut conditions = Vec::with_capacity(specs.len());
        let mut errors = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            match Condition::parse(spec) {
                Ok(condition) => conditions.push(condition),
                Err(error) => errors.push(ConditionError { index, error }),
            }
        }
        if errors.is_empty() {
            Ok(Self::new(conditions))
        } else {
            Err(errors)
        }
    }

    /// True for a route without conditions (it matches by type alone).
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The conditions, in order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether every condition holds for `event` (true for an empty filter).
    pub fn holds(&self, event: &Event) -> bool {
        self.conditions.iter().all(|c| c.holds(event))
    }

    /// The conditions as they are written.
    pub fn specs(&self) -> Vec<ConditionSpec> {
        self.conditions.iter().map(Condition::spec).collect()
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.conditions.iter().map(|c| c.to_string()))
            .finish()
    }
}

#[cfg(test)]
mod tests;

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
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

use crate::event::Event;
use crate::glob;
use crate::tree::{self, View};

/// One condition as written in a configuration: where to look (`pointer` or `header`) and one
/// test. See the [module docs](self).
///
/// ```toml
/// when = [
///   { pointer = "/severity", one_of = ["CRITICAL", "MAJOR"] },
///   { header = "x-env", glob = "prod-*" },
/// ]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// A JSON pointer into the body (`/device/id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// A header's name (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The value is this JSON value.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub equals: Option<Value>,
    /// The value is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// The value is a string matching this glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// The value is there (`true`) or not (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The value is a number greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<Value>,
    /// The value is a number greater than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<Value>,
    /// The value is a number less than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<Value>,
    /// The value is a number less than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<Value>,
}

impl ConditionSpec {
    /// The header it reads, if it names one (and the name is one).
    pub fn header_name(&self) -> Option<HeaderName> {
        HeaderName::from_bytes(self.header.as_ref()?.as_bytes()).ok()
    }
}

/// The conditions of `specs` (by index) reading a header that is not in `kept`: with a
/// source's `keep_headers`, those that could never see their header. Read from the specs, so
/// that it is told also when another condition of the list is wrong.
pub fn headers_not_kept<'a>(
    specs: &'a [ConditionSpec],
    kept: &'a [HeaderName],
) -> impl Iterator<Item = (usize, HeaderName)> + 'a {
    specs.iter().enumerate().filter_map(|(i, spec)| {
        let header = spec.header_name()?;
        (!kept.contains(&header)).then_some((i, header))
    })
}

/// `equals = null` (JSON) is a test for null, not an absent key.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Why a [`ConditionSpec`] is not a condition; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Neither `pointer` nor `header`.
    #[error("say where to look: `pointer = \"/a/b\"` (the body) or `header = \"name\"`")]
    NoPlace,
    /// Both `pointer` and `header`.
    #[error("give `pointer` or `header`, not both (write two conditions)")]
    TwoPlaces,
    /// No test.
    #[error("give one test: {TESTS}")]
    NoTest,
    /// More than one test.
    #[error("one test per condition, not both `{0}` and `{1}` (write two conditions)")]
    TwoTests(&'static str, &'static str),
    /// Not a JSON pointer into the body.
    #[error("pointer {pointer:?} {why}")]
    BadPointer {
        /// The pointer as written.
        pointer: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Not a header name.
    #[error("header {0:?} is not a header name")]
    BadHeader(String),
    /// `one_of = []`.
    #[error("`one_of` is empty: nothing would match")]
    EmptyOneOf,
    /// A comparison with something other than a number.
    #[error("`{test}` compares numbers, and {value} is not one")]
    NotANumber {
        /// `gt`, `gte`, `lt` or `lte`.
        test: &'static str,
        /// The value given, as JSON.
        value: String,
    },
    /// A number comparison on a header.
    #[error(
        "header {header}: `{test}` compares numbers, and headers are text (use equals, one_of, glob or exists)"
    )]
    NumberOnHeader {
        /// The header.
        header: String,
        /// The test.
        test: &'static str,
    },
    /// `equals` or `one_of` on a header with a value that is not a string.
    #[error("header {header}: `{test}` takes strings (headers are text), not {value}")]
    NotText {
        /// The header.
        header: String,
        /// The test.
        test: &'static str,
        /// The value given, as JSON.
        value: String,
    },
}

const TESTS: &str = "equals, one_of, glob, exists, gt, gte, lt or lte";

/// A condition's bad spec, with its position in the route's list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition #{} of `when`: {error}", .index + 1)]
pub struct ConditionError {
    /// Where in the list (0 = the first).
    pub index: usize,
    /// What is wrong.
    pub error: FilterError,
}

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

// ===== impl Condition =====

impl Condition {
    /// A condition from `place` and `test` (checked as [`parse`](Self::parse) checks a spec).
    pub fn new(place: Place, test: Test) -> Result<Self, FilterError> {
        Self::parse(&Self { place, test }.spec())
    }

    /// Check a condition as written.
    pub fn parse(spec: &ConditionSpec) -> Result<Self, FilterError> {
        let place = match (&spec.pointer, &spec.header) {
            (None, None) => return Err(FilterError::NoPlace),
            (Some(_), Some(_)) => return Err(FilterError::TwoPlaces),
            (Some(pointer), None) => Place::Body(check_pointer(pointer)?),
            (None, Some(header)) => Place::Header(
                HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| FilterError::BadHeader(header.clone()))?,
            ),
        };
        let given: Vec<&'static str> = [
            ("equals", spec.equals.is_some()),
            ("one_of", spec.one_of.is_some()),
            ("glob", spec.glob.is_some()),
            ("exists", spec.exists.is_some()),
            ("gt", spec.gt.is_some()),
            ("gte", spec.gte.is_some()),
            ("lt", spec.lt.is_some()),
            ("lte", spec.lte.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        match given[..] {
            [] => return Err(FilterError::NoTest),
            [_] => {}
            [first, second, ..] => return Err(FilterError::TwoTests(first, second)),
        }
        let compare = |comparison: Comparison, value: &Value| match value {
            Value::Number(n) => Ok(Test::Compare(comparison, n.clone())),
            other => Err(FilterError::NotANumber {
                test: comparison.key(),
                value: other.to_string(),
            }),
        };
        let test = match spec {
            ConditionSpec {
                equals: Some(v), ..
            } => Test::Equals(v.clone()),
            ConditionSpec {
                one_of: Some(vs), ..
            } if vs.is_empty() => return Err(FilterError::EmptyOneOf),
            ConditionSpec {
                one_of: Some(vs), ..
            } => Test::OneOf(vs.clone()),
            ConditionSpec { glob: Some(p), .. } => Test::Glob(p.clone()),
            ConditionSpec {
                exists: Some(e), ..
            } => Test::Exists(*e),
            ConditionSpec { gt: Some(v), .. } => compare(Comparison::Gt, v)?,
            ConditionSpec { gte: Some(v), .. } => compare(Comparison::Gte, v)?,
            ConditionSpec { lt: Some(v), .. } => compare(Comparison::Lt, v)?,
            ConditionSpec { lte: Some(v), .. } => compare(Comparison::Lte, v)?,
            _ => return Err(FilterError::NoTest),
        };
        if let Place::Header(name) = &place {
            let header = name.as_str().to_owned();
            match &test {
                Test::Compare(comparison, _) => {
                    return Err(FilterError::NumberOnHeader {
                        header,
                        test: comparison.key(),
                    });
                }
                Test::Equals(v) if !v.is_string() => {
                    return Err(FilterError::NotText {
                        header,
                        test: "equals",
                        value: v.to_string(),
                    });
                }
                Test::OneOf(vs) => {
                    if let Some(v) = vs.iter().find(|v| !v.is_string()) {
                        return Err(FilterError::NotText {
                            header,
                            test: "one_of",
                            value: v.to_string(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(Self { place, test })
    }

    /// Where it looks.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// What it tests.
    pub fn test(&self) -> &Test {
        &self.test
    }

    /// The condition as it is written.
    pub fn spec(&self) -> ConditionSpec {
        let mut spec = match &self.place {
            Place::Body(pointer) => ConditionSpec {
                pointer: Some(pointer.clone()),
                ..ConditionSpec::default()
            },
            Place::Header(name) => ConditionSpec {
                header: Some(name.as_str().to_owned()),
                ..ConditionSpec::default()
            },
        };
        match &self.test {
            Test::Equals(v) => spec.equals = Some(v.clone()),
            Test::OneOf(vs) => spec.one_of = Some(vs.clone()),
            Test::Glob(p) => spec.glob = Some(p.clone()),
            Test::Exists(e) => spec.exists = Some(*e),
            Test::Compare(comparison, n) => {
                let slot = match comparison {
                    Comparison::Gt => &mut spec.gt,
                    Comparison::Gte => &mut spec.gte,
                    Comparison::Lt => &mut spec.lt,
                    Comparison::Lte => &mut spec.lte,
                };
                *slot = Some(Value::Number(n.clone()));
            }
        }
        spec
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

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(&self.spec()) {
            Ok(text) => f.write_str(&text),
            Err(_) => f.write_str("(condition)"),
        }
    }
}

/// A JSON pointer into the body: `/` and tokens, `~` only as `~0` or `~1`.
fn check_pointer(pointer: &str) -> Result<String, FilterError> {
    let bad = |why| FilterError::BadPointer {
        pointer: pointer.to_owned(),
        why,
    };
    if pointer.is_empty() {
        return Err(bad("is the whole body; point into it, like \"/severity\""));
    }
    if !pointer.starts_with('/') {
        return Err(bad("must start with / (like \"/device/id\")"));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(bad("has a ~ that is not ~0 (for ~) or ~1 (for /)"));
        }
    }
    Ok(pointer.to_owned())
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

    /// How each condition fares on `event`, in order (every one, also after one failed).
    pub fn explain(&self, event: &Event) -> Vec<Verdict> {
        self.conditions.iter().map(|c| c.explain(event)).collect()
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

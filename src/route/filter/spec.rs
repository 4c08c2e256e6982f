//! Conditions as they are written ([`ConditionSpec`]), and checking them into [`Condition`]s.

use http::HeaderName;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Comparison, Condition, Place, Test};

/// One condition as written in a configuration: where to look (`pointer` or `header`) and one
/// test. See the [module docs](super).
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

/// Why a [`ConditionSpec`] is not a condition; see the [module docs](super).
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

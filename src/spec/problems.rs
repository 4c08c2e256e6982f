//! From `jsonschema`'s errors to the [`Problem`]s of a 422: each names the deepest field at fault,
//! in a message of bounded size that never prints the event's values.
//!
//! `jsonschema` reports a failed `anyOf` or `oneOf` at the composite's own place, with the errors
//! of every branch attached. OpenAPI 3.0's `nullable` on a `$ref` becomes such an `anyOf` (the
//! schema, or `null`), so without more work a wrong `device.offline` would be reported as "the
//! whole `device` object is not valid", printing it. Here a failed composite is explained by the
//! branch that fits the value best, recursively, down to the leaves:
//!
//! 1. a branch whose type is not the value's type is not the one the sender meant (for a
//!    nullable schema and a value that is not `null`: the non-null branch);
//! 2. a branch that fails a `const` (the tag of an untagged union) is less likely than one that
//!    does not;
//! 3. then the branch with the deepest problem, then the one with the fewest problems.
//!
//! A discriminated `oneOf` of `$ref`s needs none of this: [`convert`](super::convert) turns it
//! into an `if`/`then` per branch, so its errors already come from the branch the discriminator
//! selects (a discriminator over inline branches, which have no name to dispatch on, goes by the
//! rules above).
//!
//! Messages say what was expected and describe the value by its type, quoting at most
//! [`MAX_QUOTED_CHARS`] characters of a string or number; an object or an array is never printed.
//! This runs only for events that already failed validation: valid events never pay for it.

use std::fmt::Write as _;

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::rejection::Problem;

/// The most problems collected for one event (a 422 lists those that fit in its body).
pub const MAX_PROBLEMS: usize = 100;

/// The most characters of a value a message quotes.
pub const MAX_QUOTED_CHARS: usize = 64;

/// The longest message, in characters (schema-side text like a long `pattern` is cut).
const MAX_MESSAGE_CHARS: usize = 256;

/// The longest instance path, in bytes; a longer one (keys the sender made up) is cut back to
/// the deepest ancestor that fits.
const MAX_PATH_BYTES: usize = 512;

/// The most property names an "unexpected properties" message lists.
const MAX_LISTED_NAMES: usize = 3;

/// The problems of `errors` (the top-level errors of one validation), at most [`MAX_PROBLEMS`],
/// each at the deepest place at fault, without duplicates.
pub(crate) fn collect<'a>(errors: impl Iterator<Item = ValidationError<'a>>) -> Vec<Problem> {
    let mut out = Vec::new();
    for error in errors {
        leaves(&error, &mut out);
        if out.len() >= MAX_PROBLEMS {
            out.truncate(MAX_PROBLEMS);
            break;
        }
    }
    out
}

/// Push the problems that explain `error`.
fn leaves(error: &ValidationError<'_>, out: &mut Vec<Problem>) {
    if out.len() >= MAX_PROBLEMS {
        return;
    }
    let context = match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
        }
        _ => return push(out, error.instance_path().as_str(), message(error)),
    };
    let depth = depth(error.instance_path().as_str());
    match best_branch(context, error.instance_path().as_str()) {
        Some(branch) => {
            for inner in branch {
                leaves(inner, out);
            }
        }
        None => {
            // No branch even has the value's type: say which types would do.
            let mut expected: Vec<String> = Vec::new();
            // Collected branch by branch; `null` (a nullable's extra branch) goes last.
            for branch in context {
                for inner in branch {
                    if let ValidationErrorKind::Type { kind } = inner.kind() {
                        if depth_of(inner) == depth {
                            for name in type_names(kind) {
                                if !expected.contains(&name) {
                                    expected.push(name);
                                }
                            }
                        }
                    }
                }
            }
            expected.sort_by_key(|name| name == "null");
            let value = describe(error.instance());
            let text = if expected.is_empty() {
                format!("{value} does not fit any of the allowed schemas")
            } else {
                format!("{value} is not of type {}", or_list(&expected))
            };
            push(out, error.instance_path().as_str(), text);
        }
    }
}

/// The branch to explain a failed composite with, or `None` when no branch has the value's type.
fn best_branch<'e, 'a>(
    context: &'e [Vec<ValidationError<'a>>],
    at: &str,
) -> Option<&'e [ValidationError<'a>]> {
    let here = depth(at);
    context
        .iter()
        .enumerate()
        .filter(|(_, errors)| !errors.is_empty())
        .filter(|(_, errors)| {
            !errors.iter().any(|e| {
                matches!(e.kind(), ValidationErrorKind::Type { .. }) && depth_of(e) == here
            })
        })
        // Higher is better: no failed const, deepest problem, fewest problems, first branch.
        .max_by_key(|(i, errors)| {
            let const_failed = errors
                .iter()
                .any(|e| matches!(e.kind(), ValidationErrorKind::Constant { .. }));
            let deepest = errors.iter().map(depth_of).max().unwrap_or(0);
            (
                !const_failed,
                deepest,
                std::cmp::Reverse(errors.len()),
                std::cmp::Reverse(*i),
            )
        })
        .map(|(_, errors)| errors.as_slice())
}

fn depth(path: &str) -> usize {
    path.bytes().filter(|b| *b == b'/').count()
}

fn depth_of(error: &ValidationError<'_>) -> usize {
    depth(error.instance_path().as_str())
}

fn push(out: &mut Vec<Problem>, path: &str, message: String) {
    let (path, message) = if path.len() > MAX_PATH_BYTES {
        let mut cut = MAX_PATH_BYTES;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        let ancestor = path[..cut].rfind('/').map_or("", |at| &path[..at]);
        (
            ancestor.to_owned(),
            format!("below this place, at a path too long to show: {message}"),
        )
    } else {
        (path.to_owned(), message)
    };
    let problem = Problem {
        instance_path: path,
        message: cut(message, MAX_MESSAGE_CHARS),
    };
    if !out.contains(&problem) {
        out.push(problem);
    }
}

/// The message for one (leaf) error, with the value described rather than printed.
fn message(error: &ValidationError<'_>) -> String {
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => format!(
            "properties not allowed here: {}",
            names(unexpected.iter().map(String::as_str))
        ),
        ValidationErrorKind::UnevaluatedProperties { unexpected } => format!(
            "properties not allowed here: {}",
            names(unexpected.iter().map(String::as_str))
        ),
        ValidationErrorKind::PropertyNames { error: inner } => format!(
            "property name: {}",
            inner.masked_with(describe(inner.instance()))
        ),
        ValidationErrorKind::Type { kind } => format!(
            "{} is not of type {}",
            describe(error.instance()),
            or_list(&type_names(kind))
        ),
        ValidationErrorKind::OneOfMultipleValid { .. } => format!(
            "{} fits more than one of the schemas listed in 'oneOf'",
            describe(error.instance())
        ),
        _ => error.masked_with(describe(error.instance())).to_string(),
    }
}

/// The value for a message: a scalar quoted (at most [`MAX_QUOTED_CHARS`] characters of it), an
/// object or an array by its type.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_owned(),
        Value::Array(items) => format!(
            "an array of {} item{}",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        ),
        Value::String(text) => {
            let count = text.chars().count();
            if count <= MAX_QUOTED_CHARS {
                Value::String(text.clone()).to_string()
            } else {
                let head: String = text.chars().take(MAX_QUOTED_CHARS).collect();
                format!(
                    "a string of {count} characters starting {}",
                    Value::String(head)
                )
            }
        }
        // Numbers, booleans and null print short; a huge number literal is still cut.
        other => cut(other.to_string(), MAX_QUOTED_CHARS),
    }
}

/// At most [`MAX_LISTED_NAMES`] property names, each quoted and cut.
fn names<'n>(all: impl ExactSizeIterator<Item = &'n str>) -> String {
    let total = all.len();
    let mut out = String::new();
    for (i, name) in all.take(MAX_LISTED_NAMES).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&describe(&Value::String(name.to_owned())));
    }
    if total > MAX_LISTED_NAMES {
        let _ = write!(out, " and {} more", total - MAX_LISTED_NAMES);
    }
    out
}

/// The type names of a `type` keyword, `null` last (`"boolean" or "null"` reads best).
fn type_names(kind: &TypeKind) -> Vec<String> {
    let mut names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
    };
    names.sort_by_key(|name| name == "null");
    names
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn or_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|t| format!("{t:?}")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `text` cut to at most `max` characters (an ellipsis marks the cut).
fn cut(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::rejection::Problem;
    use crate::spec::Spec;

    /// Components shared by the cases: a device (nullable wherever it is used), pets with and
    /// without a discriminator, an `allOf`.
    const SPEC: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  activity:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Activity'}
components:
  schemas:
    Activity:
      type: object
      properties:
        device: {$ref: '#/components/schemas/Device', nullable: true}
        devices:
          type: array
          items: {$ref: '#/components/schemas/Device', nullable: true}
        tagged:
          oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/Dog'}]
          discriminator: {propertyName: kind, mapping: {cat: '#/components/schemas/Cat', dog: '#/components/schemas/Dog'}}
        untagged:
          oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/Dog'}]
        shapes:
          type: array
          items:
            oneOf:
              - {type: object, required: [radius], properties: {radius: {type: number}}}
              - {type: object, required: [side], properties: {side: {type: number}}}
        owner:
          allOf:
            - {$ref: '#/components/schemas/Named'}
            - type: object
              properties: {address: {$ref: '#/components/schemas/Address', nullable: true}}
        note: {type: string, maxLength: 3}
    Device:
      type: object
      properties:
        id: {type: integer}
        offline: {type: boolean}
        references:
          type: object
          nullable: true
          properties: {organization: {$ref: '#/components/schemas/Named', nullable: true}}
    Named:
      type: object
      required: [name]
      properties: {name: {type: string}}
    Address:
      type: object
      properties: {zip: {type: string, pattern: '^[0-9]{5}$'}}
    Cat:
      type: object
      required: [kind]
      properties: {kind: {type: string, const: cat}, meows: {type: boolean}}
    Dog:
      type: object
      required: [kind]
      properties: {kind: {type: string, const: dog}, barks: {type: boolean}}
"##;

    fn problems(body: Value) -> Vec<Problem> {
        let spec = Spec::from_text(SPEC, "t.yaml").unwrap();
        spec.validate("activity", &body).unwrap().unwrap_err()
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.instance_path.as_str()).collect()
    }

    /// No message prints an object or an array (their JSON would hold `{` or `[`).
    fn no_structure_printed(problems: &[Problem]) {
        for p in problems {
            assert!(
                !p.message.contains('{') && !p.message.contains('['),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn a_nullable_ref_points_at_the_field_inside() {
        let found =
            problems(json!({"device": {"id": 7, "offline": "no", "name": "x".repeat(500)}}));
        assert_eq!(paths(&found), ["/device/offline"], "{found:?}");
        assert_eq!(found[0].message, r#""no" is not of type "boolean""#);
        no_structure_printed(&found);
    }

    #[test]
    fn nested_nullable_refs_point_at_the_deepest_field() {
        let found = problems(json!({"device": {"references": {"organization": {"name": 5}}}}));
        assert_eq!(
            paths(&found),
            ["/device/references/organization/name"],
            "{found:?}"
        );
    }

    #[test]
    fn a_value_of_no_allowed_type_is_named_with_the_types() {
        let found = problems(json!({"device": "no"}));
        assert_eq!(paths(&found), ["/device"], "{found:?}");
        assert_eq!(
            found[0].message,
            r#""no" is not of type "object" or "null""#
        );
        let found = problems(json!({"device": [1, 2, 3]}));
        assert_eq!(
            found[0].message,
            r#"an array of 3 items is not of type "object" or "null""#
        );
    }

    #[test]
    fn arrays_of_objects_point_at_the_item_and_field() {
        let found = problems(json!({"devices": [{"offline": true}, null, {"offline": 1}]}));
        assert_eq!(paths(&found), ["/devices/2/offline"], "{found:?}");
        let found = problems(json!({"shapes": [{"radius": 1}, {"side": "wide"}]}));
        assert_eq!(paths(&found), ["/shapes/1/side"], "{found:?}");
        no_structure_printed(&found);
    }

    #[test]
    fn all_of_points_into_the_part_at_fault() {
        let found = problems(json!({"owner": {"name": "n", "address": {"zip": "ABCDE"}}}));
        assert_eq!(paths(&found), ["/owner/address/zip"], "{found:?}");
        let found = problems(json!({"owner": {"address": null}}));
        assert_eq!(paths(&found), ["/owner"], "{found:?}");
        assert!(found[0].message.contains("\"name\""), "{found:?}");
    }

    #[test]
    fn one_of_with_a_discriminator_follows_it() {
        let found = problems(json!({"tagged": {"kind": "dog", "barks": "loud", "meows": 1}}));
        assert_eq!(paths(&found), ["/tagged/barks"], "{found:?}");
        let found = problems(json!({"tagged": {"kind": "cow"}}));
        assert_eq!(paths(&found), ["/tagged/kind"], "{found:?}");
    }

    #[test]
    fn one_of_without_a_discriminator_picks_the_branch_that_fits() {
        let found = problems(json!({"untagged": {"kind": "dog", "barks": "loud"}}));
        assert_eq!(paths(&found), ["/untagged/barks"], "{found:?}");
        no_structure_printed(&found);
    }

    #[test]
    fn long_strings_are_quoted_to_64_characters() {
        let long = "é".repeat(300);
        let found = problems(json!({"note": long}));
        assert_eq!(paths(&found), ["/note"]);
        let quoted = found[0].message.split('"').nth(1).unwrap();
        assert_eq!(quoted.chars().count(), 64, "{found:?}");
        assert!(found[0].message.contains("300 characters"), "{found:?}");
    }

    #[test]
    fn problems_are_capped() {
        let many: Vec<Value> = (0..5000).map(|_| json!({"offline": "no"})).collect();
        let found = problems(json!({ "devices": many }));
        assert_eq!(found.len(), super::MAX_PROBLEMS);
        assert_eq!(found[0].instance_path, "/devices/0/offline");
    }

    #[test]
    fn overlong_paths_are_cut_back_to_an_ancestor() {
        let key = "k".repeat(2000);
        let spec = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  e:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, additionalProperties: {type: object, additionalProperties: {type: integer}}}
"##;
        let spec = Spec::from_text(spec, "t.yaml").unwrap();
        let body = json!({"a": { key.clone(): "x" }});
        let found = spec.validate("e", &body).unwrap().unwrap_err();
        assert_eq!(paths(&found), ["/a"], "{found:?}");
        assert!(found[0].message.contains("too long"), "{found:?}");
    }
}

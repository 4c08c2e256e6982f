//! OpenAPI schema objects to JSON Schema (draft 2020-12), which the `jsonschema` crate validates.
//!
//! OpenAPI 3.1 schemas already are JSON Schema 2020-12. OpenAPI 3.0 schema objects differ in a
//! few ways, converted here:
//!
//! * `nullable: true` becomes `null` in `type` (and in `enum`), or an `anyOf` with `{"type":
//!   "null"}` around a `$ref` or a composition;
//! * boolean `exclusiveMinimum` / `exclusiveMaximum` become the numeric 2020-12 form;
//! * `example`, `discriminator`, `xml` and `externalDocs` are dropped (annotations only);
//! * a `$ref` with siblings keeps only the `$ref` and the descriptions (3.0 ignores siblings).
//!
//! `x-extensible-enum` is kept: it is a custom keyword of hookgate's validators. Its flag form
//! (`enum: [...]` with `x-extensible-enum: true`) becomes the list form, with the `enum` removed,
//! so that the values stay open; `x-extensible-enum: false` is dropped (the `enum` stays closed).
//! This applies to 3.1 documents too.
//!
//! `x-hookgate-assumed` is kept too, even next to a 3.0 `$ref`.

use serde_json::{Map, Value, json};

/// Keywords whose value is one schema.
const ONE_SCHEMA: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
];
/// Keywords whose value is an array of schemas.
const SCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Annotations of OpenAPI that JSON Schema does not need.
const DROPPED: &[&str] = &[
    "example",
    "discriminator",
    "xml",
    "externalDocs",
    "nullable",
];

/// Convert one schema. `openapi30` selects the 3.0 rules (3.1 schemas pass through, except that a
/// stray `nullable` is honoured there too, because users write it).
pub fn convert(schema: &Value, openapi30: bool) -> Value {
    let Value::Object(map) = schema else {
        // `true` / `false` schemas (3.1) and anything malformed pass through unchanged.
        return schema.clone();
    };
    let mut out = Map::new();
    let is_ref = map.contains_key("$ref");
    for (key, value) in map {
        let key = key.as_str();
        if DROPPED.contains(&key) {
            continue;
        }
        // The assumed marker is hookgate's, not a sibling 3.0 would ignore: it stays.
        if openapi30
            && is_ref
            && !matches!(key, "$ref" | "description" | "summary" | super::ASSUMED)
        {
            continue;
        }
        let converted = if ONE_SCHEMA.contains(&key) {
            convert(value, openapi30)
        } else if SCHEMA_LIST.contains(&key) {
            match value {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|s| convert(s, openapi30)).collect())
                }
                other => other.clone(),
            }
        } else if SCHEMA_MAP.contains(&key) {
            match value {
                Value::Object(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, s)| (k.clone(), convert(s, openapi30)))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            value.clone()
        };
        out.insert(key.to_owned(), converted);
    }
    if openapi30 {
        exclusive_bound(&mut out, "exclusiveMinimum", "minimum");
        exclusive_bound(&mut out, "exclusiveMaximum", "maximum");
    }
    discriminated(map, &mut out);
    extensible(&mut out);
    if map.get("nullable") == Some(&Value::Bool(true)) {
        return nullable(out);
    }
    Value::Object(out)
}

/// A `oneOf`/`anyOf` of `$ref`s with a `discriminator` picks its branch by the discriminator's
/// value (OpenAPI semantics), where plain JSON Schema `oneOf` would refuse a body that happens to
/// fit two branches. Rewritten as: the property is required and one of the known values, and
/// `if` it has a branch's value `then` that branch applies, so errors point into that branch.
fn discriminated(original: &Map<String, Value>, out: &mut Map<String, Value>) {
    let Some(property) = original
        .get("discriminator")
        .and_then(|d| d.get("propertyName"))
        .and_then(Value::as_str)
    else {
        return;
    };
    let mapping = original
        .get("discriminator")
        .and_then(|d| d.get("mapping"))
        .and_then(Value::as_object);
    let Some(key) = ["oneOf", "anyOf"]
        .into_iter()
        .find(|k| out.contains_key(*k))
    else {
        return;
    };
    let Some(Value::Array(parts)) = out.get(key) else {
        return;
    };
    let mut values = Vec::new();
    let mut branches = Vec::new();
    for part in parts {
        let Some(reference) = part.get("$ref").and_then(Value::as_str) else {
            // An inline branch has no name to dispatch on: keep plain JSON Schema semantics.
            return;
        };
        let value = mapping
            .and_then(|m| {
                m.iter()
                    .find(|(_, target)| target.as_str() == Some(reference))
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| reference.rsplit('/').next().unwrap_or(reference).to_owned());
        branches.push(json!({
            "if": { "properties": { property: { "const": value } }, "required": [property] },
            "then": part,
        }));
        values.push(Value::String(value));
    }
    out.remove(key);
    let mut all_of = match out.remove("allOf") {
        Some(Value::Array(existing)) => existing,
        _ => Vec::new(),
    };
    all_of.push(json!({ "required": [property], "properties": { property: { "enum": values } } }));
    all_of.extend(branches);
    out.insert("allOf".into(), Value::Array(all_of));
}

/// `{enum: [A, B], x-extensible-enum: true}` is `{x-extensible-enum: [A, B]}`; a flag that is not
/// `true`, or `true` with no `enum` to open, is dropped.
fn extensible(out: &mut Map<String, Value>) {
    match out.get("x-extensible-enum") {
        Some(Value::Bool(true)) => {
            out.remove("x-extensible-enum");
            if let Some(values @ Value::Array(_)) = out.remove("enum") {
                out.insert("x-extensible-enum".into(), values);
            }
        }
        Some(Value::Bool(false)) => {
            out.remove("x-extensible-enum");
        }
        _ => {}
    }
}

/// 3.0: `{minimum: 5, exclusiveMinimum: true}` is 2020-12's `{exclusiveMinimum: 5}`.
fn exclusive_bound(out: &mut Map<String, Value>, exclusive: &str, bound: &str) {
    match out.get(exclusive) {
        Some(Value::Bool(true)) => {
            out.remove(exclusive);
            if let Some(value) = out.remove(bound) {
                out.insert(exclusive.to_owned(), value);
            }
        }
        Some(Value::Bool(false)) => {
            out.remove(exclusive);
        }
        _ => {}
    }
}

fn nullable(mut out: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            out.insert("type".into(), json!([t, "null"]));
            Value::Object(out)
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            Value::Object(out)
        }
        _ => {
            // A $ref, a composition, or no type at all: allow null beside whatever it is.
            json!({ "anyOf": [Value::Object(out), { "type": "null" }] })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_type_and_enum_accept_null() {
        let s = convert(
            &json!({"type": "string", "enum": ["A"], "nullable": true}),
            true,
        );
        assert_eq!(s, json!({"type": ["string", "null"], "enum": ["A", null]}));
    }

    #[test]
    fn nullable_ref_becomes_any_of() {
        let s = convert(
            &json!({"$ref": "#/components/schemas/X", "nullable": true, "example": 1}),
            true,
        );
        assert_eq!(
            s,
            json!({"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]})
        );
    }

    #[test]
    fn nested_schemas_are_converted() {
        let s = convert(
            &json!({
                "type": "object",
                "properties": {"a": {"type": "integer", "nullable": true}},
                "items": {"type": "number", "minimum": 1, "exclusiveMinimum": true},
                "allOf": [{"type": "object", "discriminator": {"propertyName": "k"}}]
            }),
            true,
        );
        assert_eq!(s["properties"]["a"]["type"], json!(["integer", "null"]));
        assert_eq!(s["items"], json!({"type": "number", "exclusiveMinimum": 1}));
        assert_eq!(s["allOf"][0], json!({"type": "object"}));
    }

    #[test]
    fn discriminated_one_of_dispatches_on_the_property() {
        let s = convert(
            &json!({
                "oneOf": [{"$ref": "#/c/Cat"}, {"$ref": "#/c/Dog"}],
                "discriminator": {"propertyName": "petType", "mapping": {"cat": "#/c/Cat"}}
            }),
            true,
        );
        assert_eq!(
            s["allOf"][0]["properties"]["petType"]["enum"],
            json!(["cat", "Dog"])
        );
        assert_eq!(s["allOf"][1]["if"]["properties"]["petType"]["const"], "cat");
        assert_eq!(s["allOf"][2]["then"]["$ref"], "#/c/Dog");
        assert!(s.get("oneOf").is_none());
    }

    #[test]
    fn extensible_enum_flag_becomes_the_list_form() {
        let s = convert(
            &json!({"type": "string", "nullable": true, "enum": ["A", "B"], "x-extensible-enum": true}),
            true,
        );
        assert_eq!(
            s,
            json!({"type": ["string", "null"], "x-extensible-enum": ["A", "B"]})
        );
        let s = convert(&json!({"enum": ["A"], "x-extensible-enum": false}), false);
        assert_eq!(s, json!({"enum": ["A"]}));
        let s = convert(&json!({"type": "string", "x-extensible-enum": true}), false);
        assert_eq!(s, json!({"type": "string"}));
        let list = json!({"type": "string", "x-extensible-enum": ["A"]});
        assert_eq!(convert(&list, true), list);
    }

    #[test]
    fn openapi31_keeps_ref_siblings_and_type_lists() {
        let schema = json!({"$ref": "#/x", "description": "d", "minLength": 1});
        assert_eq!(convert(&schema, false), schema);
    }
}

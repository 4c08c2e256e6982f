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
//! `x-extensible-enum` is kept: it is a custom keyword of hookgate's validators.

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
        if openapi30 && is_ref && !matches!(key, "$ref" | "description" | "summary") {
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
    if map.get("nullable") == Some(&Value::Bool(true)) {
        return nullable(out);
    }
    Value::Object(out)
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
    fn openapi31_keeps_ref_siblings_and_type_lists() {
        let schema = json!({"$ref": "#/x", "description": "d", "minLength": 1});
        assert_eq!(convert(&schema, false), schema);
    }
}

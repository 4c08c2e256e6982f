//! Reading an OpenAPI document as a raw JSON tree: YAML or JSON text to `serde_json::Value` (key
//! order kept), the version gate, operations from 3.1 `webhooks`, 3.0 `x-webhooks` and `paths`,
//! local `$ref` resolution with chain and cycle limits, and each operation's JSON body schema and
//! named examples. ARCHITECTURE.md ("OpenAPI: the raw-tree loader stays") says why this is not a
//! typed OpenAPI model.

use super::*;

pub(super) struct Loader<'a> {
    pub(super) origin: &'a str,
    pub(super) doc: &'a Value,
    pub(super) openapi30: bool,
    pub(super) order: &'a KeyOrder,
}

impl Loader<'_> {
    /// The entries of `map` (found at `pointer`) in document order where it is known.
    pub(super) fn ordered<'v>(
        &self,
        map: &'v Map<String, Value>,
        pointer: &str,
    ) -> Vec<(&'v String, &'v Value)> {
        match self.order.get(pointer) {
            Some(keys) => keys.iter().filter_map(|k| map.get_key_value(k)).collect(),
            None => map.iter().collect(),
        }
    }

    pub(super) fn error(&self, pointer: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            origin: self.origin.to_owned(),
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }

    /// Follow a local `$ref` (possibly several in a row) to its target.
    pub(super) fn resolve<'v>(
        &'v self,
        value: &'v Value,
        pointer: &str,
    ) -> Result<&'v Value, SpecError> {
        let mut current = value;
        for _ in 0..32 {
            let Some(reference) = current.get("$ref") else {
                return Ok(current);
            };
            let Some(target) = reference.as_str().and_then(|r| r.strip_prefix('#')) else {
                return Err(self.error(
                    pointer,
                    format!("only local references (#/...) are supported, found {reference}"),
                ));
            };
            current = self.doc.pointer(target).ok_or_else(|| {
                self.error(pointer, format!("$ref {reference:?} points to nothing"))
            })?;
        }
        Err(self.error(pointer, "$ref chain too long (a cycle?)"))
    }

    /// Every `$ref` under `value` must point into this document.
    pub(super) fn check_refs(&self, value: &Value, pointer: &str) -> Result<(), SpecError> {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref") {
                    let here = format!("{pointer}/$ref");
                    self.resolve(&serde_json::json!({ "$ref": reference }), &here)?;
                }
                for (key, child) in map {
                    self.check_refs(child, &format!("{pointer}/{}", escape(key)))?;
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    self.check_refs(child, &format!("{pointer}/{i}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn operations(&self) -> Result<Vec<(String, String, &Value)>, SpecError> {
        // (event type, pointer, operation)
        let mut found = Vec::new();
        for map_key in ["webhooks", "x-webhooks"] {
            let Some(map) = self.doc.get(map_key) else {
                continue;
            };
            let Value::Object(entries) = map else {
                return Err(self.error(&format!("/{map_key}"), "must be a map of event types"));
            };
            for (name, item) in self.ordered(entries, &format!("/{map_key}")) {
                let pointer = format!("/{map_key}/{}", escape(name));
                let item = self.resolve(item, &pointer)?;
                let Some(op) = item.get("post") else {
                    return Err(self.error(&pointer, "no post operation"));
                };
                let kind = op
                    .get("x-event-type")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_owned();
                found.push((kind, format!("{pointer}/post"), op));
            }
        }
        if let Some(paths) = self.doc.get("paths") {
            let Value::Object(entries) = paths else {
                return Err(self.error("/paths", "must be a map of paths"));
            };
            for (path, item) in self.ordered(entries, "/paths") {
                let pointer = format!("/paths/{}", escape(path));
                let item = self.resolve(item, &pointer)?;
                let Some(op) = item.get("post") else {
                    continue;
                };
                if op.get("requestBody").is_none() {
                    continue;
                }
                let kind = op
                    .get("x-event-type")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_owned();
                found.push((kind, format!("{pointer}/post"), op));
            }
        }
        Ok(found)
    }

    /// The JSON media type of a request body: (schema, its pointer, examples).
    pub(super) fn body(&self, op: &Value, pointer: &str) -> Result<Body, SpecError> {
        let body_ptr = format!("{pointer}/requestBody");
        let body = op
            .get("requestBody")
            .ok_or_else(|| self.error(pointer, "no requestBody"))?;
        let body = self.resolve(body, &body_ptr)?;
        let content = body
            .get("content")
            .and_then(Value::as_object)
            .ok_or_else(|| self.error(&body_ptr, "requestBody has no content map"))?;
        let (media, media_type) = content
            .iter()
            .find(|(k, _)| k.as_str() == "application/json")
            .or_else(|| content.iter().find(|(k, _)| k.contains("json")))
            .ok_or_else(|| self.error(&format!("{body_ptr}/content"), "no JSON media type"))?;
        let media_ptr = format!("{body_ptr}/content/{}", escape(media));
        let schema = media_type
            .get("schema")
            .ok_or_else(|| self.error(&media_ptr, "no schema"))?
            .clone();
        let mut examples = Vec::new();
        if let Some(Value::Object(named)) = media_type.get("examples") {
            for (name, example) in self.ordered(named, &format!("{media_ptr}/examples")) {
                let ex_ptr = format!("{media_ptr}/examples/{}", escape(name));
                let example = self.resolve(example, &ex_ptr)?;
                let value = example
                    .get("value")
                    .ok_or_else(|| self.error(&ex_ptr, "example has no value"))?;
                examples.push((name.clone(), value.clone()));
            }
        }
        if let Some(value) = media_type.get("example") {
            examples.push(("example".to_owned(), value.clone()));
        }
        Ok((schema, format!("{media_ptr}/schema"), examples))
    }

    /// The root document every validator is built from: converted components, so that
    /// `#/components/schemas/...` references resolve, and the event's schema itself.
    pub(super) fn root(&self, components: &Value, schema: &Value) -> Value {
        let mut root = match convert::convert(schema, self.openapi30) {
            Value::Object(map) => map,
            other => {
                let mut map = Map::new();
                map.insert("allOf".into(), Value::Array(vec![other]));
                map
            }
        };
        root.insert("components".into(), components.clone());
        Value::Object(root)
    }
}

/// Convert a YAML document to JSON, recording the key order of every mapping.
pub(super) fn yaml_to_json(
    value: &yaml_serde::Value,
    pointer: &str,
    order: &mut KeyOrder,
) -> Result<Value, String> {
    use yaml_serde::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("at {pointer:?}: {n} is not a JSON number"))?
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(item, &format!("{pointer}/{i}"), order))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut map = Map::new();
            let mut keys = Vec::with_capacity(mapping.len());
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!("at {pointer:?}: unsupported mapping key {other:?}"));
                    }
                };
                let child = format!("{pointer}/{}", escape(&key));
                map.insert(key.clone(), yaml_to_json(item, &child, order)?);
                keys.push(key);
            }
            order.insert(pointer.to_owned(), keys);
            Value::Object(map)
        }
        Y::Tagged(tagged) => yaml_to_json(&tagged.value, pointer, order)?,
    })
}

/// Escape a key for use in a JSON pointer.
pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

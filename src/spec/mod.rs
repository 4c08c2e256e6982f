//! Sender specs: OpenAPI webhook documents, compiled once into per-event-type validators.
//!
//! A [`Spec`] is read from an OpenAPI document in YAML or JSON:
//!
//! * OpenAPI **3.1** `webhooks` and OpenAPI **3.0** `x-webhooks`: each key is an event type, and
//!   its `post` operation's JSON request body schema validates events of that type;
//! * `paths` (what senders that document an endpoint publish, like NinjaRMM's `webhook.yaml`):
//!   each POST operation with a JSON request body validates every event type (`*`), unless the
//!   operation names its type with `x-event-type`.
//!
//! `$ref`s to `#/components/...` are resolved (schemas, request bodies, examples, path items);
//! other documents are not fetched. OpenAPI 3.0 schema objects are converted to JSON Schema
//! 2020-12 ([`convert`]) and compiled by the `jsonschema` crate. Formats are not enforced (a
//! sender's timestamp a little off the RFC must not drop real traffic). Unknown properties are
//! accepted unless a schema says otherwise. Fields marked `x-extensible-enum` accept values
//! outside their list and count them ([`enums`]). An event that does not fit gets problems that
//! point at the deepest field at fault, without printing its values ([`problems`]).
//!
//! Every problem in a document is reported with the file, the JSON pointer and what is wrong.

pub mod convert;
pub mod enums;
pub mod problems;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use self::enums::UnknownValues;
use crate::event::Event;
use crate::rejection::Problem;
use crate::route::glob_match;
use crate::tree::Sonic;
use crate::validate::Validator as EventValidator;

/// A problem in a spec document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: at {pointer:?}: {message}")]
pub struct SpecError {
    /// The file (or other origin) of the document.
    pub origin: String,
    /// JSON pointer to the offending part (`""` for the whole document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// One webhook the spec describes.
#[derive(Debug, Clone)]
pub struct SpecEvent {
    /// The event type (`ALERT_TRIGGERED`), or a glob (`*`) for an endpoint that takes every type.
    pub event_type: String,
    /// The operation's `operationId`.
    pub operation_id: Option<String>,
    /// The operation's `summary` (or `description`).
    pub summary: Option<String>,
    /// JSON pointer of the operation in the document.
    pub pointer: String,
    /// The named examples of the request body, in document order.
    pub examples: Vec<(String, Value)>,
    /// The request body's schema as written (not converted).
    pub schema: Value,
    /// JSON pointer of that schema in the document.
    pub schema_pointer: String,
}

/// What to do with an event type the spec does not describe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownEvents {
    /// Accept it without validation (the default: senders add event types).
    #[default]
    Accept,
    /// Refuse it with 422.
    Reject,
}

/// A compiled spec: validators by event type, and the examples.
pub struct Spec {
    origin: String,
    title: Option<String>,
    document: Value,
    openapi30: bool,
    order: KeyOrder,
    events: Vec<SpecEvent>,
    validators: Vec<jsonschema::Validator<Sonic>>,
    exact: HashMap<String, usize>,
    unknown_values: Arc<UnknownValues>,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("origin", &self.origin)
            .field("title", &self.title)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// A request body's JSON schema, the schema's pointer, and the named examples.
type Body = (Value, String, Vec<(String, Value)>);

/// Keys of the document's mappings in document order, by JSON pointer. `serde_json` maps are
/// sorted (its `preserve_order` feature would slow every event's parse by about a quarter), so
/// the order is recorded while converting from YAML.
type KeyOrder = HashMap<String, Vec<String>>;

struct Loader<'a> {
    origin: &'a str,
    doc: &'a Value,
    openapi30: bool,
    order: &'a KeyOrder,
}

impl Loader<'_> {
    /// The entries of `map` (found at `pointer`) in document order where it is known.
    fn ordered<'v>(
        &self,
        map: &'v Map<String, Value>,
        pointer: &str,
    ) -> Vec<(&'v String, &'v Value)> {
        match self.order.get(pointer) {
            Some(keys) => keys.iter().filter_map(|k| map.get_key_value(k)).collect(),
            None => map.iter().collect(),
        }
    }

    fn error(&self, pointer: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            origin: self.origin.to_owned(),
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }

    /// Follow a local `$ref` (possibly several in a row) to its target.
    fn resolve<'v>(&'v self, value: &'v Value, pointer: &str) -> Result<&'v Value, SpecError> {
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
    fn check_refs(&self, value: &Value, pointer: &str) -> Result<(), SpecError> {
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

    fn operations(&self) -> Result<Vec<(String, String, &Value)>, SpecError> {
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
    fn body(&self, op: &Value, pointer: &str) -> Result<Body, SpecError> {
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
    fn root(&self, components: &Value, schema: &Value) -> Value {
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
fn yaml_to_json(
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
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    /// Load a spec from YAML or JSON text. `origin` names it in errors (a file path).
    pub fn from_text(text: &str, origin: &str) -> Result<Self, SpecError> {
        let fail = |message: String| SpecError {
            origin: origin.to_owned(),
            pointer: String::new(),
            message,
        };
        let yaml: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| fail(format!("not YAML or JSON: {e}")))?;
        let mut order = KeyOrder::new();
        let doc = yaml_to_json(&yaml, "", &mut order).map_err(fail)?;
        Self::build(&doc, origin, &order)
    }

    /// Load a spec file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            origin: origin.clone(),
            pointer: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::from_text(&text, &origin)
    }

    /// Load a spec from a parsed document (event types and examples then come in key order).
    pub fn from_value(doc: &Value, origin: &str) -> Result<Self, SpecError> {
        Self::build(doc, origin, &KeyOrder::new())
    }

    fn build(doc: &Value, origin: &str, order: &KeyOrder) -> Result<Self, SpecError> {
        let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
        let fail = |pointer: &str, message: String| SpecError {
            origin: origin.to_owned(),
            pointer: pointer.to_owned(),
            message,
        };
        let openapi30 = if version.starts_with("3.0") {
            true
        } else if version.starts_with("3.1") {
            false
        } else {
            return Err(fail(
                "/openapi",
                format!("unsupported OpenAPI version {version:?} (3.0.x and 3.1.x are)"),
            ));
        };
        let loader = Loader {
            origin,
            doc,
            openapi30,
            order,
        };
        if let Some(schemas) = doc.pointer("/components/schemas") {
            loader.check_refs(schemas, "/components/schemas")?;
        }
        let mut components = doc.get("components").cloned().unwrap_or(Value::Null);
        if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
            for schema in schemas.values_mut() {
                *schema = convert::convert(schema, openapi30);
            }
        }

        let unknown_values = Arc::new(UnknownValues::default());
        let mut options = jsonschema::options_for::<Sonic>()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .with_keyword(
                "x-extensible-enum",
                enums::factory(Arc::clone(&unknown_values)),
            );
        options = options.should_ignore_unknown_formats(true);

        let mut events = Vec::new();
        let mut validators = Vec::new();
        let mut exact = HashMap::new();
        for (kind, pointer, op) in loader.operations()? {
            let (schema, schema_pointer, examples) = loader.body(op, &pointer)?;
            loader.check_refs(&schema, &schema_pointer)?;
            let root = loader.root(&components, &schema);
            let validator = options.build(&root).map_err(|e| {
                fail(
                    &format!("{pointer}/requestBody"),
                    format!("the schema does not compile: {e}"),
                )
            })?;
            if !kind.contains(['*', '?']) && exact.insert(kind.clone(), events.len()).is_some() {
                return Err(fail(
                    &pointer,
                    format!("event type {kind:?} is described twice"),
                ));
            }
            events.push(SpecEvent {
                event_type: kind,
                operation_id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                summary: op
                    .get("summary")
                    .or_else(|| op.get("description"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                pointer,
                examples,
                schema,
                schema_pointer,
            });
            validators.push(validator);
        }
        if events.is_empty() {
            return Err(fail(
                "",
                "no webhooks found (expected `webhooks`, `x-webhooks`, or POST operations in `paths`)"
                    .into(),
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            title: doc
                .pointer("/info/title")
                .and_then(Value::as_str)
                .map(str::to_owned),
            document: doc.clone(),
            openapi30,
            order: order.clone(),
            events,
            validators,
            exact,
            unknown_values,
        })
    }

    /// The whole document as read.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// True for OpenAPI 3.0 documents (schema objects in the 3.0 dialect).
    pub fn is_openapi30(&self) -> bool {
        self.openapi30
    }

    /// The keys of the mapping at `pointer` in document order, where known.
    pub fn key_order(&self, pointer: &str) -> Option<&[String]> {
        self.order.get(pointer).map(Vec::as_slice)
    }

    /// Where the spec came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The document's `info.title`.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The webhooks the spec describes, in document order.
    pub fn events(&self) -> &[SpecEvent] {
        &self.events
    }

    /// Unknown values seen in the spec's extensible enums.
    pub fn unknown_values(&self) -> &UnknownValues {
        &self.unknown_values
    }

    fn index_for(&self, kind: &str) -> Option<usize> {
        self.exact.get(kind).copied().or_else(|| {
            self.events
                .iter()
                .position(|e| e.event_type.contains(['*', '?']) && glob_match(&e.event_type, kind))
        })
    }

    /// Does the spec describe events of this type?
    pub fn knows(&self, kind: &str) -> bool {
        self.index_for(kind).is_some()
    }

    /// Validate `json` as an event of type `kind`. `None` when the spec does not describe the
    /// type; otherwise the problems found, each at the deepest field at fault (at most
    /// [`problems::MAX_PROBLEMS`]; see [`problems`]).
    pub fn validate(&self, kind: &str, json: &Value) -> Option<Result<(), Vec<Problem>>> {
        self.validate_tree(kind, &crate::tree::from_serde(json))
    }

    /// [`validate`](Self::validate) on the tree the pipeline parsed (no `serde_json::Value`).
    pub(crate) fn validate_tree(
        &self,
        kind: &str,
        tree: &sonic_rs::Value,
    ) -> Option<Result<(), Vec<Problem>>> {
        let validator = &self.validators[self.index_for(kind)?];
        if validator.is_valid(tree) {
            return Some(Ok(()));
        }
        let problems = enums::quietly(|| problems::collect(validator.iter_errors(tree)));
        Some(Err(problems))
    }
}

/// The [`Validate`](crate::validate::Validate) stage's validator for a spec.
#[derive(Debug, Clone)]
pub struct SpecValidator {
    spec: Arc<Spec>,
    unknown_events: UnknownEvents,
}

impl SpecValidator {
    /// Validate events against `spec`; `unknown_events` decides about types it does not describe.
    pub fn new(spec: Arc<Spec>, unknown_events: UnknownEvents) -> Self {
        Self {
            spec,
            unknown_events,
        }
    }

    /// The spec.
    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }
}

impl EventValidator for SpecValidator {
    fn validate(&self, event: &Event) -> Result<(), Vec<Problem>> {
        let kind = event.kind().as_str();
        match self.spec.validate_tree(kind, event.tree()) {
            Some(result) => result,
            None => match self.unknown_events {
                UnknownEvents::Accept => {
                    tracing::debug!(kind, "event type not in the spec; accepted untyped");
                    Ok(())
                }
                UnknownEvents::Reject => Err(vec![Problem {
                    instance_path: String::new(),
                    message: format!("event type {kind:?} is not described by the sender's spec"),
                }]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC30: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
x-webhooks:
  thing.created:
    post:
      operationId: thingCreated
      summary: A thing was created
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Thing'}
            examples:
              basic: {value: {event: thing.created, id: 1, size: S, kind: X, note: null}}
components:
  schemas:
    Thing:
      type: object
      required: [event, id]
      properties:
        event: {type: string}
        id: {type: integer}
        size: {type: string, enum: [S, M, L]}
        kind: {type: string, x-extensible-enum: [X, Y]}
        note: {type: string, nullable: true}
"##;

    #[test]
    fn thirty_x_webhooks_validate_and_report_paths() {
        let spec = Spec::from_text(SPEC30, "t.yaml").unwrap();
        assert_eq!(spec.events().len(), 1);
        let (_, example) = &spec.events()[0].examples[0];
        assert_eq!(spec.validate("thing.created", example), Some(Ok(())));
        let bad = json!({"event": "thing.created", "id": "one", "size": "XL"});
        let problems = spec.validate("thing.created", &bad).unwrap().unwrap_err();
        let paths: Vec<_> = problems.iter().map(|p| p.instance_path.as_str()).collect();
        assert!(
            paths.contains(&"/id") && paths.contains(&"/size"),
            "{problems:?}"
        );
        let missing = json!({"event": "thing.created"});
        let problems = spec
            .validate("thing.created", &missing)
            .unwrap()
            .unwrap_err();
        assert!(problems[0].message.contains("id"), "{problems:?}");
        assert_eq!(spec.validate("other", &missing), None);
    }

    #[test]
    fn extensible_enum_accepts_and_counts_unknown_values() {
        let spec = Spec::from_text(SPEC30, "t.yaml").unwrap();
        let new_kind = json!({"event": "thing.created", "id": 1, "kind": "Z", "extra": true});
        assert_eq!(spec.validate("thing.created", &new_kind), Some(Ok(())));
        assert_eq!(spec.unknown_values().total(), 1);
        let counts = spec.unknown_values().counts();
        assert_eq!(counts[0].1, "Z");
        assert!(counts[0].0.ends_with("/properties/kind"), "{counts:?}");
        // An invalid event is counted at most once (not again when its errors are collected).
        let invalid = json!({"event": "thing.created", "id": "x", "kind": "Z"});
        assert!(spec.validate("thing.created", &invalid).unwrap().is_err());
        assert!(spec.unknown_values().total() <= 2);
    }

    #[test]
    fn extensible_enum_flag_form_accepts_and_counts_unknown_values() {
        let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  e:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                open: {type: string, enum: [A, B], x-extensible-enum: true}
                closed: {type: string, enum: [A, B], x-extensible-enum: false}
"##;
        let spec = Spec::from_text(text, "flag.yaml").unwrap();
        assert_eq!(spec.validate("e", &json!({"open": "C"})), Some(Ok(())));
        assert_eq!(spec.validate("e", &json!({"open": "A"})), Some(Ok(())));
        let counts = spec.unknown_values().counts();
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert!(counts[0].0.ends_with("/properties/open") && counts[0].1 == "C");
        let problems = spec
            .validate("e", &json!({"closed": "C"}))
            .unwrap()
            .unwrap_err();
        assert_eq!(problems[0].instance_path, "/closed");
    }

    #[test]
    fn paths_apply_to_every_event_type() {
        let text = r##"
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /hook:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: integer}}}
"##;
        let spec = Spec::from_text(text, "p.yaml").unwrap();
        assert!(spec.knows("ANYTHING.AT_ALL"));
        assert!(spec.validate("X", &json!({"id": "no"})).unwrap().is_err());
    }

    #[test]
    fn openapi31_webhooks_are_read() {
        let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  ping:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [zen]
              properties: {zen: {type: [string, "null"]}}
"##;
        let spec = Spec::from_text(text, "w.yaml").unwrap();
        assert_eq!(spec.validate("ping", &json!({"zen": null})), Some(Ok(())));
        assert!(spec.validate("ping", &json!({})).unwrap().is_err());
    }

    #[test]
    fn event_types_and_examples_keep_document_order() {
        let text = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  zebra:
    post: {requestBody: {content: {application/json: {schema: {}, examples: {z: {value: 1}, a: {value: 2}}}}}}
  apple:
    post: {requestBody: {content: {application/json: {schema: {}}}}}
"##;
        let spec = Spec::from_text(text, "o.yaml").unwrap();
        let kinds: Vec<_> = spec
            .events()
            .iter()
            .map(|e| e.event_type.as_str())
            .collect();
        assert_eq!(kinds, ["zebra", "apple"]);
        let names: Vec<_> = spec.events()[0]
            .examples
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["z", "a"]);
    }

    #[test]
    fn errors_name_the_file_and_pointer() {
        let text = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  a/b:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Missing'}
"##;
        let err = Spec::from_text(text, "bad.yaml").unwrap_err();
        assert_eq!(err.origin, "bad.yaml");
        assert!(err.pointer.starts_with("/x-webhooks/a~1b/post"), "{err}");

        let err = Spec::from_text("openapi: 2.0\n", "old.yaml").unwrap_err();
        assert_eq!(err.pointer, "/openapi");
        let err = Spec::from_text("{", "broken.yaml").unwrap_err();
        assert!(err.message.starts_with("not YAML"), "{err}");
    }
}

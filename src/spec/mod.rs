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
//! What the sender does not document is marked `x-hookgate-assumed: true`, on an operation (its
//! whole payload) or on any schema (that part of it). A mismatch there never refuses an event:
//! it is only reported ([`Verdict::Mismatched`]), even when the source enforces the spec. The
//! document may also set the mode of the sources that use it, `x-hookgate-validate: enforce |
//! report | off` at its root; a source's own `validate` wins over it.
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
use crate::glob;
use crate::rejection::Problem;
use crate::tree::Sonic;
use crate::validate::{ValidationMode, Validator as EventValidator, Verdict};

/// The marker of what the sender does not document (on an operation or a schema).
pub const ASSUMED: &str = "x-hookgate-assumed";
/// The document's own validation mode, at its root.
pub const MODE: &str = "x-hookgate-validate";

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
    documented: Vec<Documented>,
    exact: HashMap<String, usize>,
    unknown_values: Arc<UnknownValues>,
    mode: Option<ValidationMode>,
}

/// What of an event type's schema its sender documents, and so may refuse an event.
enum Documented {
    /// Everything (nothing is marked assumed).
    All,
    /// Nothing (the operation or its whole schema is marked assumed).
    Nothing,
    /// The schema with its assumed parts left out.
    Part(jsonschema::Validator<Sonic>),
}

/// Does this schema (or operation) carry `x-hookgate-assumed: true`?
fn is_assumed(value: &Value) -> bool {
    value.get(ASSUMED) == Some(&Value::Bool(true))
}

/// `schema` with every part marked assumed made the schema that accepts anything; whether any
/// was.
fn documented_part(schema: &Value) -> (Value, bool) {
    fn walk(value: &mut Value, found: &mut bool) {
        match value {
            Value::Object(map) => {
                if map.get(ASSUMED) == Some(&Value::Bool(true)) {
                    map.clear();
                    *found = true;
                    return;
                }
                for child in map.values_mut() {
                    walk(child, found);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut out = schema.clone();
    let mut found = false;
    walk(&mut out, &mut found);
    (out, found)
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

        let mode = match doc.get(MODE) {
            None => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(ValidationMode::from_name)
                    .ok_or_else(|| {
                        fail(
                            &format!("/{MODE}"),
                            format!("{value} is not a validation mode (enforce, report, off)"),
                        )
                    })?,
            ),
        };

        let mut events = Vec::new();
        let mut validators = Vec::new();
        let mut documented = Vec::new();
        let mut exact = HashMap::new();
        for (kind, pointer, op) in loader.operations()? {
            let (schema, schema_pointer, examples) = loader.body(op, &pointer)?;
            loader.check_refs(&schema, &schema_pointer)?;
            let root = loader.root(&components, &schema);
            let compile = |root: &Value| {
                options.build(root).map_err(|e| {
                    fail(
                        &format!("{pointer}/requestBody"),
                        format!("the schema does not compile: {e}"),
                    )
                })
            };
            let validator = compile(&root)?;
            // The parts a sender documents are compiled apart, so that only they can refuse an
            // event; a document without assumed parts compiles once.
            let part = if is_assumed(op) || is_assumed(&root) {
                Documented::Nothing
            } else {
                match documented_part(&root) {
                    (_, false) => Documented::All,
                    (stripped, true) => Documented::Part(compile(&stripped)?),
                }
            };
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
            documented.push(part);
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
            documented,
            exact,
            unknown_values,
            mode,
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

    /// The validation mode the document asks for (`x-hookgate-validate`), if it does.
    pub fn mode(&self) -> Option<ValidationMode> {
        self.mode
    }

    /// Is the payload of this event type wholly assumed (its operation, or its whole schema,
    /// marked `x-hookgate-assumed`)? `None` when the spec does not describe the type.
    pub fn is_assumed(&self, kind: &str) -> Option<bool> {
        let i = self.index_for(kind)?;
        Some(matches!(self.documented[i], Documented::Nothing))
    }

    /// Unknown values seen in the spec's extensible enums.
    pub fn unknown_values(&self) -> &UnknownValues {
        &self.unknown_values
    }

    fn index_for(&self, kind: &str) -> Option<usize> {
        self.exact.get(kind).copied().or_else(|| {
            self.events.iter().position(|e| {
                e.event_type.contains(['*', '?']) && glob::matches(&e.event_type, kind)
            })
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
        Some(Err(problems_of(validator, tree)))
    }

    /// The verdict on `json` as an event of type `kind` in `mode`: what the sender documents
    /// refuses it (in `enforce`), what the spec assumes is only reported. `None` when the spec
    /// does not describe the type.
    pub fn check(&self, kind: &str, json: &Value, mode: ValidationMode) -> Option<Verdict> {
        self.check_tree(kind, &crate::tree::from_serde(json), mode)
    }

    /// [`check`](Self::check) on the tree the pipeline parsed.
    pub(crate) fn check_tree(
        &self,
        kind: &str,
        tree: &sonic_rs::Value,
        mode: ValidationMode,
    ) -> Option<Verdict> {
        let index = self.index_for(kind)?;
        if mode == ValidationMode::Off {
            return Some(Verdict::Valid);
        }
        // The one check a valid event pays for, whatever the mode.
        let validator = &self.validators[index];
        if validator.is_valid(tree) {
            return Some(Verdict::Valid);
        }
        let all = problems_of(validator, tree);
        Some(match (mode, &self.documented[index]) {
            (ValidationMode::Report, _) | (_, Documented::Nothing) => Verdict::Mismatched(all),
            (_, Documented::All) => Verdict::Invalid(all),
            (_, Documented::Part(documented)) => {
                let refused = problems_of(documented, tree);
                if refused.is_empty() {
                    Verdict::Mismatched(all)
                } else {
                    Verdict::Invalid(refused)
                }
            }
        })
    }
}

/// Every problem `validator` finds in `tree` (at most 20), without counting unknown enum values
/// again.
/// Every problem of `tree` under `validator`, pointing at the deepest field at fault
/// ([`problems::collect`]); enum notes are kept quiet (the event is refused or reported anyway).
fn problems_of(validator: &jsonschema::Validator<Sonic>, tree: &sonic_rs::Value) -> Vec<Problem> {
    enums::quietly(|| problems::collect(validator.iter_errors(tree)))
}

/// The [`Validate`](crate::validate::Validate) stage's validator for a spec.
#[derive(Debug, Clone)]
pub struct SpecValidator {
    spec: Arc<Spec>,
    unknown_events: UnknownEvents,
    mode: Option<ValidationMode>,
}

impl SpecValidator {
    /// Validate events against `spec`; `unknown_events` decides about types it does not describe.
    /// The mode is the spec's own (`x-hookgate-validate`), else `enforce`.
    pub fn new(spec: Arc<Spec>, unknown_events: UnknownEvents) -> Self {
        Self {
            spec,
            unknown_events,
            mode: None,
        }
    }

    /// Validate in `mode` (`None`: the spec's own, else `enforce`).
    pub fn mode(mut self, mode: Option<ValidationMode>) -> Self {
        self.mode = mode;
        self
    }

    /// The mode in effect: the source's, else the spec's, else `enforce`.
    pub fn effective_mode(&self) -> ValidationMode {
        self.mode.or(self.spec.mode()).unwrap_or_default()
    }

    /// The spec.
    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }
}

impl EventValidator for SpecValidator {
    fn validate(&self, event: &Event) -> Result<(), Vec<Problem>> {
        match self.check(event) {
            Verdict::Invalid(problems) => Err(problems),
            Verdict::Valid | Verdict::Mismatched(_) => Ok(()),
        }
    }

    fn check(&self, event: &Event) -> Verdict {
        let kind = event.kind().as_str();
        let mode = self.effective_mode();
        if let Some(verdict) = self.spec.check_tree(kind, event.tree(), mode) {
            return verdict;
        }
        match (self.unknown_events, mode) {
            (UnknownEvents::Accept, _) | (_, ValidationMode::Off) => {
                tracing::debug!(kind, "event type not in the spec; accepted untyped");
                Verdict::Valid
            }
            (UnknownEvents::Reject, mode) => {
                let problems = vec![Problem {
                    instance_path: String::new(),
                    message: format!("event type {kind:?} is not described by the sender's spec"),
                }];
                if mode == ValidationMode::Report {
                    Verdict::Mismatched(problems)
                } else {
                    Verdict::Invalid(problems)
                }
            }
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

    const ASSUMED30: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  documented:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Envelope'}
  guessed:
    post:
      x-hookgate-assumed: true
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: string}}}
components:
  schemas:
    Envelope:
      type: object
      required: [event, data]
      properties:
        event: {type: string}
        data: {$ref: '#/components/schemas/Data'}
        extra: {$ref: '#/components/schemas/Extra', x-hookgate-assumed: true}
    Data:
      type: object
      required: [id]
      properties:
        id: {type: integer}
        note: {type: string, x-hookgate-assumed: true}
    Extra: {type: object}
"##;

    fn paths(problems: &[Problem]) -> Vec<&str> {
        let mut paths: Vec<&str> = problems.iter().map(|p| p.instance_path.as_str()).collect();
        paths.sort_unstable();
        paths
    }

    #[test]
    fn assumed_parts_are_reported_and_documented_ones_refused() {
        use ValidationMode::{Enforce, Off, Report};
        let spec = Spec::from_text(ASSUMED30, "a.yaml").unwrap();
        assert_eq!(spec.mode(), None);
        let valid = json!({"event": "documented", "data": {"id": 1, "note": "n"}});
        assert_eq!(
            spec.check("documented", &valid, Enforce),
            Some(Verdict::Valid)
        );

        // A schema marked assumed (and one next to a 3.0 $ref): reported, not refused.
        let guessed = json!({"event": "documented", "data": {"id": 1, "note": 7}, "extra": 1});
        match spec.check("documented", &guessed, Enforce) {
            Some(Verdict::Mismatched(problems)) => {
                assert_eq!(paths(&problems), ["/data/note", "/extra"], "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
        // A documented part refuses, and lists only what refuses.
        let wrong = json!({"event": "documented", "data": {"id": "1", "note": 7}});
        match spec.check("documented", &wrong, Enforce) {
            Some(Verdict::Invalid(problems)) => assert_eq!(paths(&problems), ["/data/id"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            spec.check("documented", &wrong, Report),
            Some(Verdict::Mismatched(p)) if p.len() == 2
        ));
        assert_eq!(spec.check("documented", &wrong, Off), Some(Verdict::Valid));

        // An operation marked assumed never refuses.
        let op = json!({"id": 5});
        assert!(matches!(
            spec.check("guessed", &op, Enforce),
            Some(Verdict::Mismatched(_))
        ));
        assert_eq!(spec.is_assumed("guessed"), Some(true));
        assert_eq!(spec.is_assumed("documented"), Some(false));
        assert_eq!(spec.check("other", &op, Enforce), None);
        // The plain validation still sees everything.
        assert!(spec.validate("documented", &guessed).unwrap().is_err());
    }

    #[test]
    fn a_document_may_set_its_own_mode() {
        let text = SPEC30.replace("paths: {}", "paths: {}\nx-hookgate-validate: report");
        let spec = Arc::new(Spec::from_text(&text, "m.yaml").unwrap());
        assert_eq!(spec.mode(), Some(ValidationMode::Report));
        let validator = SpecValidator::new(Arc::clone(&spec), UnknownEvents::Reject);
        assert_eq!(validator.effective_mode(), ValidationMode::Report);
        let validator = validator.mode(Some(ValidationMode::Enforce));
        assert_eq!(validator.effective_mode(), ValidationMode::Enforce);

        let bad = SPEC30.replace("paths: {}", "paths: {}\nx-hookgate-validate: lenient");
        let err = Spec::from_text(&bad, "m.yaml").unwrap_err();
        assert_eq!(err.pointer, "/x-hookgate-validate");
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

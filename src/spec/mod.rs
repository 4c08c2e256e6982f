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
mod loader;
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

use self::loader::{Loader, yaml_to_json};

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
mod tests;

//! `hookgate gen`: turn an OpenAPI webhook spec into a Cargo crate of typed handler stubs.
//!
//! The generated crate is a receiver built on hookgate: `src/models.rs` has a type for every
//! schema the events use ([`ir`]), `src/events.rs` an enum over the events with an `Unknown`
//! variant and the dispatch to the handlers, `src/handlers.rs` one async stub per event type that
//! answers 501 until it is filled in, `src/main.rs` a runnable server, and `tests/examples.rs` a
//! test that sends every example of the spec, signed, through the receiver.
//!
//! Files are rendered from the templates in `templates/` (minijinja) and formatted with
//! `rustfmt` when it is installed. Everything is rendered before anything is written, so a spec
//! that cannot be generated writes nothing. `handlers.rs` and `tests/examples.rs` belong to the
//! user once written: regenerating keeps them unless forced.

pub mod ir;
pub mod names;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use minijinja::{Environment, context};
use serde::Serialize;
use serde_json::Value;

use self::names::{pascal, snake};
use crate::profile::Profile;
use crate::spec::{Spec, SpecError};

/// How to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Crate name; the output directory's name when `None`.
    pub name: Option<String>,
    /// Sender profile: authentication, and where the event type and id are.
    pub profile: Profile,
    /// JSON pointer to the event type (generic profile); inferred from the spec when `None`.
    pub type_field: Option<String>,
    /// The `hookgate` dependency line: `path = "..."` or `version = "..."`.
    pub hookgate_dep: String,
}

impl Options {
    /// Options for `profile`, depending on this version of hookgate from crates.io.
    pub fn new(profile: Profile) -> Self {
        Self {
            name: None,
            profile,
            type_field: None,
            hookgate_dep: format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why a crate could not be generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// The spec is malformed or uses something the generator does not support.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The options do not fit the spec.
    #[error("{0}")]
    Options(String),
    /// A template failed to render (a bug in hookgate).
    #[error("template {name}: {message}")]
    Template {
        /// Template name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// One generated file.
#[derive(Debug, Clone)]
pub struct File {
    /// Path inside the crate.
    pub path: PathBuf,
    /// Contents.
    pub contents: String,
    /// Written only when absent (or forced): the user edits it.
    pub user_owned: bool,
}

/// What happened to a file when writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Created or rewritten.
    Written,
    /// Left as it was (a user-owned file that exists).
    Kept,
}

#[derive(Serialize)]
struct EventDef {
    named: Option<String>,
    event_type: String,
    lit: String,
    glob: bool,
    variant: String,
    handler: String,
    body_ty: String,
    summary: Option<String>,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/Cargo.toml.jinja"),
    ),
    ("README.md", include_str!("../../templates/README.md.jinja")),
    ("lib.rs", include_str!("../../templates/lib.rs.jinja")),
    ("main.rs", include_str!("../../templates/main.rs.jinja")),
    ("models.rs", include_str!("../../templates/models.rs.jinja")),
    (
        "model_items.jinja",
        include_str!("../../templates/model_items.jinja"),
    ),
    (
        "sender_module.rs",
        include_str!("../../templates/sender_module.rs.jinja"),
    ),
    ("events.rs", include_str!("../../templates/events.rs.jinja")),
    (
        "handlers.rs",
        include_str!("../../templates/handlers.rs.jinja"),
    ),
    (
        "examples.rs",
        include_str!("../../templates/examples_test.rs.jinja"),
    ),
];

/// A loaded spec with its Rust types and events, ready to render.
struct Prepared {
    text: String,
    title: Option<String>,
    models: Vec<ir::Model>,
    events: Vec<EventDef>,
}

fn prepare(spec_path: &Path, prefix: &str) -> Result<(Spec, Prepared), GenError> {
    let origin = spec_path.display().to_string();
    let text = std::fs::read_to_string(spec_path).map_err(|e| GenError::Io {
        path: spec_path.to_path_buf(),
        message: e.to_string(),
    })?;
    let spec = Spec::from_text(&text, &origin)?;
    let mut builder = ir::Builder::new(&spec);
    let mut events = Vec::new();
    let mut variants = std::collections::HashSet::new();
    for described in spec.events() {
        let glob = described.event_type.contains(['*', '?']);
        let base = if glob {
            described.operation_id.as_deref().unwrap_or("any event")
        } else {
            described.event_type.as_str()
        };
        let mut variant = pascal(base);
        let mut n = 2;
        while variant == "Unknown" || !variants.insert(variant.clone()) {
            variant = format!("{}{n}", pascal(base));
            n += 1;
        }
        let ty = builder.ty(
            &described.schema,
            &described.schema_pointer,
            &format!("{variant}Event"),
        )?;
        events.push(EventDef {
            event_type: described.event_type.clone(),
            lit: format!("{:?}", described.event_type),
            glob,
            handler: snake(&variant),
            variant,
            named: match &ty {
                ir::Ty::Named(n) => Some(n.clone()),
                _ => None,
            },
            body_ty: ty.render(prefix),
            summary: described
                .summary
                .as_ref()
                .map(|s| s.lines().next().unwrap_or("").trim().to_owned()),
        });
    }
    fix_handler_names(&mut events);
    let prepared = Prepared {
        text,
        title: spec.title().map(str::to_owned),
        models: builder.models,
        events,
    };
    Ok((spec, prepared))
}

fn environment() -> Result<Environment<'static>, GenError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| GenError::Template {
                name: (*name).to_owned(),
                message: e.to_string(),
            })?;
    }
    Ok(env)
}

fn render(env: &Environment<'_>, name: &str, ctx: &minijinja::Value) -> Result<String, GenError> {
    let template = env.get_template(name).map_err(|e| GenError::Template {
        name: name.to_owned(),
        message: e.to_string(),
    })?;
    template.render(ctx).map_err(|e| GenError::Template {
        name: name.to_owned(),
        message: format!("{e:#}"),
    })
}

/// The name of a built-in sender's event enum (`NinjaOneEvent`), `WebhookEvent` otherwise.
pub fn enum_name(profile: Profile) -> &'static str {
    match profile {
        Profile::NinjaOne => "NinjaOneEvent",
        Profile::NinjaRmm => "NinjaRmmEvent",
        Profile::Webnet => "WebnetEvent",
        Profile::Homa => "HomaEvent",
        Profile::OpsCenter => "OpsCenterEvent",
        Profile::StandardWebhooks => "StandardWebhookEvent",
        Profile::GitHub => "GitHubEvent",
        Profile::Stripe => "StripeEvent",
        Profile::Slack => "SlackEvent",
        Profile::Shopify => "ShopifyEvent",
        Profile::Zoom => "ZoomEvent",
        Profile::MicrosoftGraph => "MicrosoftGraphEvent",
        Profile::Okta => "OktaEvent",
        Profile::Dropbox => "DropboxEvent",
        Profile::Generic => "WebhookEvent",
    }
}

/// Generate one self-contained Rust module for a spec: its types, an enum over its events, and
/// [`TypedEvent`](crate::typed::TypedEvent) impls. `hookgate` is how the module names this crate
/// (`crate` inside hookgate itself, where the built-in sender modules are made this way).
pub fn generate_module(
    spec_path: &Path,
    profile: Profile,
    hookgate: &str,
    module_file: &str,
) -> Result<String, GenError> {
    #[derive(Serialize)]
    struct TypedImpl {
        name: String,
        kinds: Vec<String>,
    }
    let (_, prepared) = prepare(spec_path, "")?;
    let mut typed: Vec<TypedImpl> = Vec::new();
    for event in &prepared.events {
        let Some(name) = &event.named else { continue };
        match typed.iter_mut().find(|t| &t.name == name) {
            Some(t) => t.kinds.push(event.lit.clone()),
            None => typed.push(TypedImpl {
                name: name.clone(),
                kinds: vec![event.lit.clone()],
            }),
        }
    }
    let env = environment()?;
    let ctx = context! {
        title => prepared.title.clone().unwrap_or_else(|| profile.name().to_owned()),
        spec_file => spec_path.display().to_string(),
        module_file => module_file,
        profile => profile.name(),
        enum_name => enum_name(profile),
        hookgate => hookgate,
        models => minijinja::Value::from(minijinja::value::Serde(&prepared.models)),
        events => minijinja::Value::from(minijinja::value::Serde(&prepared.events)),
        typed => minijinja::Value::from(minijinja::value::Serde(&typed)),
    };
    let source = render(&env, "sender_module.rs", &ctx)?;
    Ok(rustfmt(&source).unwrap_or(source))
}

/// Generate the crate for the spec at `spec_path` into memory; `out` only names the crate.
pub fn generate(spec_path: &Path, out: &Path, options: &Options) -> Result<Vec<File>, GenError> {
    let (spec, prepared) = prepare(spec_path, "models::")?;
    let origin = spec_path.display().to_string();
    let spec_file = match spec_path.extension().and_then(|e| e.to_str()) {
        Some("json") => "spec.json",
        _ => "spec.yaml",
    };
    let crate_name = crate_name(options.name.as_deref(), out)?;
    let lib_name = crate_name.replace('-', "_");
    let title = prepared.title.clone().unwrap_or_else(|| crate_name.clone());
    let events = prepared.events;
    let text = prepared.text;
    let uses_models = events.iter().any(|e| e.body_ty.contains("models::"));

    let kind_pointer = match options.profile {
        Profile::Generic => Some(match &options.type_field {
            Some(pointer) => pointer.clone(),
            None => infer_kind_pointer(&spec).ok_or_else(|| {
                GenError::Options(format!(
                    "{origin}: cannot tell which field holds the event type; pass --type-field \
                     /field or a --profile"
                ))
            })?,
        }),
        _ => options.type_field.clone(),
    };
    if let Some(pointer) = &kind_pointer {
        if !pointer.starts_with('/') {
            return Err(GenError::Options(format!(
                "--type-field must be a JSON pointer like /type, not {pointer:?}"
            )));
        }
    }

    let env = environment()?;
    let ctx = context! {
        crate_name => crate_name,
        lib_name => lib_name,
        title => title,
        spec_file => spec_file,
        profile => options.profile.name(),
        profile_variant => profile_variant(options.profile),
        kind_pointer => kind_pointer.as_ref().map(|p| format!("{p:?}")),
        hookgate_dep => options.hookgate_dep.clone(),
        models => minijinja::Value::from(minijinja::value::Serde(&prepared.models)),
        events => minijinja::Value::from(minijinja::value::Serde(&events)),
        uses_models => uses_models,
    };
    let files = [
        ("Cargo.toml", "Cargo.toml", false),
        ("README.md", "README.md", false),
        ("src/lib.rs", "lib.rs", false),
        ("src/main.rs", "main.rs", false),
        ("src/models.rs", "models.rs", false),
        ("src/events.rs", "events.rs", false),
        ("src/handlers.rs", "handlers.rs", true),
        ("tests/examples.rs", "examples.rs", true),
    ];
    let mut out_files = Vec::new();
    for (path, template, user_owned) in files {
        let mut contents = render(&env, template, &ctx)?;
        if path.ends_with(".rs") {
            contents = rustfmt(&contents).unwrap_or(contents);
        }
        out_files.push(File {
            path: PathBuf::from(path),
            contents,
            user_owned,
        });
    }
    out_files.push(File {
        path: PathBuf::from(spec_file),
        contents: text,
        user_owned: false,
    });
    Ok(out_files)
}

/// Write `files` under `out`. User-owned files that exist are kept unless `force`.
pub fn write(files: &[File], out: &Path, force: bool) -> Result<Vec<(PathBuf, Written)>, GenError> {
    let io = |path: &Path, e: std::io::Error| GenError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut report = Vec::new();
    for file in files {
        let path = out.join(&file.path);
        if file.user_owned && path.exists() && !force {
            report.push((file.path.clone(), Written::Kept));
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(&path, &file.contents).map_err(|e| io(&path, e))?;
        report.push((file.path.clone(), Written::Written));
    }
    Ok(report)
}

fn crate_name(name: Option<&str>, out: &Path) -> Result<String, GenError> {
    let raw = match name {
        Some(n) => n.to_owned(),
        None => std::path::absolute(out)
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    };
    let valid = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && raw.starts_with(|c: char| c.is_ascii_alphabetic());
    if valid {
        Ok(raw)
    } else {
        Err(GenError::Options(format!(
            "{raw:?} is not a valid crate name; pass --name (letters, digits, - and _)"
        )))
    }
}

fn profile_variant(profile: Profile) -> &'static str {
    match profile {
        Profile::NinjaOne => "NinjaOne",
        Profile::NinjaRmm => "NinjaRmm",
        Profile::Webnet => "Webnet",
        Profile::Homa => "Homa",
        Profile::OpsCenter => "OpsCenter",
        Profile::StandardWebhooks => "StandardWebhooks",
        Profile::GitHub => "GitHub",
        Profile::Stripe => "Stripe",
        Profile::Slack => "Slack",
        Profile::Shopify => "Shopify",
        Profile::Zoom => "Zoom",
        Profile::MicrosoftGraph => "MicrosoftGraph",
        Profile::Okta => "Okta",
        Profile::Dropbox => "Dropbox",
        Profile::Generic => "Generic",
    }
}

/// Handler names must differ from each other and from `unknown`.
fn fix_handler_names(events: &mut [EventDef]) {
    let mut used = std::collections::HashSet::from(["unknown".to_owned(), "dispatch".to_owned()]);
    for event in events {
        let base = event.handler.clone();
        let mut n = 2;
        while !used.insert(event.handler.clone()) {
            event.handler = format!("{base}_{n}");
            n += 1;
        }
    }
}

/// Properties of an object schema at the top level, following `$ref` and `allOf`.
fn top_properties(doc: &Value, schema: &Value, depth: usize) -> Vec<(String, Value)> {
    if depth > 16 {
        return Vec::new();
    }
    if let Some(target) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| doc.pointer(p))
    {
        return top_properties(doc, target, depth + 1);
    }
    let mut out = Vec::new();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(top_properties(doc, part, depth + 1));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let resolved = v
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| doc.pointer(p))
                .unwrap_or(v);
            out.push((k.clone(), resolved.clone()));
        }
    }
    out
}

/// Where the event type is, for a spec whose profile does not say: the top-level property that
/// every event's schema pins to its own type (`enum: [type]` or `const`), or else a
/// conventionally named string property that every example carries.
fn infer_kind_pointer(spec: &Spec) -> Option<String> {
    let exact: Vec<_> = spec
        .events()
        .iter()
        .filter(|e| !e.event_type.contains(['*', '?']))
        .collect();
    if let Some(first) = exact.first() {
        let pins = |schema: &Value, kind: &str| {
            schema.get("const").and_then(Value::as_str) == Some(kind)
                || ["enum", "x-extensible-enum"].iter().any(|k| {
                    schema
                        .get(*k)
                        .and_then(Value::as_array)
                        .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(kind)))
                })
        };
        for (name, _) in top_properties(spec.document(), &first.schema, 0) {
            let all = exact.iter().all(|e| {
                top_properties(spec.document(), &e.schema, 0)
                    .iter()
                    .any(|(n, s)| *n == name && pins(s, &e.event_type))
            });
            if all {
                return Some(format!("/{name}"));
            }
        }
    }
    let examples: Vec<&Value> = spec
        .events()
        .iter()
        .flat_map(|e| e.examples.iter().map(|(_, v)| v))
        .collect();
    ["type", "event", "event_type", "eventType", "kind"]
        .into_iter()
        .find(|name| {
            !examples.is_empty()
                && examples
                    .iter()
                    .all(|ex| ex.get(*name).is_some_and(Value::is_string))
        })
        .map(|name| format!("/{name}"))
}

/// Format Rust source with `rustfmt` if it is installed; `None` if it is not or fails.
fn rustfmt(source: &str) -> Option<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(source.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
}

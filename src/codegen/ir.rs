//! From OpenAPI schemas to a small model of Rust types that the templates render.
//!
//! | schema | Rust |
//! |---|---|
//! | object with `properties` (or `allOf` of such) | `struct`, optional fields as `Option` |
//! | string `enum` | `enum` with serde renames |
//! | `x-extensible-enum: [...]`, or `enum` with `x-extensible-enum: true` | `enum` with an `Unknown(String)` fallback |
//! | `oneOf` / `anyOf` with a `discriminator` | `enum` dispatched on the discriminator, `Unknown(Value)` fallback |
//! | `oneOf` / `anyOf` without one | `#[serde(untagged)]` `enum`, `Unknown(Value)` fallback |
//! | `array` | `Vec<T>` |
//! | object with `additionalProperties: {schema}` | `BTreeMap<String, T>` |
//! | free-form object / no type | `serde_json::Map` / `serde_json::Value` |
//! | `nullable: true`, `type: [T, "null"]` | `Option<T>` |
//!
//! A type that contains itself is boxed. Names come from component names, or from the parent's
//! name and the property's for inline schemas.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::names::{pascal, serde_name, snake};
use crate::spec::SpecError;
use crate::spec::enums::extensible_values;

/// A Rust type expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `String`, `i64`, `f64`, `bool`, ...
    Prim(&'static str),
    /// A generated type.
    Named(String),
    /// A generated type that contains itself.
    Boxed(String),
    /// `Vec<T>`.
    Vec(Box<Ty>),
    /// `BTreeMap<String, T>`.
    Map(Box<Ty>),
    /// `serde_json::Value`.
    Json,
    /// `serde_json::Map<String, serde_json::Value>`.
    JsonMap,
    /// `Option<T>`.
    Option(Box<Ty>),
}

impl Ty {
    /// The type as Rust source, naming generated types with `prefix` (e.g. `models::`).
    pub fn render(&self, prefix: &str) -> String {
        match self {
            Self::Prim(p) => (*p).to_owned(),
            Self::Named(n) => format!("{prefix}{n}"),
            Self::Boxed(n) => format!("Box<{prefix}{n}>"),
            Self::Vec(t) => format!("Vec<{}>", t.render(prefix)),
            Self::Map(t) => format!("std::collections::BTreeMap<String, {}>", t.render(prefix)),
            Self::Json => "serde_json::Value".to_owned(),
            Self::JsonMap => "serde_json::Map<String, serde_json::Value>".to_owned(),
            Self::Option(t) => format!("Option<{}>", t.render(prefix)),
        }
    }

    fn optional(self) -> Self {
        match self {
            Self::Option(_) => self,
            other => Self::Option(Box::new(other)),
        }
    }

    /// Does the rendered type mention a generated type?
    pub fn uses_models(&self) -> bool {
        match self {
            Self::Named(_) | Self::Boxed(_) => true,
            Self::Vec(t) | Self::Map(t) | Self::Option(t) => t.uses_models(),
            _ => false,
        }
    }
}

/// A field of a generated struct.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Rust identifier.
    pub ident: String,
    /// JSON property name.
    pub json: String,
    /// Whether serde needs `rename`.
    pub rename: bool,
    /// Rendered type.
    pub ty: String,
    /// `Option` that may be absent (`default`, `skip_serializing_if`).
    pub optional: bool,
    /// Doc lines.
    pub doc: Vec<String>,
}

/// A variant of a generated enum.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// Rust identifier.
    pub ident: String,
    /// Rust string literal of the JSON value (string enums) or discriminator value.
    pub lit: String,
    /// Rendered payload type (unions).
    pub ty: Option<String>,
    /// Doc lines.
    pub doc: Vec<String>,
}

/// A generated type.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Type name.
    pub name: String,
    /// `struct`, `enum`, `extensible`, `tagged`, `untagged` or `alias`.
    pub kind: &'static str,
    /// Doc lines.
    pub doc: Vec<String>,
    /// Struct fields.
    pub fields: Vec<Field>,
    /// Enum variants.
    pub variants: Vec<Variant>,
    /// Rust literal of the discriminator property (`tagged`).
    pub discriminator: Option<String>,
    /// Aliased type (`alias`).
    pub alias: Option<String>,
    /// Derive `Eq` and `Hash` (string enums).
    pub eq: bool,
}

/// Builds [`Model`]s from the schemas of one document.
pub struct Builder<'a> {
    origin: &'a str,
    doc: &'a Value,
    spec: &'a crate::spec::Spec,
    /// Models in the order they were finished.
    pub models: Vec<Model>,
    by_pointer: HashMap<String, String>,
    used: HashSet<String>,
    building: HashSet<String>,
}

fn doc_lines(schema: &Value) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for key in ["title", "description"] {
        if let Some(text) = schema.get(key).and_then(Value::as_str) {
            lines.extend(text.trim().lines().map(|l| l.trim_end().to_owned()));
            break;
        }
    }
    if schema.get("deprecated") == Some(&Value::Bool(true)) {
        lines.push(String::new());
        lines.push("Deprecated by the sender.".to_owned());
    }
    lines
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_null_schema(schema: &Value) -> bool {
    types_of(schema) == ["null"]
}

/// Does the schema allow `null` (3.0 `nullable`, 3.1 type lists, or a null branch)?
fn nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
        || types_of(schema).contains(&"null")
        || ["oneOf", "anyOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(is_null_schema))
        })
}

fn lit(text: &str) -> String {
    format!("{text:?}")
}

impl<'a> Builder<'a> {
    /// A builder over the document of `spec` (for `$ref`s and key order).
    pub fn new(spec: &'a crate::spec::Spec) -> Self {
        Self {
            origin: spec.origin(),
            doc: spec.document(),
            spec,
            models: Vec::new(),
            by_pointer: HashMap::new(),
            used: HashSet::new(),
            building: HashSet::new(),
        }
    }

    fn error(&self, pointer: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            origin: self.origin.to_owned(),
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }

    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }

    /// The target of a local `$ref`, with its pointer.
    fn target(&self, reference: &Value, pointer: &str) -> Result<(String, &'a Value), SpecError> {
        let text = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .ok_or_else(|| {
                self.error(
                    pointer,
                    format!("only local references (#/...) are supported: {reference}"),
                )
            })?;
        let target = self
            .doc
            .pointer(text)
            .ok_or_else(|| self.error(pointer, format!("$ref {reference} points to nothing")))?;
        Ok((text.to_owned(), target))
    }

    /// The Rust type of `schema` (found at `pointer`); inline types get names from `hint`.
    pub fn ty(&mut self, schema: &'a Value, pointer: &str, hint: &str) -> Result<Ty, SpecError> {
        let optional = nullable(schema);
        let ty = self.ty_inner(schema, pointer, hint)?;
        Ok(if optional { ty.optional() } else { ty })
    }

    fn ty_inner(&mut self, schema: &'a Value, pointer: &str, hint: &str) -> Result<Ty, SpecError> {
        if let Some(reference) = schema.get("$ref") {
            let (target_ptr, target) = self.target(reference, pointer)?;
            let base = target_ptr.rsplit('/').next().unwrap_or(hint).to_owned();
            return self.model_at(target, &target_ptr, &pascal(&base));
        }
        if schema.get("allOf").is_some()
            || schema.get("properties").is_some()
            || schema.get("enum").is_some_and(|e| {
                e.as_array()
                    .is_some_and(|a| a.iter().all(|v| v.is_string() || v.is_null()))
            })
            || extensible_values(schema).is_some()
        {
            return self.model_at(schema, pointer, &pascal(hint));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(parts) = schema.get(key).and_then(Value::as_array) {
                let real: Vec<&Value> = parts.iter().filter(|p| !is_null_schema(p)).collect();
                if real.len() == 1 {
                    let i = parts.iter().position(|p| !is_null_schema(p)).unwrap_or(0);
                    return self.ty_inner(real[0], &format!("{pointer}/{key}/{i}"), hint);
                }
                return self.model_at(schema, pointer, &pascal(hint));
            }
        }
        let types: Vec<&str> = types_of(schema)
            .into_iter()
            .filter(|t| *t != "null")
            .collect();
        Ok(match types.as_slice() {
            ["string"] => Ty::Prim("String"),
            ["integer"] => match schema.get("format").and_then(Value::as_str) {
                Some("int32") => Ty::Prim("i32"),
                _ => Ty::Prim("i64"),
            },
            ["number"] => Ty::Prim("f64"),
            ["boolean"] => Ty::Prim("bool"),
            ["array"] => match schema.get("items") {
                Some(items) => Ty::Vec(Box::new(self.ty(
                    items,
                    &format!("{pointer}/items"),
                    &format!("{hint}Item"),
                )?)),
                None => Ty::Vec(Box::new(Ty::Json)),
            },
            ["object"] => match schema.get("additionalProperties") {
                Some(ap @ Value::Object(_)) if !ap.as_object().is_some_and(|o| o.is_empty()) => {
                    Ty::Map(Box::new(self.ty(
                        ap,
                        &format!("{pointer}/additionalProperties"),
                        &format!("{hint}Value"),
                    )?))
                }
                _ => Ty::JsonMap,
            },
            _ => Ty::Json,
        })
    }

    /// The named type for the schema at `pointer`, building its model the first time.
    fn model_at(&mut self, schema: &'a Value, pointer: &str, base: &str) -> Result<Ty, SpecError> {
        if let Some(name) = self.by_pointer.get(pointer).cloned() {
            return Ok(if self.building.contains(pointer) {
                Ty::Boxed(name)
            } else {
                Ty::Named(name)
            });
        }
        let name = self.unique(base);
        self.by_pointer.insert(pointer.to_owned(), name.clone());
        self.building.insert(pointer.to_owned());
        let model = self.build(schema, pointer, &name)?;
        self.building.remove(pointer);
        self.models.push(model);
        Ok(Ty::Named(name))
    }

    fn build(&mut self, schema: &'a Value, pointer: &str, name: &str) -> Result<Model, SpecError> {
        let mut doc = doc_lines(schema);
        if doc.is_empty() {
            doc.push(format!(
                "The `{}` schema.",
                pointer.rsplit('/').next().unwrap_or(name)
            ));
        }
        let mut model = Model {
            name: name.to_owned(),
            kind: "struct",
            doc,
            fields: Vec::new(),
            variants: Vec::new(),
            discriminator: None,
            alias: None,
            eq: false,
        };
        if let Some(values) = extensible_values(schema) {
            model.kind = "extensible";
            model.eq = true;
            model.variants = self.string_variants(values);
            return Ok(model);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if values.iter().all(|v| v.is_string() || v.is_null())
                && schema.get("properties").is_none()
            {
                model.kind = "enum";
                model.eq = true;
                model.variants = self.string_variants(values);
                return Ok(model);
            }
        }
        if schema.get("allOf").is_some() || schema.get("properties").is_some() {
            let mut properties: Vec<(String, &'a Value, String)> = Vec::new();
            let mut required = HashSet::new();
            self.collect(schema, pointer, &mut properties, &mut required)?;
            let mut idents = HashSet::new();
            for (json, prop, prop_ptr) in properties {
                let hint = format!("{name}{}", pascal(&json));
                let mut ty = self.ty(prop, &prop_ptr, &hint)?;
                let optional = !required.contains(&json);
                if optional {
                    ty = ty.optional();
                }
                let mut ident = snake(&json);
                let mut n = 2;
                while !idents.insert(ident.clone()) {
                    ident = format!("{}_{n}", serde_name(&snake(&json)));
                    n += 1;
                }
                let mut doc = doc_lines(prop);
                if doc.is_empty() {
                    if let Some(reference) = prop.get("$ref") {
                        let (_, target) = self.target(reference, &prop_ptr)?;
                        doc = doc_lines(target);
                    }
                }
                if doc.is_empty() {
                    doc.push(format!("`{json}`."));
                }
                model.fields.push(Field {
                    rename: serde_name(&ident) != json,
                    ident,
                    json,
                    ty: ty.render(""),
                    optional: matches!(ty, Ty::Option(_)),
                    doc,
                });
            }
            return Ok(model);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(parts) = schema.get(key).and_then(Value::as_array) {
                return self.union(schema, parts, &format!("{pointer}/{key}"), model);
            }
        }
        // Anything else named in components (a primitive, an array, a map, an integer enum): an
        // alias. None of the branches above apply, so this does not come back here.
        model.kind = "alias";
        let ty = self.ty_inner(schema, pointer, name)?;
        model.alias = Some(ty.render(""));
        Ok(model)
    }

    fn string_variants(&self, values: &[Value]) -> Vec<Variant> {
        let mut idents = HashSet::new();
        values
            .iter()
            .filter_map(Value::as_str)
            .map(|value| {
                let mut ident = pascal(value);
                let mut n = 2;
                while ident == "Unknown" || !idents.insert(ident.clone()) {
                    ident = format!("{}{n}", pascal(value));
                    n += 1;
                }
                Variant {
                    ident,
                    lit: lit(value),
                    ty: None,
                    doc: vec![format!("`{value}`")],
                }
            })
            .collect()
    }

    /// Properties and required names of an object schema, following `allOf` and `$ref`s.
    fn collect(
        &mut self,
        schema: &'a Value,
        pointer: &str,
        properties: &mut Vec<(String, &'a Value, String)>,
        required: &mut HashSet<String>,
    ) -> Result<(), SpecError> {
        if let Some(reference) = schema.get("$ref") {
            let (target_ptr, target) = self.target(reference, pointer)?;
            return self.collect(target, &target_ptr, properties, required);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                self.collect(part, &format!("{pointer}/allOf/{i}"), properties, required)?;
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            // In document order where it is known (serde_json maps are sorted).
            let keys: Vec<&String> = match self.spec.key_order(&format!("{pointer}/properties")) {
                Some(order) => order.iter().filter(|k| props.contains_key(*k)).collect(),
                None => props.keys().collect(),
            };
            for key in keys {
                let Some(prop) = props.get(key) else { continue };
                let prop_ptr = format!(
                    "{pointer}/properties/{}",
                    key.replace('~', "~0").replace('/', "~1")
                );
                match properties.iter_mut().find(|(k, _, _)| k == key) {
                    // A later allOf part refines an earlier one: keep the later schema.
                    Some(slot) => *slot = (key.clone(), prop, prop_ptr),
                    None => properties.push((key.clone(), prop, prop_ptr)),
                }
            }
        }
        if let Some(names) = schema.get("required").and_then(Value::as_array) {
            required.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Ok(())
    }

    fn union(
        &mut self,
        schema: &'a Value,
        parts: &'a [Value],
        pointer: &str,
        mut model: Model,
    ) -> Result<Model, SpecError> {
        let discriminator = schema
            .pointer("/discriminator/propertyName")
            .and_then(Value::as_str);
        let mapping = schema
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object);
        let mut idents = HashSet::new();
        for (i, part) in parts.iter().enumerate() {
            if is_null_schema(part) {
                continue;
            }
            let part_ptr = format!("{pointer}/{i}");
            let ref_name = part
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_owned);
            let base = ref_name
                .clone()
                .map_or_else(|| format!("Variant{}", i + 1), |n| pascal(&n));
            let ty = self.ty(part, &part_ptr, &format!("{}{base}", model.name))?;
            let mut ident = base.clone();
            let mut n = 2;
            while ident == "Unknown" || !idents.insert(ident.clone()) {
                ident = format!("{base}{n}");
                n += 1;
            }
            // The discriminator value: the mapping key pointing at this part, else its name.
            let value = match (&ref_name, mapping) {
                (Some(r), Some(map)) => map
                    .iter()
                    .find(|(_, target)| {
                        target
                            .as_str()
                            .is_some_and(|t| t.rsplit('/').next() == Some(r.as_str()))
                    })
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| r.clone()),
                (Some(r), None) => r.clone(),
                (None, _) => ident.clone(),
            };
            let mut doc = doc_lines(part);
            if doc.is_empty() {
                doc.push(format!("A `{ident}`."));
            }
            model.variants.push(Variant {
                ident,
                lit: lit(&value),
                ty: Some(ty.render("")),
                doc,
            });
        }
        match discriminator {
            Some(property) => {
                model.kind = "tagged";
                model.discriminator = Some(lit(property));
            }
            None => model.kind = "untagged",
        }
        Ok(model)
    }
}

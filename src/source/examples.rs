//! A profile's built-in spec and examples, and a source's spec (the `schema` feature).
//!
//! The spec a source validates against, the examples `hookgate send` and the sources test
//! endpoint use, and the samples made new from them: everything of [`Profile`] and [`Source`]
//! that needs an OpenAPI document.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{EventShape, IdPart, IdPlace, Profile, Source};
use crate::spec::{Spec, SpecError, UnknownEvents};

impl Profile {
    /// The profile's built-in spec, compiled once per process.
    pub fn spec(self) -> Option<Result<Arc<Spec>, SpecError>> {
        static SPECS: [OnceLock<Result<Arc<Spec>, SpecError>>; 5] = [const { OnceLock::new() }; 5];
        let index = Self::SEEDS.iter().position(|p| *p == self)?;
        let text = self.spec_text()?;
        let origin = format!("built-in spec of {}", self.name());
        Some(
            SPECS[index]
                .get_or_init(|| Spec::from_text(text, &origin).map(Arc::new))
                .clone(),
        )
    }

    /// Every example of the profile's spec as `(event type, example name, body)`, the event type
    /// read from the body the way the gateway reads it.
    pub fn examples(self) -> Vec<(String, String, Value)> {
        let Some(Ok(spec)) = self.spec() else {
            return Vec::new();
        };
        let shape = self.shape();
        spec.events()
            .iter()
            .flat_map(|e| e.examples.iter())
            .filter_map(|(name, body)| {
                let kind = shape.kind_of(body).ok()?;
                Some((kind.as_str().to_owned(), name.clone(), body.clone()))
            })
            .collect()
    }

    /// The event types the profile's spec has examples for, each once, in spec order.
    pub fn sample_events(self) -> Vec<String> {
        let mut kinds: Vec<String> = Vec::new();
        for (kind, _, _) in self.examples() {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds
    }

    /// The spec's first example of `event` (or of the first event type), as written: what
    /// `hookgate send` sends, so that sending it twice sends one event twice (the second answer
    /// is `200 duplicate`).
    pub fn example(self, event: Option<&str>) -> Option<Value> {
        let examples = self.examples();
        let (_, _, body) = match event {
            Some(e) => examples.into_iter().find(|(kind, _, _)| kind == e)?,
            None => examples.into_iter().next()?,
        };
        Some(body)
    }

    /// A new event: the [`example`](Self::example) with its timestamp set to `now` and, where
    /// the sender has an id field, a fresh id (`hookgate send --now`).
    pub fn sample(self, event: Option<&str>, now: SystemTime) -> Option<Value> {
        let mut body = self.example(event)?;
        refresh(&self.shape(), &mut body, now);
        Some(body)
    }
}

/// Make an example a new event: timestamp `now`, and a fresh numeric id where the id is a field.
fn refresh(shape: &EventShape, body: &mut Value, now: SystemTime) {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    if let Some(slot) = shape.timestamp.as_deref().and_then(|p| body.pointer_mut(p)) {
        *slot = match slot {
            Value::Number(_) => Value::from(since_epoch.as_secs_f64()),
            _ => Value::from(humantime::format_rfc3339_millis(now).to_string()),
        };
    }
    for place in &shape.id {
        if let IdPlace::Single(IdPart::Pointer(p)) = place {
            if let Some(slot @ Value::Number(_)) = body.pointer_mut(p) {
                *slot = Value::from(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX));
            }
        }
    }
}

impl Source {
    /// This source with `profile`'s built-in spec, if it has one.
    pub(super) fn with_profile_spec(self, profile: Profile) -> Self {
        match profile.spec() {
            Some(Ok(spec)) => self.with_spec(spec),
            Some(Err(error)) => {
                // Cannot happen with the specs the tests load; never silently skip it though.
                tracing::error!(%error, "built-in spec does not load; events are not validated");
                self
            }
            None => self,
        }
    }

    /// Every example of the source's spec as `(event type, example name, body)`, each made a new
    /// event (timestamp `now`, and a fresh numeric id where the id is a field, one millisecond
    /// apart) so that sending them all is not taken for replays. Empty without a spec.
    pub fn examples(&self, now: SystemTime) -> Vec<(String, String, Value)> {
        let Some(spec) = &self.spec else {
            return Vec::new();
        };
        spec.events()
            .iter()
            .flat_map(|e| e.examples.iter())
            .enumerate()
            .filter_map(|(i, (name, body))| {
                let mut body = body.clone();
                let at = now + std::time::Duration::from_millis(i as u64);
                refresh(&self.shape, &mut body, at);
                let kind = self.shape.kind_of(&body).ok()?;
                Some((kind.as_str().to_owned(), name.clone(), body))
            })
            .collect()
    }

    /// Validate events against `spec`.
    pub fn with_spec(mut self, spec: Arc<Spec>) -> Self {
        self.spec = Some(spec);
        self
    }

    /// Do not validate events.
    pub fn without_spec(mut self) -> Self {
        self.spec = None;
        self
    }

    /// What to do with event types the spec does not describe (accept by default).
    pub fn unknown_events(mut self, policy: UnknownEvents) -> Self {
        self.unknown_events = policy;
        self
    }

    /// The spec events are validated against, if any.
    pub fn spec(&self) -> Option<&Arc<Spec>> {
        self.spec.as_ref()
    }

    /// The policy for event types the spec does not describe.
    pub fn unknown_events_policy(&self) -> UnknownEvents {
        self.unknown_events
    }
}

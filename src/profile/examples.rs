//! A profile's built-in spec and examples (the `schema` feature).
//!
//! The examples `hookgate send` and the sources test endpoint use, and the samples made new from
//! them: everything of [`Profile`] that needs an OpenAPI document.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use serde_json::Value;

use super::Profile;
use crate::spec::{Spec, SpecError};

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
        self.shape().refresh(&mut body, now);
        Some(body)
    }
}

//! A source's spec (the `schema` feature): what its events are validated against, and its
//! examples made new events for `hookgate send` and the sources test endpoint.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::Source;
use crate::profile::Profile;
use crate::spec::{Spec, UnknownEvents};

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
                self.shape.refresh(&mut body, at);
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

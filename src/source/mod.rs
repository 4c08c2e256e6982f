//! Sender profiles: what each seed sender's requests look like.
//!
//! A [`Profile`] is a named preset over one generic mechanism: an authentication [`Scheme`] plus an
//! [`EventShape`] (where the event type, id and timestamp are). A [`Source`] is one configured
//! sender: a name, its scheme with the secrets loaded, and its shape.
//!
//! | profile | authentication | event type | event id |
//! |---|---|---|---|
//! | `ninjaone` | `X-Ninja-Signature: sha256=<hex>` HMAC-SHA256 | `eventType` | composite `eventType`, `timestamp`, `data` |
//! | `ninjarmm` | `Authorization: Bearer <token>` (header or query token) | `activityType`.`statusCode` | `id` |
//! | `webnet` | `X-Webhook-Signature: sha256=<hex>` | `event_type` | composite of the whole body |
//! | `homa` | `X-Webhook-Signature: <hex>` | `event` | composite `event`, `timestamp`, `data` |
//! | `opscenter` | `X-Webhook-Signature: <hex>` | `event` | composite `event`, `timestamp`, `data` |
//! | `generic` | any header, prefix, hex/base64, SHA-1/256/512 | configured | configured |
//!
//! Prefixes are optional on input and hex is accepted in either case, since senders are not
//! consistent about either. webnet, Homa and Ops-Center send no event id; their composite ids
//! identify "the same fact" (same type, same time, same content), written canonically so that a
//! re-serialised retry still matches. Ops-Center's `webhook_id` (the subscription) is left out on
//! purpose: two subscriptions delivering the same fact to one receiver are one event.

pub mod shape;

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderName;
use serde_json::Value;

pub use self::shape::{EventShape, IdPart, IdPlace, PlaceError};
use crate::auth::{Algorithm, Encoding, HmacScheme, Scheme, Secret, TokenLocation, TokenScheme};
use crate::spec::{Spec, SpecError, UnknownEvents};

/// A named sender preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// NinjaOne's enveloped events, HMAC-signed.
    NinjaOne,
    /// NinjaRMM v2 Activity webhooks, authenticated by a static token.
    NinjaRmm,
    /// webnet.
    Webnet,
    /// Homa.
    Homa,
    /// Ops-Center.
    OpsCenter,
    /// Anything else, described in configuration.
    Generic,
}

impl Profile {
    /// The five seed senders, each of which the embedded default mounts.
    pub const SEEDS: [Profile; 5] = [
        Self::NinjaOne,
        Self::NinjaRmm,
        Self::Webnet,
        Self::Homa,
        Self::OpsCenter,
    ];

    /// The profile's name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::NinjaOne => "ninjaone",
            Self::NinjaRmm => "ninjarmm",
            Self::Webnet => "webnet",
            Self::Homa => "homa",
            Self::OpsCenter => "opscenter",
            Self::Generic => "generic",
        }
    }

    /// Look a profile up by its configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Generic]
            .into_iter()
            .chain(Self::SEEDS)
            .find(|p| p.name() == name)
    }

    /// Every profile name, for messages.
    pub fn names() -> Vec<&'static str> {
        Self::SEEDS
            .into_iter()
            .chain([Self::Generic])
            .map(Self::name)
            .collect()
    }

    /// The profile's authentication scheme with `secrets`. The generic profile defaults to
    /// `X-Signature: <hex>` HMAC-SHA256; configuration normally overrides it.
    pub fn scheme(self, secrets: &[Secret]) -> Scheme {
        let hmac = |header: &'static str, prefix: &str| {
            Scheme::Hmac(HmacScheme::new(
                HeaderName::from_static(header),
                prefix,
                Encoding::Hex,
                Algorithm::Sha256,
                secrets,
            ))
        };
        match self {
            Self::NinjaOne => hmac("x-ninja-signature", "sha256="),
            Self::NinjaRmm => Scheme::Token(TokenScheme::new(
                TokenLocation::Header {
                    name: http::header::AUTHORIZATION,
                    prefix: "Bearer ".into(),
                },
                secrets,
            )),
            // webnet documents the prefix; Homa and Ops-Center send bare hex. The prefix is
            // optional on input either way.
            Self::Webnet => hmac("x-webhook-signature", "sha256="),
            Self::Homa | Self::OpsCenter => hmac("x-webhook-signature", ""),
            Self::Generic => hmac("x-signature", ""),
        }
    }

    /// Where the profile's event type, id and timestamp live.
    pub fn shape(self) -> EventShape {
        let pointers = |ps: &[&str]| ps.iter().map(|p| IdPart::Pointer((*p).into())).collect();
        let (kind, id, timestamp): (&[&str], Vec<IdPlace>, Option<&str>) = match self {
            Self::NinjaOne => (
                &["/eventType"],
                vec![IdPlace::Composite(pointers(&[
                    "/eventType",
                    "/timestamp",
                    "/data",
                ]))],
                Some("/timestamp"),
            ),
            Self::NinjaRmm => (
                &["/activityType", "/statusCode"],
                vec![IdPlace::Single(IdPart::Pointer("/id".into()))],
                Some("/activityTime"),
            ),
            Self::Webnet => (
                &["/event_type"],
                vec![IdPlace::Composite(pointers(&[""]))],
                Some("/event_timestamp"),
            ),
            Self::Homa | Self::OpsCenter => (
                &["/event"],
                vec![IdPlace::Composite(pointers(&[
                    "/event",
                    "/timestamp",
                    "/data",
                ]))],
                Some("/timestamp"),
            ),
            Self::Generic => (&["/type"], Vec::new(), None),
        };
        EventShape {
            id,
            timestamp: timestamp.map(str::to_owned),
            ..EventShape::new(kind.iter().copied())
        }
    }

    /// The text of the spec hookgate ships for this profile (`spec/` in the repository).
    pub fn spec_text(self) -> Option<&'static str> {
        match self {
            Self::NinjaOne => Some(include_str!("../../spec/ninjaone.yaml")),
            Self::NinjaRmm => Some(include_str!("../../spec/ninjarmm/webhook.yaml")),
            Self::Webnet => Some(include_str!("../../spec/webnet.yaml")),
            Self::Homa => Some(include_str!("../../spec/homa.yaml")),
            Self::OpsCenter => Some(include_str!("../../spec/opscenter.yaml")),
            Self::Generic => None,
        }
    }

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

    /// A body for `hookgate send`: the spec's first example of `event` (or of the first event
    /// type), with its timestamp set to `now` and, where the sender has an id field, a fresh id,
    /// so that every send is a new event.
    pub fn sample(self, event: Option<&str>, now: SystemTime) -> Option<Value> {
        let examples = self.examples();
        let (_, _, mut body) = match event {
            Some(e) => examples.into_iter().find(|(kind, _, _)| kind == e)?,
            None => examples.into_iter().next()?,
        };
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

/// One configured sender: a name, an authentication scheme with its secrets, an event shape, and
/// the spec its events are validated against.
#[derive(Debug, Clone)]
pub struct Source {
    name: Arc<str>,
    scheme: Arc<Scheme>,
    shape: Arc<EventShape>,
    spec: Option<Arc<Spec>>,
    unknown_events: UnknownEvents,
}

impl Source {
    /// A source from its parts, without a spec (events are not validated).
    ///
    /// Credentials are never kept on events (nor stored, forwarded or shown by the admin API):
    /// the scheme's own header, `Authorization`, `Proxy-Authorization` and `Cookie` are dropped
    /// from `shape.keep_headers`.
    pub fn new(name: impl Into<Arc<str>>, scheme: Scheme, mut shape: EventShape) -> Self {
        shape
            .keep_headers
            .retain(|h| !is_credential_header(h, &scheme));
        Self {
            name: name.into(),
            scheme: Arc::new(scheme),
            shape: Arc::new(shape),
            spec: None,
            unknown_events: UnknownEvents::default(),
        }
    }

    /// A source using a profile's preset scheme, shape and built-in spec.
    pub fn from_profile(name: impl Into<Arc<str>>, profile: Profile, secrets: &[Secret]) -> Self {
        let source = Self::new(name, profile.scheme(secrets), profile.shape());
        match profile.spec() {
            Some(Ok(spec)) => source.with_spec(spec),
            Some(Err(error)) => {
                // Cannot happen with the specs the tests load; never silently skip it though.
                tracing::error!(%error, "built-in spec does not load; events are not validated");
                source
            }
            None => source,
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

    /// The source's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The authentication scheme.
    pub fn scheme(&self) -> &Arc<Scheme> {
        &self.scheme
    }

    /// The event shape.
    pub fn shape(&self) -> &Arc<EventShape> {
        &self.shape
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

/// Is `name` a header that carries credentials for `scheme` (or any credentials at all)?
pub fn is_credential_header(name: &http::HeaderName, scheme: &Scheme) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::PROXY_AUTHORIZATION
        || name == http::header::COOKIE
        || scheme.credential_header() == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_never_kept_even_when_asked_for() {
        let secret = crate::Secret::new(b"a-test-secret-0123456789".to_vec(), "test").unwrap();
        let scheme = Profile::Homa.scheme(std::slice::from_ref(&secret));
        let mut shape = Profile::Homa.shape();
        let signature = scheme.credential_header().unwrap().clone();
        for name in [
            signature.clone(),
            http::header::AUTHORIZATION,
            http::header::PROXY_AUTHORIZATION,
            http::header::COOKIE,
        ] {
            shape.keep_headers.push(name);
        }
        let source = Source::new("h", scheme, shape);
        let kept = &source.shape().keep_headers;
        assert!(!kept.contains(&signature), "{kept:?}");
        assert!(!kept.contains(&http::header::AUTHORIZATION));
        assert!(!kept.contains(&http::header::PROXY_AUTHORIZATION));
        assert!(!kept.contains(&http::header::COOKIE));
        assert!(kept.contains(&http::header::CONTENT_TYPE));
    }

    #[test]
    fn names_round_trip() {
        for name in Profile::names() {
            assert_eq!(Profile::from_name(name).unwrap().name(), name);
        }
        assert_eq!(Profile::from_name("ninja"), None);
    }

    #[test]
    fn every_seed_sample_has_its_type_and_id() {
        for profile in Profile::SEEDS {
            assert!(!profile.sample_events().is_empty(), "{profile:?}");
            for event in profile.sample_events() {
                let body = profile.sample(Some(&event), SystemTime::now()).unwrap();
                let shape = profile.shape();
                assert_eq!(shape.kind_of(&body).unwrap().as_str(), event, "{profile:?}");
            }
        }
    }
}

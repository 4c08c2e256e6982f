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

mod samples;
pub mod shape;

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderName;

pub use self::shape::{EventShape, IdPart, IdPlace, PlaceError};
use crate::auth::{Algorithm, Encoding, HmacScheme, Scheme, Secret, TokenLocation, TokenScheme};

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

    /// A realistic sample body for this profile with fresh timestamps (and a fresh id where the
    /// sender has one), as `hookgate send` posts it. `event` picks a documented event type when the
    /// profile has a sample for it.
    pub fn sample(self, event: Option<&str>, now: SystemTime) -> Option<serde_json::Value> {
        samples::sample(self, event, now)
    }

    /// The event types this profile has samples for.
    pub fn sample_events(self) -> &'static [&'static str] {
        samples::events(self)
    }
}

/// One configured sender: a name, an authentication scheme with its secrets, and an event shape.
#[derive(Debug, Clone)]
pub struct Source {
    name: Arc<str>,
    scheme: Arc<Scheme>,
    shape: Arc<EventShape>,
}

impl Source {
    /// A source from its parts.
    pub fn new(name: impl Into<Arc<str>>, scheme: Scheme, shape: EventShape) -> Self {
        Self {
            name: name.into(),
            scheme: Arc::new(scheme),
            shape: Arc::new(shape),
        }
    }

    /// A source using a profile's preset scheme and shape.
    pub fn from_profile(name: impl Into<Arc<str>>, profile: Profile, secrets: &[Secret]) -> Self {
        Self::new(name, profile.scheme(secrets), profile.shape())
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
            for event in profile.sample_events() {
                let body = profile.sample(Some(event), SystemTime::now()).unwrap();
                let shape = profile.shape();
                assert_eq!(
                    shape.kind_of(&body).unwrap().as_str(),
                    *event,
                    "{profile:?}"
                );
            }
        }
    }
}

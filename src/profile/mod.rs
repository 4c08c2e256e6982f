//! Sender profiles: what each seed sender's requests look like.
//!
//! A [`Profile`] is a named preset over one generic mechanism: an authentication [`Scheme`] plus an
//! [`EventShape`] (where the event type, id and timestamp are), and for the seed senders a
//! built-in spec. A [`Source`](crate::source::Source) is one configured endpoint made from a
//! profile (or a `generic` description): a name, its scheme with the secrets loaded, and its shape.
//!
//! | profile | authentication | event type | event id |
//! |---|---|---|---|
//! | `ninjaone` | `X-Ninja-Signature: sha256=<hex>` HMAC-SHA256 | `eventType` | composite `eventType`, `timestamp`, `data` |
//! | `ninjarmm` | `Authorization: Bearer <token>` (header or query token) | `activityType`.`statusCode` | `id` |
//! | `webnet` | `X-Webhook-Signature: sha256=<hex>` | `event_type` | composite of the whole body |
//! | `homa` | `X-Webhook-Signature: <hex>` (`sha256=<hex>` taken too) | `event` | composite `event`, `timestamp`, `data` |
//! | `opscenter` | `X-Webhook-Signature: <hex>` (`sha256=<hex>` taken too) | `event` | composite `event`, `timestamp`, `data` |
//! | `standard-webhooks` | `webhook-signature: v1,<base64>` HMAC-SHA256 (or `v1a,` Ed25519 with `whpk_` keys) over `{id}.{timestamp}.{body}`; `svix-*` headers too | `type` | `webhook-id` |
//! | `github` | `X-Hub-Signature-256: sha256=<hex>` | `X-GitHub-Event`.`action` | `X-GitHub-Delivery` |
//! | `stripe` | `Stripe-Signature: t=<unix>,v1=<hex>,...` over `{timestamp}.{body}` | `type` | `id` |
//! | `slack` | `X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}` | `type`.`event.type` | `event_id` |
//! | `shopify` | `X-Shopify-Hmac-Sha256: <base64>` | `X-Shopify-Topic` | `X-Shopify-Webhook-Id` |
//! | `generic` | described in configuration ([`SignatureFormat`]) | configured | configured |
//!
//! Every signing profile is a [`SignatureFormat`] (see [`Profile::format`]): the presets are
//! descriptions a `generic` source could write out itself. Timestamped formats (Standard
//! Webhooks, Stripe, Slack) refuse requests outside a tolerance (5 minutes by default) and process
//! each signed request once within it (a copy is answered `200 duplicate`). GitHub and Slack may
//! post form-encoded bodies: their JSON is the `payload` field (the signature still covers the raw
//! form bytes). Slack's `url_verification` handshake is answered with its challenge
//! ([`crate::handshake`]).
//!
//! Prefixes are optional on input and hex is accepted in either case, since senders are not
//! consistent about either; a bare hex signature may also carry the algorithm's label
//! (`sha256=`), as webnet writes it on the header it shares with Homa and Ops-Center. webnet,
//! Homa and Ops-Center send no event id; their composite ids identify "the same fact" (same type,
//! same time, same content), written canonically so that a re-serialised retry still matches.
//! Ops-Center's `webhook_id` (the subscription) is left out on purpose: two subscriptions
//! delivering the same fact to one receiver are one event.

use http::HeaderName;

use crate::ack::AckStatus;
use crate::auth::signature::{
    Algorithm, Encoding, KeyEncoding, Place, SignatureFormat, SignatureScheme, Template,
};
use crate::auth::{Scheme, Secret, TokenLocation, TokenScheme};
use crate::handshake::Handshake;
use crate::parse::shape::{EventShape, IdPart, IdPlace};

#[cfg(feature = "schema")]
mod examples;

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
    /// Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// GitHub: `X-Hub-Signature-256`.
    GitHub,
    /// Stripe: `Stripe-Signature`.
    Stripe,
    /// Slack: `X-Slack-Signature`, and the `url_verification` handshake.
    Slack,
    /// Shopify: `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Zoom: `x-zm-signature: v0=<hex>` over `v0:{x-zm-request-timestamp}:{body}`, and the
    /// `endpoint.url_validation` handshake.
    Zoom,
    /// Microsoft Graph change notifications: each notification's `clientState`, and the
    /// `validationToken` check.
    MicrosoftGraph,
    /// Okta event hooks: the `Authorization` header's static secret, and the one-time `GET`
    /// verification.
    Okta,
    /// Dropbox: `X-Dropbox-Signature: <hex>` over the body, and the `GET ?challenge=` check.
    Dropbox,
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

    /// The presets for senders beyond the seeds.
    pub const PRESETS: [Profile; 5] = [
        Self::StandardWebhooks,
        Self::GitHub,
        Self::Stripe,
        Self::Slack,
        Self::Shopify,
    ];

    /// The presets for senders that check the endpoint before they send to it (answered by
    /// [`crate::handshake`]) and count one status as success.
    pub const CHECKING: [Profile; 4] =
        [Self::Zoom, Self::MicrosoftGraph, Self::Okta, Self::Dropbox];

    /// The profile's name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::NinjaOne => "ninjaone",
            Self::NinjaRmm => "ninjarmm",
            Self::Webnet => "webnet",
            Self::Homa => "homa",
            Self::OpsCenter => "opscenter",
            Self::StandardWebhooks => "standard-webhooks",
            Self::GitHub => "github",
            Self::Stripe => "stripe",
            Self::Slack => "slack",
            Self::Shopify => "shopify",
            Self::Zoom => "zoom",
            Self::MicrosoftGraph => "microsoft-graph",
            Self::Okta => "okta",
            Self::Dropbox => "dropbox",
            Self::Generic => "generic",
        }
    }

    /// Look a profile up by its configuration name (`svix` is another name for
    /// `standard-webhooks`).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "svix" {
            return Some(Self::StandardWebhooks);
        }
        Self::all().find(|p| p.name() == name)
    }

    /// Every profile.
    pub fn all() -> impl Iterator<Item = Self> {
        Self::SEEDS
            .into_iter()
            .chain(Self::PRESETS)
            .chain(Self::CHECKING)
            .chain([Self::Generic])
    }

    /// Every profile name, for messages.
    pub fn names() -> Vec<&'static str> {
        Self::all().map(Self::name).collect()
    }

    /// How the profile signs, for every profile but NinjaRMM's, Okta's (static tokens) and
    /// Microsoft Graph's (a secret in the body, [`TokenLocation::ClientState`]). The generic
    /// profile's default is `X-Signature: <hex>` HMAC-SHA256 over the body; configuration
    /// describes the rest. Standard Webhooks' is the symmetric `v1`; see
    /// [`format_for`](Self::format_for) for `v1a`.
    pub fn format(self) -> Option<SignatureFormat> {
        let hmac = |header: &'static str, prefix: &str| SignatureFormat {
            prefix: prefix.to_owned(),
            ..SignatureFormat::hmac(Place::header(header))
        };
        let template = |text: &str| Template::parse(text).unwrap_or_else(|_| Template::body());
        Some(match self {
            Self::NinjaRmm | Self::Okta | Self::MicrosoftGraph => return None,
            Self::NinjaOne => hmac("x-ninja-signature", "sha256="),
            // webnet documents the prefix; Homa and Ops-Center send bare hex. Each takes both
            // forms: a prefix is optional on input, and a bare hex format takes the `sha256=`
            // label (see `SignatureScheme::check`).
            Self::Webnet => hmac("x-webhook-signature", "sha256="),
            Self::Homa | Self::OpsCenter => hmac("x-webhook-signature", ""),
            Self::Generic => hmac("x-signature", ""),
            Self::StandardWebhooks => SignatureFormat {
                signature: vec![
                    Place::header("webhook-signature"),
                    Place::header("svix-signature"),
                ],
                prefix: "v1,".into(),
                separator: Some(" ".into()),
                encoding: Encoding::Base64,
                content: template("{id}.{timestamp}.{body}"),
                timestamp: vec![
                    Place::header("webhook-timestamp"),
                    Place::header("svix-timestamp"),
                ],
                id: vec![Place::header("webhook-id"), Place::header("svix-id")],
                key_encoding: KeyEncoding::Base64,
                ..SignatureFormat::hmac(Place::header("webhook-signature"))
            },
            Self::GitHub => hmac("x-hub-signature-256", "sha256="),
            Self::Stripe => SignatureFormat {
                prefix: "v1=".into(),
                separator: Some(",".into()),
                content: template("{timestamp}.{body}"),
                timestamp: vec![Place::SignatureItem("t=".into())],
                ..SignatureFormat::hmac(Place::header("stripe-signature"))
            },
            Self::Slack => SignatureFormat {
                prefix: "v0=".into(),
                content: template("v0:{timestamp}:{body}"),
                timestamp: vec![Place::header("x-slack-request-timestamp")],
                ..SignatureFormat::hmac(Place::header("x-slack-signature"))
            },
            Self::Shopify => SignatureFormat {
                encoding: Encoding::Base64,
                ..SignatureFormat::hmac(Place::header("x-shopify-hmac-sha256"))
            },
            // developers.zoom.us/docs/api/webhooks/#verify-webhook-events: the timestamp is in
            // seconds.
            Self::Zoom => SignatureFormat {
                prefix: "v0=".into(),
                content: template("v0:{timestamp}:{body}"),
                timestamp: vec![Place::header("x-zm-request-timestamp")],
                ..SignatureFormat::hmac(Place::header("x-zm-signature"))
            },
            // dropbox.com/developers/reference/webhooks: HMAC-SHA256 of the body, app secret.
            Self::Dropbox => hmac("x-dropbox-signature", ""),
        })
    }

    /// Where a token profile's token is: NinjaRMM's `Authorization: Bearer <token>`, Okta's
    /// whole `Authorization` value (the secret the admin typed in, no scheme word), Microsoft
    /// Graph's `clientState`. `None` for signing profiles.
    pub fn token_location(self) -> Option<TokenLocation> {
        let authorization = |prefix: &str| TokenLocation::Header {
            name: http::header::AUTHORIZATION,
            prefix: prefix.into(),
        };
        match self {
            Self::NinjaRmm => Some(authorization("Bearer ")),
            Self::Okta => Some(authorization("")),
            Self::MicrosoftGraph => Some(TokenLocation::ClientState),
            _ => None,
        }
    }

    /// The format for these secrets: [`format`](Self::format), except that Standard Webhooks
    /// secrets that are public keys (`whpk_...`) make it the asymmetric `v1a` (Ed25519).
    pub fn format_for(self, secrets: &[Secret]) -> Option<SignatureFormat> {
        let mut format = self.format()?;
        if self == Self::StandardWebhooks
            && !secrets.is_empty()
            && secrets.iter().all(|s| s.expose().starts_with(b"whpk_"))
        {
            format.prefix = "v1a,".into();
            format.algorithm = Algorithm::Ed25519;
        }
        Some(format)
    }

    /// The profile's authentication scheme with `secrets`, or every reason it cannot be built
    /// (a secret that is not a key for the format, Standard Webhooks secrets mixing `whsec_`
    /// and `whpk_`).
    pub fn try_scheme(self, secrets: &[Secret]) -> Result<Scheme, Vec<String>> {
        let Some(format) = self.format_for(secrets) else {
            let location = self
                .token_location()
                .ok_or_else(|| vec![format!("profile {} has no authentication", self.name())])?;
            return Ok(Scheme::Token(TokenScheme::new(location, secrets)));
        };
        if self == Self::StandardWebhooks
            && format.algorithm != Algorithm::Ed25519
            && secrets.iter().any(|s| s.expose().starts_with(b"whpk_"))
        {
            return Err(vec![
                "standard-webhooks secrets are either all whsec_ (v1, HMAC) or all whpk_ \
                 (v1a, Ed25519 public keys); run two sources to accept both"
                    .to_owned(),
            ]);
        }
        SignatureScheme::new(format, secrets).map(Scheme::Signature)
    }

    /// The profile's authentication scheme with `secrets`. A secret that cannot be a key for
    /// the profile is left out, with an error logged (fail closed: with none left, every
    /// request is refused); [`try_scheme`](Self::try_scheme) reports it instead.
    pub fn scheme(self, secrets: &[Secret]) -> Scheme {
        match self.try_scheme(secrets) {
            Ok(scheme) => scheme,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(profile = self.name(), %problem, "secret left out");
                }
                match self.format_for(secrets) {
                    Some(format) => Scheme::Signature(SignatureScheme::lenient(format, secrets)),
                    // Token schemes take any secret; this arm is not reached (and would refuse
                    // everything without a location).
                    None => Scheme::Token(TokenScheme::new(
                        self.token_location().unwrap_or(TokenLocation::ClientState),
                        if self.token_location().is_some() {
                            secrets
                        } else {
                            &[]
                        },
                    )),
                }
            }
        }
    }

    /// The endpoint check the sender expects answered ([`crate::handshake`]).
    pub fn handshake(self) -> Option<Handshake> {
        match self {
            Self::Slack => Some(Handshake::SlackUrlVerification),
            Self::Zoom => Some(Handshake::ZoomUrlValidation),
            Self::MicrosoftGraph => Some(Handshake::MicrosoftGraphValidation),
            Self::Okta => Some(Handshake::OktaVerification),
            Self::Dropbox => Some(Handshake::DropboxChallenge),
            _ => None,
        }
    }

    /// The one success status the sender counts, where it counts only one; `None`: hookgate's
    /// usual `202 accepted` / `200 duplicate`. Zoom (200 or 204 within 3 s), Okta (200) and
    /// Dropbox (any other status is retried) get 200; Microsoft Graph expects 202.
    pub fn ack_status(self) -> Option<AckStatus> {
        match self {
            Self::Zoom | Self::Okta | Self::Dropbox => Some(AckStatus::Ok),
            Self::MicrosoftGraph => Some(AckStatus::Accepted),
            _ => None,
        }
    }

    /// The ordering key its spec suggests for routes, and an event type it matters for: the
    /// events of one key only make sense in order. NinjaRMM sends `CONDITION/TRIGGERED` and
    /// then `CONDITION/RESET` for one `seriesUid`; delivered the other way round, an alert stays
    /// open for good.
    pub fn suggested_order_by(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::NinjaRmm => Some(("/seriesUid", "CONDITION.TRIGGERED")),
            _ => None,
        }
    }

    /// Where the profile's event type, id and timestamp live.
    pub fn shape(self) -> EventShape {
        let pointers = |ps: &[&str]| ps.iter().map(|p| IdPart::Pointer((*p).into())).collect();
        let header = |h: &'static str| IdPlace::Single(IdPart::Header(HeaderName::from_static(h)));
        let pointer = |p: &str| IdPlace::Single(IdPart::Pointer(p.into()));
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
                vec![pointer("/id")],
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
            Self::StandardWebhooks => (
                &["/type"],
                vec![header("webhook-id"), header("svix-id")],
                Some("/timestamp"),
            ),
            // octokit's naming: `issues.opened`, `push`.
            Self::GitHub => (
                &["header:x-github-event", "/action"],
                vec![header("x-github-delivery")],
                None,
            ),
            Self::Stripe => (&["/type"], vec![pointer("/id")], Some("/created")),
            // `event_callback.app_mention`, `url_verification`.
            Self::Slack => (
                &["/type", "/event/type"],
                vec![pointer("/event_id")],
                Some("/event_time"),
            ),
            Self::Shopify => (
                &["header:x-shopify-topic"],
                vec![header("x-shopify-webhook-id"), header("x-shopify-event-id")],
                None,
            ),
            // `meeting.started`; Zoom sends no event id, so the fact itself is the id.
            Self::Zoom => (
                &["/event"],
                vec![IdPlace::Composite(pointers(&[
                    "/event",
                    "/event_ts",
                    "/payload",
                ]))],
                Some("/event_ts"),
            ),
            // The change type of the first notification (`created`, `updated`, `deleted`);
            // a batch is retried whole, so its notifications are the id.
            Self::MicrosoftGraph => (&["/value/0/changeType"], vec![pointer("/value")], None),
            // `data.events[].eventType` (`user.session.start`); `eventId` is the delivery's.
            Self::Okta => (
                &["/data/events/0/eventType"],
                vec![pointer("/eventId")],
                Some("/eventTime"),
            ),
            // Dropbox says only "these accounts changed": the same body stands for every later
            // change of the same accounts, so a body hash would swallow real notifications as
            // duplicates. Each delivery is its own event (a retry is processed again, which a
            // "go and look" ping tolerates).
            Self::Dropbox => (&["key:/list_folder"], vec![IdPlace::Delivery], None),
            Self::Generic => (&["/type"], Vec::new(), None),
        };
        let form_field = matches!(self, Self::GitHub | Self::Slack).then(|| "payload".to_owned());
        EventShape {
            id,
            timestamp: timestamp.map(str::to_owned),
            form_field,
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
            _ => None,
        }
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

    #[cfg(feature = "schema")]
    #[test]
    fn every_seed_sample_has_its_type_and_id() {
        use std::time::SystemTime;
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

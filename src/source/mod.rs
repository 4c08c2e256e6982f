//! A configured source: one sender's endpoint.
//!
//! A [`Source`] is what a `[[source]]` table, a runtime source of the catalog or an embedder's code
//! makes: a name, an authentication [`Scheme`] with its secrets loaded, an [`EventShape`] (where the
//! event type, id and timestamp are), and optionally a spec, a validation mode, an endpoint check
//! and one success status. [`Source::from_profile`] makes one from a sender preset
//! ([`crate::profile`]); [`Source::new`] from parts (a `generic` description).
//!
//! Credentials are never kept on events: [`is_credential_header`] names the headers dropped.

use std::sync::Arc;

use crate::ack::AckStatus;
use crate::auth::{Scheme, Secret};
use crate::handshake::Handshake;
use crate::parse::shape::EventShape;
use crate::profile::Profile;
#[cfg(feature = "schema")]
use crate::spec::{Spec, UnknownEvents};
use crate::validate::ValidationMode;

#[cfg(feature = "schema")]
mod spec;

/// One configured sender: a name, an authentication scheme with its secrets, an event shape, and
/// the spec its events are validated against.
#[derive(Debug, Clone)]
pub struct Source {
    name: Arc<str>,
    scheme: Arc<Scheme>,
    shape: Arc<EventShape>,
    #[cfg(feature = "schema")]
    spec: Option<Arc<Spec>>,
    #[cfg(feature = "schema")]
    unknown_events: UnknownEvents,
    validation: Option<ValidationMode>,
    handshake: Option<Handshake>,
    ack: Option<AckStatus>,
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
            #[cfg(feature = "schema")]
            spec: None,
            #[cfg(feature = "schema")]
            unknown_events: UnknownEvents::default(),
            validation: None,
            handshake: None,
            ack: None,
        }
    }

    /// A source using a profile's preset scheme, shape and built-in spec.
    pub fn from_profile(name: impl Into<Arc<str>>, profile: Profile, secrets: &[Secret]) -> Self {
        let source = Self::new(name, profile.scheme(secrets), profile.shape())
            .handshake(profile.handshake())
            .ack_status(profile.ack_status());
        #[cfg(feature = "schema")]
        let source = source.with_profile_spec(profile);
        source
    }

    /// How strictly events are held to the spec (`None`, the default: the spec's own mode, else
    /// `enforce`, in which what the spec only assumes is reported, not refused). See
    /// [`ValidationMode`].
    pub fn validation(mut self, mode: Option<ValidationMode>) -> Self {
        self.validation = mode;
        self
    }

    /// The validation mode set on the source, if any.
    pub fn validation_mode(&self) -> Option<ValidationMode> {
        self.validation
    }

    /// Answer this handshake (Slack's `url_verification`), or none.
    pub fn handshake(mut self, handshake: Option<Handshake>) -> Self {
        self.handshake = handshake;
        self
    }

    /// The handshake the source answers, if any.
    pub fn handshake_kind(&self) -> Option<Handshake> {
        self.handshake
    }

    /// Answer every success (new event or duplicate) with this one status, for a sender that
    /// counts only it as success; `None`: `202 accepted` and `200 duplicate`.
    pub fn ack_status(mut self, ack: Option<AckStatus>) -> Self {
        self.ack = ack;
        self
    }

    /// The one success status the source answers, if set.
    pub fn ack(&self) -> Option<AckStatus> {
        self.ack
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

/// Is `name` a header that carries credentials for `scheme` (or any credentials at all)?
pub fn is_credential_header(name: &http::HeaderName, scheme: &Scheme) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::PROXY_AUTHORIZATION
        || name == http::header::COOKIE
        || scheme.credential_headers().any(|h| h == name)
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
}

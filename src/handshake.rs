//! Handshake: answer a sender's endpoint check instead of treating it as an event.
//!
//! Some senders prove that an endpoint is theirs before they send it events. Slack posts a signed
//! `{"type": "url_verification", "challenge": "..."}` when an app's request URL is set, and
//! expects the challenge back. The [`AnswerHandshake`] stage sits after
//! [`Parse`](crate::parse::Parse) (so the request was verified like any other) and before
//! validation, dedup and routing: a handshake is answered `200` with
//! `{"challenge": "..."}` and is never stored, deduplicated or routed. Every other request goes
//! through untouched, with no allocation.
//!
//! | sender | check | answer |
//! |---|---|---|
//! | Slack | signed POST `{"type": "url_verification", "challenge": ...}` | `200 {"challenge": ...}` |
//! | Zoom | signed POST `{"event": "endpoint.url_validation", "payload": {"plainToken": ...}}` | `200 {"plainToken": ..., "encryptedToken": hex(HMAC-SHA256(secret, plainToken))}` |
//! | Microsoft Graph | unsigned POST `?validationToken=...` | `200 text/plain`, the token |
//! | Okta event hooks | GET with `X-Okta-Verification-Challenge` and the hook's `Authorization` | `200 {"verification": ...}` |
//! | Dropbox | unsigned GET `?challenge=...` | `200 text/plain`, the challenge |
//!
//! The last three are not signed, so they are answered before the body is read by
//! [`AnswerUnsignedCheck`] (only on the source's own path, only for its own check): nothing is
//! processed, the echoed value is bounded ([`MAX_CHALLENGE_BYTES`], printable ASCII without
//! markup characters, else `400 invalid_challenge`), and text answers carry
//! `X-Content-Type-Options: nosniff`. Okta's check must carry the source's token like its
//! events do. Every other request on those paths is verified in full.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use hookgate::handshake::{AnswerHandshakeLayer, Handshake};
//! use hookgate::parse::ParseLayer;
//! use hookgate::profile::Profile;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(ParseLayer::new("slack", Profile::Slack.shape()).allow_unverified())
//!     .layer(AnswerHandshakeLayer::new(Some(Handshake::SlackUrlVerification)))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("routed"))))
//!     }));
//!
//! let body = r#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
//! let response = svc.oneshot(Request::post("/").body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! let answer = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(answer, r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#);
//! # }
//! ```

mod unsigned;

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use tower::{Layer, Service};

pub use self::unsigned::{AnswerUnsignedCheck, AnswerUnsignedCheckLayer, MAX_CHALLENGE_BYTES};
use crate::answer::Answered;
use crate::auth::Scheme;
use crate::body::ResponseBody;
use crate::event::{Event, Verified};
use crate::observe::AnswerCode;

/// An endpoint check a sender makes; see the [module docs](self).
///
/// Slack's and Zoom's come as signed events and are answered after verification
/// ([`AnswerHandshake`]); Microsoft Graph's, Okta's and Dropbox's are not signed (Okta's carries
/// the source's token) and are answered before the body is read
/// ([`AnswerUnsignedCheck`]), echoing nothing but their bounded challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Handshake {
    /// Slack's Events API `url_verification`: echo `challenge`.
    SlackUrlVerification,
    /// Zoom's `endpoint.url_validation`: answer `plainToken` and its HMAC-SHA256 (hex) under the
    /// secret token that verified the request, as `encryptedToken`.
    ZoomUrlValidation,
    /// Microsoft Graph's subscription validation: a POST with `?validationToken=`, echoed as
    /// `text/plain`.
    MicrosoftGraphValidation,
    /// Okta event hooks' one-time verification: a GET with `X-Okta-Verification-Challenge`,
    /// answered `{"verification": ...}` once the source's token checks out.
    OktaVerification,
    /// Dropbox's verification: a GET with `?challenge=`, echoed as `text/plain`.
    DropboxChallenge,
}

impl Handshake {
    /// Every handshake, in the order their names are listed.
    pub const ALL: [Handshake; 5] = [
        Self::SlackUrlVerification,
        Self::ZoomUrlValidation,
        Self::MicrosoftGraphValidation,
        Self::OktaVerification,
        Self::DropboxChallenge,
    ];

    /// The handshake's name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::SlackUrlVerification => "slack",
            Self::ZoomUrlValidation => "zoom",
            Self::MicrosoftGraphValidation => "microsoft-graph",
            Self::OktaVerification => "okta",
            Self::DropboxChallenge => "dropbox",
        }
    }

    /// Look a handshake up by its configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.name() == name)
    }

    /// Whether the check comes unsigned and is answered before verification
    /// ([`AnswerUnsignedCheck`]) rather than after it ([`AnswerHandshake`]).
    pub fn is_unsigned(self) -> bool {
        matches!(
            self,
            Self::MicrosoftGraphValidation | Self::OktaVerification | Self::DropboxChallenge
        )
    }

    /// Whether the check is a `GET` (the source's path then answers GET as well as POST).
    pub fn answers_get(self) -> bool {
        matches!(self, Self::OktaVerification | Self::DropboxChallenge)
    }

    /// The answer to a verified `event` if it is this handshake, else `None`. Zoom's needs the
    /// scheme that verified it and the request's [`Verified`] proof (which secret matched);
    /// the unsigned checks are never events, so `None`.
    pub fn answer_verified(
        self,
        event: &Event,
        scheme: Option<&Scheme>,
        verified: Option<&Verified>,
    ) -> Option<Response<Full<Bytes>>> {
        let body = match self {
            Self::SlackUrlVerification => {
                if event.kind().as_str() != "url_verification" {
                    return None;
                }
                let challenge = event.json().get("challenge")?.as_str()?;
                serde_json::to_vec(&serde_json::json!({ "challenge": challenge })).ok()?
            }
            Self::ZoomUrlValidation => {
                if event.kind().as_str() != "endpoint.url_validation" {
                    return None;
                }
                let plain = event.json().pointer("/payload/plainToken")?.as_str()?;
                // Verified, but still bounded: the answer is built from it.
                if plain.is_empty() || plain.len() > MAX_CHALLENGE_BYTES {
                    return None;
                }
                let Some(Scheme::Signature(scheme)) = scheme else {
                    return None;
                };
                let mac = scheme.mac_with(verified?.key_index(), plain.as_bytes())?;
                serde_json::to_vec(&serde_json::json!({
                    "plainToken": plain,
                    "encryptedToken": hex::encode(mac),
                }))
                .ok()?
            }
            _ => return None,
        };
        Some(handshake_response(
            Full::new(Bytes::from(body)),
            "application/json",
        ))
    }

    /// The answer to `event` if it is this handshake, else `None`: [`answer_verified`]
    /// without a scheme, so Slack's only.
    ///
    /// [`answer_verified`]: Self::answer_verified
    pub fn answer(self, event: &Event) -> Option<Response<Full<Bytes>>> {
        self.answer_verified(event, None, None)
    }
}

/// A 200 handshake answer with `content_type`, counted as the `handshake` outcome.
pub(crate) fn handshake_response<B>(body: B, content_type: &'static str) -> Response<B> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
        .extensions_mut()
        .insert(AnswerCode::new("handshake"));
    // Nothing was stored: a copy of the request is answered again, not a duplicate.
    response.extensions_mut().insert(Answered::Handshake);
    response
}

/// Answers handshakes; passes every other request on. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct AnswerHandshake<S> {
    inner: S,
    handshake: Option<Handshake>,
    // Zoom's answer is an HMAC under the secret that verified the request.
    scheme: Option<Arc<Scheme>>,
}

impl<S> AnswerHandshake<S> {
    /// Wrap `inner`, answering `handshake` (none: pass everything on).
    pub fn new(inner: S, handshake: Option<Handshake>) -> Self {
        Self {
            inner,
            handshake,
            scheme: None,
        }
    }

    /// The scheme that verifies the source's requests (Zoom's answer is signed with its
    /// secret).
    pub fn scheme(mut self, scheme: Arc<Scheme>) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwrap the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// How both handshake stages map their inner service's response into theirs.
type Wrap<B> = fn(Response<B>) -> Response<ResponseBody<B>>;

fn wrap<B>(response: Response<B>) -> Response<ResponseBody<B>> {
    response.map(ResponseBody::inner)
}

impl<S, B, ResBody> Service<Request<B>> for AnswerHandshake<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, S::Error>>, MapOk<S::Future, Wrap<ResBody>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(handshake) = self.handshake.filter(|h| !h.is_unsigned()) {
            if let Some(answer) = req.extensions().get::<Event>().and_then(|e| {
                handshake.answer_verified(
                    e,
                    self.scheme.as_deref(),
                    req.extensions().get::<Verified>(),
                )
            }) {
                return Either::Left(ready(Ok(answer.map(ResponseBody::from))));
            }
        }
        Either::Right(self.inner.call(req).map_ok(wrap as Wrap<ResBody>))
    }
}

/// Applies [`AnswerHandshake`]; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct AnswerHandshakeLayer {
    handshake: Option<Handshake>,
    scheme: Option<Arc<Scheme>>,
}

impl AnswerHandshakeLayer {
    /// Answer `handshake` (none: a pass-through).
    pub fn new(handshake: Option<Handshake>) -> Self {
        Self {
            handshake,
            scheme: None,
        }
    }

    /// The scheme that verifies the source's requests (needed for Zoom's answer).
    pub fn scheme(mut self, scheme: Arc<Scheme>) -> Self {
        self.scheme = Some(scheme);
        self
    }
}

impl<S> Layer<S> for AnswerHandshakeLayer {
    type Service = AnswerHandshake<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerHandshake {
            inner,
            handshake: self.handshake,
            scheme: self.scheme.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventId, EventKind};

    fn event(kind: &str, json: serde_json::Value) -> Event {
        Event::new(
            "slack",
            EventId::new("1"),
            EventKind::new(kind),
            Bytes::new(),
            json,
        )
    }

    #[test]
    fn only_a_url_verification_with_a_challenge_is_answered() {
        let h = Handshake::SlackUrlVerification;
        let ok = event(
            "url_verification",
            serde_json::json!({"type": "url_verification", "challenge": "abc"}),
        );
        assert_eq!(h.answer(&ok).unwrap().status(), StatusCode::OK);
        let no_challenge = event(
            "url_verification",
            serde_json::json!({"type": "url_verification"}),
        );
        assert!(h.answer(&no_challenge).is_none());
        let other = event(
            "event_callback.app_mention",
            serde_json::json!({"type": "event_callback", "challenge": "abc"}),
        );
        assert!(h.answer(&other).is_none());
    }
}

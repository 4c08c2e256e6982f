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
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use hookgate::handshake::{AnswerHandshakeLayer, Handshake};
//! use hookgate::parse::ParseLayer;
//! use hookgate::source::Profile;
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

use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use tower::{Layer, Service};

use crate::answer::Answered;
use crate::body::ResponseBody;
use crate::event::Event;
use crate::observe::Outcome;

/// An endpoint check a sender makes; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Handshake {
    /// Slack's Events API `url_verification`: echo `challenge`.
    SlackUrlVerification,
}

impl Handshake {
    /// The handshake's name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::SlackUrlVerification => "slack",
        }
    }

    /// Look a handshake up by its configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        (name == "slack").then_some(Self::SlackUrlVerification)
    }

    /// The answer to `event` if it is this handshake, else `None`.
    pub fn answer(self, event: &Event) -> Option<Response<Full<Bytes>>> {
        match self {
            Self::SlackUrlVerification => {
                if event.kind().as_str() != "url_verification" {
                    return None;
                }
                let challenge = event.json().get("challenge")?.as_str()?;
                let body =
                    serde_json::to_vec(&serde_json::json!({ "challenge": challenge })).ok()?;
                let mut response = Response::new(Full::new(Bytes::from(body)));
                *response.status_mut() = StatusCode::OK;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                response.extensions_mut().insert(Outcome::new("handshake"));
                // Nothing was stored: a copy of the request is answered again, not a duplicate.
                response.extensions_mut().insert(Answered::Handshake);
                Some(response)
            }
        }
    }
}

/// Answers handshakes; passes every other request on. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct AnswerHandshake<S> {
    inner: S,
    handshake: Option<Handshake>,
}

impl<S> AnswerHandshake<S> {
    /// Wrap `inner`, answering `handshake` (none: pass everything on).
    pub fn new(inner: S, handshake: Option<Handshake>) -> Self {
        Self { inner, handshake }
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
        if let Some(handshake) = self.handshake {
            if let Some(answer) = req
                .extensions()
                .get::<Event>()
                .and_then(|e| handshake.answer(e))
            {
                return Either::Left(ready(Ok(answer.map(ResponseBody::from))));
            }
        }
        Either::Right(self.inner.call(req).map_ok(wrap as Wrap<ResBody>))
    }
}

/// Applies [`AnswerHandshake`]; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerHandshakeLayer {
    handshake: Option<Handshake>,
}

impl AnswerHandshakeLayer {
    /// Answer `handshake` (none: a pass-through).
    pub fn new(handshake: Option<Handshake>) -> Self {
        Self { handshake }
    }
}

impl<S> Layer<S> for AnswerHandshakeLayer {
    type Service = AnswerHandshake<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerHandshake::new(inner, self.handshake)
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

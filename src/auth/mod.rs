//! Authenticate: verify a request on its exact raw bytes before anything parses it.
//!
//! The [`Authenticate`] service buffers the body once (under the cap a
//! [`BodyLimit`](crate::limit::BodyLimit) stage set, or 1 MiB), checks the source's [`Scheme`] on
//! those bytes, and only then calls the inner service, with the bytes as a [`Full`] body and a
//! [`Verified`] proof in the request's extensions. A request that fails is answered here with 401
//! and never reaches the inner service.
//!
//! For timestamped schemes (Standard Webhooks, Stripe, Slack, a description with a timestamp),
//! a verified request that is a copy of one already answered within its window is answered here
//! too, as the dedup stage would answer it: `409 in_flight` while the first is processed,
//! `200 duplicate` once it was accepted ([`replay`]). A copy is what a sender sends when it
//! retries after losing the first answer; it is never processed twice.
//!
//! Compressed bodies (`Content-Encoding` other than `identity`) are refused with 415 before the body
//! is read, unless the layer was given a [`Decompress`] cap: then `gzip` and `deflate` bodies are
//! inflated under that cap and verified on the inflated bytes (see [`decode`]).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::auth::{AuthenticateLayer, Scheme};
//! use hookgate::profile::Profile;
//! use hookgate::Secret;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = Secret::new(b"0123456789abcdef".to_vec(), "example").unwrap();
//! let scheme = Profile::Webnet.scheme(&[secret]);
//! let (name, signature) = scheme.sign(b"{}").unwrap();
//!
//! let svc = ServiceBuilder::new()
//!     .layer(AuthenticateLayer::new(scheme))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let signed = Request::post("/").header(name, signature).body(Full::new(Bytes::from("{}"))).unwrap();
//! assert_eq!(svc.clone().oneshot(signed).await.unwrap().status(), StatusCode::OK);
//!
//! let forged = Request::post("/").body(Full::new(Bytes::from("{}"))).unwrap();
//! assert_eq!(svc.oneshot(forged).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

pub mod decode;
mod layer;
pub mod replay;
pub mod secret;
pub mod signature;
pub mod token;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;
use tokio::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response, header};
use http_body::Body;
use http_body_util::Full;
use tower::Service;

use self::decode::Coding;
pub use self::decode::Decompress;
pub use self::layer::AuthenticateLayer;
pub use self::replay::{ReplayGuard, ReplayKey};
use self::replay::{ReplayHold, ReplayVerdict};
pub use self::secret::{MIN_SECRET_BYTES, Secret, SecretEntry, SecretError, SecretRef};
pub use self::signature::{
    Algorithm, Encoding, SignError, SignatureFormat, SignatureScheme, Verdict,
};
pub use self::token::{TokenLocation, TokenScheme};
use crate::answer::{self, Answered};
use crate::body::{ResponseBody, buffer_request};
use crate::event::Verified;
use crate::future::take_ready;
use crate::observe;
use crate::rejection::Rejection;

/// How a source proves that a request came from the sender.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Scheme {
    /// A signature (HMAC or Ed25519) over the body and, for some senders, an id, a timestamp,
    /// the method or the URL: every signing sender, described by a [`SignatureFormat`].
    Signature(SignatureScheme),
    /// A static token in a header or the query string.
    Token(TokenScheme),
}

impl Scheme {
    /// Short name for logs and the [`Verified`] proof: `hmac`, `ed25519` or `token`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Signature(s) => s.name(),
            Self::Token(_) => "token",
        }
    }

    /// Verify a request received at `now`: its head (method, URI, headers) and the exact body
    /// bytes. Timestamped schemes also check the window here; the replay cache is the
    /// [`Authenticate`] stage's.
    pub fn verify(&self, head: &Parts, body: &[u8], now: SystemTime) -> Result<Verdict, Rejection> {
        match self {
            Self::Signature(s) => s.verify(head, body, now),
            Self::Token(s) => s
                .verify_request(&head.headers, &head.uri, body, now)
                .map(Verdict::untimed),
        }
    }

    /// Verify the signature or token alone, with the secrets valid at `now`, whatever a signed
    /// timestamp says (for diagnosis; [`verify`](Self::verify) adds the window).
    pub fn check(&self, head: &Parts, body: &[u8], now: SystemTime) -> Result<Verdict, Rejection> {
        match self {
            Self::Signature(s) => s.check(head, body, now),
            Self::Token(s) => s
                .verify_request(&head.headers, &head.uri, body, now)
                .map(Verdict::untimed),
        }
    }

    /// How far a signed timestamp may be from the receipt time, for timestamped schemes.
    pub fn tolerance(&self) -> Option<std::time::Duration> {
        match self {
            Self::Signature(s) if s.format().is_timestamped() => Some(s.format().tolerance),
            _ => None,
        }
    }

    /// The header a genuine sender would attach to `body`, signed with the first secret.
    /// `None` for query-string tokens (see [`TokenScheme::query_pair`]), for signatures that
    /// cover more than the body (see [`sign_into`](Self::sign_into)), or without a secret.
    pub fn sign(&self, body: &[u8]) -> Option<(HeaderName, HeaderValue)> {
        match self {
            Self::Signature(s) => s.sign(body),
            Self::Token(s) => s.sign(),
        }
    }

    /// Sign a request the way a genuine sender would at `now`: every header (signature,
    /// timestamp, id) or query parameter the scheme reads.
    pub fn sign_into(
        &self,
        head: &mut Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignError> {
        match self {
            Self::Signature(s) => s.sign_into(head, body, now),
            Self::Token(s) => s.sign_into(head),
        }
    }

    /// How many secrets it was given (0: it refuses everything).
    pub fn secret_count(&self) -> usize {
        match self {
            Self::Signature(s) => s.secret_count(),
            Self::Token(s) => s.secret_count(),
        }
    }

    /// The header that carries credentials under this scheme (the first, where there are
    /// alternatives); `None` for query-string credentials.
    pub fn credential_header(&self) -> Option<&HeaderName> {
        self.credential_headers().next()
    }

    /// Every header that carries credentials under this scheme: never kept on an event.
    pub fn credential_headers(&self) -> Box<dyn Iterator<Item = &HeaderName> + '_> {
        match self {
            Self::Signature(s) => Box::new(s.headers()),
            Self::Token(s) => Box::new(
                match s.location() {
                    TokenLocation::Header { name, .. } => Some(name),
                    TokenLocation::Query { .. } | TokenLocation::ClientState => None,
                }
                .into_iter(),
            ),
        }
    }
}

/// Response future of [`Authenticate`].
pub type ResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send + 'static>>;

/// Verifies each request's signature or token on its raw bytes; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
    scheme: Arc<Scheme>,
    decompress: Option<Decompress>,
    // Shared by every clone of the service (one per connection): a replay is caught whichever
    // connection it arrives on.
    replay: ReplayGuard,
}

impl<S> Authenticate<S> {
    /// Wrap `inner`, verifying requests with `scheme`; compressed bodies are refused (415).
    pub fn new(inner: S, scheme: Arc<Scheme>) -> Self {
        Self {
            inner,
            scheme,
            decompress: None,
            replay: ReplayGuard::default(),
        }
    }

    /// Remember accepted signatures in `guard` (share one between services verifying the same
    /// source; [`AuthenticateLayer`] does).
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay = guard;
        self
    }

    /// Accept `gzip` and `deflate` bodies, inflated under `decompress`'s cap and verified on the
    /// inflated bytes ([`decode`]).
    pub fn decompress(mut self, decompress: Decompress) -> Self {
        self.decompress = Some(decompress);
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

impl<S, B, ResBody> Service<Request<B>> for Authenticate<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let scheme = Arc::clone(&self.scheme);
        let decompress = self.decompress;
        let replay = self.replay.clone();
        Box::pin(async move {
            // The receipt time, before the body is read: what a signed timestamp is held to.
            let received = SystemTime::now();
            let (mut parts, body) = req.into_parts();
            let coding = decode::coding(&parts.headers);
            // Refused before a byte of the body is read.
            let inflate_to = match (coding, decompress) {
                (Coding::Identity, _) => None,
                (Coding::Gzip | Coding::Deflate, Some(d)) => Some(d.max_bytes()),
                _ => return Ok(Rejection::UnsupportedEncoding.into_response()),
            };
            let started = Instant::now();
            let mut bytes = match buffer_request(&parts.extensions, body).await {
                Ok(bytes) => bytes,
                Err(rejection) => return Ok(rejection.into_response()),
            };
            observe::stage(observe::Stage::ReadBody, started);
            let started = Instant::now();
            if let Some(max) = inflate_to {
                bytes = match decode::inflate(coding, &bytes, max) {
                    Ok(bytes) => bytes,
                    Err(rejection) => return Ok(rejection.into_response()),
                };
                parts.headers.remove(header::CONTENT_ENCODING);
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            let verdict = scheme.verify(&parts, &bytes, received);
            observe::stage(observe::Stage::Verify, started);
            let verdict = match verdict {
                Ok(verdict) => verdict,
                Err(rejection) => {
                    tracing::debug!(code = rejection.code(), "authentication failed");
                    return Ok(rejection.into_response());
                }
            };
            let claim = match verdict.replay {
                Some(key) => match replay.claim(&key, received) {
                    ReplayVerdict::New => Some(ReplayHold::new(replay, key)),
                    ReplayVerdict::InFlight => {
                        return Ok(Rejection::InFlight(replay::IN_FLIGHT_RETRY).into_response());
                    }
                    ReplayVerdict::Accepted(id) => {
                        // A sender retrying after a lost 2xx, or a captured copy: either way it is
                        // not processed again, and the answer is the dedup stage's.
                        tracing::debug!("a signed request was presented again within its window");
                        return Ok(match id {
                            Some(id) => answer::duplicate(&id),
                            None => answer::duplicate_unnamed(),
                        });
                    }
                    ReplayVerdict::Full => {
                        tracing::warn!("the replay cache is full; refusing signed requests");
                        return Ok(Rejection::Unavailable(replay::IN_FLIGHT_RETRY).into_response());
                    }
                },
                None => None,
            };
            parts.extensions.insert(Verified::new(
                bytes.clone(),
                scheme.name(),
                verdict.key_index,
            ));
            let req = Request::from_parts(parts, Full::new(bytes));
            let response = inner.call(req).await;
            if let (Some(claim), Ok(response)) = (claim, &response) {
                // Dropping the claim (an error, a refusal, a handshake) releases it.
                if response.status().is_success() {
                    match response.extensions().get::<Answered>() {
                        Some(Answered::Event(id)) => claim.accept(Some(id.clone())),
                        Some(Answered::Handshake) => {}
                        _ => claim.accept(None),
                    }
                }
            }
            response.map(|r| r.map(ResponseBody::inner))
        })
    }
}

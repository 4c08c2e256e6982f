//! Authenticate: verify a request on its exact raw bytes before anything parses it.
//!
//! The [`Authenticate`] service buffers the body once (under the cap a
//! [`BodyLimit`](crate::limit::BodyLimit) stage set, or 1 MiB), checks the source's [`Scheme`] on
//! those bytes, and only then calls the inner service, with the bytes as a [`Full`] body and a
//! [`Verified`] proof in the request's extensions. A request that fails is answered here with 401
//! and never reaches the inner service.
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
//! use hookgate::source::Profile;
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
pub mod hmac;
mod layer;
pub mod secret;
pub mod token;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri, header};
use http_body::Body;
use http_body_util::Full;
use tower::Service;

use self::decode::Coding;
pub use self::decode::Decompress;
pub use self::hmac::{Algorithm, Encoding, HmacScheme};
pub use self::layer::AuthenticateLayer;
pub use self::secret::{MIN_SECRET_BYTES, Secret, SecretError, SecretRef};
pub use self::token::{TokenLocation, TokenScheme};
use crate::body::{ResponseBody, buffer_request};
use crate::event::Verified;
use crate::future::take_ready;
use crate::observe;
use crate::rejection::Rejection;

/// How a source proves that a request came from the sender.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Scheme {
    /// HMAC over the raw body in a header.
    Hmac(HmacScheme),
    /// A static token in a header or the query string.
    Token(TokenScheme),
}

impl Scheme {
    /// Short name for logs and the [`Verified`] proof.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hmac(_) => "hmac",
            Self::Token(_) => "token",
        }
    }

    /// Verify a request: its headers and URI, and the exact body bytes.
    /// Returns the index of the secret that matched.
    pub fn verify(&self, headers: &HeaderMap, uri: &Uri, body: &[u8]) -> Result<usize, Rejection> {
        match self {
            Self::Hmac(s) => s.verify(headers, body),
            Self::Token(s) => s.verify(headers, uri),
        }
    }

    /// The header a genuine sender would attach to `body`, signed with the first secret.
    /// `None` for query-string tokens (see [`TokenScheme::query_pair`]) or without a secret.
    pub fn sign(&self, body: &[u8]) -> Option<(HeaderName, HeaderValue)> {
        match self {
            Self::Hmac(s) => s.sign(body),
            Self::Token(s) => s.sign(),
        }
    }

    /// How many secrets it accepts (0: it refuses everything).
    pub fn secret_count(&self) -> usize {
        match self {
            Self::Hmac(s) => s.secret_count(),
            Self::Token(s) => s.secret_count(),
        }
    }

    /// The headers that carry credentials under this scheme: never kept on an event.
    pub fn credential_header(&self) -> Option<&HeaderName> {
        match self {
            Self::Hmac(s) => Some(s.header()),
            Self::Token(s) => match s.location() {
                TokenLocation::Header { name, .. } => Some(name),
                TokenLocation::Query { .. } => None,
            },
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
}

impl<S> Authenticate<S> {
    /// Wrap `inner`, verifying requests with `scheme`; compressed bodies are refused (415).
    pub fn new(inner: S, scheme: Arc<Scheme>) -> Self {
        Self {
            inner,
            scheme,
            decompress: None,
        }
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
        Box::pin(async move {
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
            let verdict = scheme.verify(&parts.headers, &parts.uri, &bytes);
            observe::stage(observe::Stage::Verify, started);
            match verdict {
                Ok(key_index) => {
                    parts
                        .extensions
                        .insert(Verified::new(bytes.clone(), scheme.name(), key_index));
                    let req = Request::from_parts(parts, Full::new(bytes));
                    inner.call(req).await.map(|r| r.map(ResponseBody::inner))
                }
                Err(rejection) => {
                    tracing::debug!(code = rejection.code(), "authentication failed");
                    Ok(rejection.into_response())
                }
            }
        })
    }
}

//! BodyLimit: refuse bodies over a cap with 413, before buffering them.
//!
//! A request whose `Content-Length` is over the cap is answered at once, without reading a byte of
//! its body. Any other body is wrapped in [`Limited`], so a chunked body is refused as soon as it
//! passes the cap while streaming, and the cap is recorded in the request's extensions
//! ([`MaxBodyBytes`]) for the stages that buffer later.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{Full, Limited};
//! use hookgate::limit::BodyLimitLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(BodyLimitLayer::new(16))
//!     .service(service_fn(|_req: Request<Limited<Full<Bytes>>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let big = Request::post("/")
//!     .header("content-length", "17")
//!     .body(Full::new(Bytes::from(vec![b'x'; 17])))
//!     .unwrap();
//! assert_eq!(svc.oneshot(big).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
//! # }
//! ```

mod layer;

use std::task::{Context, Poll};

use http::{Request, Response, header};
use http_body::Body;
use http_body_util::Limited;
use tower::Service;

pub use self::layer::BodyLimitLayer;
use crate::body::{MaxBodyBytes, ResponseBody};
pub use crate::future::ResponseFuture;
use crate::rejection::Rejection;

/// Refuses bodies over a cap; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    max: usize,
}

impl<S> BodyLimit<S> {
    /// Wrap `inner`, refusing bodies over `max` bytes.
    pub fn new(inner: S, max: usize) -> Self {
        Self { inner, max }
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

impl<S, B, ResBody> Service<Request<B>> for BodyLimit<S>
where
    S: Service<Request<Limited<B>>, Response = Response<ResBody>>,
    B: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let too_big = declared.is_some_and(|n| n > self.max as u64)
            || req.body().size_hint().lower() > self.max as u64;
        if too_big {
            return ResponseFuture::Rejected {
                rejection: Some(Rejection::PayloadTooLarge),
            };
        }
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(MaxBodyBytes(self.max));
        let req = Request::from_parts(parts, Limited::new(body, self.max));
        ResponseFuture::Inner {
            future: self.inner.call(req),
        }
    }
}

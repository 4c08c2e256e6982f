//! Validate: check an event against its sender's schema before it is claimed or routed.
//!
//! This is the seam where schema validation plugs in: the [`Validate`] service asks a
//! [`Validator`] about the [`Event`] that [`Parse`](crate::parse::Parse) put in the request's
//! extensions, and answers 422 with the list of [`Problem`]s when the event does not fit. Anything
//! that implements [`Validator`] can be used; a closure works too.
//!
//! A validator may also accept an event that does not fit ([`Verdict::Mismatched`]): what a
//! spec only assumes, or a source in `report` [mode](ValidationMode), must not make a real
//! sender's event a 422 that it retries and then gives up on. Such an event goes on with its
//! problems attached ([`Event::mismatches`]), stored with it by the spool, counted in
//! `hookgate_schema_mismatches_total{source, type, path}`, and logged once per new place
//! ([`report`]).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::validate::ValidateLayer;
//! use hookgate::{Event, EventId, EventKind, Problem};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let needs_data = |event: &Event| match event.json().get("data") {
//!     Some(_) => Ok(()),
//!     None => Err(vec![Problem { instance_path: "".into(), message: "\"data\" is required".into() }]),
//! };
//! let svc = ServiceBuilder::new()
//!     .layer(ValidateLayer::new(needs_data))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let event = Event::new("s", EventId::new("1"), EventKind::new("t"), Bytes::new(), serde_json::json!({}));
//! let mut req = Request::post("/").body(Full::new(Bytes::new())).unwrap();
//! req.extensions_mut().insert(event);
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
//! # }
//! ```

mod mode;
pub mod report;

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::event::Event;
use crate::future::ResponseFuture;
use crate::rejection::{Problem, Rejection};

pub use self::mode::{ValidationMode, Verdict};

/// Decides whether an event fits its sender's schema.
pub trait Validator: Send + Sync + 'static {
    /// `Ok` if the event may go on, else the problems that refuse it (422).
    fn validate(&self, event: &Event) -> Result<(), Vec<Problem>>;

    /// The full verdict, telling an event accepted with mismatches from a valid one. The
    /// default has no such middle: [`validate`](Self::validate)'s problems refuse the event.
    fn check(&self, event: &Event) -> Verdict {
        match self.validate(event) {
            Ok(()) => Verdict::Valid,
            Err(problems) => Verdict::Invalid(problems),
        }
    }
}

impl<F> Validator for F
where
    F: Fn(&Event) -> Result<(), Vec<Problem>> + Send + Sync + 'static,
{
    fn validate(&self, event: &Event) -> Result<(), Vec<Problem>> {
        self(event)
    }
}

/// Validates each request's [`Event`]; see the [module docs](self).
#[derive(Clone)]
pub struct Validate<S> {
    inner: S,
    validator: Arc<dyn Validator>,
}

impl<S> Validate<S> {
    /// Wrap `inner`, checking events with `validator`.
    pub fn new(inner: S, validator: Arc<dyn Validator>) -> Self {
        Self { inner, validator }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwrap the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Validate<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validate")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for Validate<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let started = tokio::time::Instant::now();
        let verdict = match req.extensions_mut().get_mut::<Event>() {
            Some(event) => match self.validator.check(event) {
                Verdict::Valid => Ok(()),
                Verdict::Mismatched(problems) => {
                    report::record(event, &problems);
                    event.set_mismatches(problems);
                    Ok(())
                }
                Verdict::Invalid(problems) => Err(Rejection::InvalidEvent(problems)),
            },
            None => Err(Rejection::Misconfigured),
        };
        crate::observe::stage(crate::observe::Stage::Validate, started);
        match verdict {
            Ok(()) => ResponseFuture::Inner {
                future: self.inner.call(req),
            },
            Err(rejection) => ResponseFuture::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

/// Applies [`Validate`] to a service; see the [module docs](self).
#[derive(Clone)]
pub struct ValidateLayer {
    validator: Arc<dyn Validator>,
}

impl ValidateLayer {
    /// Check events with `validator`.
    pub fn new(validator: impl Validator) -> Self {
        Self {
            validator: Arc::new(validator),
        }
    }

    /// Check events with a shared validator.
    pub fn from_shared(validator: Arc<dyn Validator>) -> Self {
        Self { validator }
    }
}

impl std::fmt::Debug for ValidateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidateLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for ValidateLayer {
    type Service = Validate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Validate::new(inner, Arc::clone(&self.validator))
    }
}

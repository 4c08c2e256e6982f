//! A dry run: a [`Pipeline`]'s checking stages on one request, with nothing remembered or stored,
//! and a record of how far the request got.
//!
//! Trying a source out (the admin API's `POST /sources/{id}/test`) must say what the source's
//! *real* stages make of a request, not what a copy of them would. [`Pipeline::dry_run`] builds
//! the same body limit, decompression, authentication, parse, handshake and validation stages as
//! the pipeline, configured the same way, and leaves out what has an effect beyond the answer:
//!
//! - the replay cache: each service has its own, empty, and it goes with the service;
//! - the dedup stage: the same event can be tried any number of times;
//! - [`Observe`](crate::observe::Observe): a dry run is neither counted in
//!   `hookgate_requests_total` nor listed among the recent refusals (stage timings, and the
//!   mismatches of an event accepted in spite of them, are recorded as for any request);
//! - the acknowledgement status and the unsigned-check stage (a dry run is a POST).
//!
//! The innermost service is the caller's: it finds the [`Event`] in the request's extensions, as
//! a router would, and what it answers is the answer. Between the stages, checkpoints note what
//! each one passed on; the [`DryRunTrail`] in the response's extensions says which stages the
//! request got past ([`DryRunStage`]), with the [`Verified`] proof and the [`Event`] they saw. The
//! first stage not passed is the one that answered.
//!
//! ```text
//! DryRun -> BodyLimit -> Authenticate -> (verify) -> Parse -> (parse) -> AnswerHandshake
//!     -> (handshake) -> Validate -> (validate) -> your service
//! ```
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::pipeline::{DryRunStage, DryRunTrail};
//! use hookgate::profile::Profile;
//! use hookgate::{Pipeline, Secret, Source};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = Secret::new(b"0123456789abcdef".to_vec(), "example").unwrap();
//! let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);
//! let svc = Pipeline::new(source.clone())
//!     .dry_run()
//!     .layer(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let body = r#"{"eventType":"ALERT_TRIGGERED","timestamp":"2024-01-15T10:30:00Z","data":{"uid":"a1"}}"#;
//! let (name, signature) = source.scheme().sign(body.as_bytes()).unwrap();
//! let signed = Request::post("/hooks/ninja").header(&name, &signature)
//!     .body(Full::new(Bytes::from(body))).unwrap();
//! let response = svc.clone().oneshot(signed).await.unwrap();
//! let trail = response.extensions().get::<DryRunTrail>().unwrap();
//! assert!(trail.passed(DryRunStage::Validate));
//! assert_eq!(trail.event().unwrap().kind().as_str(), "ALERT_TRIGGERED");
//!
//! let forged = Request::post("/hooks/ninja").body(Full::new(Bytes::from(body))).unwrap();
//! let response = svc.oneshot(forged).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.extensions().get::<DryRunTrail>().unwrap().last_passed(), None);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::Pipeline;
use crate::auth::{Authenticate, ReplayGuard};
use crate::event::{Event, Verified};
use crate::handshake::AnswerHandshake;
use crate::limit::BodyLimit;
use crate::parse::Parse;
use crate::validate::Validate;

/// The service a [`DryRunLayer`] builds around `S`.
pub type DryRunService<S> = DryRun<
    BodyLimit<
        Authenticate<
            Checkpoint<Parse<Checkpoint<AnswerHandshake<Checkpoint<Validate<Checkpoint<S>>>>>>>,
        >,
    >,
>;

/// A checking stage of a dry run, in the order they run; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DryRunStage {
    /// The body limit, decompression and authentication: the bytes are the sender's.
    Verify,
    /// The event's type and id were read.
    Parse,
    /// The request is not a sender's endpoint check (one is answered there, not validated).
    Handshake,
    /// The event fits the source's schema, or was accepted with mismatches.
    Validate,
}

/// How far a dry run got, left in its response's extensions; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct DryRunTrail {
    passed: Option<DryRunStage>,
    verified: Option<Verified>,
    event: Option<Event>,
}

impl DryRunTrail {
    /// Whether the request got past `stage`.
    pub fn passed(&self, stage: DryRunStage) -> bool {
        self.passed.is_some_and(|passed| passed >= stage)
    }

    /// The last stage the request got past (`None`: the first one answered it).
    pub fn last_passed(&self) -> Option<DryRunStage> {
        self.passed
    }

    /// The authentication's proof, once past [`DryRunStage::Verify`].
    pub fn verified(&self) -> Option<&Verified> {
        self.verified.as_ref()
    }

    /// The event as the last stage passed left it: parsed, and past validation with its
    /// [`mismatches`](Event::mismatches).
    pub fn event(&self) -> Option<&Event> {
        self.event.as_ref()
    }
}

/// The trail being written, shared by the checkpoints of one request. Private: nothing outside
/// this module can fake a stage passed.
#[derive(Clone)]
struct Recorder(Arc<Mutex<DryRunTrail>>);

impl Recorder {
    // A std Mutex: held to copy a few fields, never across an await.
    fn with(&self, f: impl FnOnce(&mut DryRunTrail)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

// ===== impl DryRunLayer =====

/// Builds a dry run of a [`Pipeline`]'s checking stages around a service; made by
/// [`Pipeline::dry_run`]. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DryRunLayer {
    pipeline: Pipeline,
}

impl DryRunLayer {
    pub(super) fn new(pipeline: Pipeline) -> Self {
        Self { pipeline }
    }
}

impl<S> Layer<S> for DryRunLayer {
    type Service = DryRunService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let pipeline = &self.pipeline;
        let validate = pipeline
            .validate_layer()
            .layer(Checkpoint::new(inner, DryRunStage::Validate));
        let handshake = pipeline
            .handshake_layer()
            .layer(Checkpoint::new(validate, DryRunStage::Handshake));
        let parse = pipeline
            .parse_layer()
            .layer(Checkpoint::new(handshake, DryRunStage::Parse));
        // A replay cache of its own: a dry run neither sees the live one nor fills it.
        let auth = pipeline
            .authenticate_layer(ReplayGuard::default())
            .layer(Checkpoint::new(parse, DryRunStage::Verify));
        let limit = pipeline.limit_layer().layer(auth);
        DryRun { inner: limit }
    }
}

// ===== impl DryRun =====

/// The outermost service of a dry run: it gives each request a [`DryRunTrail`] and puts it in
/// the response's extensions. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DryRun<S> {
    inner: S,
}

impl<S> DryRun<S> {
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

impl<S, B, ResBody> Service<Request<B>> for DryRun<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let recorder = Recorder(Arc::default());
        req.extensions_mut().insert(recorder.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            recorder,
        }
    }
}

pin_project! {
    /// Response future of [`DryRun`]: the inner answer, with the [`DryRunTrail`] added.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recorder: Recorder,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let mut trail = DryRunTrail::default();
        this.recorder
            .with(|written| trail = std::mem::take(written));
        response.extensions_mut().insert(trail);
        Poll::Ready(Ok(response))
    }
}

// ===== impl Checkpoint =====

/// Notes in a dry run's trail that a request got past a stage, with what the stage passed on.
/// Outside a dry run it only passes requests on. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Checkpoint<S> {
    inner: S,
    stage: DryRunStage,
}

impl<S> Checkpoint<S> {
    /// Note `stage` passed, then call `inner`.
    pub fn new(inner: S, stage: DryRunStage) -> Self {
        Self { inner, stage }
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

impl<S, B> Service<Request<B>> for Checkpoint<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(recorder) = req.extensions().get::<Recorder>() {
            recorder.with(|trail| {
                trail.passed = Some(self.stage);
                if let Some(verified) = req.extensions().get::<Verified>() {
                    trail.verified = Some(verified.clone());
                }
                if let Some(event) = req.extensions().get::<Event>() {
                    trail.event = Some(event.clone());
                }
            });
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::StatusCode;
    use http_body_util::Full;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::Secret;
    use crate::profile::Profile;
    use crate::rejection::Problem;
    use crate::source::Source;

    const BODY: &str =
        r#"{"eventType":"ALERT_TRIGGERED","timestamp":"2024-01-15T10:30:00Z","data":{"uid":"a1"}}"#;

    fn source() -> Source {
        let secret = Secret::new(b"0123456789abcdef".to_vec(), "test").unwrap();
        Source::from_profile("ninja", Profile::NinjaOne, &[secret])
    }

    fn signed(source: &Source) -> Request<Full<Bytes>> {
        let (name, signature) = source.scheme().sign(BODY.as_bytes()).unwrap();
        Request::post("/hooks/ninja")
            .header(&name, &signature)
            .body(Full::new(Bytes::from(BODY)))
            .unwrap()
    }

    async fn ok(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(Response::new(Full::new(Bytes::new())))
    }

    fn trail_of<B>(response: &Response<B>) -> DryRunTrail {
        response.extensions().get::<DryRunTrail>().cloned().unwrap()
    }

    #[tokio::test]
    async fn a_forged_request_passes_no_stage() {
        let source = source();
        let svc = Pipeline::new(source).dry_run().layer(tower::service_fn(ok));
        let forged = Request::post("/")
            .body(Full::new(Bytes::from(BODY)))
            .unwrap();
        let response = svc.oneshot(forged).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let trail = trail_of(&response);
        assert_eq!(trail.last_passed(), None);
        assert!(trail.verified().is_none() && trail.event().is_none());
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_before_verify() {
        let source = source();
        let svc = Pipeline::new(source.clone())
            .max_body_bytes(8)
            .dry_run()
            .layer(tower::service_fn(ok));
        let response = svc.oneshot(signed(&source)).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!trail_of(&response).passed(DryRunStage::Verify));
    }

    #[tokio::test]
    async fn a_signed_event_passes_every_stage_as_often_as_it_is_tried() {
        let source = source();
        let svc = Pipeline::new(source.clone())
            .dry_run()
            .layer(tower::service_fn(ok));
        // The same signed request twice: no replay cache, no dedup.
        for _ in 0..2 {
            let response = svc.clone().oneshot(signed(&source)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let trail = trail_of(&response);
            assert_eq!(trail.last_passed(), Some(DryRunStage::Validate));
            assert_eq!(trail.verified().unwrap().key_index(), 0);
            assert_eq!(trail.event().unwrap().kind().as_str(), "ALERT_TRIGGERED");
        }
    }

    #[tokio::test]
    async fn an_event_that_does_not_fit_stops_at_validate() {
        let source = source();
        let refuse = |_: &Event| {
            Err(vec![Problem {
                instance_path: "/data".into(),
                message: "no".into(),
            }])
        };
        let svc = Pipeline::new(source.clone())
            .validator(refuse)
            .dry_run()
            .layer(tower::service_fn(ok));
        let response = svc.oneshot(signed(&source)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let trail = trail_of(&response);
        assert_eq!(trail.last_passed(), Some(DryRunStage::Handshake));
        assert!(trail.event().is_some());
    }

    #[tokio::test]
    async fn outside_a_dry_run_a_checkpoint_only_passes_requests_on() {
        let svc = Checkpoint::new(tower::service_fn(ok), DryRunStage::Parse);
        let response = svc
            .oneshot(Request::new(Full::new(Bytes::new())))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.extensions().get::<DryRunTrail>().is_none());
    }
}

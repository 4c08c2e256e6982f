//! Observe: one tracing span and one set of metrics per webhook request.
//!
//! [`Observe`] is the outermost stage of a [`Pipeline`](crate::Pipeline). Around each request it
//!
//! - opens a `DEBUG` span `webhook` (target [`REQUEST_SPAN_TARGET`]) with the source, and, once
//!   the parse stage knows them, the event's `event_id` and `event_type`; the `outcome` and
//!   `status` are recorded when it ends, so every log line of the request carries them. DEBUG,
//!   as tower-http's `TraceLayer` makes its spans, because a subscriber that formats span fields
//!   (tracing-subscriber's `fmt`) spent 13% of a request's instructions on this one: turn it on
//!   for the lines where it is wanted (`RUST_LOG=info,hookgate::request=debug`) or for a trace
//!   exporter only (a per-layer filter). Bodies, headers and secrets are never recorded;
//! - counts the request in `hookgate_requests_total{source, outcome}` and times it in
//!   `hookgate_request_duration_seconds{source}`.
//!
//! The outcome is the stable code of the answer: `accepted`, `duplicate`, or a
//! [`Rejection`](crate::Rejection) code (`invalid_signature`, `payload_too_large`,
//! `invalid_event`, ...), which each stage leaves in the response's extensions as an [`AnswerCode`].
//! Answers from a service of your own count as `ok` (2xx) or `error`.
//!
//! Metrics go through the [`metrics`] facade, so they cost a few atomic operations and nothing is
//! exported until the application installs a recorder: `hookgate serve` installs a Prometheus one
//! (the gateway's `metrics` module, which also lists every metric hookgate emits) and serves it
//! on the admin listener's `/metrics`; a library user installs whichever exporter they already
//! use, then calls [`cache_metric_handles`]. This module names no exporter.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use hookgate::observe::{ObserveLayer, AnswerCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(ObserveLayer::new("homa"))
//!     .service(service_fn(|_req: Request<String>| async {
//!         let mut response = Response::new(String::new());
//!         response.extensions_mut().insert(AnswerCode::new("accepted"));
//!         Ok::<_, Infallible>(response)
//!     }));
//! let response = svc.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.extensions().get::<AnswerCode>().unwrap().code(), "accepted");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

/// The target of the per-request `webhook` span (`RUST_LOG=hookgate::request=debug` turns it
/// on without the rest of hookgate's debug lines).
pub const REQUEST_SPAN_TARGET: &str = "hookgate::request";

/// Requests by source and outcome (counter).
pub const REQUESTS: &str = "hookgate_requests_total";
/// Time from request to answer, by source (histogram, seconds).
pub const REQUEST_DURATION: &str = "hookgate_request_duration_seconds";
/// Time spent in each stage: `read_body`, `verify`, `parse`, `validate`, `dedup`, `handoff`
/// (histogram, seconds).
pub const STAGE_DURATION: &str = "hookgate_stage_duration_seconds";
/// Replays recognised by the dedup stage, by source (counter).
pub const DEDUP_HITS: &str = "hookgate_dedup_hits_total";
/// Delivery attempts by destination and result: `delivered`, `failed` (will retry), `dead`
/// (counter).
pub const DELIVERIES: &str = "hookgate_deliveries_total";
/// Retries scheduled, by destination (counter).
pub const RETRIES: &str = "hookgate_delivery_retries_total";
/// Deliveries given up on (dead letters), by destination (counter).
pub const DEAD_LETTERS: &str = "hookgate_dead_letters_total";
/// Destinations paused (1) or not (0), by destination (gauge).
pub const DESTINATION_PAUSED: &str = "hookgate_destination_paused";
/// Deliveries in flight, by destination (gauge).
pub const DESTINATION_IN_FLIGHT: &str = "hookgate_destination_in_flight";
/// A destination's circuit breaker: 1 for its `state` (`closed`, `open`, `half_open`), 0 for
/// the others (gauge; destinations with a breaker only).
pub const DESTINATION_CIRCUIT: &str = "hookgate_destination_circuit";
/// Circuit breaker transitions, by destination and the state entered (counter).
pub const CIRCUIT_TRANSITIONS: &str = "hookgate_circuit_transitions_total";
/// Ordering keys held back by a dead letter, by destination (gauge, read at scrape time).
pub const BLOCKED_KEYS: &str = "hookgate_ordered_keys_blocked";
/// Deliveries waiting behind an earlier one of their ordering key, or a blocked key, by
/// destination (gauge, read at scrape time).
pub const WAITING: &str = "hookgate_deliveries_waiting";
/// Deliveries waiting in the spool (gauge, read at scrape time).
pub const SPOOL_PENDING: &str = "hookgate_spool_pending";
/// Age of the oldest pending delivery, seconds (gauge, read at scrape time).
pub const SPOOL_OLDEST_AGE: &str = "hookgate_spool_oldest_pending_age_seconds";
/// Free bytes on the spool's filesystem (gauge, read at scrape time).
pub const SPOOL_FREE_BYTES: &str = "hookgate_spool_free_bytes";
/// Values of an `x-extensible-enum` the spec does not list, seen in accepted events (counter).
pub const UNKNOWN_ENUM_VALUES: &str = "hookgate_unknown_enum_values_total";
/// Mismatches with the spec in events accepted anyway (assumed parts, `report` mode), by
/// source, event type and place, array indices as `*` (counter).
pub const SCHEMA_MISMATCHES: &str = "hookgate_schema_mismatches_total";

/// How many refused requests [`recent_refusals`] keeps.
pub const REFUSALS_KEPT: usize = 100;

/// One refused request, as the inbox page lists it: no body, no headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When it was answered.
    pub at: std::time::SystemTime,
    /// The source it was sent to.
    pub source: Arc<str>,
    /// The rejection code.
    pub outcome: &'static str,
    /// The HTTP status it got.
    pub status: u16,
}

static REFUSALS: std::sync::Mutex<std::collections::VecDeque<Refusal>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

/// The latest refused requests of this process (at most [`REFUSALS_KEPT`]), newest first.
pub fn recent_refusals() -> Vec<Refusal> {
    let kept = match REFUSALS.lock() {
        Ok(kept) => kept,
        Err(poisoned) => poisoned.into_inner(),
    };
    kept.iter().rev().cloned().collect()
}

/// Per source: how many requests were answered 401 or 422 since the process started.
static REFUSAL_COUNTS: std::sync::Mutex<Vec<(Arc<str>, u64)>> = std::sync::Mutex::new(Vec::new());

/// How many requests each source answered 401 (authentication) or 422 (validation) since the
/// process started (what the gateway's refusal alerts count).
pub fn refusal_counts() -> Vec<(String, u64)> {
    let counts = match REFUSAL_COUNTS.lock() {
        Ok(counts) => counts,
        Err(poisoned) => poisoned.into_inner(),
    };
    counts.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

fn refused(source: &Arc<str>, outcome: &'static str, status: u16) {
    if status == 401 || status == 422 {
        let mut counts = match REFUSAL_COUNTS.lock() {
            Ok(counts) => counts,
            Err(poisoned) => poisoned.into_inner(),
        };
        match counts.iter_mut().find(|(s, _)| s == source) {
            Some((_, n)) => *n += 1,
            None => counts.push((Arc::clone(source), 1)),
        }
    }
    let mut kept = match REFUSALS.lock() {
        Ok(kept) => kept,
        Err(poisoned) => poisoned.into_inner(),
    };
    if kept.len() >= REFUSALS_KEPT {
        kept.pop_front();
    }
    kept.push_back(Refusal {
        at: std::time::SystemTime::now(),
        source: Arc::clone(source),
        outcome,
        status,
    });
}

/// The stable code of an answer, left in the response's extensions by the stage that answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerCode(&'static str);

impl AnswerCode {
    /// An answer code.
    pub const fn new(code: &'static str) -> Self {
        Self(code)
    }

    /// The code: `accepted`, `duplicate`, or a rejection code.
    pub fn code(&self) -> &'static str {
        self.0
    }
}

/// The stages timed in [`STAGE_DURATION`], in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    ReadBody,
    Verify,
    Parse,
    Validate,
    Dedup,
    Handoff,
}

impl Stage {
    const ALL: [Stage; 6] = [
        Stage::ReadBody,
        Stage::Verify,
        Stage::Parse,
        Stage::Validate,
        Stage::Dedup,
        Stage::Handoff,
    ];

    /// Its `stage` label.
    fn name(self) -> &'static str {
        match self {
            Stage::ReadBody => "read_body",
            Stage::Verify => "verify",
            Stage::Parse => "parse",
            Stage::Validate => "validate",
            Stage::Dedup => "dedup",
            Stage::Handoff => "handoff",
        }
    }
}

/// The stage histograms' handles, registered once with the installed recorder
/// ([`cache_metric_handles`]): a registry lookup per stage per request was most of what
/// metrics cost.
static STAGE_HANDLES: OnceLock<[metrics::Histogram; 6]> = OnceLock::new();

/// Set by [`cache_metric_handles`]: the process's recorder is installed, so a handle taken now
/// stays valid (one taken before a recorder is installed is a no-op forever).
static RECORDER_READY: AtomicBool = AtomicBool::new(false);

/// Tell hookgate that the process's [`metrics`] recorder is installed, so that it registers
/// its metrics with it once and keeps the handles: the stage histograms now, each source's
/// request counters and duration histogram at its first request. Timing a stage or counting a
/// request then costs no registry lookup (measured: that lookup was most of what metrics cost
/// per request). Call it once, right after installing the recorder; `hookgate serve` does.
/// Without it every metric is looked up through the facade on each use, which works with any
/// recorder installed at any time.
pub fn cache_metric_handles() {
    let _ = STAGE_HANDLES
        .set(Stage::ALL.map(|stage| metrics::histogram!(STAGE_DURATION, "stage" => stage.name())));
    RECORDER_READY.store(true, Ordering::Release);
}

/// A source's request metrics, registered once (see [`cache_metric_handles`]). Only the
/// answers nearly every request gets have a handle of their own; refusals are looked up.
struct RequestHandles {
    accepted: metrics::Counter,
    duplicate: metrics::Counter,
    duration: metrics::Histogram,
}

impl std::fmt::Debug for RequestHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHandles").finish_non_exhaustive()
    }
}

impl RequestHandles {
    fn new(source: &Arc<str>) -> Self {
        let counter = |outcome: &'static str| metrics::counter!(REQUESTS, "source" => Arc::clone(source), "outcome" => outcome);
        Self {
            accepted: counter("accepted"),
            duplicate: counter("duplicate"),
            duration: metrics::histogram!(REQUEST_DURATION, "source" => Arc::clone(source)),
        }
    }
}

/// Count one request of `source` with `outcome` that took `elapsed`, through `cached`'s handles
/// when the recorder is known to be installed.
fn count_request(
    cached: &OnceLock<RequestHandles>,
    source: &Arc<str>,
    outcome: &'static str,
    elapsed: Duration,
) {
    let seconds = elapsed.as_secs_f64();
    if !RECORDER_READY.load(Ordering::Acquire) {
        metrics::counter!(REQUESTS, "source" => Arc::clone(source), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(REQUEST_DURATION, "source" => Arc::clone(source)).record(seconds);
        return;
    }
    let handles = cached.get_or_init(|| RequestHandles::new(source));
    match outcome {
        "accepted" => handles.accepted.increment(1),
        "duplicate" => handles.duplicate.increment(1),
        // Label values share the source's name (no allocation per request).
        _ => metrics::counter!(REQUESTS, "source" => Arc::clone(source), "outcome" => outcome)
            .increment(1),
    }
    handles.duration.record(seconds);
}

/// Time one stage: `stage` took since `started`.
pub(crate) fn stage(stage: Stage, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    match STAGE_HANDLES.get() {
        Some(handles) => handles[stage as usize].record(seconds),
        // Another recorder (a library user's), or none: the macro finds it.
        None => metrics::histogram!(STAGE_DURATION, "stage" => stage.name()).record(seconds),
    }
}

/// Record the event's id and type on the request's span (the parse stage calls it).
pub(crate) fn record_event(id: &str, kind: &str) {
    let span = Span::current();
    span.record("event_id", id);
    span.record("event_type", kind);
}

/// Applies [`Observe`] to a service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    source: Arc<str>,
    handles: Arc<OnceLock<RequestHandles>>,
}

impl ObserveLayer {
    /// Observe requests of the source named `source`.
    pub fn new(source: impl Into<Arc<str>>) -> Self {
        Self {
            source: source.into(),
            handles: Arc::default(),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            source: Arc::clone(&self.source),
            handles: Arc::clone(&self.handles),
        }
    }
}

/// A span and metrics per request; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    source: Arc<str>,
    handles: Arc<OnceLock<RequestHandles>>,
}

impl<S> Observe<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwrap the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let span = tracing::debug_span!(
            target: REQUEST_SPAN_TARGET,
            "webhook",
            source = &*self.source,
            event_id = tracing::field::Empty,
            event_type = tracing::field::Empty,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let future = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner: future.instrument(span),
            source: Arc::clone(&self.source),
            handles: Arc::clone(&self.handles),
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// Response future of [`Observe`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        source: Arc<str>,
        handles: Arc<OnceLock<RequestHandles>>,
        started: Instant,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = std::task::ready!(this.inner.as_mut().poll(cx));
        let outcome = match &result {
            Ok(response) => match response.extensions().get::<AnswerCode>() {
                Some(outcome) => outcome.code(),
                None if response.status().is_success() => "ok",
                None => "error",
            },
            Err(_) => "error",
        };
        let elapsed = this.started.elapsed();
        count_request(this.handles, this.source, outcome, elapsed);
        let span = this.inner.span();
        span.record("outcome", outcome);
        if let Ok(response) = &result {
            let status = response.status();
            span.record("status", status.as_u16());
            if !status.is_success() {
                refused(this.source, outcome, status.as_u16());
            }
        }
        let _entered = span.enter();
        tracing::debug!(
            elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "answered"
        );
        Poll::Ready(result)
    }
}

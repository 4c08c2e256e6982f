//! Ingest limits: how fast one source may send, answered with 429 and `Retry-After` past it.
//!
//! A sender that retries in a tight loop, or a forger flooding an endpoint, should not take the
//! gateway's capacity from everyone else. [`IngestLimits`] gives a source two token buckets, each
//! `rate` requests per second with up to `burst` at once:
//!
//! - **verified**: requests whose signature checked out. Past the limit they are answered
//!   `429 rate_limited` with `Retry-After` (whole seconds until a token is back), before they
//!   are parsed, deduplicated or stored: nothing is accepted, so the sender's retry is
//!   processed as new.
//! - **failed**: requests refused with 401 (bad, missing or stale signature or token). Past
//!   their limit the 401 becomes the same 429. Forged traffic only ever draws from this bucket,
//!   so it cannot use up the sender's budget.
//!
//! Hence two layers over one [`IngestLimits`]: [`IngestLimitLayer::verified`] goes right after
//! [`Authenticate`](crate::auth::Authenticate) (it only sees what verified),
//! [`IngestLimitLayer::failed`] right before it (it sees the 401s come back). The
//! [`Pipeline`](crate::pipeline::Pipeline) places both when a source has limits
//! ([`Pipeline::ingest_limits`](crate::pipeline::Pipeline::ingest_limits)); without limits
//! they pass requests through.
//!
//! A bucket is a few floating-point operations under an uncontended mutex, per request: a
//! dedicated crate (governor) would bring a clock calibration and half a dozen dependencies for
//! two buckets per source.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::rate::{IngestLimitLayer, IngestLimits, Rate};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let limits = Arc::new(IngestLimits::new(Rate::new(1.0, 2).unwrap()));
//! let accept = service_fn(|_req: Request<Full<Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//! });
//! let svc = IngestLimitLayer::verified(Some(Arc::clone(&limits))).layer(accept);
//! let post = || Request::post("/").body(Full::new(Bytes::new())).unwrap();
//! assert_eq!(svc.clone().oneshot(post()).await.unwrap().status(), StatusCode::OK);
//! assert_eq!(svc.clone().oneshot(post()).await.unwrap().status(), StatusCode::OK);
//! let refused = svc.oneshot(post()).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(refused.headers()["retry-after"], "1");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::rejection::Rejection;

/// A rate: `per_second` requests on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
    burst: u32,
}

/// Why a [`Rate`] cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// The rate is zero, negative or not a number.
    #[error("rate must be a positive number of requests per second, not {0}")]
    Rate(f64),
    /// The burst is zero: nothing would ever pass.
    #[error("burst must be at least 1")]
    Burst,
}

impl Rate {
    /// `per_second` requests per second on average, up to `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Result<Self, RateError> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(RateError::Rate(per_second));
        }
        if burst == 0 {
            return Err(RateError::Burst);
        }
        Ok(Self { per_second, burst })
    }

    /// Requests per second on average.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Requests at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// One token bucket: full at start, a token back every `1 / rate` seconds. The ingest limits
/// take one token per request; the deliverer's destination `rate` asks how many are there,
/// takes what it starts, and when the next one is back.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    // Tokens left, and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(crate) fn new(rate: Rate) -> Self {
        Self {
            rate,
            state: Mutex::new((f64::from(rate.burst), Instant::now())),
        }
    }

    /// Whole tokens there now.
    #[cfg_attr(not(feature = "delivery"), allow(dead_code))]
    pub(crate) fn available(&self, now: Instant) -> u32 {
        let tokens = self.refill(&mut self.lock(), now);
        // At most `burst` (and below 0 saturates to 0), so the cast cannot overflow.
        tokens.floor() as u32
    }

    /// Take `n` tokens (they may go below zero, to be paid back before any other is taken).
    #[cfg_attr(not(feature = "delivery"), allow(dead_code))]
    pub(crate) fn take_n(&self, now: Instant, n: u32) {
        let mut state = self.lock();
        let tokens = self.refill(&mut state, now);
        state.0 = tokens - f64::from(n);
    }

    /// How long until a whole token is there (zero if one is).
    #[cfg_attr(not(feature = "delivery"), allow(dead_code))]
    pub(crate) fn next_token_in(&self, now: Instant) -> Duration {
        let tokens = self.refill(&mut self.lock(), now);
        if tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - tokens) / self.rate.per_second)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The tokens there at `now`, counted into `state` (the locked bucket).
    fn refill(&self, state: &mut (f64, Instant), now: Instant) -> f64 {
        let (tokens, counted) = *state;
        let refilled = now.saturating_duration_since(counted).as_secs_f64() * self.rate.per_second;
        let tokens = (tokens + refilled).min(f64::from(self.rate.burst));
        *state = (tokens, now.max(counted));
        tokens
    }

    /// Take a token, or say how long until one is back.
    fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.lock();
        let tokens = self.refill(&mut state, now);
        if tokens >= 1.0 {
            state.0 = tokens - 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - tokens) / self.rate.per_second,
            ))
        }
    }
}

/// The two budgets of one source: verified requests and refused (401) ones; see the
/// [module docs](self).
#[derive(Debug)]
pub struct IngestLimits {
    verified: Bucket,
    failed: Bucket,
}

impl IngestLimits {
    /// `rate` for verified requests, and the same again, separately, for refused ones.
    pub fn new(rate: Rate) -> Self {
        Self::with_failed(rate, rate)
    }

    /// `verified` for requests whose signature checked out, `failed` for those refused with 401.
    pub fn with_failed(verified: Rate, failed: Rate) -> Self {
        Self {
            verified: Bucket::new(verified),
            failed: Bucket::new(failed),
        }
    }

    /// The rate of verified requests.
    pub fn verified_rate(&self) -> Rate {
        self.verified.rate
    }

    /// The rate of refused requests.
    pub fn failed_rate(&self) -> Rate {
        self.failed.rate
    }
}

/// The answer past a limit: 429, told to wait at least until a token is back, in whole seconds
/// rounded up (`Retry-After` has no fractions; rounded down, the retry would come too soon).
fn rejection(wait: Duration) -> Rejection {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Rejection::RateLimited(Duration::from_secs(seconds.max(1)))
}

/// Which of a source's budgets a layer draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Verified,
    Failed,
}

/// Applies [`IngestLimit`] to a service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct IngestLimitLayer {
    limits: Option<Arc<IngestLimits>>,
    side: Side,
}

impl IngestLimitLayer {
    /// Draw on the verified budget before calling the inner service (place it after
    /// authentication). `None`: no limit.
    pub fn verified(limits: Option<Arc<IngestLimits>>) -> Self {
        Self {
            limits,
            side: Side::Verified,
        }
    }

    /// Draw on the failed budget for every 401 the inner service answers (place it before
    /// authentication). `None`: no limit.
    pub fn failed(limits: Option<Arc<IngestLimits>>) -> Self {
        Self {
            limits,
            side: Side::Failed,
        }
    }
}

impl<S> Layer<S> for IngestLimitLayer {
    type Service = IngestLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IngestLimit {
            inner,
            limits: self.limits.clone(),
            side: self.side,
        }
    }
}

/// Answers 429 past a source's ingest limit; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct IngestLimit<S> {
    inner: S,
    limits: Option<Arc<IngestLimits>>,
    side: Side,
}

impl<S, B, ResBody> Service<Request<B>> for IngestLimit<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = IngestFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match (&self.limits, self.side) {
            (Some(limits), Side::Verified) => match limits.verified.take(Instant::now()) {
                Ok(()) => IngestFuture::Passed {
                    future: ResponseFuture::Inner {
                        future: self.inner.call(req),
                    },
                },
                Err(wait) => IngestFuture::Passed {
                    future: ResponseFuture::Rejected {
                        rejection: Some(rejection(wait)),
                    },
                },
            },
            (Some(limits), Side::Failed) => IngestFuture::Watched {
                future: self.inner.call(req),
                limits: Arc::clone(limits),
            },
            (None, _) => IngestFuture::Passed {
                future: ResponseFuture::Inner {
                    future: self.inner.call(req),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`IngestLimit`].
    #[project = IngestFutureProj]
    #[allow(missing_docs)]
    pub enum IngestFuture<F> {
        /// Answered by the inner service, or refused before it was called.
        Passed {
            #[pin]
            future: ResponseFuture<F>,
        },
        /// Answered by the inner service; a 401 draws on the failed budget.
        Watched {
            #[pin]
            future: F,
            limits: Arc<IngestLimits>,
        },
    }
}

impl<F, ResBody, E> Future for IngestFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            IngestFutureProj::Passed { future } => future.poll(cx),
            IngestFutureProj::Watched { future, limits } => {
                let response = ready!(future.poll(cx))?;
                if response.status() == StatusCode::UNAUTHORIZED {
                    if let Err(wait) = limits.failed.take(Instant::now()) {
                        return Poll::Ready(Ok(rejection(wait).into_response()));
                    }
                }
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive_and_bursts_at_least_one() {
        assert!(Rate::new(0.5, 1).is_ok());
        assert_eq!(Rate::new(0.0, 1), Err(RateError::Rate(0.0)));
        assert!(Rate::new(f64::NAN, 1).is_err());
        assert_eq!(Rate::new(1.0, 0), Err(RateError::Burst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_gives_its_burst_then_one_token_per_interval() {
        let bucket = Bucket::new(Rate::new(2.0, 3).unwrap());
        let start = Instant::now();
        for _ in 0..3 {
            bucket.take(start).unwrap();
        }
        assert_eq!(bucket.take(start), Err(Duration::from_millis(500)));
        // Half a token later: still refused, a quarter second to wait.
        let later = start + Duration::from_millis(250);
        assert_eq!(bucket.take(later), Err(Duration::from_millis(250)));
        bucket.take(start + Duration::from_millis(500)).unwrap();
        // A long pause refills to the burst, not past it.
        let much_later = start + Duration::from_secs(60);
        for _ in 0..3 {
            bucket.take(much_later).unwrap();
        }
        assert!(bucket.take(much_later).is_err());
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let after = |wait| rejection(wait).retry_after().unwrap().as_secs();
        assert_eq!(after(Duration::from_millis(1)), 1);
        assert_eq!(after(Duration::from_millis(1500)), 2);
        assert_eq!(after(Duration::from_secs(3)), 3);
    }
}

//! Dedup: process each event once, however often the sender delivers it.
//!
//! Senders retry, and several deliveries of one event can arrive at once. The [`Dedup`] service
//! keys each [`Event`] by its source and id and runs a two-phase protocol against a [`DedupStore`]:
//!
//! 1. **claim** the key before anything is done. The answer is [`Claimed::New`] (go ahead),
//!    [`Claimed::Duplicate`] (already processed: answer 200, do nothing) or [`Claimed::InFlight`]
//!    (someone is processing it right now: answer 409 with `Retry-After`).
//! 2. after the inner service answered: **commit** the claim if it answered 2xx, so the id is
//!    remembered for the window; otherwise **release** it, so the sender's retry is processed.
//!
//! If the request is dropped half way (the client went away, the server is shutting down), the
//! claim is released too. If the store cannot be reached, the request is refused with 503: an
//! event is never processed without a claim.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::dedup::{DedupLayer, MemoryStore};
//! use hookgate::{Event, EventId, EventKind};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(DedupLayer::new(MemoryStore::new()))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         let mut ok = Response::new(Full::new(Bytes::new()));
//!         *ok.status_mut() = StatusCode::ACCEPTED;
//!         Ok::<_, std::convert::Infallible>(ok)
//!     }));
//!
//! let request = || {
//!     let event = Event::new("s", EventId::new("42"), EventKind::new("t"), Bytes::new(), serde_json::json!({}));
//!     let mut req = Request::post("/").body(Full::new(Bytes::new())).unwrap();
//!     req.extensions_mut().insert(event);
//!     req
//! };
//! assert_eq!(svc.clone().oneshot(request()).await.unwrap().status(), StatusCode::ACCEPTED);
//! assert_eq!(svc.oneshot(request()).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

pub mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::future::BoxFuture;
use http::{Request, Response};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

pub use self::memory::MemoryStore;
use crate::answer;
pub use crate::answer::DEFAULT_RETRY_AFTER;
use crate::body::ResponseBody;
use crate::event::{Event, EventId};
use crate::future::take_ready;
use crate::observe;
use crate::rejection::Rejection;

/// The key an event is deduplicated under: 128 bits of SHA-256 over its source and id.
///
/// Fixed-size and hashed, so memory per remembered id does not depend on the id's length, and
/// the sources' id spaces cannot collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey(pub(crate) [u8; 16]);

impl DedupKey {
    /// The key of event `id` from source `source`.
    pub fn new(source: &str, id: &EventId) -> Self {
        let mut hasher = Sha256::new();
        hasher.update((source.len() as u64).to_be_bytes());
        hasher.update(source.as_bytes());
        hasher.update(id.as_str().as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }

    /// The key in hex, for stores that key by text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DedupKey({})", self.to_hex())
    }
}

/// A claim on a key, owned by one request. Only its owner can commit or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claimed key.
    pub key: DedupKey,
    /// Proof of ownership, unique per claim.
    pub token: u64,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// Nobody processed or is processing this event: the caller owns the claim.
    New(Claim),
    /// The event was processed within the window.
    Duplicate,
    /// Another request holds a live claim on the event.
    InFlight,
}

/// Left in a 2xx response's extensions by a sink that stored the event's dedup record in the
/// same durable write as the event (the spool's sink does): the store keeping that table has
/// the id already, and [`DedupStore::commit_remembered`] lets it skip a second write and the
/// lookup that would find the first. Other stores commit as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    table: usize,
}

// Only the spool's sink and its DurableStore make and read it.
#[cfg_attr(not(feature = "spool"), allow(dead_code))]
impl Remembered {
    /// The record was written to the table whose owner `table` points at (an identity, never
    /// dereferenced).
    pub(crate) fn in_table<T>(table: *const T) -> Self {
        Self {
            table: table as *const () as usize,
        }
    }

    /// Whether the record was written to the table `table` points at.
    pub(crate) fn is_in<T>(&self, table: *const T) -> bool {
        self.table == table as *const () as usize
    }
}

/// Why a store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError {
    /// The store is unreachable or broken.
    #[error("dedup store unavailable: {0}")]
    Unavailable(String),
}

/// Remembers which events were processed; see the [module docs](self) for the protocol.
///
/// [`MemoryStore`] keeps them in this process. The stores over other storage live with that
/// storage, above this stage: `spool::DurableStore` (on disk, across restarts) and
/// `delivery::RedisStore` (shared by replicas).
pub trait DedupStore: Send + Sync + 'static {
    /// Claim `key` atomically.
    fn claim(&self, key: DedupKey) -> BoxFuture<'_, Result<Claimed, DedupError>>;
    /// Mark the claimed event processed, remembered for the store's window.
    fn commit<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>>;
    /// Mark the claimed event processed when the response says a sink already stored its
    /// record ([`Remembered`]). A store that keeps the table named there only lets the claim go;
    /// every other store (the default) [`commit`](Self::commit)s as usual.
    fn commit_remembered<'a>(
        &'a self,
        claim: &'a Claim,
        remembered: Remembered,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        let _ = remembered;
        self.commit(claim)
    }
    /// Give the claim up, so the next delivery of the event is processed.
    fn release<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>>;

    /// Can the store answer now? `/readyz` asks; the default (in-process stores) is yes.
    fn ready(&self) -> BoxFuture<'_, Result<(), DedupError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Releases a claim that was neither committed nor released, e.g. when the request future is
/// dropped mid-way.
struct ClaimGuard {
    store: Arc<dyn DedupStore>,
    claim: Option<Claim>,
}

impl ClaimGuard {
    async fn finish(mut self, processed: bool, remembered: Option<Remembered>) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let result = match (processed, remembered) {
            (true, Some(remembered)) => self.store.commit_remembered(&claim, remembered).await,
            (true, None) => self.store.commit(&claim).await,
            (false, _) => self.store.release(&claim).await,
        };
        if let Err(error) = result {
            // A failed commit leaves the claim to expire: a later delivery may be processed
            // again (at least once). A failed release delays the retry until the claim expires.
            tracing::warn!(%error, processed, "dedup store did not record the outcome");
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            let store = Arc::clone(&self.store);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(error) = store.release(&claim).await {
                        tracing::warn!(%error, "could not release an abandoned dedup claim");
                    }
                });
            }
        }
    }
}

/// Response future of [`Dedup`].
pub type ResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send + 'static>>;

/// Deduplicates events by id; see the [module docs](self).
#[derive(Clone)]
pub struct Dedup<S> {
    inner: S,
    store: Arc<dyn DedupStore>,
    retry_after: Duration,
}

impl<S> Dedup<S> {
    /// Wrap `inner`, deduplicating through `store`.
    pub fn new(inner: S, store: Arc<dyn DedupStore>, retry_after: Duration) -> Self {
        Self {
            inner,
            store,
            retry_after,
        }
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

impl<S: fmt::Debug> fmt::Debug for Dedup<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dedup")
            .field("inner", &self.inner)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for Dedup<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let store = Arc::clone(&self.store);
        let retry_after = self.retry_after;
        let ids = req.extensions().get::<Event>().map(|e| {
            let key = DedupKey::new(e.source(), e.id());
            (key, e.id().clone(), Arc::clone(e.source_arc()))
        });
        Box::pin(async move {
            let Some((key, id, source)) = ids else {
                return Ok(Rejection::Misconfigured.into_response());
            };
            let started = Instant::now();
            let claimed = store.claim(key).await;
            observe::stage(observe::Stage::Dedup, started);
            let claim = match claimed {
                Ok(Claimed::New(claim)) => claim,
                Ok(Claimed::Duplicate) => {
                    tracing::debug!(%id, "duplicate event");
                    metrics::counter!(observe::DEDUP_HITS, "source" => source).increment(1);
                    return Ok(answer::duplicate(&id));
                }
                Ok(Claimed::InFlight) => {
                    return Ok(Rejection::InFlight(retry_after).into_response());
                }
                Err(error) => {
                    tracing::warn!(%source, %id, %error, "dedup store unavailable; refusing the event");
                    return Ok(Rejection::Unavailable(retry_after).into_response());
                }
            };
            let guard = ClaimGuard {
                store,
                claim: Some(claim),
            };
            // An error from the inner service drops the guard, which releases the claim.
            let started = Instant::now();
            let response = inner.call(req).await?;
            observe::stage(observe::Stage::Handoff, started);
            let remembered = response.extensions().get::<Remembered>().copied();
            guard
                .finish(response.status().is_success(), remembered)
                .await;
            Ok(response.map(ResponseBody::inner))
        })
    }
}

/// Applies [`Dedup`] to a service; see the [module docs](self).
#[derive(Clone)]
pub struct DedupLayer {
    store: Arc<dyn DedupStore>,
    retry_after: Duration,
}

impl DedupLayer {
    /// Deduplicate through `store`.
    pub fn new(store: impl DedupStore) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Deduplicate through a shared store (several sources can share one).
    pub fn from_shared(store: Arc<dyn DedupStore>) -> Self {
        Self {
            store,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// What `Retry-After` tells the sender on 409 and 503.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }
}

impl fmt::Debug for DedupLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DedupLayer")
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for DedupLayer {
    type Service = Dedup<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Dedup::new(inner, Arc::clone(&self.store), self.retry_after)
    }
}

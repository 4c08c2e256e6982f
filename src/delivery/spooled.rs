//! [`Spooled`]: the durable mode for library users, wired in one place.
//!
//! Durable mode needs three parts that must agree: a [`SpoolSink`] that persists events and
//! their pending deliveries before the 202, a dedup store on the same spool (so duplicates are
//! recognised across restarts), and a [`Deliverer`] that runs the deliveries afterwards. This
//! builder makes all three from one description of where events go.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use hookgate::{Event, Pipeline, Router, Secret, Source};
//! use hookgate::profile::Profile;
//! use hookgate::delivery::Spooled;
//! use hookgate::spool::Spool;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = std::env::temp_dir().join(format!("hookgate-doc-spooled-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let spool = Arc::new(Spool::open(&dir).unwrap());
//! let router = Router::new().on("ALERT_*", |event: Event| async move {
//!     println!("alert {}", event.id());
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! let spooled = Spooled::new(Arc::clone(&spool)).handlers("handlers", router).build();
//! // The deliverer runs the handlers after the 202, retrying failures, until shutdown.
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let deliverer = tokio::spawn(Arc::clone(&spooled.deliverer).run(async { let _ = stopped.await; }));
//!
//! let secret = Secret::new(b"0123456789abcdef".to_vec(), "example").unwrap();
//! let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);
//! let svc = Pipeline::new(source.clone())
//!     .dedup_shared(spooled.dedup.clone())
//!     .service(spooled.sink.clone());
//!
//! let body = r#"{"eventType":"ALERT_TRIGGERED","timestamp":"2024-01-15T10:30:00Z","data":{"uid":"a1"}}"#;
//! let (name, signature) = source.scheme().sign(body.as_bytes()).unwrap();
//! let req = Request::post("/").header(&name, &signature).body(Full::new(Bytes::from(body))).unwrap();
//! // 202 once the event is on disk; the handler runs afterwards.
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::ACCEPTED);
//! # let _ = stop.send(()); deliverer.await.unwrap();
//! # drop(spooled); drop(spool); let _ = std::fs::remove_dir_all(&dir);
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Deliverer, Destination, RetryPolicy, RouterDestination};
use crate::dedup::{DEFAULT_RETRY_AFTER, DedupStore};
use crate::route::Router;
use crate::spool::{DurableStore, Spool, SpoolLimits, SpoolRoute, SpoolSink};

/// Builder of the durable mode's parts; see the [module docs](self).
pub struct Spooled {
    spool: Arc<Spool>,
    routes: Vec<SpoolRoute>,
    destinations: HashMap<String, Arc<dyn Destination>>,
    policy: RetryPolicy,
    dedup_ttl: Duration,
    in_flight_ttl: Duration,
    retry_after: Duration,
    limits: SpoolLimits,
}

/// What [`Spooled::build`] makes.
#[derive(Clone)]
pub struct SpooledParts {
    /// The innermost service of the pipeline: persists, then answers 202.
    pub sink: SpoolSink,
    /// The dedup store on the spool; give it to [`Pipeline::dedup_shared`](crate::Pipeline::dedup_shared).
    pub dedup: Arc<dyn DedupStore>,
    /// Runs the deliveries; spawn [`Deliverer::run`].
    pub deliverer: Arc<Deliverer>,
}

impl std::fmt::Debug for SpooledParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpooledParts")
            .field("sink", &self.sink)
            .field("deliverer", &self.deliverer)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Spooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spooled")
            .field("routes", &self.routes)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Spooled {
    /// Durable mode on `spool`, with default retry policy, dedup window and limits.
    pub fn new(spool: Arc<Spool>) -> Self {
        Self {
            spool,
            routes: Vec::new(),
            destinations: HashMap::new(),
            policy: RetryPolicy::default(),
            dedup_ttl: crate::dedup::memory::DEFAULT_TTL,
            in_flight_ttl: crate::dedup::memory::DEFAULT_IN_FLIGHT_TTL,
            retry_after: DEFAULT_RETRY_AFTER,
            limits: SpoolLimits::default(),
        }
    }

    /// Events whose type matches `pattern` go to `destination`, known as `name` in the
    /// delivery log (a name given twice keeps the first destination).
    pub fn to(
        mut self,
        pattern: impl Into<String>,
        name: impl Into<String>,
        destination: impl Destination,
    ) -> Self {
        let name = name.into();
        self.destinations
            .entry(name.clone())
            .or_insert_with(|| Arc::new(destination));
        self.routes.push(SpoolRoute::new(pattern, name));
        self
    }

    /// Events matching any of `router`'s patterns go to its handlers, run after the 202 as a
    /// destination named `name` ([`RouterDestination`]).
    pub fn handlers(self, name: impl Into<String>, router: Router) -> Self {
        let name = name.into();
        let patterns: Vec<String> = router.patterns().into_iter().map(str::to_owned).collect();
        let mut this = self;
        let destination = RouterDestination::new(router);
        for pattern in patterns {
            this = this.to(pattern, name.clone(), destination.clone());
        }
        this
    }

    /// When to retry and when to give up.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long accepted ids are remembered (default 72 h).
    pub fn dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = ttl;
        self
    }

    /// Refuse new events (503) while the spool holds this much.
    pub fn limits(mut self, limits: SpoolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// What `Retry-After` says when the spool refuses an event.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// The parts, wired to one another.
    pub fn build(self) -> SpooledParts {
        let deliverer = Arc::new(Deliverer::new(
            Arc::clone(&self.spool),
            self.destinations,
            self.policy,
        ));
        let sink = SpoolSink::new(
            Arc::clone(&self.spool),
            self.routes,
            self.dedup_ttl,
            self.retry_after,
        )
        .limits(self.limits);
        let dedup: Arc<dyn DedupStore> = Arc::new(DurableStore::new(
            self.spool,
            self.dedup_ttl,
            self.in_flight_ttl,
        ));
        SpooledParts {
            sink,
            dedup,
            deliverer,
        }
    }
}

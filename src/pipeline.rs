//! The whole verified-ingress stack for one source, as one [`Layer`].
//!
//! [`Pipeline`] composes the stages in the only safe order:
//!
//! ```text
//! Observe -> Acknowledge -> AnswerUnsignedCheck -> BodyLimit -> IngestLimit (failed)
//!     -> Authenticate -> IngestLimit (verified) -> Parse -> AnswerHandshake -> Validate
//!     -> Dedup -> (your service, usually a Router)
//! ```
//!
//! so the body is capped before it is buffered, verified before it is parsed, and claimed before
//! it is handled; a source with [ingest limits](Pipeline::ingest_limits) gets 429 past them, on
//! separate budgets for verified and refused requests ([`crate::rate`]); [`Observe`] wraps it all in a span and metrics per request. A sender's unsigned
//! endpoint check is answered before anything is read, its signed one after verification
//! ([`crate::handshake`]); [`Acknowledge`] gives successes the one status the sender counts,
//! if the source sets one. Each stage is also usable alone; see their modules.
//!
//! [`Pipeline::dry_run`] builds the checking stages alone, with nothing remembered or stored, and
//! records how far a request got through them ([`dry_run`]): what the admin API's source test
//! runs.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use hookgate::{Event, Pipeline, Router, Secret, Source};
//! use hookgate::profile::Profile;
//! use tower::{Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = Secret::new(b"0123456789abcdef".to_vec(), "example").unwrap();
//! let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);
//! let router = Router::new().on("ALERT_*", |event: Event| async move {
//!     assert_eq!(event.kind().as_str(), "ALERT_TRIGGERED");
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! let svc = Pipeline::new(source.clone()).layer(router);
//!
//! let body = r#"{"eventType":"ALERT_TRIGGERED","timestamp":"2024-01-15T10:30:00Z","data":{"uid":"a1"}}"#;
//! let (name, signature) = source.scheme().sign(body.as_bytes()).unwrap();
//! let req = || Request::post("/hooks/ninja").header(&name, &signature)
//!     .body(Full::new(Bytes::from(body))).unwrap();
//!
//! assert_eq!(svc.clone().oneshot(req()).await.unwrap().status(), StatusCode::ACCEPTED);
//! assert_eq!(svc.oneshot(req()).await.unwrap().status(), StatusCode::OK); // duplicate
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use crate::ack::{Acknowledge, AcknowledgeLayer};
use crate::answer::DEFAULT_RETRY_AFTER;
use crate::auth::{Authenticate, AuthenticateLayer, Decompress, ReplayGuard};
use crate::body::DEFAULT_MAX_BODY_BYTES;
use crate::dedup::{Dedup, DedupLayer, DedupStore, MemoryStore};
use crate::handshake::{
    AnswerHandshake, AnswerHandshakeLayer, AnswerUnsignedCheck, AnswerUnsignedCheckLayer,
};
use crate::limit::{BodyLimit, BodyLimitLayer};
use crate::observe::{Observe, ObserveLayer};
use crate::parse::{Parse, ParseLayer};
use crate::rate::{IngestLimit, IngestLimitLayer, IngestLimits};
use crate::source::Source;
#[cfg(feature = "schema")]
use crate::spec::SpecValidator;
use crate::validate::{Validate, ValidateLayer, Validator};

pub mod dry_run;

pub use self::dry_run::{DryRunLayer, DryRunService, DryRunStage, DryRunTrail};

/// The service a [`Pipeline`] builds around `S`.
pub type PipelineService<S> = Observe<
    Acknowledge<
        AnswerUnsignedCheck<
            BodyLimit<
                IngestLimit<Authenticate<IngestLimit<Parse<AnswerHandshake<Validate<Dedup<S>>>>>>>,
            >,
        >,
    >,
>;

/// Builder and [`Layer`] for the full stack of one source; see the [module docs](self).
#[derive(Clone)]
pub struct Pipeline {
    source: Source,
    max_body_bytes: usize,
    decompress: Option<Decompress>,
    validator: Arc<dyn Validator>,
    dedup: Arc<dyn DedupStore>,
    retry_after: Duration,
    // One replay cache per pipeline, shared by every service it builds.
    replay: ReplayGuard,
    // One pair of budgets per pipeline, shared likewise.
    ingest: Option<Arc<IngestLimits>>,
}

impl Pipeline {
    /// A pipeline for `source` with a 1 MiB body cap, validation against the source's spec (if
    /// it has one), and its own in-memory dedup store.
    pub fn new(source: Source) -> Self {
        #[cfg(feature = "schema")]
        let validator: Arc<dyn Validator> = match source.spec() {
            Some(spec) => Arc::new(
                SpecValidator::new(Arc::clone(spec), source.unknown_events_policy())
                    .mode(source.validation_mode()),
            ),
            None => Arc::new(|_: &crate::Event| Ok(())),
        };
        // Without the `schema` feature no source has a spec; `validate_with` sets a validator.
        #[cfg(not(feature = "schema"))]
        let validator: Arc<dyn Validator> = Arc::new(|_: &crate::Event| Ok(()));
        Self {
            source,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            decompress: None,
            validator,
            dedup: Arc::new(MemoryStore::new()),
            retry_after: DEFAULT_RETRY_AFTER,
            replay: ReplayGuard::default(),
            ingest: None,
        }
    }

    /// Refuse bodies over `max` bytes with 413.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Accept `gzip` and `deflate` bodies, inflated under `decompress`'s cap and verified on the
    /// inflated bytes (the body cap applies to the compressed bytes). Off by default: compressed
    /// bodies are 415. See [`decode`](crate::auth::decode).
    pub fn decompress(mut self, decompress: Decompress) -> Self {
        self.decompress = Some(decompress);
        self
    }

    /// Check events with `validator` (422 when they do not fit), instead of the source's spec.
    pub fn validator(mut self, validator: impl Validator) -> Self {
        self.validator = Arc::new(validator);
        self
    }

    /// Deduplicate through `store`.
    pub fn dedup(self, store: impl DedupStore) -> Self {
        self.dedup_shared(Arc::new(store))
    }

    /// Deduplicate through a store shared with other pipelines.
    pub fn dedup_shared(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = store;
        self
    }

    /// What `Retry-After` tells the sender when the same event is in flight (409).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Limit how fast the source may send: verified requests and refused (401) ones each get
    /// their own budget; past it, 429 with `Retry-After`. See [`crate::rate`].
    pub fn ingest_limits(mut self, limits: IngestLimits) -> Self {
        self.ingest = Some(Arc::new(limits));
        self
    }

    /// Remember accepted signatures (timestamped schemes) in `guard`, shared with whoever else
    /// holds it (by default each pipeline has its own).
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay = guard;
        self
    }

    /// Wrap `inner` in the pipeline (the same as [`Layer::layer`], without importing the trait).
    pub fn service<S>(&self, inner: S) -> PipelineService<S> {
        Layer::layer(self, inner)
    }

    /// The source this pipeline verifies.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The same checking stages with no effect beyond the answer, and a record of how far a
    /// request got: for trying a request out (the admin API's source test). See [`dry_run`].
    pub fn dry_run(&self) -> DryRunLayer {
        DryRunLayer::new(self.clone())
    }
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("source", &self.source)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for Pipeline {
    type Service = PipelineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let dedup = DedupLayer::from_shared(Arc::clone(&self.dedup))
            .retry_after(self.retry_after)
            .layer(inner);
        let validate = self.validate_layer().layer(dedup);
        let handshake = self.handshake_layer().layer(validate);
        let parse = self.parse_layer().layer(handshake);
        let verified = IngestLimitLayer::verified(self.ingest.clone()).layer(parse);
        let auth = self.authenticate_layer(self.replay.clone()).layer(verified);
        let failed = IngestLimitLayer::failed(self.ingest.clone()).layer(auth);
        let limit = self.limit_layer().layer(failed);
        let check = AnswerUnsignedCheckLayer::new(
            self.source.handshake_kind(),
            Some(Arc::clone(self.source.scheme())),
        )
        .layer(limit);
        let ack = AcknowledgeLayer::new(self.source.ack()).layer(check);
        ObserveLayer::new(Arc::clone(self.source.name())).layer(ack)
    }
}

// ===== the checking stages, as the source configures them =====
//
// One place builds each of them, for the pipeline and for its dry run alike.

impl Pipeline {
    fn limit_layer(&self) -> BodyLimitLayer {
        BodyLimitLayer::new(self.max_body_bytes)
    }

    fn authenticate_layer(&self, replay: ReplayGuard) -> AuthenticateLayer {
        let auth =
            AuthenticateLayer::from_shared(Arc::clone(self.source.scheme())).replay_guard(replay);
        match self.decompress {
            Some(decompress) => auth.decompress(decompress),
            None => auth,
        }
    }

    fn parse_layer(&self) -> ParseLayer {
        ParseLayer::from_shared(
            Arc::clone(self.source.name()),
            Arc::clone(self.source.shape()),
        )
    }

    fn handshake_layer(&self) -> AnswerHandshakeLayer {
        AnswerHandshakeLayer::new(self.source.handshake_kind())
            .scheme(Arc::clone(self.source.scheme()))
    }

    fn validate_layer(&self) -> ValidateLayer {
        ValidateLayer::from_shared(Arc::clone(&self.validator))
    }
}

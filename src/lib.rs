//! hookgate: receive webhooks safely.
//!
//! hookgate sits where signed webhook events arrive. It refuses oversized bodies, verifies each
//! request's signature or token on the exact bytes received (in constant time, before anything
//! parses them), parses the JSON once, suppresses duplicates by event id, and hands each event to
//! the handlers for its type, answering the sender only when the event was handed off.
//!
//! It comes three ways: as tower layers for an existing hyper or axum app (this library), as the
//! standalone `hookgate serve` gateway, and as `hookgate gen`, a generator of typed receiver
//! crates from a sender's OpenAPI document ([`codegen`]).
//!
//! # Quick start
//!
//! ```no_run
//! use hookgate::{Event, Gateway, Pipeline, Router, Secret, Source};
//! use hookgate::profile::Profile;
//! use tower::Layer;
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let secret = Secret::new(std::env::var("NINJA_SECRET").unwrap_or_default(), "env:NINJA_SECRET")
//!     .expect("NINJA_SECRET must hold at least 16 bytes");
//! let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);
//! let router = Router::new().on("ALERT_*", |event: Event| async move {
//!     println!("{} {}", event.kind(), event.json());
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! let gateway = Gateway::new().mount("/hooks/ninja", Pipeline::new(source).layer(router));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! hookgate::server::serve(listener, gateway, Default::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! }).await
//! # }
//! ```
//!
//! # Layout
//!
//! The modules stand in layers. A module uses its own layer and the ones below it, never one
//! above, and no two modules depend on each other in a circle; `tests/layers.rs` checks both, and
//! this list too. The data flows one way: request, stages, sinks. `ARCHITECTURE.md` at the
//! repository root has the picture, the data flow and the crates these layers become.
//!
//! **Layer 0: leaf.** Helpers that import nothing of hookgate.
//!
//! * `tree` (crate-private): one parse of the verified bytes into a tree every later stage reads.
//! * [`glob`]: the one event-type glob matcher (routes, spool routes, specs, dry runs).
//! * [`clock`]: the one wall clock, milliseconds since the Unix epoch.
//!
//! **Layer 1: vocabulary.** The types every stage speaks.
//!
//! * [`observe`]: one tracing span and one set of metrics per request; the answer codes.
//! * [`rejection`]: every early answer (401, 413, 415, 400, 422, 409, 503), in one place.
//! * [`body`]: the body every layer answers with; reading a request body under a cap.
//! * [`future`]: the response future of the stages that answer early or call the inner service.
//! * [`event`]: the verified [`Event`] that handlers receive.
//! * [`answer`]: the answers that are not rejections: 202 accepted and 200 duplicate.
//!
//! **Layer 2: seams.** What the stages call out to.
//!
//! * [`validate`]: Validate, the schema check seam (422).
//! * [`handler`]: the handler seam: what a handler takes ([`FromEvent`]) and how it fails
//!   ([`HandlerError`]).
//!
//! **Layer 3: stages.** One tower layer each; [`pipeline`] stacks them.
//!
//! * [`limit`]: BodyLimit, 413 past a cap, before buffering.
//! * [`rate`]: IngestLimit, a source's rate limits: 429 past them, verified and refused requests
//!   on separate budgets.
//! * [`auth`]: Authenticate, signatures and tokens on the raw bytes; one signature engine for
//!   every sender ([`auth::signature`]), secrets with expiry, timestamp windows, the replay cache.
//! * [`parse`]: Parse, JSON once, event type and id into an [`Event`].
//! * [`handshake`]: a sender's endpoint check: AnswerHandshake for the signed ones (Slack,
//!   Zoom), AnswerUnsignedCheck before verification for the rest (Microsoft Graph, Okta,
//!   Dropbox).
//! * [`ack`]: Acknowledge, the one success status a sender counts (`ack_status`).
//! * [`dedup`]: Dedup, the two-phase claim/commit/release protocol and its stores.
//! * [`spec`]: OpenAPI webhook specs, loaded and compiled into validators.
//!
//! **Layer 4: routing.** From an event to the code that handles it.
//!
//! * [`route`]: Router, event types and globs to async handlers; [`route::filter`], the one
//!   matcher of routes' conditions on content (body pointers, headers).
//! * [`typed`]: handlers that take Rust types instead of loose JSON (422 when it does not fit).
//!
//! **Layer 5: profiles.** What each sender's requests look like.
//!
//! * [`profile`]: sender presets (the seeds ninjaone, ninjarmm, webnet, homa, opscenter; the
//!   presets standard-webhooks, github, stripe, slack, shopify, zoom, microsoft-graph, okta,
//!   dropbox; generic) and their built-in specs.
//! * [`source`]: a configured [`Source`]: one endpoint, made from a profile or from parts.
//! * [`senders`]: Rust types for every event of the built-in senders (generated).
//!
//! **Layer 6: core-assembly.** The stages put together: all an embedding app needs.
//!
//! * [`pipeline`]: all of the stages for one source, in the safe order, as one layer.
//! * [`gateway`]: many sources on one listener, by path.
//! * [`health`]: `/healthz` and `/readyz`.
//! * [`server`]: hyper server with timeouts and graceful shutdown.
//! * [`send`]: post a signed sample event, as a sender would.
//! * [`diagnose`]: why a captured request verifies or not, offline.
//!
//! **Layer 7: storage.**
//!
//! * [`spool`]: the embedded durable store (group commit), for events and dedup state.
//!
//! **Layer 8: delivery.**
//!
//! * [`delivery`]: from the spool to destinations (log, HTTP(S) upstream, NATS, Redis streams,
//!   in-process handlers), retries, dead letters; destination controls (pause, `max_in_flight`,
//!   `rate`, circuit breakers) and alerts.
//! * [`client`]: the outbound HTTP(S) client.
//!
//! **Layer 9: codegen.**
//!
//! * [`codegen`]: `hookgate gen`, a typed receiver crate from a spec.
//!
//! **Layer 10: config.**
//!
//! * [`config`]: the TOML configuration of `hookgate serve` and its checks.
//!
//! **Layer 11: catalog.**
//!
//! * [`catalog`]: sources managed at runtime through the admin API, per tenant.
//!
//! **Layer 12: admin.**
//!
//! * [`admin`]: the admin API over the delivery log (list, show, replay, dead letters, purge)
//!   and the sources.
//! * [`metrics`]: the Prometheus exporter behind `/metrics`, and the list of every metric.
//!
//! **Layer 13: gateway-app.** The gateway, assembled from a configuration.
//!
//! * [`app`]: builds a gateway from a configuration; the embedded default.
//! * [`serve`]: runs a built gateway with its deliverer, admin API and retention until shutdown.
//! * [`ninjaone`]: registering a source with NinjaOne's Public API (`hookgate ninjaone`).
//!
//! Above them all, the `hookgate` binary (`src/bin/`): arguments, logging, metrics export, the
//! start-up banner and exit codes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ack;
#[cfg(feature = "gateway")]
pub mod admin;
pub mod answer;
#[cfg(feature = "gateway")]
pub mod app;
pub mod auth;
pub mod body;
#[cfg(feature = "gateway")]
pub mod catalog;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
#[cfg(feature = "codegen")]
pub mod codegen;
#[cfg(feature = "gateway")]
pub mod config;
pub mod dedup;
#[cfg(feature = "delivery")]
pub mod delivery;
pub mod diagnose;
pub mod event;
pub mod future;
pub mod gateway;
pub mod glob;
pub mod handler;
pub mod handshake;
pub mod health;
pub mod limit;
#[cfg(feature = "gateway")]
pub mod metrics;
#[cfg(feature = "gateway")]
pub mod ninjaone;
pub mod observe;
pub mod parse;
pub mod pipeline;
pub mod profile;
pub mod rate;
pub mod rejection;
pub mod route;
pub mod send;
#[cfg(feature = "senders")]
pub mod senders;
#[cfg(feature = "gateway")]
pub mod serve;
#[cfg(feature = "server")]
pub mod server;
pub mod source;
#[cfg(feature = "schema")]
pub mod spec;
#[cfg(feature = "spool")]
pub mod spool;
pub(crate) mod tree;
pub mod typed;
pub mod validate;

pub use crate::auth::{Secret, SecretRef};
pub use crate::event::{Event, EventId, EventKind, Verified};
pub use crate::gateway::Gateway;
pub use crate::handler::{FromEvent, Handler, HandlerError};
pub use crate::pipeline::Pipeline;
pub use crate::profile::Profile;
pub use crate::rejection::{Problem, Rejection};
pub use crate::route::Router;
pub use crate::source::Source;
pub use crate::typed::{Typed, TypedEvent};

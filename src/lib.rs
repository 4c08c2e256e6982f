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
//! use hookgate::source::Profile;
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
//! * [`limit`]: BodyLimit, 413 past a cap, before buffering.
//! * [`auth`]: Authenticate, signatures and tokens on the raw bytes; one signature engine for
//!   every sender ([`auth::signature`]), secrets with expiry, timestamp windows, the replay cache.
//! * [`parse`]: Parse, JSON once, event type and id into an [`Event`].
//! * [`handshake`]: a sender's endpoint check: AnswerHandshake for the signed ones (Slack,
//!   Zoom), AnswerUnsignedCheck before verification for the rest (Microsoft Graph, Okta,
//!   Dropbox).
//! * [`ack`]: Acknowledge, the one success status a sender counts (`ack_status`).
//! * [`validate`]: Validate, the schema check seam (422).
//! * [`dedup`]: Dedup, the two-phase claim/commit/release protocol and its stores.
//! * [`route`]: Router, event types and globs to async handlers.
//! * [`pipeline`]: all of the above for one source, in the safe order, as one layer.
//! * [`gateway`]: many sources on one listener, by path.
//! * [`source`]: sender profiles (the seeds ninjaone, ninjarmm, webnet, homa, opscenter; the
//!   presets standard-webhooks, github, stripe, slack, shopify, zoom, microsoft-graph, okta,
//!   dropbox; generic).
//! * [`sources`]: sources managed at runtime through the admin API, per tenant.
//! * [`config`]: the TOML configuration of `hookgate serve` and its checks.
//! * [`app`]: builds a gateway from a configuration; the embedded default.
//! * [`serve`]: runs a built gateway with its deliverer, admin API and retention until shutdown.
//! * [`server`]: hyper server with timeouts and graceful shutdown.
//! * [`send`]: post a signed sample event, as a sender would.
//! * [`typed`], [`senders`]: Rust types for every event of the built-in senders.
//! * [`spec`]: OpenAPI webhook specs, loaded and compiled into validators.
//! * [`codegen`]: `hookgate gen`, a typed receiver crate from a spec.
//! * [`spool`]: the embedded durable store (group commit), for events and dedup state.
//! * [`delivery`]: from the spool to destinations (log, HTTP(S) upstream, in-process
//!   handlers), retries, dead letters.
//! * [`admin`]: the admin API over the delivery log (list, show, replay, dead letters, purge).
//! * [`client`]: the outbound HTTP(S) client.
//! * [`ninjaone`]: registering a source with NinjaOne's Public API (`hookgate ninjaone`).
//! * [`rejection`], [`answer`], [`body`], [`event`]: the shared vocabulary.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ack;
pub mod admin;
pub mod answer;
pub mod app;
pub mod auth;
pub mod body;
pub mod client;
pub mod codegen;
pub mod config;
pub mod dedup;
pub mod delivery;
pub mod diagnose;
pub mod event;
pub mod future;
pub mod gateway;
pub mod handshake;
pub mod health;
pub mod limit;
pub mod ninjaone;
pub mod observe;
pub mod parse;
pub mod pipeline;
pub mod rejection;
pub mod route;
pub mod send;
pub mod senders;
pub mod serve;
pub mod server;
pub mod source;
pub mod sources;
pub mod spec;
pub mod spool;
pub(crate) mod tree;
pub mod typed;
pub mod validate;

pub use crate::auth::{Secret, SecretRef};
pub use crate::event::{Event, EventId, EventKind, Verified};
pub use crate::gateway::Gateway;
pub use crate::pipeline::Pipeline;
pub use crate::rejection::{Problem, Rejection};
pub use crate::route::{FromEvent, Handler, HandlerError, Router};
pub use crate::source::{Profile, Source};
pub use crate::typed::{Typed, TypedEvent};

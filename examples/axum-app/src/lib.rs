//! An existing axum app that receives NinjaOne webhooks with hookgate's core.
//!
//! [`app`] mounts one [`Pipeline`] beside ordinary routes: every request to `/hooks/ninja` is
//! size-capped, its signature verified on the raw bytes, its body parsed once and validated
//! against NinjaOne's spec, deduplicated by event id in memory, and routed to typed handlers
//! ([`AlertTriggeredEvent`]) or a catch-all. The hook route answers exactly as `hookgate serve`
//! does (202, 200 duplicate, 401, 413, 422, ...): every refusal is a response, so nothing needs
//! axum's `HandleErrorLayer`.
//!
//! The crate depends on hookgate with `default-features = false, features = ["schema",
//! "senders"]`: the core, no storage, brokers or gateway.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::get;
use hookgate::profile::Profile;
use hookgate::senders::ninjaone::AlertTriggeredEvent;
use hookgate::{Event, Pipeline, Router, Secret, Source, Typed};
use tower::Layer;

/// What the app has received, shown at `/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    /// `ALERT_TRIGGERED` events, decoded into their Rust type.
    pub alerts: AtomicU64,
    /// Every event, whatever its type (the catch-all route sees alerts too).
    pub events: AtomicU64,
}

/// The app: `/health`, `/stats`, and NinjaOne's webhooks at `/hooks/ninja`, verified with
/// `secret`.
pub fn app(secret: Secret, stats: Arc<Stats>) -> axum::Router {
    let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);

    let on_alert = Arc::clone(&stats);
    let on_any = Arc::clone(&stats);
    let events = Router::new()
        .typed(move |alert: Typed<AlertTriggeredEvent>| {
            let stats = Arc::clone(&on_alert);
            async move {
                stats.alerts.fetch_add(1, Ordering::Relaxed);
                println!(
                    "alert {:?} on device {:?}: {:?}",
                    alert.data.severity, alert.data.device_id, alert.data.message
                );
                Ok::<_, std::convert::Infallible>(())
            }
        })
        .on("*", move |event: Event| {
            let stats = Arc::clone(&on_any);
            async move {
                stats.events.fetch_add(1, Ordering::Relaxed);
                println!("event {} ({})", event.kind(), event.id());
                Ok::<_, std::convert::Infallible>(())
            }
        });

    axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/stats",
            get(move || {
                let stats = Arc::clone(&stats);
                async move {
                    format!(
                        "alerts: {}\nevents: {}\n",
                        stats.alerts.load(Ordering::Relaxed),
                        stats.events.load(Ordering::Relaxed)
                    )
                }
            }),
        )
        .route_service("/hooks/ninja", Pipeline::new(source).layer(events))
}

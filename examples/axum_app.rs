//! Mount hookgate's verified pipeline in an existing axum app, beside ordinary routes.
//!
//! ```sh
//! NINJA_SECRET=0123456789abcdef0123 cargo run --example axum_app
//! # in another terminal:
//! cargo run -- send ninjaone --url http://127.0.0.1:3000/hooks/ninja --secret env:NINJA_SECRET
//! curl http://127.0.0.1:3000/health
//! ```
//!
//! The hook route answers exactly like `hookgate serve` (202, 200 duplicate, 401, 413, ...): every
//! stage's refusal is a response, so nothing needs `HandleErrorLayer`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::get;
use hookgate::source::Profile;
use hookgate::{Event, Pipeline, Router, Secret, Source};
use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::new(
        std::env::var("NINJA_SECRET").map_err(|_| "set NINJA_SECRET (at least 16 bytes)")?,
        "env:NINJA_SECRET",
    )?;
    let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret]);

    let alerts = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&alerts);
    let events = Router::new()
        .on("ALERT_*", move |event: Event| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                println!(
                    "alert {} at {:?}: {}",
                    event.id(),
                    event.received_at(),
                    event.json()["data"]
                );
                Ok::<_, std::convert::Infallible>(())
            }
        })
        .on("*", |event: Event| async move {
            println!("other event {} ({})", event.kind(), event.id());
            Ok::<_, std::convert::Infallible>(())
        });

    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/stats",
            get(move || {
                let alerts = Arc::clone(&alerts);
                async move { format!("alerts: {}\n", alerts.load(Ordering::Relaxed)) }
            }),
        )
        .route_service("/hooks/ninja", Pipeline::new(source).layer(events));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

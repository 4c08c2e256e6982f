//! What the throughput benches share: 64 signed, distinct Homa events accepted concurrently
//! through a gateway's `oneshot`, timed together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use hookgate::gateway::Gateway;
use http_body_util::Full;
use tokio::time::Instant;
use tower::ServiceExt;

/// Requests in flight per iteration (group commit only pays when requests are concurrent).
pub const IN_FLIGHT: u64 = 64;

/// `iters` rounds of [`IN_FLIGHT`] new events posted at once to `/hooks/homa`, each answered 202;
/// only the answering is timed (building and signing the requests is not).
pub fn accept_rounds(
    runtime: &tokio::runtime::Runtime,
    gateway: &Gateway<Full<Bytes>>,
    source: &hookgate::Source,
    counter: &AtomicU64,
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let requests: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    r#"{{"event":"ticket.closed","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{n},"closed_at":"2026-01-01T00:00:00Z"}}}}"#
                );
                hookgate::send::signed_request(source, "http://bench/hooks/homa", Bytes::from(body))
                    .expect("request")
            })
            .collect();
        let start = Instant::now();
        runtime.block_on(async {
            let answers = join_all(requests.into_iter().map(|r| gateway.clone().oneshot(r))).await;
            for answer in answers {
                assert_eq!(answer.expect("infallible").status(), 202);
            }
        });
        total += start.elapsed();
    }
    total
}

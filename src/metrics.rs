//! The Prometheus exporter of `hookgate serve`: the recorder, its `/metrics` text, and the list
//! of every metric hookgate emits.
//!
//! The stages emit through the [`metrics`] facade only ([`observe`] names the
//! metrics); which exporter collects them is the application's choice. This module is the
//! gateway's: [`install_prometheus`] at start-up, [`render_prometheus`] behind the admin
//! listener's `/metrics`. It sits below the admin API that serves it and above everything it
//! measures.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::observe;

/// Every metric hookgate emits: name, type, labels, meaning.
pub const METRICS: &[(&str, &str, &str, &str)] = &[
    (
        observe::REQUESTS,
        "counter",
        "source, outcome",
        "webhook requests by answer",
    ),
    (
        observe::REQUEST_DURATION,
        "histogram",
        "source",
        "seconds from request to answer",
    ),
    (
        observe::STAGE_DURATION,
        "histogram",
        "stage",
        "seconds spent in each stage",
    ),
    (
        observe::DEDUP_HITS,
        "counter",
        "source",
        "replays answered 200 duplicate",
    ),
    (
        observe::DELIVERIES,
        "counter",
        "destination, result",
        "delivery attempts by result",
    ),
    (
        observe::RETRIES,
        "counter",
        "destination",
        "retries scheduled",
    ),
    (
        observe::DEAD_LETTERS,
        "counter",
        "destination",
        "deliveries given up on",
    ),
    (
        observe::SPOOL_PENDING,
        "gauge",
        "",
        "deliveries waiting in the spool",
    ),
    (
        observe::SPOOL_OLDEST_AGE,
        "gauge",
        "",
        "age of the oldest pending delivery, seconds",
    ),
    (
        observe::SPOOL_FREE_BYTES,
        "gauge",
        "",
        "free bytes on the spool's filesystem",
    ),
    (
        observe::DESTINATION_PAUSED,
        "gauge",
        "destination",
        "1 while the destination is paused",
    ),
    (
        observe::DESTINATION_IN_FLIGHT,
        "gauge",
        "destination",
        "deliveries in flight to the destination",
    ),
    (
        observe::DESTINATION_CIRCUIT,
        "gauge",
        "destination, state",
        "1 for the circuit breaker's state (closed, open, half_open), 0 for the others",
    ),
    (
        observe::CIRCUIT_TRANSITIONS,
        "counter",
        "destination, to",
        "circuit breaker transitions",
    ),
    (
        observe::WAITING,
        "gauge",
        "destination",
        "deliveries waiting behind an earlier one of their ordering key, or a blocked key",
    ),
    (
        observe::BLOCKED_KEYS,
        "gauge",
        "destination",
        "ordering keys held back by a dead letter",
    ),
    (
        observe::UNKNOWN_ENUM_VALUES,
        "counter",
        "place",
        "values of extensible enums the spec does not list",
    ),
    (
        observe::SCHEMA_MISMATCHES,
        "counter",
        "source, type, path",
        "mismatches with the spec in events accepted anyway",
    ),
];

/// Bucket bounds (seconds) of every duration histogram: 100 µs to 10 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install a Prometheus recorder as the process's [`metrics`] recorder (once; later
/// calls do nothing), so that [`render_prometheus`] has something to render. `hookgate serve`
/// calls it at start-up. It fails when another recorder is already installed.
pub fn install_prometheus() -> Result<(), String> {
    if PROMETHEUS.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))?;
    // Histograms are kept in buckets that upkeep folds in; without it they would only grow.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("hookgate-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| format!("cannot start the metrics upkeep: {e}"))?;
    let _ = PROMETHEUS.set(handle);
    observe::cache_metric_handles();
    Ok(())
}

/// Every metric in the Prometheus text format, if [`install_prometheus`] was called.
pub fn render_prometheus() -> Option<String> {
    PROMETHEUS.get().map(PrometheusHandle::render)
}

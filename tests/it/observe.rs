//! Issue 9: metrics and health of a real `hookgate serve`. A scripted mix of good and bad
//! requests goes in; `/metrics` on the admin listener must count each outcome exactly, and the
//! probes must answer on both listeners.

use std::collections::HashMap;

use bytes::Bytes;
use hookgate::Source;
use http::StatusCode;
use serde_json::Value;

use crate::running::{Running, admin_call, forger, homa, homa_config, post_signed};

const SECRET: &str = "observe-test-sender-secret-0123456789";
const TOKEN: &str = "observe-test-token-abcdefghijklmnop";
const TOKEN_ENV: &str = "HOOKGATE_IT_OBSERVE_TOKEN";

async fn get(url: &str, token: Option<&str>) -> (StatusCode, String) {
    admin_call("GET", url, token).await
}

/// `name{labels} value` lines of a Prometheus text page, keyed by `name{labels}` with the labels
/// sorted, so that `hookgate_requests_total{outcome="accepted",source="homa"}` is one key.
pub(crate) fn samples(page: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        if let Ok(value) = value.parse() {
            out.insert(key, value);
        }
    }
    out
}

/// `hookgate_requests_total{source, outcome}` in `samples` (0 when the series is absent).
pub(crate) fn requests_total(samples: &HashMap<String, f64>, source: &str, outcome: &str) -> f64 {
    samples
        .get(&format!(
            r#"hookgate_requests_total{{outcome="{outcome}",source="{source}"}}"#
        ))
        .copied()
        .unwrap_or(0.0)
}

fn ticket(id: u64, priority: &str, status: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{id},"title":"t","priority":"{priority}","status":"{status}"}}}}"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_outcome_of_a_scripted_mix_and_the_probes_answer() {
    let config = homa_config(
        Some(TOKEN_ENV),
        "max_body_bytes = 4096\n[[route]]\nto = \"log\"",
    );
    let gateway = Running::start("observe", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let admin = gateway.admin();
    let url = gateway.url("/hooks/homa");
    let source = homa(SECRET);
    let forger = forger();
    let post = |source: &Source, body: Bytes| {
        let url = url.clone();
        let source = source.clone();
        async move { post_signed(&source, &url, body).await.status }
    };

    // The script: 3 accepted (one with a status the spec does not list yet), 2 replays, 2
    // forgeries, 1 too large, 1 off-schema, 1 not JSON.
    for id in 1..=2 {
        assert_eq!(
            post(&source, ticket(id, "low", "open")).await,
            StatusCode::ACCEPTED
        );
    }
    let novel = ticket(3, "low", "escalated_to_vendor");
    assert_eq!(post(&source, novel).await, StatusCode::ACCEPTED);
    for _ in 0..2 {
        assert_eq!(
            post(&source, ticket(1, "low", "open")).await,
            StatusCode::OK
        );
    }
    for id in 10..12 {
        assert_eq!(
            post(&forger, ticket(id, "low", "open")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let huge = Bytes::from(format!(r#"{{"pad":"{}"}}"#, "x".repeat(8192)));
    assert_eq!(post(&source, huge).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        post(&source, ticket(20, "whenever", "open")).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post(&source, Bytes::from_static(b"{not json")).await,
        StatusCode::BAD_REQUEST
    );

    // /metrics needs the admin token.
    let (status, _) = get(&format!("{admin}/metrics"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, page) = get(&format!("{admin}/metrics"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let samples = samples(&page);
    let count = |outcome: &str| requests_total(&samples, "homa", outcome);
    let expected = [
        ("accepted", 3.0),
        ("duplicate", 2.0),
        ("invalid_signature", 2.0),
        ("payload_too_large", 1.0),
        ("invalid_event", 1.0),
        ("malformed_json", 1.0),
    ];
    for (outcome, n) in expected {
        assert_eq!(count(outcome), n, "{outcome}:\n{page}");
    }
    let all: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("hookgate_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(all, 10.0, "no other outcome was counted:\n{page}");
    assert_eq!(
        samples.get(r#"hookgate_dedup_hits_total{source="homa"}"#),
        Some(&2.0),
        "{page}"
    );
    assert_eq!(
        samples.get(r#"hookgate_request_duration_seconds_count{source="homa"}"#),
        Some(&10.0),
        "{page}"
    );
    // Every stage that ran was timed: the body was read 9 times (the oversized one was refused
    // on its Content-Length), verified 9 times, parsed 7, validated 6, claimed 5, handed off 3.
    for (stage, n) in [
        ("read_body", 9.0),
        ("verify", 9.0),
        ("parse", 7.0),
        ("validate", 6.0),
        ("dedup", 5.0),
        ("handoff", 3.0),
    ] {
        assert_eq!(
            samples.get(&format!(
                r#"hookgate_stage_duration_seconds_count{{stage="{stage}"}}"#
            )),
            Some(&n),
            "{stage}:\n{page}"
        );
    }
    assert!(
        samples
            .iter()
            .any(|(k, v)| k.starts_with("hookgate_unknown_enum_values_total{") && *v == 1.0),
        "{page}"
    );
    assert!(samples.contains_key("hookgate_spool_pending"), "{page}");
    assert!(samples.contains_key("hookgate_spool_free_bytes"), "{page}");
    assert!(
        samples.contains_key("hookgate_spool_oldest_pending_age_seconds"),
        "{page}"
    );
    // Nothing of a secret or a body reaches the page.
    assert!(!page.contains(SECRET) && !page.contains("escalated_to_vendor"));

    // The probes: on the webhook listener and on the admin listener, no token needed.
    for base in [gateway.url(""), admin.clone()] {
        let (status, body) = get(&format!("{base}/healthz"), None).await;
        assert_eq!(status, StatusCode::OK, "{base}: {body}");
        let (status, body) = get(&format!("{base}/readyz"), None).await;
        assert_eq!(status, StatusCode::OK, "{base}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["ready"], true);
        let names: Vec<&str> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["config", "spool", "destination:log"], "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_and_names_the_broker_that_is_down() {
    // A port where no NATS server listens.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rest = format!(
        "[[route]]\nname = \"queue\"\nto = \"nats://{nowhere}\"\nsubject = \"hooks.{{source}}\"\n\
         [delivery]\ntimeout = \"500ms\""
    );
    let config = homa_config(None, &rest);
    let gateway = Running::start("ready", SECRET, &config, &[]);
    let base = gateway.url("");
    let (status, _) = get(&format!("{base}/healthz"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&format!("{base}/readyz"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ready"], false);
    let queue = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "destination:queue")
        .unwrap();
    assert_eq!(queue["ok"], false, "{body}");
    assert!(queue["error"].as_str().unwrap().contains("nats"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_span_without_bodies_or_secrets() {
    let config = homa_config(None, "[log]\nformat = \"json\"");
    let gateway = Running::start(
        "logs",
        SECRET,
        &config,
        &[("RUST_LOG", "info,hookgate=debug")],
    );
    let server = gateway.server();
    let source = homa(SECRET);
    let url = gateway.url("/hooks/homa");
    let body = ticket(77, "low", "open");
    let request = hookgate::send::signed_request(&source, &url, body).unwrap();
    assert_eq!(
        hookgate::client::post(request).await.unwrap().status,
        StatusCode::ACCEPTED
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let answered = loop {
        let lines = server.stderr_lines();
        if let Some(line) = lines.iter().find(|l| l.contains(r#""message":"answered""#)) {
            break line.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{lines:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let record: Value = serde_json::from_str(&answered).unwrap();
    let span = &record["span"];
    assert_eq!(span["name"], "webhook", "{answered}");
    assert_eq!(span["source"], "homa", "{answered}");
    assert_eq!(span["event_type"], "ticket.created", "{answered}");
    assert_eq!(span["outcome"], "accepted", "{answered}");
    assert!(
        span["event_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{answered}"
    );
    let log = server.stderr_lines().join("\n");
    assert!(
        !log.contains(SECRET) && !log.contains(r#""title":"t""#),
        "{log}"
    );
}

/// Only with `cargo test --features otel`: the request spans reach an OTLP/HTTP collector.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    // Any HTTP server that records what it is sent will do as a collector.
    let collector = crate::delivery::Upstream::default();
    let endpoint = collector.start_on("127.0.0.1:0").await.replace("/hook", "");
    let config = homa_config(None, "");
    let envs = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let gateway = Running::start("otlp", SECRET, &config, &envs);
    let source = homa(SECRET);
    let secret = SECRET;
    let url = gateway.url("/hooks/homa");
    let request = hookgate::send::signed_request(&source, &url, ticket(5, "low", "open")).unwrap();
    assert_eq!(
        hookgate::client::post(request).await.unwrap().status,
        StatusCode::ACCEPTED
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let exported = collector
            .received
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, body)| {
                let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
                has(b"webhook")
                    && has(b"homa")
                    && has(b"ticket.created")
                    && !has(secret.trim().as_bytes())
            });
        if exported {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no span was exported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

//! The NATS JetStream destination against the real NATS on 127.0.0.1:4222: what lands in the
//! stream, deduplication by `Nats-Msg-Id`, and retries when NATS or a stream is missing.
//!
//! Every test uses its own stream and subject prefix (process id and test name), and deletes
//! the stream it created.

use std::time::Duration;

use async_nats::jetstream;
use hookgate::delivery::nats::NatsDestination;
use hookgate::delivery::{Destination, Outcome};
use hookgate::spool::StoredEvent;
use tokio::time::Instant;

const URL: &str = "nats://127.0.0.1:4222";
const TIMEOUT: Duration = Duration::from_secs(5);

/// A stream name and subject prefix no other test (or test run) uses.
fn unique(test: &str) -> (String, String) {
    let pid = std::process::id();
    (
        format!("HOOKGATE_IT_{}_{pid}", test.to_ascii_uppercase()),
        format!("hookgate-it-{test}-{pid}"),
    )
}

fn event(id: &str) -> StoredEvent {
    StoredEvent {
        source: "homa".into(),
        id: id.into(),
        kind: "ticket.created".into(),
        received_at_ms: 1_700_000_000_123,
        content_type: Some("application/json; charset=utf-8".into()),
        headers: vec![("x-request-id".into(), "req-1".into())],
        // Not UTF-8, with a line break: the payload must be these bytes exactly.
        body: b"{\"ticket\":1}\r\n\x00\xff\xfe".to_vec(),
    }
}

async fn jetstream() -> jetstream::Context {
    jetstream::new(async_nats::connect(URL).await.unwrap())
}

async fn messages(js: &jetstream::Context, stream: &str) -> u64 {
    let mut stream = js.get_stream(stream).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn delivered_events_are_stored_once_with_body_and_headers() {
    if !crate::services::available("NATS", crate::services::NATS) {
        return;
    }
    let (stream_name, prefix) = unique("stored");
    let js = jetstream().await;
    let _ = js.delete_stream(&stream_name).await;
    let destination = NatsDestination::new(URL, &format!("{prefix}.{{source}}.{{event}}"), TIMEOUT)
        .unwrap()
        .stream(&stream_name, true, Duration::from_secs(120));

    let first = event("evt-1");
    let outcome = destination.deliver(&first).await;
    let after_first = messages(&js, &stream_name).await;
    let stream = js.get_stream(&stream_name).await.unwrap();
    let stored = stream.get_raw_message(1).await.unwrap();
    let subjects = stream.cached_info().config.subjects.clone();
    // The same event again (a retry after a lost acknowledgement): JetStream drops the repeat.
    let again = destination.deliver(&first).await;
    let after_again = messages(&js, &stream_name).await;
    let other = destination.deliver(&event("evt-2")).await;
    let after_other = messages(&js, &stream_name).await;
    js.delete_stream(&stream_name).await.unwrap();

    assert_eq!(outcome, Outcome::Delivered { status: None });
    assert_eq!(after_first, 1);
    assert_eq!(subjects, vec![format!("{prefix}.>")]);
    assert_eq!(
        stored.subject.as_str(),
        format!("{prefix}.homa.ticket.created")
    );
    assert_eq!(stored.payload.as_ref(), first.body.as_slice());
    let header = |name: &str| {
        stored
            .headers
            .get(name)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", stored.headers))
    };
    assert_eq!(header("Nats-Msg-Id"), "homa:evt-1");
    assert_eq!(header("X-Hookgate-Source"), "homa");
    assert_eq!(header("X-Hookgate-Event-Id"), "evt-1");
    assert_eq!(header("X-Hookgate-Event-Type"), "ticket.created");
    assert_eq!(header("X-Hookgate-Verified-At"), "2023-11-14T22:13:20.123Z");
    assert_eq!(header("Content-Type"), "application/json; charset=utf-8");
    // The sender's own headers are not forwarded.
    assert!(stored.headers.get("x-request-id").is_none());

    assert_eq!(again, Outcome::Delivered { status: None });
    assert_eq!(after_again, 1, "a repeated Nats-Msg-Id is stored once");
    assert_eq!(other, Outcome::Delivered { status: None });
    assert_eq!(after_other, 2);
}

#[tokio::test]
async fn odd_event_types_become_valid_subjects() {
    if !crate::services::available("NATS", crate::services::NATS) {
        return;
    }
    let (stream_name, prefix) = unique("sanitized");
    let js = jetstream().await;
    let _ = js.delete_stream(&stream_name).await;
    let destination = NatsDestination::new(URL, &format!("{prefix}.{{source}}.{{event}}"), TIMEOUT)
        .unwrap()
        .stream(&stream_name, true, Duration::from_secs(60));
    let mut odd = event("evt-odd");
    odd.source = "ho ma".into();
    odd.kind = "ticket *created*.>".into();
    odd.content_type = None;

    let outcome = destination.deliver(&odd).await;
    let stored = js
        .get_stream(&stream_name)
        .await
        .unwrap()
        .get_raw_message(1)
        .await;
    js.delete_stream(&stream_name).await.unwrap();

    assert_eq!(outcome, Outcome::Delivered { status: None });
    let stored = stored.unwrap();
    assert_eq!(
        stored.subject.as_str(),
        format!("{prefix}.ho_ma.ticket__created_._")
    );
    assert_eq!(
        stored
            .headers
            .get("X-Hookgate-Event-Type")
            .map(|v| v.as_str()),
        Some("ticket *created*.>")
    );
    assert!(stored.headers.get("Content-Type").is_none());
}

#[tokio::test]
async fn unreachable_nats_is_a_prompt_retry() {
    if !crate::services::available("NATS", crate::services::NATS) {
        return;
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (stream_name, prefix) = unique("down");
    let destination = NatsDestination::new(
        &format!("nats://127.0.0.1:{port}"),
        &format!("{prefix}.{{source}}.{{event}}"),
        Duration::from_secs(2),
    )
    .unwrap()
    .stream(&stream_name, true, Duration::from_secs(60));

    for _ in 0..2 {
        // Connecting is tried again on every delivery, and fails the same way.
        let started = Instant::now();
        let outcome = destination.deliver(&event("evt-1")).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        match outcome {
            Outcome::Retry {
                after: None,
                status: None,
                error,
            } => {
                assert!(error.contains("connect"), "{error}");
                assert!(error.contains(&port.to_string()), "{error}");
                assert!(!error.contains("ticket"), "the body leaked: {error}");
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_subject_without_a_stream_is_retried() {
    if !crate::services::available("NATS", crate::services::NATS) {
        return;
    }
    let (_, prefix) = unique("nostream");
    let destination =
        NatsDestination::new(URL, &format!("{prefix}.{{source}}.{{event}}"), TIMEOUT).unwrap();

    let started = Instant::now();
    let outcome = destination.deliver(&event("evt-1")).await;

    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    match outcome {
        Outcome::Retry {
            after: None,
            status: None,
            error,
        } => {
            assert!(error.contains(&prefix), "{error}");
            assert!(error.contains("create_stream"), "{error}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

//! The Redis Streams destination against the real Redis on 127.0.0.1:6379.

use std::time::Duration;

use hookgate::delivery::redis_stream::RedisStreamDestination;
use hookgate::delivery::{Destination, Outcome};
use hookgate::spool::StoredEvent;
use tokio::time::Instant;

use crate::services::{REDIS, available};

const URL: &str = "redis://127.0.0.1:6379";

fn event(i: u64) -> StoredEvent {
    StoredEvent {
        source: "homa".into(),
        id: format!("evt-{i}"),
        kind: "ticket.created".into(),
        received_at_ms: 1_700_000_000_000,
        content_type: Some("application/json".into()),
        headers: vec![("x-request-id".into(), "req-1".into())],
        body: format!(r#"{{"n":{i}}}"#).into_bytes(),
    }
}

/// A stream name no other test (or concurrent run) uses; its keys are deleted when dropped, even
/// when the test fails.
struct Stream(String);

impl Stream {
    fn new(test: &str) -> Self {
        let stream = Self(format!("hookgate-test:{}:{test}", std::process::id()));
        stream.clean();
        stream
    }

    fn marker(&self, event: &StoredEvent) -> String {
        format!("hookgate:xadd:{{{}}}:{}:{}", self.0, event.source, event.id)
    }

    fn clean(&self) {
        let mut redis = redis::Client::open(URL).unwrap().get_connection().unwrap();
        let markers: Vec<String> = redis::cmd("KEYS")
            .arg(format!("hookgate:xadd:{{{}}}:*", self.0))
            .query(&mut redis)
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(&self.0)
            .arg(markers)
            .query(&mut redis)
            .unwrap();
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.clean();
    }
}

async fn connect() -> redis::aio::MultiplexedConnection {
    redis::Client::open(URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn xlen(redis: &mut redis::aio::MultiplexedConnection, stream: &str) -> u64 {
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(redis)
        .await
        .unwrap()
}

/// A stream entry: its id, and its fields in order.
type Entry = (String, Vec<(String, Vec<u8>)>);

async fn xrange(redis: &mut redis::aio::MultiplexedConnection, stream: &str) -> Vec<Entry> {
    redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(redis)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_is_appended_once_with_its_exact_bytes() {
    if !available("Redis", REDIS) {
        return;
    }
    let stream = Stream::new("appended_once");
    let destination = RedisStreamDestination::new(URL, &stream.0, Duration::from_secs(5)).unwrap();
    let mut first = event(1);
    // Every byte value, and not UTF-8.
    first.body = (0..=255u8).chain([0xff, 0xfe, 0x00]).collect();
    assert_eq!(
        destination.deliver(&first).await,
        Outcome::Delivered { status: None }
    );

    let mut redis = connect().await;
    assert_eq!(xlen(&mut redis, &stream.0).await, 1);
    let entries = xrange(&mut redis, &stream.0).await;
    let (entry_id, fields) = &entries[0];
    let expected: Vec<(String, Vec<u8>)> = vec![
        ("source".into(), b"homa".to_vec()),
        ("id".into(), b"evt-1".to_vec()),
        ("type".into(), b"ticket.created".to_vec()),
        ("verified_at".into(), b"2023-11-14T22:13:20.000Z".to_vec()),
        ("content_type".into(), b"application/json".to_vec()),
        ("body".into(), first.body.clone()),
    ];
    assert_eq!(fields, &expected);

    // The marker remembers the entry for the dedup window.
    let marker: String = redis::cmd("GET")
        .arg(stream.marker(&first))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(&marker, entry_id);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(stream.marker(&first))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 23 * 3600 * 1000 && ttl <= 24 * 3600 * 1000, "{ttl}");

    // The same event again (a retry after a lost answer) is delivered but not appended.
    assert_eq!(
        destination.deliver(&first).await,
        Outcome::Delivered { status: None }
    );
    assert_eq!(xlen(&mut redis, &stream.0).await, 1);

    // Another event is.
    let mut second = event(2);
    second.content_type = None;
    assert_eq!(
        destination.deliver(&second).await,
        Outcome::Delivered { status: None }
    );
    assert_eq!(xlen(&mut redis, &stream.0).await, 2);
    let entries = xrange(&mut redis, &stream.0).await;
    let names: Vec<&str> = entries[1].1.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["source", "id", "type", "verified_at", "body"]);
}

#[tokio::test]
async fn maxlen_trims_the_stream_approximately() {
    if !available("Redis", REDIS) {
        return;
    }
    let stream = Stream::new("maxlen");
    let destination = RedisStreamDestination::new(URL, &stream.0, Duration::from_secs(5))
        .unwrap()
        .maxlen(Some(10));
    for i in 0..200 {
        assert_eq!(
            destination.deliver(&event(i)).await,
            Outcome::Delivered { status: None },
            "event {i}"
        );
    }
    let mut redis = connect().await;
    let len = xlen(&mut redis, &stream.0).await;
    // `MAXLEN ~` trims whole macro nodes only (at most 100 entries or 4 KiB each by default), so
    // more than 10 remain.
    assert!((10..200).contains(&len), "{len} entries left");
}

#[tokio::test]
async fn an_unreachable_redis_is_retried() {
    if !available("Redis", REDIS) {
        return;
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let destination = RedisStreamDestination::new(
        &format!("redis://127.0.0.1:{port}"),
        "webhooks",
        Duration::from_secs(2),
    )
    .unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let outcome = destination.deliver(&event(1)).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        match outcome {
            Outcome::Retry {
                after: None,
                status: None,
                error,
            } => assert!(error.contains("Redis"), "{error}"),
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_key_that_is_not_a_stream_is_permanent() {
    if !available("Redis", REDIS) {
        return;
    }
    let stream = Stream::new("wrongtype");
    let mut redis = connect().await;
    let _: () = redis::cmd("SET")
        .arg(&stream.0)
        .arg("not a stream")
        .query_async(&mut redis)
        .await
        .unwrap();
    let destination = RedisStreamDestination::new(URL, &stream.0, Duration::from_secs(5)).unwrap();
    match destination.deliver(&event(1)).await {
        Outcome::Permanent {
            status: None,
            error,
        } => assert!(error.contains("WRONGTYPE"), "{error}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    // The failed append left no marker behind: once the key is a stream, the event goes in.
    let marker: Option<String> = redis::cmd("GET")
        .arg(stream.marker(&event(1)))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(marker, None);
    let _: () = redis::cmd("DEL")
        .arg(&stream.0)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        destination.deliver(&event(1)).await,
        Outcome::Delivered { status: None }
    );
    assert_eq!(xlen(&mut redis, &stream.0).await, 1);
}

#[tokio::test]
async fn a_failed_connection_is_made_again_on_the_next_delivery() {
    if !available("Redis", REDIS) {
        return;
    }
    let stream = Stream::new("reconnect");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let destination = RedisStreamDestination::new(
        &format!("redis://127.0.0.1:{port}"),
        &stream.0,
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(matches!(
        destination.deliver(&event(1)).await,
        Outcome::Retry { .. }
    ));

    // Redis "comes up" on that port: a proxy to the real one.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(REDIS).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    assert_eq!(
        destination.deliver(&event(1)).await,
        Outcome::Delivered { status: None }
    );
    let mut redis = connect().await;
    assert_eq!(xlen(&mut redis, &stream.0).await, 1);
}

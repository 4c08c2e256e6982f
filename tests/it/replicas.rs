//! Issue 6: several `hookgate serve` replicas sharing one Redis (dedup) and one NATS JetStream
//! stream, as real processes; and what happens when Redis or NATS goes away mid-run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use tokio::time::Instant;

use crate::cli::Serve;
use crate::services::{self, NatsProcess, RedisProcess};

const SECRET: &str = "replicas-test-secret-0123456789";

struct Setup {
    dir: PathBuf,
    source_name: String,
    stream: String,
    prefix: String,
}

impl Setup {
    fn new(tag: &str) -> Self {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("hookgate-it-{tag}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), SECRET).unwrap();
        Self {
            dir,
            // Unique per run: dedup keys hash the source name, so runs never see each other's.
            source_name: format!("homa{tag}{pid}").replace('_', ""),
            stream: format!("HG_{tag}_{pid}").to_uppercase(),
            prefix: format!("hgit{tag}{pid}").replace('_', ""),
        }
    }

    /// A replica's configuration file.
    fn config(&self, replica: &str, redis: &str, nats: &str) -> PathBuf {
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
[dedup]
store = "{redis}"
[delivery]
initial_delay = "100ms"
factor = 1.5
max_delay = "1s"
timeout = "2s"
[[source]]
name = "{source}"
profile = "homa"
path = "/hooks/homa"
secrets = ["file:{secret}"]
[[route]]
to = "{nats}"
subject = "{prefix}.{{source}}.{{event}}"
stream = "{stream}"
create_stream = true
"#,
            data = self.dir.join(replica).display(),
            source = self.source_name,
            secret = self.dir.join("secret").display(),
            prefix = self.prefix,
            stream = self.stream,
        );
        let path = self.dir.join(format!("{replica}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn source(&self) -> Source {
        Source::from_profile(
            self.source_name.as_str(),
            Profile::Homa,
            &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
        )
    }
}

fn start(config: &Path, dir: &Path) -> Serve {
    Serve::start(&["--config", config.to_str().unwrap()], dir, &[])
}

fn body(n: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{n},"title":"t{n}"}}}}"#
    ))
}

/// POST event `n` to `addr` as the sender would; the status, or None when the connection
/// failed.
async fn post(
    client: &hookgate::client::HttpClient,
    source: &Source,
    addr: &str,
    n: usize,
) -> Option<StatusCode> {
    let url = format!("http://{addr}/hooks/homa");
    let request = hookgate::send::signed_request(source, &url, body(n)).unwrap();
    let response = client.request(request).await.ok()?;
    Some(response.status())
}

/// The Nats-Msg-Id of every message in `stream` (read with an ephemeral consumer).
async fn stream_ids(nats_url: &str, stream: &str) -> Vec<String> {
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(stream).await.unwrap();
    let count = stream.info().await.unwrap().state.messages;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut ids = Vec::new();
    while (ids.len() as u64) < count {
        let mut batch = consumer
            .batch()
            .max_messages(500)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        let before = ids.len();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let headers = message.headers.as_ref().unwrap();
            ids.push(headers.get("Nats-Msg-Id").unwrap().to_string());
        }
        assert!(
            ids.len() > before,
            "the consumer stopped short: {} of {count}",
            ids.len()
        );
    }
    ids
}

async fn stream_len(nats_url: &str, stream: &str) -> u64 {
    let Ok(client) = async_nats::connect(nats_url).await else {
        return 0;
    };
    let js = async_nats::jetstream::new(client);
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

async fn delete_stream(nats_url: &str, stream: &str) {
    if let Ok(client) = async_nats::connect(nats_url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(stream)
            .await;
    }
}

/// Wait (bounded) until the stream holds `n` messages.
async fn wait_for_stream(nats_url: &str, stream: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let len = stream_len(nats_url, stream).await;
        if len >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the stream holds {len} of {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_redis_one_stream_each_event_once() {
    if !services::available("Redis", services::REDIS)
        || !services::available("NATS", services::NATS)
    {
        return;
    }
    let setup = Setup::new("two");
    let redis = format!("redis://{}", services::REDIS);
    let nats = format!("nats://{}", services::NATS);
    let a = start(&setup.config("a", &redis, &nats), &setup.dir);
    let b = start(&setup.config("b", &redis, &nats), &setup.dir);
    let source = setup.source();
    let client = hookgate::client::build(None).unwrap();
    const N: usize = 1000;

    // Every event goes to both replicas at once; each is resent until one of them took it
    // (2xx); 409 (in flight on the other) and 503 are retried, as a sender would.
    let acked: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let statuses: Arc<Mutex<HashMap<u16, usize>>> = Arc::default();
    stream::iter(0..N)
        .for_each_concurrent(32, |n| {
            let (client, source, acked, statuses) =
                (&client, &source, Arc::clone(&acked), Arc::clone(&statuses));
            let (a, b) = (a.addr.clone(), b.addr.clone());
            async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let (x, y) =
                        tokio::join!(post(client, source, &a, n), post(client, source, &b, n));
                    for s in [x, y].into_iter().flatten() {
                        *statuses.lock().unwrap().entry(s.as_u16()).or_default() += 1;
                    }
                    if [x, y].into_iter().flatten().any(|s| s.is_success()) {
                        acked.lock().unwrap().insert(n);
                        break;
                    }
                    assert!(Instant::now() < deadline, "event {n} never accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
        .await;
    // Random re-sends of already accepted events, to either replica: duplicates.
    let mut seed = u64::from(std::process::id());
    for _ in 0..300 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let n = usize::try_from(seed >> 33).unwrap() % N;
        let addr = if seed & 1 == 0 { &a.addr } else { &b.addr };
        let status = post(&client, &source, addr, n).await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "a re-send of event {n} is a duplicate"
        );
    }
    assert_eq!(acked.lock().unwrap().len(), N);
    let statuses = statuses.lock().unwrap().clone();
    assert!(
        statuses.get(&202).copied().unwrap_or(0) >= N,
        "each event accepted once by some replica: {statuses:?}"
    );

    wait_for_stream(&nats, &setup.stream, N as u64).await;
    // Let any straggling duplicate publish land before counting exactly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = stream_ids(&nats, &setup.stream).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), N, "exactly one message per event");
    assert_eq!(unique.len(), N);
    eprintln!("two replicas: statuses {statuses:?}");
    delete_stream(&nats, &setup.stream).await;
    drop((a, b));
    let _ = std::fs::remove_dir_all(&setup.dir);
}

/// Send events `range` to one replica until each got a 2xx; returns how many answers were 503.
async fn send_all(
    client: &hookgate::client::HttpClient,
    source: &Source,
    addr: &str,
    range: std::ops::Range<usize>,
) -> usize {
    let unavailable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    stream::iter(range)
        .for_each_concurrent(16, |n| {
            let unavailable = Arc::clone(&unavailable);
            async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    match post(client, source, addr, n).await {
                        Some(s) if s.is_success() => break,
                        Some(StatusCode::SERVICE_UNAVAILABLE) => {
                            unavailable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => {}
                    }
                    assert!(Instant::now() < deadline, "event {n} never accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
        .await;
    unavailable.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_mid_run_loses_nothing_acknowledged() {
    let setup = Setup::new("natsdown");
    let Some(mut nats) = NatsProcess::nats(&setup.dir.join("nats-store")) else {
        return;
    };
    if !services::available("Redis", services::REDIS) {
        return;
    }
    let redis = format!("redis://{}", services::REDIS);
    let replica = start(&setup.config("a", &redis, &nats.url()), &setup.dir);
    let source = setup.source();
    let client = hookgate::client::build(None).unwrap();

    send_all(&client, &source, &replica.addr, 0..100).await;
    wait_for_stream(&nats.url(), &setup.stream, 100).await;
    // NATS goes away; the spool keeps accepting (202 after fsync), deliveries wait.
    nats.stop();
    let refused = send_all(&client, &source, &replica.addr, 100..300).await;
    assert_eq!(
        refused, 0,
        "with the spool on, a broker outage does not refuse events"
    );
    nats.restart();
    wait_for_stream(&nats.url(), &setup.stream, 300).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = stream_ids(&nats.url(), &setup.stream).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        300,
        "every acknowledged event is in the stream"
    );
    assert_eq!(ids.len(), 300, "and once");
    drop(replica);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_run_fails_closed_and_recovers_without_a_restart() {
    if !services::available("NATS", services::NATS) {
        return;
    }
    let Some(mut redis) = RedisProcess::redis() else {
        return;
    };
    let setup = Setup::new("redisdown");
    let nats = format!("nats://{}", services::NATS);
    let replica = start(&setup.config("a", &redis.url(), &nats), &setup.dir);
    let source = setup.source();
    let client = hookgate::client::build(None).unwrap();

    send_all(&client, &source, &replica.addr, 0..100).await;
    redis.kill();
    // No claim can be made: requests fail closed with 503 (never processed without a claim).
    let status = post(&client, &source, &replica.addr, 100).await;
    assert_eq!(status, Some(StatusCode::SERVICE_UNAVAILABLE));
    let restarter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        redis.restart();
        redis
    });
    // Senders keep retrying through the outage; once Redis is back the same gateway accepts.
    let refused = send_all(&client, &source, &replica.addr, 100..200).await;
    assert!(refused > 0, "requests during the outage were refused");
    let _redis = restarter.await.unwrap();
    wait_for_stream(&nats, &setup.stream, 200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = stream_ids(&nats, &setup.stream).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        200,
        "every acknowledged event is in the stream: {}",
        ids.len()
    );
    delete_stream(&nats, &setup.stream).await;
    drop(replica);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_spool_a_broker_outage_answers_503_never_2xx() {
    let setup = Setup::new("nospool");
    let Some(mut nats) = NatsProcess::nats(&setup.dir.join("nats-store")) else {
        return;
    };
    let config = setup.config("a", "redis://127.0.0.1:6379", &nats.url());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[dedup]\nstore = \"redis://127.0.0.1:6379\"\n",
        "[spool]\nenabled = false\n",
    );
    std::fs::write(&config, text).unwrap();
    let replica = start(&config, &setup.dir);
    let source = setup.source();
    let client = hookgate::client::build(None).unwrap();

    // Up: the 202 comes after JetStream's ack, so the event is in the stream already.
    assert_eq!(
        post(&client, &source, &replica.addr, 1).await,
        Some(StatusCode::ACCEPTED)
    );
    assert_eq!(stream_len(&nats.url(), &setup.stream).await, 1);
    // Down: nothing can take the event durably, so the sender is told to retry.
    nats.stop();
    assert_eq!(
        post(&client, &source, &replica.addr, 2).await,
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    // Back: the retry is processed (the failed attempt released its dedup claim).
    nats.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match post(&client, &source, &replica.addr, 2).await {
            Some(StatusCode::ACCEPTED) => break,
            other => assert!(
                Instant::now() < deadline,
                "not accepted after NATS returned: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stream_len(&nats.url(), &setup.stream).await, 2);
    drop(replica);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

//! Issue 5 (in progress): no acknowledged event is lost when `hookgate serve` is killed.
//!
//! A real gateway process spools events for an upstream that is down; it is SIGKILLed while
//! requests are in flight, at several points; after a restart the upstream comes up, and every
//! event that got a 202 must reach it. Re-sent events are recognised as duplicates.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;

use crate::cli::Serve;
use crate::delivery::Upstream;
use crate::running::delivered_tickets;

const SECRET: &str = "crash-test-secret-0123456789";

fn body(n: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{n},"title":"t{n}"}}}}"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_sigkill_and_reaches_the_upstream() {
    let dir = std::env::temp_dir().join(format!("hookgate-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    // A port for the upstream, which stays down until the end.
    let upstream_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
[delivery]
initial_delay = "100ms"
factor = 1.5
# The upstream is down for as long as the test takes: never give up on an event.
max_attempts = 1000000
max_delay = "500ms"
[[source]]
name = "homa"
profile = "homa"
secrets = ["file:{secret}"]
[[route]]
to = "http://{upstream_addr}/hook"
"#,
        data = dir.join("data").display(),
        secret = dir.join("secret").display(),
    );
    let config_path = dir.join("hookgate.toml");
    std::fs::write(&config_path, config).unwrap();
    let args = ["--config", config_path.to_str().unwrap()];
    let source = Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    );

    let acknowledged_shared: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    // Several kill points, each while eight senders keep requests in flight: after 5, 40 and
    // 120 acknowledgements of that run.
    for kill_at in [5, 40, 120] {
        let server = Serve::start(&args, &dir, &[]);
        let url = format!("http://{}/hooks/homa", server.addr);
        // Whoever sees the kill_at-th 202 kills the gateway at once, with requests in flight.
        let server = Arc::new(Mutex::new(Some(server)));
        let stop = Arc::new(AtomicBool::new(false));
        let acked_this_run = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..8)
            .map(|_| {
                let (source, url, stop) = (source.clone(), url.clone(), Arc::clone(&stop));
                let server = Arc::clone(&server);
                let (next, acked, acked_run) = (
                    Arc::clone(&next),
                    Arc::clone(&acknowledged_shared),
                    Arc::clone(&acked_this_run),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let request =
                            hookgate::send::signed_request(&source, &url, body(i)).unwrap();
                        match hookgate::client::post(request).await {
                            // Only a 202 is a promise; errors and other answers get retried
                            // by real senders and are not required here.
                            Ok(reply) if reply.status == StatusCode::ACCEPTED => {
                                acked.lock().unwrap().insert(i);
                                if acked_run.fetch_add(1, Ordering::SeqCst) + 1 == kill_at {
                                    if let Some(server) = server.lock().unwrap().take() {
                                        server.kill();
                                    }
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while server.lock().unwrap().is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway stopped acknowledging"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::SeqCst);
        for sender in senders {
            sender.await.unwrap();
        }
    }
    let mut acknowledged = acknowledged_shared.lock().unwrap().clone();
    let n = next.load(Ordering::SeqCst);

    // Restart with the upstream still down, and send a batch that certainly gets 202s.
    let server = Serve::start(&args, &dir, &[]);
    let url = format!("http://{}/hooks/homa", server.addr);
    for i in n..n + 10 {
        let reply =
            hookgate::client::post(hookgate::send::signed_request(&source, &url, body(i)).unwrap())
                .await
                .unwrap();
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        acknowledged.insert(i);
    }
    // Anything acknowledged before a kill is recognised now.
    for &i in acknowledged.iter().take(5) {
        let reply =
            hookgate::client::post(hookgate::send::signed_request(&source, &url, body(i)).unwrap())
                .await
                .unwrap();
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "event {i} was acknowledged before: a duplicate"
        );
    }

    // The upstream comes up: every acknowledged event must reach it.
    let upstream = Upstream::default();
    upstream.start_on(&upstream_addr.to_string()).await;
    let delivered = delivered_tickets(&upstream, &acknowledged, Duration::from_secs(60)).await;
    let lost: Vec<_> = acknowledged.difference(&delivered).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    eprintln!(
        "acknowledged {} of {} sent across the kills",
        acknowledged.len(),
        n + 10
    );
    assert!(acknowledged.len() >= 5 + 40 + 120 + 10);
    assert!(
        acknowledged.len() >= 10,
        "{} acknowledged",
        acknowledged.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

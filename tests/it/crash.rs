//! No acknowledged event is lost when `hookgate serve` is SIGKILLed, wherever the kill lands.
//!
//! A real gateway process spools events for an upstream that is down while 32 concurrent
//! senders keep posting signed Homa events. During that one continuing load a new process is
//! started 18 times and each is SIGKILLed: 12 right after its k-th acknowledgement (k from 1 to
//! 450), and 6 a fixed delay (5 to 200 ms) after it starts listening, which lands wherever
//! its work is then (mid group commit, mid fsync, mid answer) rather than only right after an
//! answer. With 32 senders a group commit holds many events when the kill lands. A sender whose
//! request failed sends the same event again to the next process, as a real sender retries.
//!
//! After the last kill the gateway starts once more: a new batch gets 202, events acknowledged
//! earlier (among them the last ones before each kill) are answered 200 duplicate, and once the
//! upstream comes up every event that got a 202, or whose retry was answered duplicate, reaches
//! it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::client::HttpClient;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use http_body_util::BodyExt;

use crate::cli::Serve;
use crate::delivery::Upstream;
use crate::running::delivered_tickets;

const SECRET: &str = "crash-test-secret-0123456789";
const SENDERS: usize = 32;

fn body(n: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{n},"title":"t{n}"}}}}"#
    ))
}

/// When a process is killed.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// As soon as a sender reads this process's k-th 202, with the other requests in flight.
    Acks(usize),
    /// This long after the process started listening, whatever it is doing then.
    After(Duration),
}

const fn ms(n: u64) -> KillPoint {
    KillPoint::After(Duration::from_millis(n))
}

/// The kills, in order, over one continuing load.
const KILLS: [KillPoint; 18] = [
    KillPoint::Acks(1),
    ms(5),
    KillPoint::Acks(3),
    KillPoint::Acks(9),
    ms(20),
    KillPoint::Acks(17),
    KillPoint::Acks(30),
    ms(60),
    KillPoint::Acks(50),
    KillPoint::Acks(80),
    ms(120),
    KillPoint::Acks(120),
    KillPoint::Acks(170),
    ms(200),
    KillPoint::Acks(240),
    KillPoint::Acks(330),
    ms(35),
    KillPoint::Acks(450),
];

/// What the senders and the test share.
#[derive(Default)]
struct Load {
    /// The running process's generation and URL; no URL between a kill and the next start.
    target: Mutex<(usize, Option<String>)>,
    server: Mutex<Option<Serve>>,
    /// 202s from the current process, and the one to kill it at (`Acks`).
    run_acks: AtomicUsize,
    kill_at: AtomicUsize,
    /// Events answered 202, with the generation that answered, in the order the answers came.
    acknowledged: Mutex<Vec<(usize, usize)>>,
    /// Events whose first request failed and whose retry was answered 200 duplicate: committed
    /// before a kill, the answer lost. The gateway vouched for these too.
    confirmed: Mutex<HashSet<usize>>,
    /// Answers no sender should see (200 duplicate on a first attempt, an error body, ...).
    unexpected: Mutex<Vec<String>>,
    next: AtomicUsize,
    failed_requests: AtomicUsize,
    stop: AtomicBool,
}

impl Load {
    fn target(&self) -> (usize, Option<String>) {
        self.target.lock().unwrap().clone()
    }

    /// SIGKILL the process of generation `generation`, if it still runs.
    fn kill(&self, generation: usize) {
        let mut target = self.target.lock().unwrap();
        if target.0 == generation {
            target.1 = None;
            if let Some(server) = self.server.lock().unwrap().take() {
                server.kill();
            }
        }
    }

    /// A 202 from the process of `generation`: kill it if that was the one to kill it at.
    fn acked(&self, event: usize, generation: usize) {
        self.acknowledged.lock().unwrap().push((event, generation));
        // Answers of a killed process read after its kill count for nothing.
        let current = matches!(&*self.target.lock().unwrap(), (g, Some(_)) if *g == generation);
        if current
            && self.run_acks.fetch_add(1, Ordering::SeqCst) + 1
                == self.kill_at.load(Ordering::SeqCst)
        {
            self.kill(generation);
        }
    }
}

/// One sender: new events one after the other; after a failed request, the same event again
/// (to the next process once this one is gone).
async fn sender(load: Arc<Load>, source: Source, client: HttpClient) {
    let mut retrying: Option<usize> = None;
    while !load.stop.load(Ordering::SeqCst) {
        let (generation, Some(url)) = load.target() else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let event = retrying.unwrap_or_else(|| load.next.fetch_add(1, Ordering::SeqCst));
        let request = hookgate::send::signed_request(&source, &url, body(event)).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let response = client.request(request).await.ok()?;
            let status = response.status();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        })
        .await
        .ok()
        .flatten();
        match answer {
            Some((StatusCode::ACCEPTED, _)) => {
                retrying = None;
                load.acked(event, generation);
            }
            Some((StatusCode::OK, body)) if retrying.is_some() => {
                retrying = None;
                if String::from_utf8_lossy(&body).contains("\"duplicate\"") {
                    load.confirmed.lock().unwrap().insert(event);
                } else {
                    load.unexpected.lock().unwrap().push(format!(
                        "event {event} retried: 200 {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
            Some((StatusCode::CONFLICT, _)) if retrying.is_some() => {
                // A retry while the first request is still being processed, on a process that
                // stayed up (a connection dropped by the client side): try again shortly.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some((status, body)) => {
                // A first attempt is never a duplicate; 409 and 503 are retried by real
                // senders but should not happen on one process that stays up.
                load.unexpected.lock().unwrap().push(format!(
                    "event {event}: {status} {}",
                    String::from_utf8_lossy(&body)
                ));
                retrying = (status != StatusCode::OK).then_some(event);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None => {
                // Killed under it (or not up yet): wait for the next process, briefly.
                load.failed_requests.fetch_add(1, Ordering::SeqCst);
                retrying = Some(event);
                for _ in 0..50 {
                    if load.stop.load(Ordering::SeqCst) || load.target().0 != generation {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
}

async fn post(
    client: &HttpClient,
    source: &Source,
    url: &str,
    event: usize,
) -> (StatusCode, String) {
    let request = hookgate::send::signed_request(source, url, body(event)).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
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
factor = 2
# The upstream is down for as long as the test takes: never give up on an event.
max_attempts = 1000000
max_delay = "1s"
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
    let args = vec!["--config".to_owned(), config_path.display().to_string()];
    let start = {
        let dir = dir.clone();
        move || {
            let (args, dir) = (args.clone(), dir.clone());
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Serve::start(&args, &dir, &[])
            })
        }
    };
    let source = Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    );
    let client = hookgate::client::default_client().unwrap();

    let load = Arc::new(Load::default());
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| tokio::spawn(sender(Arc::clone(&load), source.clone(), client.clone())))
        .collect();
    for (run, point) in KILLS.into_iter().enumerate() {
        let generation = run + 1;
        let server = start().await.unwrap();
        let url = format!("http://{}/hooks/homa", server.addr);
        load.run_acks.store(0, Ordering::SeqCst);
        load.kill_at.store(
            match point {
                KillPoint::Acks(k) => k,
                KillPoint::After(_) => usize::MAX,
            },
            Ordering::SeqCst,
        );
        *load.server.lock().unwrap() = Some(server);
        *load.target.lock().unwrap() = (generation, Some(url));
        let started = tokio::time::Instant::now();
        match point {
            KillPoint::After(delay) => {
                tokio::time::sleep_until(started + delay).await;
                load.kill(generation);
            }
            KillPoint::Acks(_) => {
                while load.target().1.is_some() {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "the gateway stopped acknowledging ({point:?}, {} so far)",
                        load.run_acks.load(Ordering::SeqCst)
                    );
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    }
    load.stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged_in_order = load.acknowledged.lock().unwrap().clone();
    let confirmed = load.confirmed.lock().unwrap().clone();
    let mut acknowledged: HashSet<usize> = acknowledged_in_order.iter().map(|&(e, _)| e).collect();
    assert_eq!(
        acknowledged.len(),
        acknowledged_in_order.len(),
        "an event was answered 202 twice"
    );
    let unexpected = load.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    let n = load.next.load(Ordering::SeqCst);
    // 202s read from each process, those read just after its kill included.
    let acks_per_process: Vec<usize> = (1..=KILLS.len())
        .map(|g| {
            acknowledged_in_order
                .iter()
                .filter(|&&(_, o)| o == g)
                .count()
        })
        .collect();

    // Restart with the upstream still down, and send a batch that certainly gets 202s.
    let server = start().await.unwrap();
    let url = format!("http://{}/hooks/homa", server.addr);
    for i in n..n + 10 {
        let (status, body) = post(&client, &source, &url, i).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        acknowledged.insert(i);
    }
    // Events acknowledged before a kill are recognised now: the last three of every process
    // (those closest to its kill), one in 25 of the rest, and the retries found committed.
    let mut sample: Vec<usize> = Vec::new();
    for generation in 1..=KILLS.len() {
        let of_run: Vec<usize> = acknowledged_in_order
            .iter()
            .filter(|&&(_, g)| g == generation)
            .map(|&(e, _)| e)
            .collect();
        sample.extend(of_run.iter().rev().take(3));
    }
    sample.extend(acknowledged_in_order.iter().step_by(25).map(|&(e, _)| e));
    sample.extend(confirmed.iter().take(10));
    for &i in &sample {
        let (status, body) = post(&client, &source, &url, i).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "event {i} was acknowledged before: a duplicate ({body})"
        );
        assert!(body.contains("\"duplicate\""), "event {i}: {body}");
    }

    // The upstream comes up: every acknowledged event must reach it.
    let upstream = Upstream::default();
    upstream.start_on(&upstream_addr.to_string()).await;
    let promised: HashSet<usize> = acknowledged.union(&confirmed).copied().collect();
    let delivered = delivered_tickets(&upstream, &promised, Duration::from_secs(60)).await;
    let mut lost: Vec<_> = promised.difference(&delivered).copied().collect();
    lost.sort_unstable();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    let kills_by_acks = KILLS
        .iter()
        .filter(|k| matches!(k, KillPoint::Acks(_)))
        .count();
    eprintln!(
        "acknowledged {} events ({} during the load, 10 after it) across {} kills ({} after k \
         acknowledgements, {} timed), plus {} retries answered duplicate; {} events sent, {} \
         requests failed by a kill; 202s per process: {acks_per_process:?}; {} \
         checked as duplicates; {} deliveries received",
        acknowledged.len(),
        acknowledged_in_order.len(),
        KILLS.len(),
        kills_by_acks,
        KILLS.len() - kills_by_acks,
        confirmed.len(),
        n + 10,
        load.failed_requests.load(Ordering::SeqCst),
        sample.len(),
        upstream.received.lock().unwrap().len(),
    );
    // Every ack-counted kill came after its k-th 202.
    let wanted: usize = KILLS
        .iter()
        .map(|k| match k {
            KillPoint::Acks(k) => *k,
            KillPoint::After(_) => 0,
        })
        .sum();
    assert!(
        acknowledged_in_order.len() >= wanted,
        "{} acknowledged during the load, {wanted} expected at least",
        acknowledged_in_order.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

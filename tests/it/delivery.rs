//! Issue 5 (in progress): the spool's deliveries to a real HTTP upstream on a socket.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::delivery::{Deliverer, Destination, HttpDestination, RetryPolicy};
use hookgate::spool::{Spool, StoredEvent};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// An upstream that answers with the statuses queued in `script` (then 200), and records what
/// it received and when.
#[derive(Clone, Default)]
pub(crate) struct Upstream {
    pub(crate) script: Arc<Mutex<VecDeque<u16>>>,
    pub(crate) received: Arc<Mutex<Vec<(Instant, http::HeaderMap, Bytes)>>>,
}

impl Upstream {
    async fn start(&self) -> String {
        self.start_on("127.0.0.1:0").await
    }

    /// Serve on `addr`; returns the hook URL.
    pub(crate) async fn start_on(&self, addr: &str) -> String {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let this = self.clone();
        let svc = tower::service_fn(move |req: Request<Incoming>| {
            let this = this.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                this.received
                    .lock()
                    .unwrap()
                    .push((Instant::now(), parts.headers, body));
                let status = this.script.lock().unwrap().pop_front().unwrap_or(200);
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        tokio::spawn(hookgate::server::serve(
            listener,
            svc,
            Default::default(),
            std::future::pending(),
        ));
        format!("http://{addr}/hook")
    }
}

fn event(i: u64) -> StoredEvent {
    StoredEvent {
        source: "homa".into(),
        id: format!("evt-{i}"),
        kind: "ticket.created".into(),
        received_at_ms: 1_700_000_000_000,
        content_type: Some("application/json".into()),
        headers: vec![("x-request-id".into(), "req-1".into())],
        body: format!("{{\"event\":\"ticket.created\",\"n\":{i}}}").into_bytes(),
    }
}

fn temp(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hookgate-it-delivery-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A deliverer with one destination, named "up".
fn deliverer_to(
    spool: &Arc<Spool>,
    destination: impl Destination,
    policy: RetryPolicy,
) -> Deliverer {
    let mut destinations: HashMap<String, Arc<dyn Destination>> = HashMap::new();
    destinations.insert("up".into(), Arc::new(destination));
    Deliverer::new(Arc::clone(spool), destinations, policy)
}

async fn deliver_until(deliverer: &Deliverer, spool: &Spool, done: impl Fn(&Spool) -> bool) {
    // Bounded so a broken deliverer fails the test instead of hanging it; not a speed check.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(spool) {
        assert!(Instant::now() < deadline, "deliveries did not finish");
        deliverer.run_once().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_delays_then_delivered_byte_for_byte() {
    let upstream = Upstream::default();
    upstream.script.lock().unwrap().extend([500, 503, 500]);
    let url = upstream.start().await;
    let dir = temp("retry");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5));
    let policy = RetryPolicy {
        initial_delay: Duration::from_millis(100),
        factor: 3.0,
        ..RetryPolicy::default()
    };
    let deliverer = deliverer_to(&spool, http, policy);
    let stored = event(1);
    spool_accept(&spool, &stored, &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;

    let received = upstream.received.lock().unwrap();
    assert_eq!(received.len(), 4, "three failures, then delivered");
    let (_, headers, body) = &received[3];
    assert_eq!(
        body.as_ref(),
        stored.body.as_slice(),
        "forwarded byte for byte"
    );
    assert_eq!(headers["x-hookgate-event-id"], "evt-1");
    assert_eq!(headers["x-hookgate-source"], "homa");
    assert_eq!(headers["content-type"], "application/json");
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // Jitter takes at most half of each delay: 100 ms, 300 ms, 900 ms become >= 50, 150, 450.
    assert!(gaps[0] >= Duration::from_millis(50), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(450), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "delays grow: {gaps:?}");
    assert!(spool.dead().unwrap().is_empty());
    drop(received);
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_client_error_is_a_dead_letter_after_one_attempt() {
    let upstream = Upstream::default();
    upstream.script.lock().unwrap().push_back(400);
    let url = upstream.start().await;
    let dir = temp("dead");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5));
    let deliverer = deliverer_to(&spool, http, RetryPolicy::default());
    spool_accept(&spool, &event(2), &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    assert_eq!(upstream.received.lock().unwrap().len(), 1);
    let dead = spool.dead().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.last_status, Some(400));
    assert_eq!(dead[0].delivery.attempts, 1);
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Accept through the public sink, as the gateway does.
async fn spool_accept(spool: &Arc<Spool>, stored: &StoredEvent, destinations: &[&str]) {
    use hookgate::spool::{SpoolRoute, SpoolSink};
    use tower::ServiceExt;
    let routes = destinations
        .iter()
        .map(|d| SpoolRoute {
            pattern: "*".into(),
            destination: (*d).into(),
        })
        .collect();
    let sink = SpoolSink::new(
        Arc::clone(spool),
        routes,
        None,
        Duration::from_secs(60),
        Duration::from_secs(1),
    );
    let json: serde_json::Value = serde_json::from_slice(&stored.body).unwrap();
    let event = hookgate::Event::new(
        stored.source.as_str(),
        hookgate::EventId::new(stored.id.clone()),
        hookgate::EventKind::new(stored.kind.clone()),
        Bytes::from(stored.body.clone()),
        json,
    );
    let mut headers = http::HeaderMap::new();
    if let Some(content_type) = &stored.content_type {
        headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
    }
    for (name, value) in &stored.headers {
        headers.insert(
            http::HeaderName::try_from(name.as_str()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let event = event.with_headers(headers);
    let mut req = Request::post("/").body(()).unwrap();
    req.extensions_mut().insert(event);
    let response = sink.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn deliveries_carry_allowed_headers_and_a_standard_webhooks_signature() {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};

    let upstream = Upstream::default();
    let url = upstream.start().await;
    let dir = temp("signed");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let key = b"upstream-signing-key-0123456789";
    let secret = hookgate::Secret::new(
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        ),
        "test",
    )
    .unwrap();
    let destination = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5))
        .forward_headers(vec![http::HeaderName::from_static("x-request-id")])
        .sign_with(&secret);
    let deliverer = deliverer_to(&spool, destination, RetryPolicy::default());
    let stored = event(3);
    spool_accept(&spool, &stored, &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;

    let received = upstream.received.lock().unwrap();
    let (_, headers, body) = &received[0];
    assert_eq!(headers["x-request-id"], "req-1", "allowed header forwarded");
    assert_eq!(headers["webhook-id"], "evt-3");
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    // Computed here independently of hookgate's signing code.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(format!("evt-3.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(headers["webhook-signature"], expected.as_str());
    drop(received);
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

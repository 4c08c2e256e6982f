//! Issue 5 (in progress): the spool's deliveries to a real HTTP upstream on a socket.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::delivery::{Deliverer, Destination, HttpDestination, Outcome, RetryPolicy};
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
    /// `Retry-After` sent with every non-2xx answer, if set.
    pub(crate) retry_after: Arc<Mutex<Option<String>>>,
}

impl Upstream {
    async fn start(&self) -> String {
        self.start_on("127.0.0.1:0").await
    }

    /// Record `req` and answer it with the next scripted status (200 when the script is done).
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.received
            .lock()
            .unwrap()
            .push((Instant::now(), parts.headers, body));
        let status = self.script.lock().unwrap().pop_front().unwrap_or(200);
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Some(after) = self.retry_after.lock().unwrap().clone() {
            if status >= 300 {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, after.parse().unwrap());
            }
        }
        response
    }

    /// Serve on `addr`; returns the hook URL.
    pub(crate) async fn start_on(&self, addr: &str) -> String {
        let this = self.clone();
        let addr = serve_http(addr, move |req| {
            let this = this.clone();
            async move { this.answer(req).await }
        })
        .await;
        format!("http://{addr}/hook")
    }
}

/// Serve HTTP on `addr` (a loopback address, port 0 for a free one) with `answer` for every
/// request, until the test ends; returns the address bound. The test servers (upstreams, alert
/// receivers) are this and their `answer`.
pub(crate) async fn serve_http<F, Fut>(addr: &str, answer: F) -> std::net::SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = tower::service_fn(move |req: Request<Incoming>| {
        let answer = answer.clone();
        async move { Ok::<_, Infallible>(answer(req).await) }
    });
    tokio::spawn(hookgate::server::serve(
        listener,
        svc,
        Default::default(),
        std::future::pending(),
    ));
    addr
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
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
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
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let deliverer = deliverer_to(&spool, http, RetryPolicy::default());
    spool_accept(&spool, &event(2), &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    assert_eq!(upstream.received.lock().unwrap().len(), 1);
    let dead = spool.dead().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.last_status, Some(400));
    assert_eq!(dead[0].delivery.attempts, 1);
    // The attempt is in the log, with its status and latency.
    let attempt = &dead[0].delivery.history[0];
    assert_eq!(attempt.status, Some(400));
    assert!(attempt.error.as_deref().unwrap().contains("400"));

    // The upstream is fixed; the dead letter, retried, is delivered.
    let replayed = spool
        .replay(dead[0].seq, None, hookgate::spool::ReplayOf::Dead)
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    assert_eq!(upstream.received.lock().unwrap().len(), 2);
    assert!(spool.dead().unwrap().is_empty());
    let (_, deliveries) = spool.show(dead[0].seq).unwrap().unwrap();
    assert_eq!(
        deliveries[0].status,
        hookgate::spool::DeliveryStatus::Delivered
    );
    let statuses: Vec<_> = deliveries[0]
        .delivery
        .history
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(
        statuses,
        [Some(400), Some(200)],
        "both attempts are in the log"
    );
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
        .map(|d| SpoolRoute::new("*", *d))
        .collect();
    let sink = SpoolSink::new(
        Arc::clone(spool),
        routes,
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
        .unwrap()
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

/// Serve `upstream` over TLS with a fresh self-signed certificate for 127.0.0.1; returns the URL
/// and the certificate (PEM).
async fn start_tls(upstream: &Upstream) -> (String, String) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio_rustls::rustls;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let this = upstream.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, this) = (acceptor.clone(), this.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let this = this.clone();
                    async move { Ok::<_, Infallible>(this.answer(req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (format!("https://{addr}/hook"), certified.cert.pem())
}

#[tokio::test]
async fn https_upstreams_are_delivered_to_when_their_certificate_is_trusted() {
    let upstream = Upstream::default();
    let (url, ca) = start_tls(&upstream).await;
    let dir = temp("https");
    let spool = Arc::new(Spool::open(&dir).unwrap());

    // Public roots only: the self-signed certificate is refused, and that is retried (a
    // misconfiguration the operator fixes), never counted as delivered.
    let untrusted = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let outcome = untrusted.deliver(&event(5)).await;
    assert!(
        matches!(&outcome, Outcome::Retry { error, .. } if error.contains("certificate") || error.contains("Certificate")),
        "{outcome:?}"
    );
    assert!(upstream.received.lock().unwrap().is_empty());

    // With the upstream's CA: delivered over TLS, byte for byte.
    let client = hookgate::client::build(Some(ca.as_bytes())).unwrap();
    let trusted =
        HttpDestination::with_client(url.parse().unwrap(), Duration::from_secs(5), client);
    let deliverer = deliverer_to(&spool, trusted, RetryPolicy::default());
    spool_accept(&spool, &event(6), &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    let received = upstream.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].2.as_ref(), event(6).body.as_slice());
    drop(received);
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Library use with the spool on: the 202 comes once the event is on disk, and the in-process
/// handlers run afterwards through the delivery machinery, with retries and dead letters.
#[tokio::test]
async fn in_process_handlers_run_from_the_spool_with_retries() {
    use crate::support::{Recorder, SECRET, Server, sample, secret, send, signed};
    use hookgate::delivery::Spooled;
    use hookgate::profile::Profile;
    use hookgate::spool::{DeliveryStatus, EventStatus, Filter};
    use hookgate::{Gateway, Pipeline, Source};

    let dir = temp("handlers");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let recorder = Recorder::default();
    recorder.fail_next(2);
    let stub = hookgate::Router::new().on("*", |_event: hookgate::Event| async {
        Err::<(), _>(hookgate::HandlerError::NotImplemented)
    });
    let parts = Spooled::new(Arc::clone(&spool))
        .handlers("recorder", recorder.router())
        .handlers("stub", stub)
        .policy(RetryPolicy {
            initial_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
        .build();
    let source = Source::from_profile("ninja", Profile::NinjaOne, &[secret(SECRET)]);
    let pipeline = Pipeline::new(source.clone()).dedup_shared(parts.dedup.clone());
    let server =
        Server::start(Gateway::new().mount("/hooks/ninja", pipeline.service(parts.sink.clone())))
            .await;

    let body = sample(Profile::NinjaOne);
    let reply = send(signed(&source, &server.url("/hooks/ninja"), body.clone())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    // Accepted before any handler ran: the handlers only run when the deliverer does.
    assert!(recorder.events().is_empty());
    let again = send(signed(&source, &server.url("/hooks/ninja"), body.clone())).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a duplicate, from the spool's dedup state"
    );

    deliver_until(&parts.deliverer, &spool, |s| s.pending_len() == 0).await;
    let events = recorder.events();
    assert_eq!(events.len(), 3, "two failures, then handled");
    assert_eq!(events[2].raw().as_ref(), body.as_ref());
    assert_eq!(events[2].source(), "ninja");

    let listed = spool.list(&Filter::default(), 10).unwrap();
    assert_eq!(listed.len(), 1);
    let by_name = |name: &str| {
        listed[0]
            .deliveries
            .iter()
            .find(|d| d.destination == name)
            .map(|d| (d.status, d.delivery.attempts))
    };
    assert_eq!(by_name("recorder"), Some((DeliveryStatus::Delivered, 3)));
    // The stub says "not implemented": a dead letter after one attempt, to replay once written.
    assert_eq!(by_name("stub"), Some((DeliveryStatus::Dead, 1)));
    assert_eq!(listed[0].status, EventStatus::Dead);
    drop(server);
    drop(parts);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_upstream_outage_delays_deliveries_and_loses_none() {
    // A port nobody listens on yet: connections are refused until the upstream comes up.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/hook");
    let dir = temp("outage");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let policy = RetryPolicy {
        initial_delay: Duration::from_millis(50),
        factor: 2.0,
        max_delay: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    let deliverer = deliverer_to(&spool, http, policy);
    for i in 0..20 {
        spool_accept(&spool, &event(100 + i), &["up"]).await;
    }
    // The outage: every delivery fails at least twice and stays pending, none is given up.
    deliver_until(&deliverer, &spool, |s| {
        s.list(&hookgate::spool::Filter::default(), 100)
            .unwrap()
            .iter()
            .all(|e| e.deliveries[0].delivery.attempts >= 2)
    })
    .await;
    assert_eq!(spool.pending_len(), 20);
    assert!(spool.dead().unwrap().is_empty());
    let listed = spool
        .list(&hookgate::spool::Filter::default(), 100)
        .unwrap();
    assert!(
        listed
            .iter()
            .all(|e| e.status == hookgate::spool::EventStatus::Retrying)
    );
    let (_, deliveries) = spool.show(listed[0].seq).unwrap().unwrap();
    let error = deliveries[0].delivery.history[0].error.clone().unwrap();
    assert!(
        error.contains("refused") || error.contains("Connect"),
        "{error}"
    );

    // The upstream comes back: every event arrives.
    let upstream = Upstream::default();
    upstream.start_on(&addr.to_string()).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    let mut ids: Vec<String> = upstream
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, headers, _)| headers["x-hookgate-event-id"].to_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "every event delivered");
    assert!(spool.dead().unwrap().is_empty());
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_backoff_is_honoured() {
    let upstream = Upstream::default();
    upstream.script.lock().unwrap().extend([429, 503]);
    *upstream.retry_after.lock().unwrap() = Some("1".into());
    let url = upstream.start().await;
    let dir = temp("retry-after");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let http = HttpDestination::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let policy = RetryPolicy {
        initial_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let deliverer = deliverer_to(&spool, http, policy);
    spool_accept(&spool, &event(9), &["up"]).await;
    deliver_until(&deliverer, &spool, |s| s.pending_len() == 0).await;
    let received = upstream.received.lock().unwrap();
    assert_eq!(received.len(), 3, "429, 503, then delivered");
    for gap in received.windows(2).map(|w| w[1].0 - w[0].0) {
        // The backoff alone would be 10-40 ms; the upstream asked for a second.
        assert!(gap >= Duration::from_millis(950), "{gap:?}");
    }
    assert_eq!(
        received[0].1["x-hookgate-verified-at"],
        received[0].1["x-hookgate-received-at"]
    );
    drop(received);
    drop(deliverer);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

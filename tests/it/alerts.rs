//! Issue 21, point 5: `[[alert]]` endpoints, in a real `hookgate serve`, told over real HTTP
//! (signed Standard Webhooks style) when a circuit opens and closes, a delivery becomes a dead
//! letter, the spool fills and a source's refusals pass their rate: each once per episode.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;
use sha2::Sha256;
use tokio::time::Instant;

use crate::delivery::{Upstream, serve_http};
use crate::running::{Running, admin_call, forger, homa, homa_config, post_signed};

const SECRET: &str = "alerts-test-sender-secret-0123456789";
const TOKEN: &str = "alerts-test-admin-token-abcdefghijk";
const TOKEN_ENV: &str = "HOOKGATE_IT_ALERTS_TOKEN";
const ALERT_SECRET: &str = "alerts-test-signing-secret-0123456789";
const ALERT_ENV: &str = "HOOKGATE_IT_ALERT_SECRET";

/// Records every alert, after checking its signature.
#[derive(Clone, Default)]
struct Receiver {
    alerts: Arc<Mutex<Vec<Value>>>,
    bad_signatures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(ALERT_SECRET.as_bytes()).unwrap();
        mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
        mac.update(&body);
        let expected = format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        if header("webhook-signature") != expected {
            self.bad_signatures.fetch_add(1, Ordering::SeqCst);
        }
        self.alerts
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
        Response::new(Full::new(Bytes::new()))
    }

    async fn start(&self) -> String {
        let this = self.clone();
        let addr = serve_http("127.0.0.1:0", move |req| {
            let this = this.clone();
            async move { this.answer(req).await }
        })
        .await;
        format!("http://{addr}/alerts")
    }

    fn of(&self, kind: &str) -> Vec<Value> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == kind)
            .cloned()
            .collect()
    }

    async fn until(&self, kind: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.of(kind).len() < n {
            assert!(
                Instant::now() < deadline,
                "no {kind} alert: {:?}",
                self.alerts.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn ticket(id: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:{:02}Z","data":{{"ticket_id":{id},"title":"t"}}}}"#,
        id % 60
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_go_once_per_episode_signed_to_the_alert_endpoint() {
    let receiver = Receiver::default();
    let alert_url = receiver.start().await;
    let (flaky, refusing, held) = (
        Upstream::default(),
        Upstream::default(),
        Upstream::default(),
    );
    // flaky: fails its first attempt and the first probe, then takes everything.
    flaky.script.lock().unwrap().extend([503, 503]);
    // refusing: two dead letters in a row, one episode.
    refusing.script.lock().unwrap().extend([400, 400]);
    let urls = (
        flaky.start_on("127.0.0.1:0").await,
        refusing.start_on("127.0.0.1:0").await,
        held.start_on("127.0.0.1:0").await,
    );
    let config = homa_config(
        Some(TOKEN_ENV),
        &format!(
            "[spool]\nmax_pending = 1000\n\
             [alerting]\nspool_fill = 0.002\nrefusals_per_minute = 3\n\
             [[alert]]\nurl = \"{alert_url}\"\nsecret = \"env:{ALERT_ENV}\"\n\
             [[route]]\nname = \"flaky\"\nto = \"{}\"\nmax_in_flight = 1\n\
             circuit = {{ failures = 1, cool_down = \"1s\" }}\n\
             [[route]]\nname = \"refusing\"\nto = \"{}\"\nmax_in_flight = 1\n\
             [[route]]\nname = \"held\"\nto = \"{}\"\npaused = true\n",
            urls.0, urls.1, urls.2
        ),
    );
    let envs = [(TOKEN_ENV, TOKEN), (ALERT_ENV, ALERT_SECRET)];
    let gateway = Running::start("alerts", SECRET, &config, &envs);
    let hook = gateway.url("/hooks/homa");
    for id in 1..=3 {
        let reply = post_signed(&homa(SECRET), &hook, ticket(id)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }

    // The circuit opens once (its failed probe is the same episode), and closes once.
    receiver.until("circuit.closed", 1).await;
    let opened = receiver.of("circuit.opened");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["data"]["destination"], "flaky");
    // Two dead letters at `refusing`, one alert, naming the first.
    receiver.until("delivery.dead", 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while refusing.received.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "refusing never got the third ticket"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let dead = receiver.of("delivery.dead");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["data"]["destination"], "refusing");
    assert_eq!(dead[0]["data"]["last_status"], 400);
    // The paused destination holds 3 of 1000: past 0.2%, the spool alerts.
    receiver.until("spool.filling", 1).await;

    // Refusals: 4 forgeries in a minute, past 3 per minute.
    for id in 10..14 {
        let reply = post_signed(&forger(), &hook, ticket(id)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    receiver.until("source.refusals", 1).await;
    assert_eq!(receiver.of("source.refusals")[0]["data"]["source"], "homa");

    // Resumed, the spool drains: it recovers, once.
    let admin = gateway.admin();
    let (status, text) = admin_call(
        "POST",
        &format!("{admin}/destinations/held/resume"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    receiver.until("spool.recovered", 1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for (kind, n) in [
        ("circuit.opened", 1),
        ("circuit.closed", 1),
        ("delivery.dead", 1),
        ("spool.filling", 1),
        ("spool.recovered", 1),
        ("source.refusals", 1),
    ] {
        assert_eq!(receiver.of(kind).len(), n, "{kind}: once per episode");
    }
    assert_eq!(
        receiver.bad_signatures.load(Ordering::SeqCst),
        0,
        "every alert is signed"
    );
    for alert in receiver.alerts.lock().unwrap().iter() {
        assert!(alert["timestamp"].is_string(), "{alert}");
    }
}

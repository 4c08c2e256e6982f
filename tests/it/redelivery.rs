//! A byte-identical re-delivery is a duplicate, not an attack (issue 18, point 1), over real
//! HTTP, for every timestamped scheme: Standard Webhooks v1 and v1a, Stripe, Slack, and a
//! sender described by hand. For each, with the dedup stage on and with it off (the replay cache
//! alone):
//!
//! - the first copy is `202`;
//! - every later copy of an accepted event is `200 duplicate` with its id, byte-identical or
//!   signed afresh;
//! - concurrent copies: exactly one `202`, the others `200 duplicate` or `409 in_flight`;
//!
//! and the handler sees each event once.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::{BoxFuture, join_all};
use hookgate::config::Config;
use hookgate::config::source_from_config;
use hookgate::dedup::{Claim, Claimed, DedupError, DedupKey, DedupStore};
use hookgate::profile::Profile;
use hookgate::{Event, Gateway, Pipeline, Router, Source};
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::sync::{Semaphore, mpsc};
use tower::Layer;

use crate::receiver_suite::{Signer, V1_SECRETS};
use crate::support::*;

const SHARED_SECRET: &str = "redelivery-secret-0123456789";

/// How a sender signs the event `id` for `url`, at `when`.
type Sign = Box<dyn Fn(&str, &str, SystemTime) -> Request<Full<Bytes>> + Send + Sync>;

/// One timestamped sender: the source a receiver configures for it, and how it signs.
struct Sender {
    name: &'static str,
    source: Source,
    sign: Sign,
}

/// A request to `url` carrying `body`, signed by `source` at `when`.
fn signed_at(source: &Source, url: &str, body: String, when: SystemTime) -> Request<Full<Bytes>> {
    let (mut head, ()) = Request::post(url)
        .header("content-type", "application/json")
        .body(())
        .unwrap()
        .into_parts();
    source
        .scheme()
        .sign_into(&mut head, body.as_bytes(), when)
        .unwrap();
    Request::from_parts(head, Full::new(Bytes::from(body)))
}

fn shared(profile: Profile) -> Source {
    Source::from_profile(profile.name(), profile, &[secret(SHARED_SECRET)])
}

/// A generic source described in TOML: hex HMAC of `{timestamp}.{body}` in `X-Signature`, the
/// timestamp in `X-Timestamp`, the event id in the body.
fn described() -> Source {
    let dir = std::env::temp_dir().join(format!("hookgate-redelivery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secret");
    std::fs::write(&path, SHARED_SECRET).unwrap();
    let text = format!(
        r#"
        [[source]]
        name = "described"
        profile = "generic"
        secrets = ["file:{}"]
        event_type = ["/kind"]
        event_id = ["/uid"]
        [source.auth]
        header = "X-Signature"
        content = "{{timestamp}}.{{body}}"
        timestamp = "header:X-Timestamp"
        tolerance = "5m"
        "#,
        path.display()
    );
    let config = Config::from_toml(&text, "redelivery").unwrap();
    assert!(config.unknown_keys.is_empty(), "{:?}", config.unknown_keys);
    let source = source_from_config(&config.sources[0]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    source
}

fn standard_webhooks(name: &'static str, signer: Signer) -> Sender {
    let source = Source::from_profile(name, Profile::StandardWebhooks, &[signer.secret(None)]);
    Sender {
        name,
        source,
        sign: Box::new(move |url, id, when| {
            signer.request(url, id, br#"{"type":"invoice.paid","data":{"n":1}}"#, when)
        }),
    }
}

/// Every timestamped scheme.
fn senders() -> Vec<Sender> {
    let stripe = shared(Profile::Stripe);
    let slack = shared(Profile::Slack);
    let described = described();
    vec![
        standard_webhooks("sw-v1", Signer::v1(V1_SECRETS[0])),
        standard_webhooks("sw-v1a", Signer::v1a(9)),
        Sender {
            name: "stripe",
            source: stripe.clone(),
            sign: Box::new(move |url, id, when| {
                let body =
                    format!(r#"{{"id":"{id}","type":"customer.created","created":1790000000}}"#);
                signed_at(&stripe, url, body, when)
            }),
        },
        Sender {
            name: "slack",
            source: slack.clone(),
            sign: Box::new(move |url, id, when| {
                let body = format!(
                    r#"{{"type":"event_callback","event_id":"{id}","event_time":1790000000,"event":{{"type":"app_mention"}}}}"#
                );
                signed_at(&slack, url, body, when)
            }),
        },
        Sender {
            name: "described",
            source: described.clone(),
            sign: Box::new(move |url, id, when| {
                let body = format!(r#"{{"uid":"{id}","kind":"thing.happened"}}"#);
                signed_at(&described, url, body, when)
            }),
        },
    ]
}

/// A dedup store that remembers nothing: every claim is new (dedup off).
struct Forgetful;

impl DedupStore for Forgetful {
    fn claim(&self, key: DedupKey) -> BoxFuture<'_, Result<Claimed, DedupError>> {
        Box::pin(async move { Ok(Claimed::New(Claim { key, token: 0 })) })
    }

    fn commit<'a>(&'a self, _: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, _: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the handlers saw, and the hold on events whose id starts with `hold`: each says it
/// entered the handler, then waits for a permit.
#[derive(Clone)]
struct Handlers {
    seen: Arc<Mutex<Vec<String>>>,
    entered: mpsc::UnboundedSender<()>,
    gate: Arc<Semaphore>,
}

impl Handlers {
    fn router(&self) -> Router {
        let this = self.clone();
        Router::new().on("*", move |event: Event| {
            let this = this.clone();
            async move {
                if event.id().as_str().starts_with("hold") {
                    let _ = this.entered.send(());
                    let _permit = this.gate.acquire().await;
                }
                this.seen.lock().unwrap().push(event.id().to_string());
                Ok::<_, Infallible>(())
            }
        })
    }

    fn times_seen(&self, id: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == id)
            .count()
    }
}

/// A copy of `request`.
fn copy(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut builder = Request::post(request.uri().clone());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    builder.body(request.body().clone()).unwrap()
}

/// The answer's status and body.
async fn answer(request: Request<Full<Bytes>>) -> (StatusCode, serde_json::Value) {
    let reply = send(request).await;
    (reply.status, json(&reply))
}

fn duplicate(id: &str) -> (StatusCode, serde_json::Value) {
    (
        StatusCode::OK,
        serde_json::json!({"status": "duplicate", "id": id}),
    )
}

/// The three cases for `sender`, posting to `url`; `dedup` says whether the dedup stage is on.
async fn three_cases(
    sender: &Sender,
    url: &str,
    handlers: &Handlers,
    entered: &mut mpsc::UnboundedReceiver<()>,
    dedup: bool,
) {
    let what = format!(
        "{} (dedup {})",
        sender.name,
        if dedup { "on" } else { "off" }
    );
    let now = SystemTime::now();
    let sign = |id: &str, when| (sender.sign)(url, id, when);

    // The first copy: 202.
    let first = sign("evt_1", now);
    let (status, body) = answer(copy(&first)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{what}: {body}");
    assert_eq!(
        (&body["status"], &body["id"]),
        (&"accepted".into(), &"evt_1".into()),
        "{what}"
    );
    // Every later byte-identical copy: 200 duplicate, with the event's id.
    for n in 0..2 {
        assert_eq!(
            answer(copy(&first)).await,
            duplicate("evt_1"),
            "{what}: copy {n}"
        );
    }
    // Signed afresh (a new timestamp, so a new signature): a duplicate too, by event id.
    if dedup {
        let again = sign("evt_1", now + Duration::from_secs(1));
        assert_eq!(answer(again).await, duplicate("evt_1"), "{what}: re-signed");
    }
    assert_eq!(handlers.times_seen("evt_1"), 1, "{what}");

    // Copies while the first is in the handler: 409 in_flight (deterministic: the first has said
    // it entered and waits for a permit). Then the first: 202; copies after it: 200 duplicate.
    let held = sign("hold", now);
    let pending = tokio::spawn(answer(copy(&held)));
    entered.recv().await.unwrap();
    for n in 0..2 {
        let reply = send(copy(&held)).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{what}: in flight {n}");
        assert_eq!(json(&reply)["error"], "in_flight", "{what}");
        assert!(reply.headers.contains_key("retry-after"), "{what}");
    }
    if dedup {
        let again = sign("hold", now + Duration::from_secs(1));
        let (status, body) = answer(again).await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::CONFLICT, &"in_flight".into()),
            "{what}: re-signed while in flight"
        );
    }
    handlers.gate.add_permits(1);
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{what}: held first: {body}");
    assert_eq!(answer(copy(&held)).await, duplicate("hold"), "{what}");
    assert_eq!(handlers.times_seen("hold"), 1, "{what}");

    // Eight copies at once: exactly one 202, the others 200 duplicate or 409 in_flight.
    let burst = sign("evt_burst", now);
    let answers = join_all((0..8).map(|_| answer(copy(&burst)))).await;
    let accepted = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 1, "{what}: {answers:?}");
    for (status, body) in &answers {
        let fine = *status == StatusCode::ACCEPTED
            || (*status, body.clone()) == duplicate("evt_burst")
            || (*status == StatusCode::CONFLICT && body["error"] == "in_flight");
        assert!(fine, "{what}: {status} {body}");
    }
    assert_eq!(handlers.times_seen("evt_burst"), 1, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_identical_redelivery_is_a_duplicate_for_every_timestamped_scheme() {
    let senders = senders();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let mut gateway = Gateway::new();
    let mut mounted = Vec::new();
    for sender in &senders {
        for dedup in [true, false] {
            let handlers = Handlers {
                seen: Arc::default(),
                entered: entered_tx.clone(),
                gate: Arc::new(Semaphore::new(0)),
            };
            let pipeline = Pipeline::new(sender.source.clone());
            let pipeline = if dedup {
                pipeline
            } else {
                pipeline.dedup(Forgetful)
            };
            let path = format!("/{}/{}", sender.name, if dedup { "dedup" } else { "none" });
            gateway = gateway.mount(path.clone(), pipeline.layer(handlers.router()));
            mounted.push((sender, path, handlers, dedup));
        }
    }
    let server = Server::start(gateway).await;
    for (sender, path, handlers, dedup) in &mounted {
        three_cases(sender, &server.url(path), handlers, &mut entered, *dedup).await;
    }
}

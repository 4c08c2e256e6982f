//! The Standard Webhooks receiver suite, v1 (HMAC) and v1a (Ed25519), over real HTTP: every
//! rule a receiver is held to (valid, tampered, stale, future, rotated and expired secrets,
//! re-deliveries, concurrent copies), and the signers the other suites borrow.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use hookgate::auth::Scheme;
use hookgate::profile::Profile;
use hookgate::{Event, Gateway, Pipeline, Router, Secret, Source};
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::sync::Semaphore;
use tower::Layer;

use crate::support::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Who signs: a Standard Webhooks sender with an HMAC secret (v1) or an Ed25519 key (v1a).
pub(crate) struct Signer {
    /// What the receiver is configured with: the `whsec_` secret, or the `whpk_` public key.
    receiver_secret: String,
    /// A source with that secret (for v1 it signs; for v1a it says what the content is).
    source: Source,
    /// The v1a private key.
    key: Option<SigningKey>,
}

impl Signer {
    pub(crate) fn v1(secret: &str) -> Self {
        Self::new(secret.to_owned(), None)
    }

    pub(crate) fn v1a(seed: u8) -> Self {
        let key = SigningKey::from_bytes(&[seed; 32]);
        Self::new(public_key(&key), Some(key))
    }

    fn new(receiver_secret: String, key: Option<SigningKey>) -> Self {
        let source = Source::from_profile(
            "signer",
            Profile::StandardWebhooks,
            &[Secret::new(receiver_secret.as_bytes().to_vec(), "t").unwrap()],
        );
        Self {
            receiver_secret,
            source,
            key,
        }
    }

    /// The receiver's secret for this signer, valid until `not_after` if given.
    pub(crate) fn secret(&self, not_after: Option<SystemTime>) -> Secret {
        let secret = Secret::new(self.receiver_secret.as_bytes().to_vec(), "t").unwrap();
        match not_after {
            Some(at) => secret.not_after(at),
            None => secret,
        }
    }

    /// A request to `url` with id `id`, signed at `when`.
    pub(crate) fn request(
        &self,
        url: &str,
        id: &str,
        body: &[u8],
        when: SystemTime,
    ) -> Request<Full<Bytes>> {
        let timestamp = when
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let (mut h, ()) = Request::post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", &timestamp)
            .body(())
            .unwrap()
            .into_parts();
        let Scheme::Signature(scheme) = self.source.scheme().as_ref() else {
            unreachable!("standard webhooks signs")
        };
        match &self.key {
            None => scheme.sign_into(&mut h, body, when).unwrap(),
            Some(key) => {
                let content = scheme.content(&h, body).unwrap();
                let signature = B64.encode(key.sign(&content).to_bytes());
                h.headers.insert(
                    "webhook-signature",
                    format!("v1a,{signature}").parse().unwrap(),
                );
            }
        }
        Request::from_parts(h, Full::new(Bytes::copy_from_slice(body)))
    }
}

pub(crate) fn public_key(key: &SigningKey) -> String {
    format!("whpk_{}", B64.encode(key.verifying_key().as_bytes()))
}

/// A router that records events; events whose id starts with `msg_hold` wait for a permit of
/// `gate` first.
fn gated(events: Arc<Mutex<Vec<Event>>>, gate: Arc<Semaphore>) -> Router {
    Router::new().on("*", move |event: Event| {
        let gate = Arc::clone(&gate);
        let events = Arc::clone(&events);
        async move {
            if event.id().as_str().starts_with("msg_hold") {
                let _permit = gate.acquire().await;
            }
            events.lock().unwrap().push(event);
            Ok::<_, std::convert::Infallible>(())
        }
    })
}

async fn receiver_suite(current: Signer, old: Signer, version: &str) {
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    // /sw: the current secret, and the old one until an hour from now (rotation under way).
    // /sw-rotated: the old one expired a second ago.
    let rotating = Source::from_profile(
        "sw",
        Profile::StandardWebhooks,
        &[current.secret(None), old.secret(Some(now + hour))],
    );
    let rotated = Source::from_profile(
        "sw-rotated",
        Profile::StandardWebhooks,
        &[
            current.secret(None),
            old.secret(Some(now - Duration::from_secs(1))),
        ],
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Semaphore::new(0));
    let gateway = Gateway::new()
        .mount(
            "/sw",
            Pipeline::new(rotating).layer(gated(Arc::clone(&events), Arc::clone(&gate))),
        )
        .mount(
            "/sw-rotated",
            Pipeline::new(rotated).layer(gated(Arc::clone(&events), Arc::clone(&gate))),
        );
    let server = Server::start(gateway).await;
    let url = server.url("/sw");
    let body = br#"{"type":"invoice.paid","timestamp":"2026-11-24T10:00:00Z","data":{"id":1}}"#;
    let post = |req: Request<Full<Bytes>>| async move {
        let reply = send(req).await;
        let code = json(&reply)["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (reply.status, code)
    };

    // Valid.
    let (status, _) = post(current.request(&url, "msg_valid", body, now)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{version}: valid");

    // Expired and future timestamps.
    let six_minutes = Duration::from_secs(360);
    for (what, when) in [
        ("expired", now - six_minutes),
        ("future", now + six_minutes),
    ] {
        let (status, code) = post(current.request(&url, &format!("msg_{what}"), body, when)).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "stale_timestamp"),
            "{version}: {what} timestamp"
        );
    }
    // Within the tolerance either way: accepted.
    let four_minutes = Duration::from_secs(240);
    for (what, when) in [("late", now - four_minutes), ("early", now + four_minutes)] {
        let (status, _) = post(current.request(&url, &format!("msg_{what}"), body, when)).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "{version}: {what}, within the window"
        );
    }

    // Re-serialized body: signed compact, received pretty.
    let signed = current.request(&url, "msg_reserialized", body, now);
    let (parts, _) = signed.into_parts();
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(body).unwrap())
            .unwrap();
    let (status, code) = post(Request::from_parts(parts, Full::new(Bytes::from(pretty)))).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_signature"),
        "{version}: re-serialized body"
    );

    // The old secret during the rotation: accepted; once expired: refused.
    let (status, _) = post(old.request(&url, "msg_old_secret", body, now)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{version}: old secret during rotation"
    );
    let (status, code) =
        post(old.request(&server.url("/sw-rotated"), "msg_expired_secret", body, now)).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_signature"),
        "{version}: expired secret"
    );
    let (status, _) =
        post(current.request(&server.url("/sw-rotated"), "msg_new_secret", body, now)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{version}: the new secret after the rotation"
    );

    // A concurrent duplicate: the same signed request twice while the first is being handled.
    let first = current.request(&url, "msg_hold", body, now);
    let (parts, full) = first.into_parts();
    let copy = || Request::from_parts(parts.clone(), full.clone());
    let pending = tokio::spawn(post(copy()));
    // Wait until the first holds its claim (it is in the handler, waiting on the gate).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let second = loop {
        let (status, code) = post(copy()).await;
        if code == "in_flight" || tokio::time::Instant::now() > deadline {
            break (status, code);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(
        (second.0, second.1.as_str()),
        (StatusCode::CONFLICT, "in_flight"),
        "{version}: concurrent duplicate"
    );
    gate.add_permits(1);
    let (status, _) = pending.await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{version}: the first copy");
    // The same bytes again, after it was accepted: a duplicate, not processed again.
    let reply = send(copy()).await;
    assert_eq!(
        (reply.status, json(&reply)),
        (
            StatusCode::OK,
            serde_json::json!({"status": "duplicate", "id": "msg_hold"})
        ),
        "{version}: a byte-identical copy within the window"
    );
    // The sender's own retry signs afresh (same id, new timestamp): a duplicate, answered 200.
    gate.add_permits(1);
    let (status, _) =
        post(current.request(&url, "msg_hold", body, now + Duration::from_secs(1))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{version}: the sender's retry is a duplicate"
    );

    let ids: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.id().to_string())
        .collect();
    for id in [
        "msg_valid",
        "msg_late",
        "msg_early",
        "msg_old_secret",
        "msg_new_secret",
        "msg_hold",
    ] {
        assert_eq!(
            ids.iter().filter(|i| *i == id).count(),
            1,
            "{version}: {id} in {ids:?}"
        );
    }
    assert_eq!(ids.len(), 6, "{version}: {ids:?}");
}

pub(crate) const V1_SECRETS: [&str; 2] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5",
];

#[tokio::test]
async fn standard_webhooks_receiver_suite_v1() {
    receiver_suite(Signer::v1(V1_SECRETS[0]), Signer::v1(V1_SECRETS[1]), "v1").await;
}

#[tokio::test]
async fn standard_webhooks_receiver_suite_v1a() {
    receiver_suite(Signer::v1a(1), Signer::v1a(2), "v1a").await;
}

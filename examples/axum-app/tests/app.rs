//! The embedding example over real HTTP: the app bound to 127.0.0.1 on port 0, NinjaOne's
//! requests signed as NinjaOne signs them. What the core alone gives an axum app: verification
//! (401), validation against the sender's spec (422), deduplication (200 duplicate) and typed
//! routing (the alert reaches the typed handler).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use hookgate_axum_app::{Stats, app};
use serde_json::{Value, json};

const SECRET: &str = "an-embedded-test-secret-0123";

async fn start() -> (String, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let secret = Secret::new(SECRET.as_bytes().to_vec(), "test").unwrap();
    let router = app(secret, Arc::clone(&stats));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, stats)
}

/// Post `body` to the hook route, signed with `secret`: the status and the answer's JSON.
async fn post(url: &str, secret: &str, body: &Value) -> (u16, Value) {
    let signer = Source::from_profile(
        "ninja",
        Profile::NinjaOne,
        &[Secret::new(secret.as_bytes().to_vec(), "test").unwrap()],
    );
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap());
    let request =
        hookgate::send::signed_request(&signer, &format!("{url}/hooks/ninja"), bytes).unwrap();
    let reply = hookgate::client::post(request).await.unwrap();
    let answer = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status.as_u16(), answer)
}

#[tokio::test]
async fn the_embedded_core_verifies_validates_dedups_and_routes_typed_events() {
    let (url, stats) = start().await;
    let alert = Profile::NinjaOne.example(Some("ALERT_TRIGGERED")).unwrap();

    // A genuine alert: accepted, decoded into its Rust type by the typed handler.
    let (status, answer) = post(&url, SECRET, &alert).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(stats.alerts.load(Ordering::Relaxed), 1);

    // The same event again: a duplicate, not handled twice.
    let (status, answer) = post(&url, SECRET, &alert).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "duplicate", "{answer}");
    assert_eq!(stats.alerts.load(Ordering::Relaxed), 1);

    // Signed with another secret: refused before anything reads the body.
    let (status, answer) = post(&url, "another-secret-0123456789", &alert).await;
    assert_eq!(status, 401, "{answer}");

    // A documented field of the wrong type: 422 naming the field, never handled.
    let mut wrong = alert.clone();
    wrong["data"]["deviceId"] = json!("12345");
    wrong["data"]["uid"] = json!("another-alert");
    let (status, answer) = post(&url, SECRET, &wrong).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["details"][0]["instance_path"], "/data/deviceId",
        "{answer}"
    );
    assert_eq!(stats.alerts.load(Ordering::Relaxed), 1);

    // Another event type reaches only the catch-all route, which saw the alert too.
    let device = Profile::NinjaOne.example(Some("DEVICE_ADDED")).unwrap();
    let (status, answer) = post(&url, SECRET, &device).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(stats.events.load(Ordering::Relaxed), 2);
    assert_eq!(stats.alerts.load(Ordering::Relaxed), 1);
}

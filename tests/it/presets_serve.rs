//! Every preset and a generic description through `hookgate serve` and its spool, end to end:
//! signed by the sender's own rules, accepted once, a duplicate after, delivered to the log.

use std::time::SystemTime;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::presets::generic_description;
use crate::support::*;

const E2E_SECRET: &str = "e2e-shared-secret-0123456789";

fn e2e_config() -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
data_dir = "{{data}}"

[[source]]
name = "slack"
profile = "slack"
secrets = ["file:{{secret}}"]

[[source]]
name = "github"
profile = "github"
secrets = ["file:{{secret}}"]

# Stripe, described by hand.
[[source]]
name = "stripe-by-hand"
profile = "generic"
secrets = ["file:{{secret}}"]
event_type = ["/type"]
event_id = ["/id"]
[source.auth]
{}

[[route]]
to = "log"
"#,
        generic_description(Profile::Stripe, false)
    )
}

fn preset(profile: Profile) -> Source {
    Source::from_profile(
        profile.name(),
        profile,
        &[Secret::new(E2E_SECRET.as_bytes().to_vec(), "t").unwrap()],
    )
}

/// A request to `url` signed now by `source`, with `content_type` and `extra` headers.
fn signed_post(
    source: &Source,
    url: &str,
    body: &[u8],
    content_type: &str,
    extra: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let mut builder = Request::post(url).header("content-type", content_type);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let (mut h, ()) = builder.body(()).unwrap().into_parts();
    source
        .scheme()
        .sign_into(&mut h, body, SystemTime::now())
        .unwrap();
    Request::from_parts(h, Full::new(Bytes::copy_from_slice(body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_and_a_generic_description_work_through_serve() {
    let gateway = crate::running::Running::start("presets", E2E_SECRET, &e2e_config(), &[]);
    let slack = preset(Profile::Slack);
    let github = preset(Profile::GitHub);
    let stripe = preset(Profile::Stripe);

    // Slack's url_verification, signed: answered with the challenge, not stored or routed.
    let challenge = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let url = gateway.url("/hooks/slack");
    let reply = send(signed_post(
        &slack,
        &url,
        challenge,
        "application/json",
        &[],
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        json(&reply),
        serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    // Unsigned, it is refused like anything else.
    let forger = Source::from_profile(
        "slack",
        Profile::Slack,
        &[Secret::new(b"not-the-signing-secret-0123".to_vec(), "t").unwrap()],
    );
    let reply = send(signed_post(
        &forger,
        &url,
        challenge,
        "application/json",
        &[],
    ))
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // The same signed handshake again: answered again (nothing was stored to be a duplicate of).
    let request = signed_post(&slack, &url, challenge, "application/json", &[]);
    let (parts, body) = request.into_parts();
    for _ in 0..2 {
        let reply = send(Request::from_parts(parts.clone(), body.clone())).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            json(&reply)["challenge"],
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        );
    }
    // An event: accepted and spooled; the same signed request again: a duplicate of it.
    let event = br#"{"type":"event_callback","event_id":"Ev01","event_time":1790000000,"event":{"type":"app_mention","text":"hi"}}"#;
    let request = signed_post(&slack, &url, event, "application/json", &[]);
    let (parts, body) = request.into_parts();
    let reply = send(Request::from_parts(parts.clone(), body.clone())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let reply = send(Request::from_parts(parts, body)).await;
    assert_eq!(
        (reply.status, json(&reply)),
        (
            StatusCode::OK,
            serde_json::json!({"status": "duplicate", "id": "Ev01"})
        )
    );

    // GitHub posting form-encoded: the JSON is the payload field; the signature covers the form.
    let payload = r#"{"action":"opened","issue":{"number":1}}"#;
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", payload)
        .finish();
    let reply = send(signed_post(
        &github,
        &gateway.url("/hooks/github"),
        form.as_bytes(),
        "application/x-www-form-urlencoded",
        &[
            ("x-github-event", "issues"),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ],
    ))
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // Stripe, described by hand in [source.auth].
    let body = br#"{"id":"evt_e2e","type":"customer.created","created":1790000000}"#;
    let reply = send(signed_post(
        &stripe,
        &gateway.url("/hooks/stripe-by-hand"),
        body,
        "application/json",
        &[],
    ))
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // Three events reach the log, each with its type; the handshake is not one of them.
    let lines = gateway.server().stdout_lines(3);
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "github".into(),
                "issues.opened".into(),
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into()
            ),
            (
                "slack".into(),
                "event_callback.app_mention".into(),
                "Ev01".into()
            ),
            (
                "stripe-by-hand".into(),
                "customer.created".into(),
                "evt_e2e".into()
            ),
        ]
    );
}

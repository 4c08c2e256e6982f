//! Senders' endpoint checks and their one success status, through a real `hookgate serve` whose
//! configuration names each preset: Zoom, Microsoft Graph, Okta event hooks, Dropbox, and a
//! seed source with `ack_status = 204`. Each check is answered on its own source's path only,
//! and never stored or routed: the admin API lists the events and nothing else.

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::SystemTime;

use crate::running::Running;
use crate::support::{json as body_json, send};

const SECRET: &str = "endpoint-check-secret-0123456789";
const ADMIN: &str = "checks-admin-token-0123456789";

const CONFIG: &str = r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[admin]
listen = "127.0.0.1:0"
token = "env:HG_CHECKS_ADMIN"

[[source]]
name = "zoom"
profile = "zoom"
secrets = ["file:{secret}"]

[[source]]
name = "graph"
profile = "microsoft-graph"
secrets = ["file:{secret}"]

[[source]]
name = "okta"
profile = "okta"
secrets = ["file:{secret}"]

[[source]]
name = "dropbox"
profile = "dropbox"
secrets = ["file:{secret}"]

[[source]]
name = "homa"
profile = "homa"
secrets = ["file:{secret}"]
ack_status = 204

[[route]]
to = "log"
"#;

fn preset(name: &str, profile: Profile) -> Source {
    Source::from_profile(
        name,
        profile,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    )
}

/// `body` POSTed to `url`, signed now by `source` (every header its scheme reads).
fn signed(source: &Source, url: &str, body: &[u8]) -> Request<Full<Bytes>> {
    signed_at(source, url, body, SystemTime::now())
}

/// `body` POSTed to `url`, signed by `source` as at `at`.
fn signed_at(source: &Source, url: &str, body: &[u8], at: SystemTime) -> Request<Full<Bytes>> {
    let (mut head, ()) = Request::post(url)
        .header("content-type", "application/json")
        .body(())
        .unwrap()
        .into_parts();
    source.scheme().sign_into(&mut head, body, at).unwrap();
    Request::from_parts(head, Full::new(Bytes::copy_from_slice(body)))
}

fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap()
}

fn header<'a>(reply: &'a hookgate::client::Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The events the admin API lists for `source`: (type, id).
async fn stored(gateway: &Running, source: &str) -> Vec<(String, String)> {
    let url = format!("{}/events?source={source}", gateway.admin());
    let (status, text) = crate::running::admin_call("GET", &url, Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let mut events: Vec<(String, String)> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    events.sort();
    events
}

// Zoom: developers.zoom.us/docs/api/webhooks/ ("Validate your webhook endpoint", "Verify webhook
// events"): the validation is a signed POST (`x-zm-signature: v0=<hex>` over
// `v0:{x-zm-request-timestamp}:{body}`) answered 200 with `plainToken` and
// `encryptedToken` = hex HMAC-SHA256 of it under the secret token; events need 200 or 204
// (devsupport.zoom.us "Webhook delays").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoom_url_validation_is_answered_with_the_hmac_of_the_plain_token() {
    let gateway = Running::start("checks-zoom", SECRET, CONFIG, &[("HG_CHECKS_ADMIN", ADMIN)]);
    let zoom = preset("zoom", Profile::Zoom);
    let url = gateway.url("/hooks/zoom");
    // The docs' example validation request.
    let validation = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let reply = send(signed(&zoom, &url, validation)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(b"qgg8vlvZRS6UYooatFL8Aw");
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(
        body_json(&reply),
        json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected})
    );
    // Zoom signs it: unsigned or signed with another secret, it is refused like any request.
    let forger = Source::from_profile(
        "zoom",
        Profile::Zoom,
        &[Secret::new(b"not-zoom-secret-token-0123".to_vec(), "t").unwrap()],
    );
    let reply = send(signed(&forger, &url, validation)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(request("POST", &url, &[], validation)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&reply.body).contains(&expected));

    // An event: 200 (Zoom's success), and the same event signed afresh: 200 duplicate.
    let event = br#"{"event":"meeting.started","event_ts":1790000000000,"payload":{"account_id":"a1","object":{"id":"85","topic":"standup"}}}"#;
    let reply = send(signed(&zoom, &url, event)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(body_json(&reply)["status"], "accepted");
    assert_eq!(body_json(&reply)["type"], "meeting.started");
    // (A retry is signed again, with its own timestamp.)
    let retried = SystemTime::now() - std::time::Duration::from_secs(2);
    let reply = send(signed_at(&zoom, &url, event, retried)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(body_json(&reply)["status"], "duplicate");

    // The validation was never stored or routed.
    let events = stored(&gateway, "zoom").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "meeting.started");
}

// Microsoft Graph: learn.microsoft.com/graph/change-notifications-delivery-webhooks
// ("Notification endpoint validation"): a POST with `?validationToken=` answered within 10 s,
// 200, `text/plain`, the URL-decoded token; notifications carry the subscription's
// `clientState` in each `value` and expect 202.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_graph_validation_is_echoed_and_notifications_need_their_client_state() {
    let gateway = Running::start(
        "checks-graph",
        SECRET,
        CONFIG,
        &[("HG_CHECKS_ADMIN", ADMIN)],
    );
    let url = gateway.url("/hooks/graph");
    let token = "Validation: Testing client application reachability for subscription Request-Id: 3bbd3b9f-0a58-4a4c-b3c6-4b5b3f8f2f1e";
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("validationToken", token)
        .finish();
    let reply = send(request(
        "POST",
        &format!("{url}?{query}"),
        &[("content-type", "text/plain; charset=utf-8")],
        b"",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, token.as_bytes());
    assert!(header(&reply, "content-type").starts_with("text/plain"));
    assert_eq!(header(&reply, "x-content-type-options"), "nosniff");
    // A token no sender sends is not echoed.
    let reply = send(request(
        "POST",
        &format!("{url}?validationToken=%3Cscript%3E"),
        &[],
        b"",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(body_json(&reply)["error"], "invalid_challenge");
    // Graph's check is a POST: a GET on its path is still 405.
    let reply = send(request("GET", &format!("{url}?{query}"), &[], b"")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&reply, "allow"), "POST");

    // A notification is authenticated by its clientState, compared in constant time.
    let notification = |state: &str| {
        format!(
            r#"{{"value":[{{"subscriptionId":"sub-1","clientState":"{state}","changeType":"created","resource":"Users/u1/Messages/m1","subscriptionExpirationDateTime":"2026-12-01T00:00:00Z","tenantId":"t1"}}]}}"#
        )
    };
    let post = |body: String| {
        request(
            "POST",
            &url,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    };
    let reply = send(post(notification(SECRET))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(body_json(&reply)["type"], "created");
    // The retry: Graph counts 202, so the duplicate says 202 too.
    let reply = send(post(notification(SECRET))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(body_json(&reply)["status"], "duplicate");
    let reply = send(post(notification("not-the-client-state-0123"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(&reply)["error"], "invalid_token");
    assert!(!String::from_utf8_lossy(&reply.body).contains(SECRET));
    let reply = send(post(r#"{"value":[{"changeType":"created"}]}"#.into())).await;
    assert_eq!(body_json(&reply)["error"], "missing_token");
    // Every notification of a batch must carry it.
    let mixed = format!(
        r#"{{"value":[{{"clientState":"{SECRET}","changeType":"created"}},{{"clientState":"forged-0123456789abc","changeType":"deleted"}}]}}"#
    );
    let reply = send(post(mixed)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let events = stored(&gateway, "graph").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "created");
}

// Okta: developer.okta.com/docs/concepts/event-hooks/ ("One-time verification request"), and
// support.okta.com "Unable to verify event hook": a GET with `X-Okta-Verification-Challenge`
// and the hook's `Authorization` secret, answered 200 `{"verification": ...}`; deliveries are
// POSTs with the same header, event types in `data.events[].eventType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_verification_is_answered_with_its_token_and_events_are_200() {
    let gateway = Running::start("checks-okta", SECRET, CONFIG, &[("HG_CHECKS_ADMIN", ADMIN)]);
    let url = gateway.url("/hooks/okta");
    let challenge = "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg";
    let verification = |auth: Option<&str>, challenge: Option<&str>| {
        let mut headers = vec![("accept", "application/json")];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        if let Some(challenge) = challenge {
            headers.push(("x-okta-verification-challenge", challenge));
        }
        request("GET", &url, &headers, b"")
    };
    let reply = send(verification(Some(SECRET), Some(challenge))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(body_json(&reply), json!({"verification": challenge}));
    // Without the hook's secret, or with another: refused before the challenge is looked at.
    let reply = send(verification(None, Some(challenge))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&reply.body).contains(challenge));
    let reply = send(verification(
        Some("not-the-hook-secret-0123"),
        Some(challenge),
    ))
    .await;
    assert_eq!(body_json(&reply)["error"], "invalid_token");
    let reply = send(verification(Some(SECRET), None)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(body_json(&reply)["error"], "missing_challenge");
    // Other methods than GET and POST: 405, saying both.
    let reply = send(request("PUT", &url, &[("authorization", SECRET)], b"{}")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&reply, "allow"), "GET, POST");

    let event = br#"{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://example.okta.com/api/v1/eventHooks/who8","eventId":"b5a188b9-5ece-4636-b041-482ffda96311","eventTime":"2026-11-24T10:00:00.000Z","contentType":"application/json","data":{"events":[{"uuid":"a6a1","eventType":"user.session.start","published":"2026-11-24T10:00:00.000Z"}]}}"#;
    let post = |auth: &str| {
        request(
            "POST",
            &url,
            &[
                ("content-type", "application/json"),
                ("authorization", auth),
            ],
            event,
        )
    };
    let reply = send(post(SECRET)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(body_json(&reply)["type"], "user.session.start");
    assert_eq!(
        body_json(&reply)["id"],
        "b5a188b9-5ece-4636-b041-482ffda96311"
    );
    let reply = send(post(SECRET)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(body_json(&reply)["status"], "duplicate");
    let reply = send(post("not-the-hook-secret-0123")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let events = stored(&gateway, "okta").await;
    assert_eq!(
        events,
        [(
            "user.session.start".to_owned(),
            "b5a188b9-5ece-4636-b041-482ffda96311".to_owned()
        )]
    );
}

// Dropbox: dropbox.com/developers/reference/webhooks: verification is a GET with `challenge`,
// echoed with `Content-Type: text/plain` and `X-Content-Type-Options: nosniff`;
// notifications carry `X-Dropbox-Signature` (hex HMAC-SHA256 of the body, app secret) and
// anything but 200 is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox_challenge_is_echoed_and_every_notification_is_its_own_event() {
    let gateway = Running::start(
        "checks-dropbox",
        SECRET,
        CONFIG,
        &[("HG_CHECKS_ADMIN", ADMIN)],
    );
    let dropbox = preset("dropbox", Profile::Dropbox);
    let url = gateway.url("/hooks/dropbox");
    let reply = send(request("GET", &format!("{url}?challenge=abc123"), &[], b"")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "abc123".as_bytes());
    assert!(header(&reply, "content-type").starts_with("text/plain"));
    assert_eq!(header(&reply, "x-content-type-options"), "nosniff");
    for (query, code) in [
        ("", "missing_challenge"),
        ("?challenge=", "missing_challenge"),
        ("?challenge=a&challenge=b", "invalid_challenge"),
        ("?challenge=%3Cimg%20src%3Dx%3E", "invalid_challenge"),
    ] {
        let reply = send(request("GET", &format!("{url}{query}"), &[], b"")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body_json(&reply)["error"], code, "{query}");
    }
    let long = "a".repeat(hookgate::handshake::MAX_CHALLENGE_BYTES + 1);
    let reply = send(request("GET", &format!("{url}?challenge={long}"), &[], b"")).await;
    assert_eq!(body_json(&reply)["error"], "invalid_challenge");

    // The same "these accounts changed" body twice is two notifications, each 200.
    let body = br#"{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},"delta":{"users":[12345678]}}"#;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let reply = send(signed(&dropbox, &url, body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(body_json(&reply)["status"], "accepted");
        assert_eq!(body_json(&reply)["type"], "list_folder");
        ids.push(body_json(&reply)["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let forger = Source::from_profile(
        "dropbox",
        Profile::Dropbox,
        &[Secret::new(b"not-the-app-secret-0123456".to_vec(), "t").unwrap()],
    );
    let reply = send(signed(&forger, &url, body)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let events = stored(&gateway, "dropbox").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|(kind, _)| kind == "list_folder"));

    // A source without a GET check keeps refusing GET, even with a challenge; and no other
    // source answers Dropbox's check.
    let reply = send(request(
        "GET",
        &gateway.url("/hooks/homa?challenge=abc123"),
        &[],
        b"",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&reply, "allow"), "POST");
    let reply = send(request(
        "GET",
        &gateway.url("/hooks/okta?challenge=abc123"),
        &[("authorization", SECRET)],
        b"",
    ))
    .await;
    assert_eq!(body_json(&reply)["error"], "missing_challenge");
}

// `ack_status = 204` on a seed source: new events and duplicates alike are 204 without a body;
// errors keep their status and JSON body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_status_answers_new_events_and_duplicates_alike() {
    let gateway = Running::start("checks-ack", SECRET, CONFIG, &[("HG_CHECKS_ADMIN", ADMIN)]);
    let homa = preset("homa", Profile::Homa);
    let url = gateway.url("/hooks/homa");
    let body = br#"{"event":"ticket.created","timestamp":"2026-11-24T10:00:00Z","data":{"ticket_id":7,"title":"t","priority":"low","status":"open"}}"#;
    for _ in 0..2 {
        let reply = send(signed(&homa, &url, body)).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());
    }
    let reply = send(request("POST", &url, &[], body)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(&reply)["error"], "missing_signature");
    assert_eq!(stored(&gateway, "homa").await.len(), 1);

    // A source created through the sources API takes `ack_status` and its profile's check too,
    // answering GET from the moment it is mounted.
    let create = json!({"name": "box2", "profile": "dropbox", "secret": SECRET, "ack_status": 204});
    let reply = send(
        Request::post(format!("{}/sources", gateway.admin()))
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(create.to_string())))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let url = gateway.url("/hooks/box2");
    let reply = send(request("GET", &format!("{url}?challenge=xyz789"), &[], b"")).await;
    assert_eq!(
        (reply.status, &reply.body[..]),
        (StatusCode::OK, &b"xyz789"[..])
    );
    let notification = br#"{"list_folder":{"accounts":["dbid:a"]}}"#;
    let reply = send(signed(
        &preset("box2", Profile::Dropbox),
        &url,
        notification,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = send(request(
        "POST",
        &format!("{}/sources", gateway.admin()),
        &[
            ("authorization", &format!("Bearer {ADMIN}")),
            ("content-type", "application/json"),
        ],
        json!({"name": "box3", "profile": "dropbox", "ack_status": 201})
            .to_string()
            .as_bytes(),
    ))
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert!(String::from_utf8_lossy(&reply.body).contains("ack_status = 201"));
}

//! The issue-2 acceptance points, for every seed profile, over real HTTP.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::{HeaderValue, StatusCode};

use crate::support::*;

const MAX_BODY: usize = 64 * 1024;

#[tokio::test]
async fn valid_request_is_202_and_handled_once() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let body = sample(m.profile);
        let reply = send(signed(&m.source, &server.url(&m.path), body.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{:?}: {:?}",
            m.profile,
            reply.body
        );
        let answer = json(&reply);
        assert_eq!(answer["status"], "accepted");
        let events = m.recorder.events();
        assert_eq!(events.len(), 1, "{:?}", m.profile);
        let event = &events[0];
        assert_eq!(event.raw(), &body, "the handler sees the exact bytes");
        assert_eq!(event.source(), m.profile.name());
        assert_eq!(answer["id"], event.id().as_str());
        assert_eq!(answer["type"], event.kind().as_str());
        assert!(event.verified().is_some());
        // Credentials never travel on the event.
        let credential_header = m.source.scheme().credential_header().unwrap();
        assert!(
            event.headers().get(credential_header).is_none(),
            "{:?}",
            m.profile
        );
    }
}

#[tokio::test]
async fn tampered_body_is_401() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let body = sample(m.profile);
        let header = credential(&m.source, &body);
        let mut tampered = body.to_vec();
        // Flip one byte inside a string value, keeping the JSON valid.
        let at = tampered.iter().rposition(|b| b.is_ascii_digit()).unwrap();
        tampered[at] = if tampered[at] == b'9' {
            b'8'
        } else {
            tampered[at] + 1
        };
        let reply = send(request_with(
            &server.url(&m.path),
            Bytes::from(tampered),
            &[header],
        ))
        .await;
        let expected = if m.profile == Profile::NinjaRmm {
            // A static token does not cover the body (NinjaRMM does not sign): documented.
            StatusCode::ACCEPTED
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(reply.status, expected, "{:?}", m.profile);
        if expected == StatusCode::UNAUTHORIZED {
            assert_eq!(json(&reply)["error"], "invalid_signature");
            assert!(m.recorder.events().is_empty());
        }
    }
}

#[tokio::test]
async fn wrong_secret_is_401() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let forger = Source::from_profile("x", m.profile, &[secret("not-the-right-secret-000")]);
        let reply = send(signed(&forger, &server.url(&m.path), sample(m.profile))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", m.profile);
        let text = String::from_utf8_lossy(&reply.body);
        // No hint of what was expected: neither secret nor the right signature appears.
        let genuine = credential(&m.source, &sample(m.profile));
        assert!(!text.contains(SECRET) && !text.contains(genuine.1.to_str().unwrap()));
        assert!(m.recorder.events().is_empty(), "{:?}", m.profile);
    }
}

#[tokio::test]
async fn missing_header_is_401() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let reply = send(request_with(&server.url(&m.path), sample(m.profile), &[])).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", m.profile);
        let code = json(&reply)["error"].clone();
        assert!(
            code == "missing_signature" || code == "missing_token",
            "{code}"
        );
    }
}

#[tokio::test]
async fn reserialized_json_under_the_original_signature_is_401() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in mounted.iter().filter(|m| m.profile != Profile::NinjaRmm) {
        let body = sample(m.profile); // pretty-printed
        let header = credential(&m.source, &body);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let compact = Bytes::from(serde_json::to_vec(&value).unwrap());
        assert_ne!(compact, body);
        let reply = send(request_with(&server.url(&m.path), compact, &[header])).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", m.profile);
    }
}

#[tokio::test]
async fn uppercase_hex_is_accepted() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in mounted.iter().filter(|m| m.profile != Profile::NinjaRmm) {
        let body = sample(m.profile);
        let (name, value) = credential(&m.source, &body);
        let text = value.to_str().unwrap();
        let upper = match text.split_once('=') {
            Some((prefix, hex)) => format!("{prefix}={}", hex.to_uppercase()),
            None => text.to_uppercase(),
        };
        assert_ne!(upper, text);
        let header = (name, HeaderValue::from_str(&upper).unwrap());
        let reply = send(request_with(&server.url(&m.path), body, &[header])).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", m.profile);
    }
}

#[tokio::test]
async fn second_rotation_secret_is_accepted() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let old_sender = Source::from_profile("old", m.profile, &[secret(OLD_SECRET)]);
        let reply = send(signed(&old_sender, &server.url(&m.path), sample(m.profile))).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", m.profile);
        let events = m.recorder.events();
        assert_eq!(events[0].verified().unwrap().key_index(), 1);
    }
}

#[tokio::test]
async fn oversize_body_is_413_without_reading_it_whole() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let body = sample(m.profile);
        let (name, value) = credential(&m.source, &body);
        let signature = format!("{name}: {}\r\n", value.to_str().unwrap());

        // Declared too large: answered from the head, with no body byte sent at all.
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{signature}\
             Content-Length: {}\r\n\r\n",
            m.path,
            100 * 1024 * 1024
        );
        assert_eq!(
            raw_status(server.addr, &head, b"").await,
            413,
            "{:?}",
            m.profile
        );

        // Chunked and never finished: refused once the cap is passed, while we are still sending.
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{signature}\
             Transfer-Encoding: chunked\r\n\r\n",
            m.path
        );
        let chunk = vec![b' '; 8 * 1024];
        let mut part = Vec::new();
        for _ in 0..(MAX_BODY / chunk.len() + 2) {
            part.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            part.extend_from_slice(&chunk);
            part.extend_from_slice(b"\r\n");
        }
        // No terminating zero-length chunk: the body never ends.
        assert_eq!(
            raw_status(server.addr, &head, &part).await,
            413,
            "{:?}",
            m.profile
        );
        assert!(m.recorder.events().is_empty());
    }
}

#[tokio::test]
async fn fifty_concurrent_copies_are_handled_once() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        m.recorder.set_delay(Duration::from_millis(200));
        let body = sample(m.profile);
        let url = server.url(&m.path);
        let replies = join_all((0..50).map(|_| send(signed(&m.source, &url, body.clone())))).await;
        let accepted = replies
            .iter()
            .filter(|r| r.status == StatusCode::ACCEPTED)
            .count();
        assert_eq!(accepted, 1, "{:?}", m.profile);
        for r in &replies {
            assert!(
                [StatusCode::ACCEPTED, StatusCode::OK, StatusCode::CONFLICT].contains(&r.status),
                "{:?}: {}",
                m.profile,
                r.status
            );
            if r.status == StatusCode::CONFLICT {
                assert!(r.headers.contains_key(http::header::RETRY_AFTER));
            }
        }
        assert_eq!(m.recorder.events().len(), 1, "{:?}", m.profile);
        // Once processed, a later copy is a plain duplicate.
        let again = send(signed(&m.source, &url, body)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(json(&again)["status"], "duplicate");
    }
}

#[tokio::test]
async fn handler_failure_is_503_and_the_retry_is_processed() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        m.recorder.fail_next(1);
        let body = sample(m.profile);
        let url = server.url(&m.path);
        let first = send(signed(&m.source, &url, body.clone())).await;
        assert_eq!(
            first.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            m.profile
        );
        assert!(first.headers.contains_key(http::header::RETRY_AFTER));
        assert_eq!(json(&first)["error"], "not_accepted");
        let retry = send(signed(&m.source, &url, body)).await;
        assert_eq!(retry.status, StatusCode::ACCEPTED, "{:?}", m.profile);
        assert_eq!(
            m.recorder.events().len(),
            2,
            "handler ran for the failure and the retry"
        );
    }
}

#[tokio::test]
async fn ninjarmm_query_token_is_accepted_and_wrong_one_refused() {
    let scheme = hookgate::auth::TokenScheme::new(
        hookgate::auth::TokenLocation::Query {
            param: "token".into(),
        },
        &[secret(SECRET)],
    );
    let source = Source::new(
        "rmm",
        hookgate::auth::Scheme::Token(scheme),
        Profile::NinjaRmm.shape(),
    );
    let recorder = Recorder::default();
    let gateway = hookgate::Gateway::new().mount(
        "/hooks/rmm",
        tower::Layer::layer(&hookgate::Pipeline::new(source.clone()), recorder.router()),
    );
    let server = Server::start(gateway).await;
    let reply = send(signed(
        &source,
        &server.url("/hooks/rmm"),
        sample(Profile::NinjaRmm),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let wrong = request_with(
        &server.url("/hooks/rmm?token=integration-secret-0123456780"),
        sample(Profile::NinjaRmm),
        &[],
    );
    assert_eq!(send(wrong).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(recorder.events().len(), 1);
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let reply = send(request_with(
        &server.url("/hooks/nobody"),
        Bytes::from("{}"),
        &[],
    ))
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(json(&reply)["error"], "unknown_source");
    let get = http::Request::get(server.url(&mounted[0].path))
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let reply = send(get).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[http::header::ALLOW], "POST");
}

#[tokio::test]
async fn malformed_json_is_400_and_compressed_body_is_415() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = &mounted[0];
    let body = Bytes::from_static(b"{\"eventType\": ");
    let header = credential(&m.source, &body);
    let reply = send(request_with(&server.url(&m.path), body, &[header])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&reply)["error"], "malformed_json");

    let body = sample(m.profile);
    let header = credential(&m.source, &body);
    let gzip = (
        http::header::CONTENT_ENCODING,
        HeaderValue::from_static("gzip"),
    );
    let reply = send(request_with(&server.url(&m.path), body, &[header, gzip])).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn signed_body_without_event_type_is_422() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = &mounted[0];
    let body = Bytes::from_static(b"{\"timestamp\":\"2024-01-15T10:30:00Z\",\"data\":{}}");
    let header = credential(&m.source, &body);
    let reply = send(request_with(&server.url(&m.path), body, &[header])).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&reply)["error"], "missing_event_type");
}

#[test]
fn a_source_without_secrets_refuses_everything() {
    let source = Source::from_profile("empty", Profile::Homa, &[] as &[Secret]);
    let headers = http::HeaderMap::new();
    let verdict = verify_now(source.scheme(), &headers, b"{}");
    assert_eq!(verdict, Err(hookgate::Rejection::NoSecret));
}

#[tokio::test]
async fn every_hex_signature_is_taken_with_or_without_the_sha256_label() {
    // webnet, Homa and Ops-Center share `X-Webhook-Signature` but not the label: a source takes
    // both forms, whichever its sender writes.
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in mounted.iter().filter(|m| m.profile != Profile::NinjaRmm) {
        for labelled in [false, true] {
            let body = sample(m.profile);
            let (name, value) = credential(&m.source, &body);
            let hex = value.to_str().unwrap().trim_start_matches("sha256=");
            let value = if labelled {
                format!("sha256={hex}")
            } else {
                hex.to_owned()
            };
            let header = (name, HeaderValue::from_str(&value).unwrap());
            let reply = send(request_with(&server.url(&m.path), body, &[header])).await;
            assert_eq!(
                reply.status,
                StatusCode::ACCEPTED,
                "{:?} {value:.20}: {:?}",
                m.profile,
                reply.body
            );
        }
    }
}

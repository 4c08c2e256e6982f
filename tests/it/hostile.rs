//! Hostile input over real sockets: every case gets its own specific answer (never a 2xx it should
//! not get, never a 500), and the gateway goes on serving the next, valid, request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Gateway, Pipeline, Secret, Source};
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const MAX_BODY: usize = 1024 * 1024;

/// The Homa source of a seed gateway (HMAC-SHA256 over the body, hex).
fn homa(mounted: &[Mounted]) -> &Mounted {
    mounted.iter().find(|m| m.profile == Profile::Homa).unwrap()
}

/// A valid signed event is still accepted: the gateway survived whatever came before.
async fn still_serves(server: &Server, m: &Mounted) {
    let reply = send(signed(&m.source, &server.url(&m.path), sample(m.profile))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
}

/// POST `body` to the Homa source, signed, with extra headers; the answer's status and JSON.
async fn post_signed(
    server: &Server,
    m: &Mounted,
    body: &[u8],
    extra: &[(HeaderName, HeaderValue)],
) -> (StatusCode, serde_json::Value) {
    let mut headers = vec![credential(&m.source, body)];
    headers.extend_from_slice(extra);
    let reply = send(request_with(
        &server.url(&m.path),
        Bytes::copy_from_slice(body),
        &headers,
    ))
    .await;
    let json = serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, json)
}

/// Everything the server writes on a raw connection until it closes it (bounded, so a server
/// that never answers fails the test instead of hanging it).
async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line of every response in `response` (a body is not followed by a line break, so
/// the next status line can start mid-line).
fn status_lines(response: &str) -> Vec<&str> {
    response
        .match_indices("HTTP/1.")
        .map(|(at, _)| {
            let rest = &response[at..];
            &rest[..rest.find("\r\n").unwrap_or(rest.len())]
        })
        .collect()
}

/// The head of a signed POST to `path` carrying `body`, with `extra` header lines.
fn signed_head(m: &Mounted, path: &str, body: &[u8], version: &str, extra: &str) -> Vec<u8> {
    let (name, value) = credential(&m.source, body);
    let mut out = format!(
        "POST {path} {version}\r\nHost: x\r\nContent-Type: application/json\r\n\
         {name}: {}\r\nContent-Length: {}\r\n{extra}\r\n",
        value.to_str().unwrap(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[tokio::test]
async fn a_slow_header_is_cut_off_at_the_header_timeout() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    // The test server's header timeout is 2 s. Trickle the head one byte at a time, 250 ms
    // apart: the server must close the connection long before the head could be complete.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nX-Slow: {}",
        m.path,
        "a".repeat(400)
    );
    let trickle = async {
        for byte in head.as_bytes() {
            if stream.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    };
    // 400+ bytes at 4 a second would take 100 s; the bound is only there so a broken server
    // fails the test instead of hanging it.
    let cut = tokio::time::timeout(Duration::from_secs(60), trickle).await;
    assert_eq!(cut, Ok(true), "the server kept reading a slow header");
    still_serves(&server, m).await;
}

#[tokio::test]
async fn a_header_held_open_is_closed() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("POST {} HTTP/1.1\r\nHost: x\r\n", m.path);
    stream.write_all(head.as_bytes()).await.unwrap();
    // Then nothing: the server closes the connection after its header timeout.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection was held open");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains(" 2"),
        "no success for half a request: {text}"
    );
    still_serves(&server, m).await;
}

#[tokio::test]
async fn ten_thousand_headers_or_a_one_megabyte_header_are_431() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    let body = sample(m.profile);

    let many: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = raw_exchange(
        server.addr,
        &signed_head(m, &m.path, &body, "HTTP/1.1", &many),
    )
    .await;
    assert_eq!(
        status_lines(&answer).first().copied(),
        Some("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );

    let big = format!("X-Big: {}\r\n", "a".repeat(1024 * 1024));
    let answer = raw_exchange(
        server.addr,
        &signed_head(m, &m.path, &body, "HTTP/1.1", &big),
    )
    .await;
    assert_eq!(
        status_lines(&answer).first().copied(),
        Some("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );

    assert!(m.recorder.events().is_empty());
    still_serves(&server, m).await;
}

#[tokio::test]
async fn json_nested_a_hundred_thousand_deep_is_400() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let mut body = open.repeat(100_000);
        body.push('1');
        body.push_str(&close.repeat(100_000));
        let (status, json) = post_signed(&server, m, body.as_bytes(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
        assert_eq!(json["error"], "malformed_json");
        assert!(
            json["message"].as_str().unwrap().contains("nesting"),
            "{json}"
        );
    }
    still_serves(&server, m).await;
}

#[tokio::test]
async fn invalid_utf8_is_400_in_the_body_and_401_in_the_signature() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    let body = b"{\"event\":\"ticket.created\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"data\":{\"title\":\"\xff\xfe\"}}";
    let (status, json) = post_signed(&server, m, body, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["error"], "malformed_json");

    // Bytes that are not even ASCII where the hex signature belongs.
    let body = sample(m.profile);
    let (name, _) = credential(&m.source, &body);
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{name}: ",
        m.path,
        body.len()
    )
    .into_bytes();
    head.extend_from_slice(b"\xff\xfe\xfd sha256=\xc3\x28\r\nConnection: close\r\n\r\n");
    head.extend_from_slice(&body);
    let answer = raw_exchange(server.addr, &head).await;
    assert_eq!(
        status_lines(&answer).first().copied(),
        Some("HTTP/1.1 401 Unauthorized"),
        "{answer}"
    );
    assert!(m.recorder.events().is_empty());
    still_serves(&server, m).await;
}

#[tokio::test]
async fn a_repeated_json_key_is_400_at_any_depth() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    // Which "event" would win depends on the parser: the route, the schema check and a consumer
    // downstream could each see another one. Refused, whatever the values.
    for body in [
        r#"{"event":"ticket.closed","timestamp":"2024-01-15T10:30:00Z","data":{"ticket_id":1},"event":"ticket.created"}"#,
        r#"{"event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{"ticket_id":1,"ticket_id":2}}"#,
        r#"{"event":"ticket.created","event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{}}"#,
    ] {
        let (status, json) = post_signed(&server, m, body.as_bytes(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {json}");
        assert_eq!(json["error"], "malformed_json");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("appears more than once"),
            "{json}"
        );
    }
    assert!(m.recorder.events().is_empty());
    still_serves(&server, m).await;
}

#[tokio::test]
async fn nan_and_numbers_beyond_f64_are_400() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    for number in ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"] {
        let body = format!(
            r#"{{"event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{{"ticket_id":{number}}}}}"#
        );
        let (status, json) = post_signed(&server, m, body.as_bytes(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{number}: {json}");
        assert_eq!(json["error"], "malformed_json", "{number}");
    }
    assert!(m.recorder.events().is_empty());
    still_serves(&server, m).await;
}

#[tokio::test]
async fn compressed_bodies_are_415_and_identity_is_fine() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    for encoding in ["gzip", "deflate", "br", "zstd", "identity, gzip", "GZIP"] {
        let body = sample(m.profile);
        let header = (
            http::header::CONTENT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        let (status, json) = post_signed(&server, m, &body, &[header]).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{encoding}: {json}"
        );
    }
    let body = sample(m.profile);
    let identity = (
        http::header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    let (status, json) = post_signed(&server, m, &body, &[identity]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
}

/// Compress `data` in `encoding` (`gzip` or `deflate`, the zlib format).
fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let level = flate2::Compression::default();
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

#[tokio::test]
async fn opted_in_decompression_verifies_the_inflated_body_under_a_cap() {
    // Wire cap 64 KiB, inflated cap 256 KiB.
    let source = Source::from_profile("homa", Profile::Homa, &[secret(SECRET)]);
    let recorder = Recorder::default();
    let svc = Pipeline::new(source.clone())
        .max_body_bytes(64 << 10)
        .decompress(hookgate::auth::Decompress::up_to(256 << 10))
        .service(recorder.router());
    let server = Server::start(Gateway::new().mount("/hooks/homa", svc)).await;
    let url = server.url("/hooks/homa");
    let post = |wire: Vec<u8>, encoding: &'static str, signed_over: &[u8]| {
        let headers = [
            credential(&source, signed_over),
            (
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding),
            ),
        ];
        send(request_with(&url, Bytes::from(wire), &headers))
    };

    // Signed over the JSON, sent compressed: accepted, and the handler sees the JSON.
    for encoding in ["gzip", "deflate"] {
        let body = sample(Profile::Homa);
        let reply = post(compress(encoding, &body), encoding, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{encoding}: {:?}",
            reply.body
        );
        let events = recorder.events();
        let last = events.last().unwrap();
        assert_eq!(last.raw(), &body, "{encoding}");
        assert!(last.headers().get(http::header::CONTENT_ENCODING).is_none());
    }
    // Signed over the compressed bytes instead: not what hookgate verifies, 401.
    let body = sample(Profile::Homa);
    let wire = compress("gzip", &body);
    let reply = post(wire.clone(), "gzip", &wire).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&reply)["error"], "invalid_signature");
    // A bomb: 48 KiB on the wire, 64 MiB inflated; refused at the cap, not inflated whole.
    let bomb = compress("gzip", &vec![b' '; 64 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let reply = post(bomb, "gzip", b"").await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(&reply)["error"], "decompressed_too_large");
    // Not gzip at all: 400, before any signature is looked at.
    let reply = post(b"{\"plain\":true}".to_vec(), "gzip", b"{\"plain\":true}").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&reply)["error"], "malformed_encoding");
    // Encodings hookgate does not inflate, and stacked ones, stay 415.
    for encoding in ["br", "zstd", "gzip, gzip", "deflate, gzip"] {
        let body = sample(Profile::Homa);
        let reply = post(compress("gzip", &body), encoding, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{encoding}"
        );
    }
    // The wire cap still applies to the compressed bytes.
    // (xorshift noise does not compress: 100 KB on the wire, under the inflated cap)
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let reply = post(compress("gzip", &noise), "gzip", &noise).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(&reply)["error"], "payload_too_large");
    assert_eq!(recorder.events().len(), 2);
    let reply = send(signed(&source, &url, sample(Profile::Homa))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_query_string_the_scheme_does_not_sign_changes_nothing() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    let body = sample(m.profile);
    let header = credential(&m.source, &body);
    let url = format!("{}?event=forged&id=1", server.url(&m.path));
    let reply = send(request_with(&url, body.clone(), &[header])).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let events = m.recorder.events();
    assert_eq!(events.len(), 1);
    // The type and id come from the signed body, never from the unsigned query.
    assert_eq!(events[0].kind().as_str(), "ticket.created");
    assert_ne!(events[0].id().as_str(), "1");
}

#[tokio::test]
async fn http_1_0_and_pipelined_requests_are_answered_in_order() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);

    // HTTP/1.0: answered, then the connection is closed (read_to_end returns).
    let body = sample(m.profile);
    let answer = raw_exchange(server.addr, &signed_head(m, &m.path, &body, "HTTP/1.0", "")).await;
    assert_eq!(status_lines(&answer), ["HTTP/1.0 202 Accepted"], "{answer}");

    // Three requests in one write: a new event, the same event again, and a forged one.
    let body = sample(m.profile);
    let mut bytes = signed_head(m, &m.path, &body, "HTTP/1.1", "");
    bytes.extend(signed_head(m, &m.path, &body, "HTTP/1.1", ""));
    let mut forged = signed_head(m, &m.path, &body, "HTTP/1.1", "Connection: close\r\n");
    let last = forged.len() - 2;
    forged[last] ^= 1;
    bytes.extend(forged);
    let answer = raw_exchange(server.addr, &bytes).await;
    assert_eq!(
        status_lines(&answer),
        [
            "HTTP/1.1 202 Accepted",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 401 Unauthorized"
        ],
        "{answer}"
    );
    assert_eq!(m.recorder.events().len(), 2);
}

#[tokio::test]
async fn other_methods_on_a_hook_path_are_405() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    for method in ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let head = format!(
            "{method} {} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            m.path
        );
        let answer = raw_exchange(server.addr, head.as_bytes()).await;
        assert_eq!(
            status_lines(&answer),
            ["HTTP/1.1 405 Method Not Allowed"],
            "{method}: {answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("allow: post"),
            "{answer}"
        );
    }
    still_serves(&server, m).await;
}

#[tokio::test]
async fn dot_segments_and_percent_encoding_do_not_reach_a_source() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    let m = homa(&mounted);
    for path in [
        "/hooks/../hooks/homa",
        "/hooks/./homa",
        "/hooks/%68oma",
        "/hooks%2fhoma",
        "//hooks/homa",
        "/hooks/homa/..",
        "/HOOKS/HOMA",
    ] {
        let body = sample(m.profile);
        let answer = raw_exchange(
            server.addr,
            &signed_head(m, path, &body, "HTTP/1.1", "Connection: close\r\n"),
        )
        .await;
        assert_eq!(
            status_lines(&answer),
            ["HTTP/1.1 404 Not Found"],
            "{path}: {answer}"
        );
        assert!(answer.contains("unknown_source"), "{path}: {answer}");
    }
    assert!(m.recorder.events().is_empty());
    still_serves(&server, m).await;
}

#[tokio::test]
async fn a_credential_header_sent_twice_is_401_for_every_sender() {
    let (server, mounted) = seed_gateway(MAX_BODY).await;
    for m in &mounted {
        let body = sample(m.profile);
        let (name, good) = credential(&m.source, &body);
        // The valid credential first and a different one after, and the other way round.
        let other = HeaderValue::from_static(
            "0000000000000000000000000000000000000000000000000000000000000000",
        );
        for pair in [[good.clone(), other.clone()], [other.clone(), good.clone()]] {
            let mut req = request_with(&server.url(&m.path), body.clone(), &[]);
            for value in pair {
                req.headers_mut().append(name.clone(), value);
            }
            let reply = send(req).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", m.profile);
        }
        assert!(m.recorder.events().is_empty(), "{:?}", m.profile);
        still_serves(&server, m).await;
    }
}

#[tokio::test]
async fn a_source_with_no_secret_refuses_every_request_and_the_others_serve_on() {
    let empty = Source::from_profile("empty", Profile::Homa, &[] as &[Secret]);
    let recorder = Recorder::default();
    let signer = Source::from_profile("homa", Profile::Homa, &[secret(SECRET)]);
    let gateway = Gateway::new()
        .mount(
            "/hooks/empty",
            Pipeline::new(empty).service(recorder.router()),
        )
        .mount(
            "/hooks/homa",
            Pipeline::new(signer.clone()).service(recorder.router()),
        );
    let server = Server::start(gateway).await;
    let body = sample(Profile::Homa);
    // Signed with a real secret, sent to the source that has none: refused, not accepted.
    let reply = send(signed(&signer, &server.url("/hooks/empty"), body.clone())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&reply)["error"], "no_usable_secret");
    assert!(recorder.events().is_empty());
    let reply = send(signed(&signer, &server.url("/hooks/homa"), body)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
}

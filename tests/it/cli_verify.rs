//! `hookgate verify`: a captured request's signature checked offline, each usual failure
//! (wrong secret, re-serialised body, stale timestamp, missing header, ...) explained distinctly.

use std::path::Path;
use std::process::Command;

use crate::cli::{BIN, finished, temp_dir};

/// `hookgate verify` on a captured request: its exit code and what it printed.
fn verify(dir: &Path, request: &[u8], secret: &str) -> (Option<i32>, String) {
    let captured = dir.join("captured.http");
    std::fs::write(&captured, request).unwrap();
    std::fs::write(dir.join("secret"), secret).unwrap();
    let secret_ref = format!("file:{}", dir.join("secret").display());
    finished(
        Command::new(BIN)
            .args(["verify", "homa", "--secret", &secret_ref, "--request"])
            .arg(&captured),
    )
}

#[test]
fn verify_explains_each_usual_failure_distinctly() {
    use hookgate::profile::Profile;
    let dir = temp_dir("verify");
    let secret = "the-senders-secret-0123456789";
    let source = hookgate::Source::from_profile(
        "homa",
        Profile::Homa,
        &[hookgate::Secret::new(secret.as_bytes().to_vec(), "t").unwrap()],
    );
    let capture = |header: &str, body: &str, signed_over: &str| {
        let (name, value) = source.scheme().sign(signed_over.as_bytes()).unwrap();
        let name = if header.is_empty() {
            name.as_str()
        } else {
            header
        };
        format!(
            "POST http://gateway/hooks/homa HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n{name}: {}\r\n\r\n{body}",
            value.to_str().unwrap()
        )
        .into_bytes()
    };
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let fresh = format!(
        r#"{{"event":"ticket.created","timestamp":"{now}","data":{{"ticket_id":1,"title":"t"}}}}"#
    );
    let pretty = format!(
        "{{\n  \"event\": \"ticket.created\",\n  \"timestamp\": \"{now}\",\n  \"data\": {{\n    \"ticket_id\": 1,\n    \"title\": \"t\"\n  }}\n}}"
    );
    let old = r#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":1,"title":"t"}}"#;

    let (code, text) = verify(&dir, &capture("", &fresh, &fresh), secret);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("ok homa") && text.contains("verified"),
        "{text}"
    );

    let (code, text) = verify(
        &dir,
        &capture("", &fresh, &fresh),
        "a-rotated-secret-0123456789",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("wrong secret:"), "{text}");

    let (code, text) = verify(
        &dir,
        &capture("X-Hub-Signature-256", &fresh, &fresh),
        secret,
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("wrong header:") && text.contains("`x-hub-signature-256`"),
        "{text}"
    );

    let (code, text) = verify(&dir, &capture("", &pretty, &fresh), secret);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("re-serialized body:"), "{text}");

    let (code, text) = verify(&dir, &capture("", old, old), secret);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("stale:") && text.contains("behind now"),
        "{text}"
    );

    // No explanation shows the signature or the secret.
    let (signature, _) = (source.scheme().sign(fresh.as_bytes()).unwrap().1, ());
    let (_, text) = verify(
        &dir,
        &capture("", &fresh, &fresh),
        "a-rotated-secret-0123456789",
    );
    assert!(!text.contains(signature.to_str().unwrap()) && !text.contains(secret));
    let _ = std::fs::remove_dir_all(&dir);
}

//! Promises of SECURITY.md that need a running gateway: what reaches its logs and its answers.

use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::{HeaderValue, StatusCode};

use crate::cli::Serve;
use crate::support::*;

const THE_SECRET: &str = "logs-must-never-show-this-secret-0123456789";
const MARKER: &str = "BODY-MARKER-7f3a";

/// Every kind of request a gateway logs about, at the default log level and at `debug`, then:
/// neither its standard error (the logs) nor any answer holds the secret or the signature it
/// expected, and the logs hold no body.
#[tokio::test]
async fn logs_and_answers_never_show_a_secret_a_body_or_the_expected_signature() {
    for level in ["info", "debug"] {
        let (logs, answers, expected) = exercise(level).await;
        assert!(
            !logs.contains(THE_SECRET),
            "{level}: the secret is in the logs:\n{logs}"
        );
        assert!(
            !logs.contains(MARKER),
            "{level}: a body is in the logs:\n{logs}"
        );
        for signature in &expected {
            assert!(
                !logs.contains(signature.as_str()),
                "{level}: an expected signature is logged"
            );
            for answer in &answers {
                assert!(
                    !answer.contains(signature.as_str()),
                    "expected signature answered: {answer}"
                );
                assert!(!answer.contains(THE_SECRET));
            }
        }
        if level == "debug" {
            // The paths above were really taken and logged (so the checks are not vacuous).
            for seen in [
                "invalid_signature",
                "malformed_signature",
                "missing_signature",
                "repeated_signature",
                "duplicate event",
                "will retry",
            ] {
                assert!(
                    logs.contains(seen),
                    "no {seen:?} in the debug logs:\n{logs}"
                );
            }
        }
    }
}

/// Run a gateway logging at `level`, send it every kind of request; its logs, the answers' bodies,
/// and the hex signatures it expected for each body.
async fn exercise(level: &str) -> (String, Vec<String>, Vec<String>) {
    let dir =
        std::env::temp_dir().join(format!("hookgate-security-{level}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("hookgate.toml");
    std::fs::write(
        &config,
        r#"
[server]
data_dir = "data"

[[source]]
name = "homa"
profile = "homa"
path = "/hooks/homa"
secrets = ["env:SECURITY_TEST_SECRET"]

[[route]]
events = ["*"]
to = "http://127.0.0.1:9/unreachable"
"#,
    )
    .unwrap();
    let server = Serve::start(
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &dir,
        &[("SECURITY_TEST_SECRET", THE_SECRET), ("RUST_LOG", level)],
    );
    let url = format!("http://{}/hooks/homa", server.addr);
    let signer = Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(THE_SECRET.as_bytes().to_vec(), "test").unwrap()],
    );
    let forger = Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(b"a-different-secret-altogether-42".to_vec(), "test").unwrap()],
    );
    let event = |title: &str| {
        Bytes::from(format!(
            r#"{{"event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{{"ticket_id":7,"title":"{title}","status":"open","priority":"low"}}}}"#
        ))
    };

    let mut expected_signatures = Vec::new();
    let mut answers = Vec::new();
    // Accepted, then a duplicate of it (the upstream is down: delivery errors are logged too).
    let body = event(MARKER);
    expected_signatures.push(credential(&signer, &body).1);
    for _ in 0..2 {
        let reply = send(signed(&signer, &url, body.clone())).await;
        answers.push(reply);
    }
    // Forged: signed with another secret. The answer must not say what was expected.
    let body = event(&format!("{MARKER}-forged"));
    expected_signatures.push(credential(&signer, &body).1);
    answers.push(send(signed(&forger, &url, body)).await);
    // A signature in the wrong format, a missing one, the header twice.
    let body = event(&format!("{MARKER}-garbled"));
    expected_signatures.push(credential(&signer, &body).1);
    let garbled = (
        credential(&signer, &body).0,
        HeaderValue::from_static("sha256=not-hex-at-all"),
    );
    answers.push(send(request_with(&url, body.clone(), &[garbled])).await);
    answers.push(send(request_with(&url, body.clone(), &[])).await);
    let mut twice = signed(&signer, &url, body.clone());
    let (name, value) = credential(&signer, &body);
    twice.headers_mut().append(name, value);
    answers.push(send(twice).await);
    // Signed but broken: not JSON, not the schema, no type.
    for broken in [
        format!(r#"{{"event":"ticket.created","data":"{MARKER}"#),
        format!(r#"{{"event":"ticket.created","timestamp":"x","data":{{"priority":"{MARKER}"}}}}"#),
        format!(r#"{{"data":"{MARKER}"}}"#),
    ] {
        let body = Bytes::from(broken);
        expected_signatures.push(credential(&signer, &body).1);
        answers.push(send(signed(&signer, &url, body)).await);
    }

    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [202, 200, 401, 401, 401, 401, 400, 422, 422]);
    assert_eq!(answers[0].status, StatusCode::ACCEPTED);

    // Give the first delivery attempts (to the unreachable upstream) time to fail and be logged.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let logs = server.stderr_lines().join("\n");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let answers = answers
        .iter()
        .map(|a| String::from_utf8_lossy(&a.body).into_owned())
        .collect();
    let expected = expected_signatures
        .iter()
        .map(|v| {
            let text = v.to_str().unwrap();
            text.strip_prefix("sha256=").unwrap_or(text).to_owned()
        })
        .collect();
    (logs, answers, expected)
}

/// Every place hookgate compares a secret-derived value (HMAC, bearer or query token, admin
/// token) uses `subtle`'s constant-time `ct_eq`, and none compares such a value with `==`/`!=`.
/// Timing cannot be asserted in a test without flakiness, so this checks the code itself: a new
/// comparison of secret material with `==` in these files fails it.
#[test]
fn secrets_are_compared_in_constant_time_only() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let secret_words = [
        "computed",
        "presented",
        "digest",
        "expected",
        "mac",
        "secret",
        "token",
    ];
    for (file, comparisons) in [
        ("src/auth/signature/mod.rs", 1),
        ("src/auth/signature/key.rs", 0),
        ("src/auth/token.rs", 1),
        ("src/admin/mod.rs", 1),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let code: Vec<&str> = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect();
        let constant_time = code.iter().filter(|l| l.contains(".ct_eq(")).count();
        assert!(
            constant_time >= comparisons,
            "{file}: expected {comparisons} ct_eq comparison(s), found {constant_time}"
        );
        for line in &code {
            if line.contains("==") || line.contains("!=") {
                let lower = line.to_ascii_lowercase();
                let hit = secret_words.iter().find(|w| lower.contains(*w));
                assert!(
                    hit.is_none(),
                    "{file}: secret material compared with ==: {line}"
                );
            }
        }
    }
}

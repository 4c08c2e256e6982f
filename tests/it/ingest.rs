//! Issue 21, point 3: a source's ingest limits in a real `hookgate serve`. Past its burst a
//! sender gets 429 `rate_limited` with `Retry-After`, and nothing of the refused request is
//! stored; forged requests draw on their own budget, so a forger cannot use up the sender's.

use bytes::Bytes;
use hookgate::Source;
use http::StatusCode;
use serde_json::Value;

use crate::observe::{requests_total, samples};
use crate::running::{Running, admin_call, forger, homa, homa_config, post_signed};

const SECRET: &str = "ingest-test-sender-secret-0123456789";
const TOKEN: &str = "ingest-test-token-abcdefghijklmnopq";
const TOKEN_ENV: &str = "HOOKGATE_IT_INGEST_TOKEN";

fn ticket(id: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{id},"title":"t"}}}}"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_limit_a_source_gets_429_and_forgeries_have_a_budget_of_their_own() {
    // One token back every 10 s: nothing refills while the test runs.
    let config = homa_config(
        Some(TOKEN_ENV),
        "ingest = { rate = 0.1, burst = 3, failed_rate = 0.1, failed_burst = 2 }\n\
         [[route]]\nto = \"log\"",
    );
    let gateway = Running::start("ingest", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let admin = gateway.admin();
    let url = gateway.url("/hooks/homa");
    let source = homa(SECRET);
    let forger = forger();
    let post = |source: &Source, body: Bytes| {
        let url = url.clone();
        let source = source.clone();
        async move { post_signed(&source, &url, body).await }
    };

    // A forger first: 401 while its budget lasts, then 429.
    for id in 100..102 {
        let reply = post(&forger, ticket(id)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let refused = post(&forger, ticket(102)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // The sender's budget is untouched: its burst goes through.
    for id in 1..=3 {
        let reply = post(&source, ticket(id)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "event {id}");
    }
    // Past it: 429, a JSON error, and how long to wait (a token is 10 s away).
    let refused = post(&source, ticket(4)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&after), "Retry-After: {after}");
    let answer: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(answer["error"], "rate_limited", "{answer}");

    // The refused event was not stored: only the three accepted ones are.
    let (status, text) = admin_call("GET", &format!("{admin}/events"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["events"].as_array().unwrap().len(), 3, "{listed}");

    // Counted per source, by outcome.
    let (status, page) = admin_call("GET", &format!("{admin}/metrics"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let samples = samples(&page);
    let count = |outcome: &str| requests_total(&samples, "homa", outcome);
    assert_eq!(count("rate_limited"), 2.0, "{page}");
    assert_eq!(count("invalid_signature"), 2.0, "{page}");
    assert_eq!(count("accepted"), 3.0, "{page}");
}

#[test]
fn a_limit_that_lets_nothing_through_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("hookgate-it-ingest-zero-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let text = homa_config(None, "ingest = { rate = 0, burst = 3 }")
        .replace("{data}", &dir.join("data").display().to_string())
        .replace("{secret}", &dir.join("secret").display().to_string());
    let config = hookgate::config::Config::from_toml(&text, "ingest test").unwrap();
    let error = hookgate::serve::prepare(&config, "ingest test")
        .map(|_| ())
        .expect_err("a zero rate is refused")
        .to_string();
    assert!(
        error.contains("ingest: rate must be a positive number"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The sources API over a real `hookgate serve`: a source created, used at once, rotated,
//! disabled, tested, persisted across a restart and deleted; tenants isolated from each other.

use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::running::Running;

const ADMIN: &str = "global-admin-token-0123456789";
const ACME: &str = "acme-tenant-token-0123456789";
const GLOBEX: &str = "globex-tenant-token-0123456789";
const FILE_SECRET: &str = "config-file-homa-secret-0123456789";

fn envs() -> [(&'static str, &'static str); 3] {
    [
        ("HG_ADMIN", ADMIN),
        ("HG_ACME", ACME),
        ("HG_GLOBEX", GLOBEX),
    ]
}

const CONFIG: &str = r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[admin]
listen = "127.0.0.1:0"
token = "env:HG_ADMIN"

[[admin.tenant]]
name = "acme"
token = "env:HG_ACME"

[[admin.tenant]]
name = "globex"
token = "env:HG_GLOBEX"

[[source]]
name = "homa"
profile = "homa"
secrets = ["file:{secret}"]

[[route]]
to = "log"
"#;

/// A call to the admin API with `token`: status and JSON answer.
async fn api(method: &str, url: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"));
    let bytes = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Bytes::from(serde_json::to_vec(&body).unwrap())
        }
        None => Bytes::new(),
    };
    let reply = hookgate::client::post(request.body(Full::new(bytes)).unwrap())
        .await
        .unwrap();
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
    )
}

fn homa(secret: &str) -> Source {
    Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(secret.as_bytes().to_vec(), "t").unwrap()],
    )
}

fn ticket(id: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-11-24T10:00:00Z","data":{{"ticket_id":{id},"title":"t","priority":"low","status":"open"}}}}"#
    ))
}

/// POST ticket `id` to `url` signed with `secret`: status and error code.
async fn post(url: &str, secret: &str, id: u64) -> (StatusCode, String) {
    let request = hookgate::send::signed_request(&homa(secret), url, ticket(id)).unwrap();
    let reply = hookgate::client::post(request).await.unwrap();
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (
        reply.status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_created_over_the_api_serves_at_once_rotates_and_stays_its_tenants() {
    let mut gateway = Running::start("sources", FILE_SECRET, CONFIG, &envs());
    let admin = gateway.admin();

    // Created by acme's token: in acme's tenant, with a generated secret shown once.
    let (status, created) = api(
        "POST",
        &format!("{admin}/sources"),
        ACME,
        Some(json!({
            "name": "acme-tickets",
            "profile": "homa",
            "routes": [{"events": ["ticket.*"], "to": "log"}],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let first = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 64, "32 random bytes in hex");
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["path"], "/hooks/acme-tickets");
    let (_, shown) = api("GET", &format!("{admin}/sources/{id}"), ACME, None).await;
    assert!(!shown.to_string().contains(&first), "{shown}");
    assert_eq!(shown["secrets"].as_array().unwrap().len(), 1);
    assert!(shown["secrets"][0]["fingerprint"].is_string());

    // Signed events are accepted at once, with no restart.
    let url = gateway.url("/hooks/acme-tickets");
    assert_eq!(post(&url, &first, 1).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        post(&url, "not-the-secret-0123456789abcdef", 2).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Rotation: a new secret beside the old, the old one retired two seconds from now.
    let (status, rotated) = api(
        "POST",
        &format!("{admin}/sources/{id}/secrets"),
        ACME,
        Some(json!({"retire_others_after": "2s"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        post(&url, &first, 3).await.0,
        StatusCode::ACCEPTED,
        "old, before expiry"
    );
    assert_eq!(post(&url, &second, 4).await.0, StatusCode::ACCEPTED, "new");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        post(&url, &first, 5).await,
        (StatusCode::UNAUTHORIZED, "invalid_signature".to_owned()),
        "old, after expiry"
    );
    assert_eq!(
        post(&url, &second, 6).await.0,
        StatusCode::ACCEPTED,
        "new, after"
    );

    // The test endpoint: every stage passes with the source's secret; a wrong one fails at verify.
    let (status, report) = api(
        "POST",
        &format!("{admin}/sources/{id}/test"),
        ACME,
        Some(json!({"event": "ticket.closed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let stages: Vec<(&str, &str)> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            ("sample", "ok"),
            ("sign", "ok"),
            ("verify", "ok"),
            ("parse", "ok"),
            ("validate", "ok"),
            ("route", "ok")
        ]
    );
    assert_eq!(report["stages"][3]["detail"]["type"], "ticket.closed");
    assert_eq!(
        report["stages"][5]["detail"]["destinations"],
        json!(["log"])
    );
    let (_, report) = api(
        "POST",
        &format!("{admin}/sources/{id}/test"),
        ACME,
        Some(json!({"secret": "what-the-sender-wrongly-has-0123"})),
    )
    .await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["stages"][2]["stage"], "verify");
    assert_eq!(report["stages"][2]["verdict"], "failed");
    assert_eq!(report["stages"][2]["detail"]["error"], "invalid_signature");
    assert_eq!(report["stages"][3]["verdict"], "skipped");

    // The event types its spec knows.
    let (status, available) = api(
        "GET",
        &format!("{admin}/events/available?source=acme-tickets"),
        ACME,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{available}");
    let types: Vec<&str> = available["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"ticket.created") && types.contains(&"ticket.closed"),
        "{types:?}"
    );

    // Disabled: 403 source_disabled; enabled again: accepted.
    let (status, _) = api(
        "PATCH",
        &format!("{admin}/sources/{id}"),
        ACME,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        post(&url, &second, 7).await,
        (StatusCode::FORBIDDEN, "source_disabled".to_owned())
    );
    let (status, _) = api(
        "PATCH",
        &format!("{admin}/sources/{id}"),
        ACME,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(post(&url, &second, 8).await.0, StatusCode::ACCEPTED);

    // Another tenant sees none of it: 404 on every path, nothing in lists.
    let acme_events = wait_for_events(&admin, ACME, 5).await;
    let seq = acme_events[0]["seq"].as_u64().unwrap();
    for (method, path, body) in [
        ("GET", format!("/sources/{id}"), None),
        (
            "PATCH",
            format!("/sources/{id}"),
            Some(json!({"enabled": false})),
        ),
        ("DELETE", format!("/sources/{id}"), None),
        ("POST", format!("/sources/{id}/secrets"), Some(json!({}))),
        ("POST", format!("/sources/{id}/test"), Some(json!({}))),
        (
            "GET",
            "/events/available?source=acme-tickets".to_owned(),
            None,
        ),
        ("GET", format!("/events/{seq}"), None),
        ("POST", format!("/events/{seq}/replay"), None),
        ("POST", format!("/events/{seq}/retry"), None),
    ] {
        let (status, answer) = api(method, &format!("{admin}{path}"), GLOBEX, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, listed) = api("GET", &format!("{admin}/sources"), GLOBEX, None).await;
    assert_eq!(listed["sources"], json!([]), "{listed}");
    let (_, events) = api(
        "GET",
        &format!("{admin}/events?source=acme-tickets"),
        GLOBEX,
        None,
    )
    .await;
    assert_eq!(events["events"], json!([]), "{events}");
    let (_, events) = api("GET", &format!("{admin}/events"), GLOBEX, None).await;
    assert_eq!(events["events"], json!([]), "{events}");
    let (status, _) = api(
        "POST",
        &format!("{admin}/events/replay?all=true"),
        GLOBEX,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api("GET", &format!("{admin}/metrics"), GLOBEX, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "metrics cover every tenant");
    // Still as it was: the PATCH and DELETE above did nothing.
    assert_eq!(post(&url, &second, 9).await.0, StatusCode::ACCEPTED);

    // The global token sees everything; the configuration file's source is read-only.
    let (_, listed) = api("GET", &format!("{admin}/sources"), ADMIN, None).await;
    let names: Vec<&str> = listed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme-tickets", "homa"]);
    let (status, answer) = api(
        "PATCH",
        &format!("{admin}/sources/config:homa"),
        ADMIN,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::CONFLICT, Some("read_only"))
    );
    // acme cannot see the configuration file's source either (it has no tenant).
    let (status, _) = api("GET", &format!("{admin}/sources/config:homa"), ACME, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The CLI speaks the same API.
    let cli = |args: &[&str], token_env: &str| {
        let mut command = std::process::Command::new(crate::cli::BIN);
        command
            .arg("sources")
            .args(args)
            .args(["--url", &admin, "--token", &format!("env:{token_env}")])
            .envs(envs());
        crate::cli::finished(&mut command)
    };
    let (code, out) = cli(&["list"], "HG_ACME");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("acme-tickets") && !out.contains("config:homa"),
        "{out}"
    );
    let (code, out) = cli(&["test", &id], "HG_ACME");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("verify    ok"), "{out}");

    // Stored: a restart mounts it again, with its rotated secret.
    gateway.restart(&envs());
    let url = gateway.url("/hooks/acme-tickets");
    assert_eq!(
        post(&url, &second, 10).await.0,
        StatusCode::ACCEPTED,
        "after a restart"
    );
    assert_eq!(post(&url, &first, 11).await.0, StatusCode::UNAUTHORIZED);

    // Deleted: the path is gone.
    let admin = gateway.admin();
    let (status, _) = api("DELETE", &format!("{admin}/sources/{id}"), ACME, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        post(&url, &second, 12).await,
        (StatusCode::NOT_FOUND, "unknown_source".to_owned())
    );
    let (status, _) = api("GET", &format!("{admin}/sources/{id}"), ACME, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// acme's events, once at least `n` are in the log (bounded wait).
async fn wait_for_events(admin: &str, token: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, answer) = api(
            "GET",
            &format!("{admin}/events?source=acme-tickets"),
            token,
            None,
        )
        .await;
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        if events.len() >= n || tokio::time::Instant::now() > deadline {
            assert!(events.len() >= n, "{answer}");
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sources_are_refused_with_every_problem_and_names_stay_unique() {
    let gateway = Running::start("sources-invalid", FILE_SECRET, CONFIG, &envs());
    let admin = gateway.admin();
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "bad name", "profile": "nope", "routes": [{"to": "nowhere"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let problems = answer["problems"].to_string();
    assert!(problems.contains("name"), "{problems}");
    // Taken names and paths conflict.
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "homa", "profile": "homa"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // A destination the configuration does not have.
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "x", "profile": "homa", "routes": [{"to": "nowhere"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["problems"]
            .to_string()
            .contains("no such destination"),
        "{answer}"
    );
    // Nor shadow the gateway's probes.
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ACME,
        Some(json!({"name": "probe", "profile": "homa", "path": "/readyz"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["problems"].to_string().contains("probe"), "{answer}");
    // A tenant cannot create in another tenant.
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ACME,
        Some(json!({"name": "y", "profile": "homa", "tenant": "globex"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // A Standard Webhooks source gets a whsec_ secret; a v1a one needs the sender's public key.
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "sw", "profile": "standard-webhooks"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(answer["secret"].as_str().unwrap().starts_with("whsec_"));
    let (status, answer) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "sw-ed", "profile": "standard-webhooks", "auth": {"algorithm": "ed25519"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["problems"].to_string().contains("public key"),
        "{answer}"
    );
    // Unknown keys are refused, not ignored.
    let (status, _) = api(
        "POST",
        &format!("{admin}/sources"),
        ADMIN,
        Some(json!({"name": "z", "profile": "homa", "secrets": ["env:X"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

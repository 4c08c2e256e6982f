//! `hookgate ninjaone register | status | disable` against a local fake of NinjaOne's Public API,
//! which checks every request against the shapes in NinjaOne's API spec
//! (`../shared/reference/ninjarmm-activity.md`): the OAuth2 client-credentials exchange, then
//! `PUT /v2/webhook` with `{url, activities, expand, headers, organizationIds}`, `GET` and
//! `DELETE /v2/webhook`; 403 for an API client that is not a system administrator's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use serde_json::{Value, json};

use crate::cli::{BIN, finished};

const CLIENT_ID: &str = "hookgate-test-client";
const CLIENT_SECRET: &str = "ninjaone-client-secret-0123456789";
/// An API client that exists but is not a system administrator's.
const TECHNICIAN_ID: &str = "technician-client";
const SOURCE_TOKEN: &str = "ninjarmm-callback-token-0123456789";

/// What the fake received, in order: (method and path, authorization header, body).
type Log = Arc<Mutex<Vec<(String, Option<String>, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Fake {
    log: Log,
    webhook: Arc<Mutex<Option<Value>>>,
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// The access token the fake issues to each client.
fn issued(client_id: &str) -> String {
    format!("access-token-for-{client_id}")
}

async fn token(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    fake.log
        .lock()
        .unwrap()
        .push(("POST /ws/oauth/token".into(), None, body.to_vec()));
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return problem(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = form.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    };
    if keys != ["client_id", "client_secret", "grant_type", "scope"]
        || form["grant_type"] != "client_credentials"
    {
        return problem(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let known = [CLIENT_ID, TECHNICIAN_ID].contains(&form["client_id"].as_str());
    if !known || form["client_secret"] != CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "invalid_client", "error_description": "Bad client credentials"}),
            ),
        )
            .into_response();
    }
    axum::Json(json!({
        "access_token": issued(&form["client_id"]),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": form["scope"],
    }))
    .into_response()
}

/// Who the bearer token says the caller is: `Some(admin?)`, or `None` for no valid token.
fn caller(headers: &HeaderMap) -> Option<bool> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {}", issued(CLIENT_ID)) => Some(true),
        Some(v) if v == format!("Bearer {}", issued(TECHNICIAN_ID)) => Some(false),
        _ => None,
    }
}

fn unauthorized() -> Response {
    problem(StatusCode::UNAUTHORIZED, "unauthorized")
}

/// The registration body, checked against the shape NinjaOne's API spec gives.
fn check_registration(body: &Value) -> Result<(), String> {
    let object = body.as_object().ok_or("not an object")?;
    for key in object.keys() {
        if !["url", "activities", "expand", "headers", "organizationIds"].contains(&key.as_str()) {
            return Err(format!("unknown key {key}"));
        }
    }
    let url = object
        .get("url")
        .and_then(Value::as_str)
        .ok_or("url is required")?;
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err("url is not an http(s) URL".into());
    }
    let activities = object
        .get("activities")
        .and_then(Value::as_object)
        .ok_or("activities is required, an object")?;
    for (kind, statuses) in activities {
        let statuses = statuses
            .as_array()
            .ok_or(format!("activities.{kind} is not an array"))?;
        if statuses.is_empty() || !statuses.iter().all(Value::is_string) {
            return Err(format!("activities.{kind} must list status codes or *"));
        }
    }
    if let Some(expand) = object.get("expand") {
        let expand = expand.as_array().ok_or("expand is not an array")?;
        for item in expand {
            if !["device", "organization", "location"].contains(&item.as_str().unwrap_or("")) {
                return Err(format!(
                    "expand {item} is not device, organization or location"
                ));
            }
        }
    }
    if let Some(headers) = object.get("headers") {
        for h in headers.as_array().ok_or("headers is not an array")? {
            let h = h.as_object().ok_or("a header is not an object")?;
            let mut keys: Vec<&str> = h.keys().map(String::as_str).collect();
            keys.sort_unstable();
            if keys != ["name", "value"] || !h.values().all(Value::is_string) {
                return Err("a header is {name, value}".into());
            }
        }
    }
    if let Some(ids) = object.get("organizationIds") {
        if !ids
            .as_array()
            .ok_or("organizationIds is not an array")?
            .iter()
            .all(Value::is_u64)
        {
            return Err("organizationIds are integers".into());
        }
    }
    Ok(())
}

async fn register(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.log
        .lock()
        .unwrap()
        .push(("PUT /v2/webhook".into(), authorization, body.to_vec()));
    let Some(admin) = caller(&headers) else {
        return unauthorized();
    };
    if !admin {
        return problem(StatusCode::FORBIDDEN, "forbidden");
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json expected",
        );
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "not JSON");
    };
    if let Err(message) = check_registration(&value) {
        return problem(StatusCode::BAD_REQUEST, message);
    }
    *fake.webhook.lock().unwrap() = Some(value);
    StatusCode::NO_CONTENT.into_response()
}

async fn show(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if caller(&headers).is_none() {
        return unauthorized();
    }
    match fake.webhook.lock().unwrap().clone() {
        Some(value) => axum::Json(value).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn remove(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.log
        .lock()
        .unwrap()
        .push(("DELETE /v2/webhook".into(), authorization, Vec::new()));
    match caller(&headers) {
        Some(true) => {
            *fake.webhook.lock().unwrap() = None;
            StatusCode::NO_CONTENT.into_response()
        }
        Some(false) => problem(StatusCode::FORBIDDEN, "forbidden"),
        None => unauthorized(),
    }
}

async fn start_fake() -> (String, Fake) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/ws/oauth/token", post(token))
        .route("/v2/webhook", put(register).get(show).delete(remove))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), fake)
}

fn setup(tag: &str, base: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-ninjaone-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), SOURCE_TOKEN).unwrap();
    std::fs::write(dir.join("client-secret"), CLIENT_SECRET).unwrap();
    let config = format!(
        "[[source]]\nname = \"ninjarmm\"\nprofile = \"ninjarmm\"\nsecrets = [\"file:{}\"]\n\n\
         [ninjaone]\nregion = \"{base}\"\nclient_secret = \"file:{}\"\n",
        dir.join("token").display(),
        dir.join("client-secret").display()
    );
    std::fs::write(dir.join("hookgate.toml"), config).unwrap();
    dir
}

/// `hookgate ninjaone <args> --config <dir>/hookgate.toml` as the API client `client_id`.
async fn ninjaone(dir: &Path, client_id: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(BIN);
    command
        .arg("ninjaone")
        .args(args)
        .arg("--config")
        .arg(dir.join("hookgate.toml"))
        .env("NINJAONE_CLIENT_ID", client_id)
        .env_remove("NINJAONE_CLIENT_SECRET")
        .env_remove("NINJAONE_REGION");
    tokio::task::spawn_blocking(move || finished(&mut command))
        .await
        .unwrap()
}

const REGISTER: [&str; 9] = [
    "register",
    "--source",
    "ninjarmm",
    "--public-url",
    "https://hooks.example.com",
    "--activities",
    "CONDITION=*",
    "--expand",
    "device",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_status_and_disable_make_exactly_the_documented_requests() {
    let (base, fake) = start_fake().await;
    let dir = setup("ok", &base);

    let (code, out) = ninjaone(&dir, CLIENT_ID, &REGISTER).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("registered with NinjaOne"), "{out}");
    assert!(
        !out.contains(SOURCE_TOKEN) && !out.contains(CLIENT_SECRET),
        "{out}"
    );

    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    // The token exchange: exactly the client-credentials grant.
    let form: HashMap<String, String> = form_urlencoded::parse(&log[0].2).into_owned().collect();
    assert_eq!(log[0].0, "POST /ws/oauth/token");
    assert_eq!(
        form,
        HashMap::from([
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("scope".to_owned(), "monitoring management".to_owned()),
        ])
    );
    // The registration: with the issued token, exactly the documented body.
    assert_eq!(log[1].0, "PUT /v2/webhook");
    assert_eq!(
        log[1].1.as_deref(),
        Some(format!("Bearer {}", issued(CLIENT_ID)).as_str())
    );
    let body: Value = serde_json::from_slice(&log[1].2).unwrap();
    assert_eq!(
        body,
        json!({
            "url": "https://hooks.example.com/hooks/ninjarmm",
            "activities": {"CONDITION": ["*"]},
            "expand": ["device"],
            "headers": [{"name": "Authorization", "value": format!("Bearer {SOURCE_TOKEN}")}],
        })
    );
    check_registration(&body).unwrap();

    // What NinjaOne will send is what the source accepts.
    let config = hookgate::config::Config::load(&dir.join("hookgate.toml")).unwrap();
    let source = hookgate::config::source_from_config(&config.sources[0]).unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        body["headers"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    assert_eq!(
        crate::support::verify_now(source.scheme(), &headers, b"{}"),
        Ok(0)
    );

    // Status shows the registration, the token masked.
    let (code, out) = ninjaone(&dir, CLIENT_ID, &["status"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("https://hooks.example.com/hooks/ninjarmm"),
        "{out}"
    );
    assert!(
        out.contains("[redacted]") && !out.contains(SOURCE_TOKEN),
        "{out}"
    );

    // Disable, then nothing is registered.
    let (code, out) = ninjaone(&dir, CLIENT_ID, &["disable"]).await;
    assert_eq!(code, Some(0), "{out}");
    let deleted = fake.log.lock().unwrap().iter().any(|(what, auth, _)| {
        what == "DELETE /v2/webhook"
            && auth.as_deref() == Some(&format!("Bearer {}", issued(CLIENT_ID)))
    });
    assert!(deleted);
    let (code, out) = ninjaone(&dir, CLIENT_ID, &["status"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no webhook is registered"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_says_it_needs_a_system_administrators_credentials() {
    let (base, fake) = start_fake().await;
    let dir = setup("forbidden", &base);
    let (code, out) = ninjaone(&dir, TECHNICIAN_ID, &REGISTER).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("needs a system administrator's credentials"),
        "{out}"
    );
    assert!(fake.webhook.lock().unwrap().is_none());
    let (code, out) = ninjaone(&dir, TECHNICIAN_ID, &["disable"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("needs a system administrator's credentials"),
        "{out}"
    );
    // Wrong credentials are told apart from a missing role.
    let (code, out) = ninjaone(&dir, "nobody", &REGISTER).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("did not accept the client credentials"),
        "{out}"
    );
    assert!(!out.contains(CLIENT_SECRET), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ninjaone_cannot_carry_is_refused_before_calling_it() {
    let (base, fake) = start_fake().await;
    let dir = setup("refused", &base);
    let (code, out) = ninjaone(
        &dir,
        CLIENT_ID,
        &[
            "register",
            "--source",
            "ninjarmm",
            "--public-url",
            "https://hooks.example.com",
            "--activities",
            "CONDITION=*",
            "--expand",
            "devices",
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("expands device, organization, location"),
        "{out}"
    );
    assert!(fake.log.lock().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

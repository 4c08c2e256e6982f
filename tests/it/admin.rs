//! Issue 5: the delivery log through the admin API and `hookgate events`, against a real
//! `hookgate serve` process and a real upstream: a dead letter is listed, retried after the
//! upstream is fixed, and delivered; the API refuses requests without its token and never shows
//! a secret.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::cli::{BIN, Serve};
use crate::delivery::Upstream;
use crate::running::{Running, admin_call, homa, homa_config};

const SECRET: &str = "admin-test-sender-secret-0123456789";
const TOKEN: &str = "admin-test-token-abcdefghijklmnop";
const TOKEN_ENV: &str = "HOOKGATE_IT_ADMIN_TOKEN";

async fn admin(method: &str, url: &str, token: Option<&str>) -> (StatusCode, String) {
    admin_call(method, url, token).await
}

async fn admin_json(method: &str, url: &str) -> Value {
    let (status, body) = admin(method, url, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{method} {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn events_cli(args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("events")
        .args(args)
        .env(TOKEN_ENV, TOKEN)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    // Bounded so a regression fails instead of hanging; not a speed check.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_retried_and_delivered_through_the_admin_api_and_cli() {
    let dir = std::env::temp_dir().join(format!("hookgate-it-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let upstream = Upstream::default();
    upstream.script.lock().unwrap().push_back(400);
    let upstream_url = upstream.start_on("127.0.0.1:0").await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
[admin]
listen = "127.0.0.1:0"
token = "env:{TOKEN_ENV}"
[delivery]
initial_delay = "100ms"
[[source]]
name = "homa"
profile = "homa"
secrets = ["file:{secret}"]
keep_headers = ["content-type", "x-request-id"]
[[route]]
to = "{upstream_url}"
"#,
        data = dir.join("data").display(),
        secret = dir.join("secret").display(),
    );
    let config_path = dir.join("hookgate.toml");
    std::fs::write(&config_path, config).unwrap();
    let config_arg = config_path.to_str().unwrap();
    let server = Serve::start(&["--config", config_arg], &dir, &[(TOKEN_ENV, TOKEN)]);
    let base = format!(
        "http://{}",
        server
            .stderr_after("admin API on http://")
            .split(' ')
            .next()
            .unwrap()
    );

    // A genuine event; the upstream refuses it with a 400: a dead letter after one attempt.
    let source = Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    );
    let body = Bytes::from_static(
        br#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":7,"title":"printer on fire"}}"#,
    );
    let mut request = hookgate::send::signed_request(
        &source,
        &format!("http://{}/hooks/homa", server.addr),
        body.clone(),
    )
    .unwrap();
    request
        .headers_mut()
        .insert("x-request-id", "req-42".parse().unwrap());
    let signature = request.headers()["x-webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let reply = hookgate::client::post(request).await.unwrap();
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    wait_until("the first attempt", || {
        upstream.received.lock().unwrap().len() == 1
    })
    .await;

    // Without the token, or with a wrong one: 401, with a JSON error that echoes nothing.
    for token in [None, Some("not-the-token-0123456789"), Some("")] {
        for (method, path) in [
            ("GET", "/events"),
            ("GET", "/dead"),
            ("GET", "/events/0"),
            ("POST", "/events/0/replay"),
            ("POST", "/events/purge?all=true"),
            ("GET", "/nowhere"),
        ] {
            let (status, text) = admin(method, &format!("{base}{path}"), token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["error"], "unauthorized");
            assert!(!text.contains(TOKEN));
        }
    }

    // The dead letter, through the API and the CLI.
    let dead = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let dead = admin_json("GET", &format!("{base}/dead")).await;
            if dead["events"].as_array().unwrap().len() == 1 {
                break dead;
            }
            assert!(Instant::now() < deadline, "no dead letter: {dead}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    let event = &dead["events"][0];
    assert_eq!(event["status"], "dead");
    assert_eq!(event["source"], "homa");
    assert_eq!(event["type"], "ticket.created");
    assert_eq!(event["deliveries"][0]["last_status"], 400);
    assert_eq!(event["deliveries"][0]["attempts"], 1);
    let seq = event["seq"].as_u64().unwrap();
    let token_ref = format!("env:{TOKEN_ENV}");
    let (ok, table) = events_cli(&["--url", &base, "--token", &token_ref, "dead"]);
    assert!(ok, "{table}");
    assert!(
        table.contains("ticket.created") && table.contains("dead"),
        "{table}"
    );

    // One event in full: body, kept headers, attempts; never the signature nor a secret.
    let (status, shown) = admin("GET", &format!("{base}/events/{seq}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    for secret in [SECRET, TOKEN, signature.as_str()] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["body"]["data"]["title"], "printer on fire");
    assert_eq!(shown["headers"]["x-request-id"], "req-42");
    assert!(shown["headers"].get("x-webhook-signature").is_none());
    let attempt = &shown["deliveries"][0]["history"][0];
    assert_eq!(attempt["status"], 400);
    assert!(attempt["latency_ms"].is_u64());

    // Bad requests are specific.
    let (status, text) = admin("POST", &format!("{base}/events/replay"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no filter: {text}");
    let (status, _) = admin("GET", &format!("{base}/events?status=lost"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = admin("GET", &format!("{base}/events/99999"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(
        "POST",
        &format!("{base}/events/{seq}/replay?to=http://elsewhere"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown destination");

    // The upstream is fixed (it answers 200 from now on); the dead letter, retried from the
    // CLI, is delivered.
    let (ok, out) = events_cli(&[
        "--url",
        &base,
        "--token",
        &token_ref,
        "retry",
        &seq.to_string(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("\"scheduled\": 1"), "{out}");
    wait_until("the retried delivery", || {
        upstream.received.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(upstream.received.lock().unwrap()[1].2, body);
    let delivered = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let shown = admin_json("GET", &format!("{base}/events/{seq}")).await;
            if shown["status"] == "delivered" {
                break shown;
            }
            assert!(Instant::now() < deadline, "not delivered: {shown}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    let statuses: Vec<&Value> = delivered["deliveries"][0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [400, 200]);
    assert!(
        admin_json("GET", &format!("{base}/dead")).await["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A replay of a delivered event delivers it once more (at least once; the id travels).
    let replayed = admin_json("POST", &format!("{base}/events/replay?type=ticket.*")).await;
    assert_eq!(replayed["scheduled"], 1);
    wait_until("the replay", || {
        upstream.received.lock().unwrap().len() == 3
    })
    .await;
    let received = upstream.received.lock().unwrap().clone();
    assert_eq!(
        received[2].1["x-hookgate-event-id"],
        received[0].1["x-hookgate-event-id"]
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while admin_json("GET", &format!("{base}/events/{seq}")).await["status"] != "delivered" {
        assert!(Instant::now() < deadline, "the replay was not recorded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // With the gateway stopped, the CLI works on the spool itself.
    server.kill();
    let offline = dir.join("offline.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &offline,
        text.replace("[admin]\nlisten = \"127.0.0.1:0\"\ntoken", "[admin]\ntoken"),
    )
    .unwrap();
    let (ok, table) = events_cli(&["--config", offline.to_str().unwrap(), "list"]);
    assert!(ok, "{table}");
    assert!(table.contains("delivered"), "{table}");
    let (ok, out) = events_cli(&[
        "--config",
        offline.to_str().unwrap(),
        "purge",
        "--status",
        "delivered",
    ]);
    assert!(ok && out.contains("\"purged\": 1"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_follows_new_events_as_they_arrive() {
    use std::io::{BufRead, BufReader};
    let config = homa_config(Some(TOKEN_ENV), "");
    let gateway = Running::start("tail", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let base = gateway.admin();
    let source = homa(SECRET);
    let url = gateway.url("/hooks/homa");
    let send = |n: u64| {
        let body = Bytes::from(format!(
            r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{{"ticket_id":{n},"title":"t"}}}}"#
        ));
        let request = hookgate::send::signed_request(&source, &url, body).unwrap();
        async move { hookgate::client::post(request).await.unwrap().status }
    };
    // One event before tail starts: printed first, as the latest.
    assert_eq!(send(1).await, StatusCode::ACCEPTED);
    let mut tail = Command::new(BIN)
        .args([
            "events", "tail", "--url", &base, "--every", "100ms", "--json",
        ])
        .args(["--token", &format!("env:{TOKEN_ENV}")])
        .env(TOKEN_ENV, TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a line from tail");
        serde_json::from_str::<Value>(&line).unwrap()
    };
    assert_eq!(next()["seq"], 0);
    // Two more while it follows: each appears once, in order.
    assert_eq!(send(2).await, StatusCode::ACCEPTED);
    assert_eq!(next()["seq"], 1);
    assert_eq!(send(3).await, StatusCode::ACCEPTED);
    let third = next();
    assert_eq!(third["seq"], 2);
    assert_eq!(third["type"], "ticket.created");
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing is printed twice"
    );
    let _ = tail.kill();
    let _ = tail.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_root_redirects_to_the_inbox_signed_in_or_not() {
    let config = homa_config(Some(TOKEN_ENV), "");
    let gateway = Running::start("root", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let base = gateway.admin();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut request = http::Request::get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        async move { hookgate::client::post(request).await.unwrap() }
    };
    // Signed in through the inbox's form: the session cookie.
    let login = http::Request::post(format!("{base}/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(Bytes::from(format!(
            "token={TOKEN}"
        ))))
        .unwrap();
    let login = hookgate::client::post(login).await.unwrap();
    let cookie = login.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let bearer = format!("Bearer {TOKEN}");

    for (who, headers) in [
        ("anonymous", vec![]),
        ("bearer token", vec![("authorization", bearer.as_str())]),
        ("session cookie", vec![("cookie", cookie.as_str())]),
    ] {
        let reply = get("/", &headers).await;
        assert!(reply.status.is_redirection(), "{who}: {}", reply.status);
        assert_eq!(reply.headers["location"], "/ui", "{who}");
    }
    // Where it leads: the inbox when signed in, the sign-in page (by way of /ui) otherwise.
    let reply = get("/ui", &[("cookie", cookie.as_str())]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = get("/ui", &[]).await;
    assert!(reply.status.is_redirection());
    assert_eq!(reply.headers["location"], "/ui/login");
}

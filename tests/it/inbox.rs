//! Issue 9: the event inbox, end to end in a real browser. A real `hookgate serve` with its admin
//! listener receives a signed event (and a forged one); headless Chromium, driven over WebDriver
//! by chromedriver, signs in with the admin token, sees the event, opens it, clicks Replay, and
//! sees the second delivery attempt appear. The screenshot of the inbox it takes on the way is
//! written to `target/inbox.png` (and to `docs/inbox.png`, which the README shows, when
//! `HOOKGATE_UPDATE_SCREENSHOTS=1`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Under `CI=true` the
//! test fails without them; elsewhere it is skipped with the reason.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator};
use hookgate::profile::Profile;

use http::StatusCode;
use tokio::time::Instant;

use crate::delivery::Upstream;
use crate::running::{Running, homa, homa_config};

const SECRET: &str = "inbox-test-sender-secret-0123456789";
const TOKEN: &str = "inbox-test-admin-token-abcdefghijkl";
const TOKEN_ENV: &str = "HOOKGATE_IT_INBOX_TOKEN";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_missing() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return false;
    }
    let why =
        format!("{CHROMIUM} or {CHROMEDRIVER} is missing (apt install chromium chromium-driver)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    eprintln!("skipped: {why}");
    true
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in headless Chromium")
}

/// Rows of delivery attempts on the event page.
async fn attempts(client: &Client) -> usize {
    client
        .find_all(Locator::Css("#deliveries tr.attempt"))
        .await
        .map(|rows| rows.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_shows_a_new_event_and_its_replay_in_a_real_browser() {
    if browser_missing() {
        return;
    }
    let upstream = Upstream::default();
    let upstream_url = upstream.start_on("127.0.0.1:0").await;
    let rest = format!(
        "keep_headers = [\"content-type\", \"user-agent\"]\n[[route]]\nname = \"crm\"\nto = \"{upstream_url}\""
    );
    let config = homa_config(Some(TOKEN_ENV), &rest);
    let gateway = Running::start("inbox", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let admin = gateway.admin();
    let hook = gateway.url("/hooks/homa");
    let source = homa(SECRET);

    // Two earlier events, the event the test follows (the newest), and a forgery for the
    // refused list.
    let earlier = Profile::Homa.sample_events();
    for kind in earlier.iter().rev().take(2) {
        let sample = Profile::Homa
            .sample(Some(kind), std::time::SystemTime::now())
            .unwrap();
        let body = Bytes::from(serde_json::to_vec(&sample).unwrap());
        let request = hookgate::send::signed_request(&source, &hook, body).unwrap();
        assert_eq!(
            hookgate::client::post(request).await.unwrap().status,
            StatusCode::ACCEPTED
        );
    }
    let id = format!("inbox-{}", std::process::id());
    let body = Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-11-24T09:30:00Z","data":{{"ticket_id":4711,"title":"Printer on fire ({id})","priority":"high","status":"open"}}}}"#
    ));
    let reply =
        hookgate::client::post(hookgate::send::signed_request(&source, &hook, body).unwrap())
            .await
            .unwrap();
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let forged = http::Request::post(&hook)
        .header("x-webhook-signature", "0".repeat(64))
        .body(http_body_util::Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    assert_eq!(
        hookgate::client::post(forged).await.unwrap().status,
        StatusCode::UNAUTHORIZED
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while upstream.received.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "the event was never delivered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let driver = Driver::start().await;
    let client = browser(&driver).await;
    // Not signed in: the inbox sends the browser to the sign-in page.
    client.goto(&format!("{admin}/ui")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/ui/login")
    );
    sign_in(&client, &admin).await;

    // The inbox lists the event: source, type, verification, delivery status.
    let row = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#events tr.event"))
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    for expected in ["homa", "ticket.created", "verified", "crm: delivered", "1"] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
    let refused = client
        .find(Locator::Css("#refused"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refused.contains("invalid_signature"), "{refused}");
    let png = client.screenshot().await.unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("inbox.png"), &png).unwrap();
    if std::env::var("HOOKGATE_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("inbox.png"), &png).unwrap();
    }

    // The detail page: the kept headers, the body, one attempt.
    row.find(Locator::Css("a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("replay"))
        .await
        .unwrap();
    let page = client.source().await.unwrap();
    assert!(
        page.contains("Printer on fire") && page.contains(&id),
        "the body is shown"
    );
    assert!(!page.contains(SECRET) && !page.contains(TOKEN));
    assert_eq!(attempts(&client).await, 1);

    // Replay: a second attempt appears.
    client
        .find(Locator::Id("replay"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("notice"))
        .await
        .unwrap();
    assert!(notice.text().await.unwrap().contains("Replay scheduled"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while attempts(&client).await < 2 {
        assert!(
            Instant::now() < deadline,
            "the replayed attempt never appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.refresh().await.unwrap();
    }
    assert_eq!(upstream.received.lock().unwrap().len(), 4);
    client.close().await.unwrap();
    drop(driver);
}

/// Sign in to the inbox at `admin` with the admin token.
async fn sign_in(client: &Client, admin: &str) {
    client.goto(&format!("{admin}/ui/login")).await.unwrap();
    client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#events"))
        .await
        .unwrap();
}

/// Issue 21: a paused destination, an open circuit and a blocked ordering key show in the
/// inbox, and its buttons resume the destination and release the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_shows_held_back_destinations_and_blocked_keys_and_lets_them_go() {
    if browser_missing() {
        return;
    }
    let (held, ordered, flaky) = (
        Upstream::default(),
        Upstream::default(),
        Upstream::default(),
    );
    // The first ticket to `ordered` is refused for good: a dead letter that blocks its key.
    ordered.script.lock().unwrap().push_back(400);
    flaky.script.lock().unwrap().extend([503; 20]);
    let urls = (
        held.start_on("127.0.0.1:0").await,
        ordered.start_on("127.0.0.1:0").await,
        flaky.start_on("127.0.0.1:0").await,
    );
    let rest = format!(
        "[[route]]\nname = \"held\"\nto = \"{}\"\npaused = true\n\
         [[route]]\nname = \"ordered\"\nto = \"{}\"\norder_by = \"/data/title\"\n\
         [[route]]\nname = \"flaky\"\nto = \"{}\"\ncircuit = {{ failures = 1, cool_down = \"10m\" }}\n",
        urls.0, urls.1, urls.2
    );
    let config = homa_config(Some(TOKEN_ENV), &rest);
    let gateway = Running::start("inbox-held", SECRET, &config, &[(TOKEN_ENV, TOKEN)]);
    let admin = gateway.admin();
    let hook = gateway.url("/hooks/homa");
    let source = homa(SECRET);
    for ticket in [1, 2] {
        let body = Bytes::from(format!(
            r#"{{"event":"ticket.created","timestamp":"2026-11-24T09:30:0{ticket}Z","data":{{"ticket_id":{ticket},"title":"same key"}}}}"#
        ));
        let request = hookgate::send::signed_request(&source, &hook, body).unwrap();
        assert_eq!(
            hookgate::client::post(request).await.unwrap().status,
            StatusCode::ACCEPTED
        );
        // The first is refused before the second arrives: the second waits behind it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while ordered.received.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "nothing reached `ordered`");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    let driver = Driver::start().await;
    let client = browser(&driver).await;
    sign_in(&client, &admin).await;
    // The inbox says what is held back.
    let deadline = Instant::now() + Duration::from_secs(20);
    let banner = loop {
        client.refresh().await.unwrap();
        if let Ok(banner) = client.find(Locator::Id("held")).await {
            let text = banner.text().await.unwrap();
            if text.contains("circuit open") && text.contains("blocked") {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "no banner of what is held back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for expected in [
        "held: paused",
        "flaky: circuit open",
        "1 ordering key blocked",
    ] {
        assert!(banner.contains(expected), "{expected:?} not in {banner:?}");
    }

    // The Destinations page: each state, and the blocked key with why.
    client
        .find(Locator::LinkText("Destinations →"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let table = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#destinations"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("paused") && table.contains("open"),
        "{table}"
    );
    let blocked = client
        .find(Locator::Css("#blocked tr.blocked-key"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in ["ordered", "same key", "400"] {
        assert!(
            blocked.contains(expected),
            "{expected:?} not in {blocked:?}"
        );
    }
    assert!(
        held.received.lock().unwrap().is_empty(),
        "nothing sent while paused"
    );

    // Resume: the held events go.
    client
        .find(Locator::Css(
            "tr.destination[data-name='held'] button.resume",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".notice"))
        .await
        .unwrap();
    assert!(notice.text().await.unwrap().contains("Resumed"));
    // Release: the waiting ticket of the blocked key goes.
    client
        .find(Locator::Css("#blocked button.release"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The page before the click has a notice too (Resumed): wait for the new one.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = match client.find(Locator::Css(".notice")).await {
            Ok(notice) => notice.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains("Released") {
            break;
        }
        assert!(Instant::now() < deadline, "no Released notice: {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while held.received.lock().unwrap().len() < 2 || ordered.received.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "held: {} delivered, ordered: {}",
            held.received.lock().unwrap().len(),
            ordered.received.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = client.source().await.unwrap();
    assert!(
        page.contains("No key is blocked"),
        "the key is no longer listed"
    );
    client.close().await.unwrap();
    drop(driver);
}

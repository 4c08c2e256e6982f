//! Issue 21, points 1 and 2, in a real `hookgate serve` delivering to real upstreams over HTTP:
//! deliveries ordered per key (through retries, dead letters and a restart), and destination
//! controls (pause and resume, `max_in_flight`, `rate`, the circuit breaker) from the
//! configuration and through the admin API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::time::Instant;

use crate::delivery::serve_http;
use crate::running::{Running, admin_call, homa, homa_config, post_signed};

const SECRET: &str = "flow-test-sender-secret-0123456789";
const TOKEN: &str = "flow-test-admin-token-abcdefghijklm";
const TOKEN_ENV: &str = "HOOKGATE_IT_FLOW_TOKEN";

/// One request an upstream got: the ticket, the status it answered, when.
#[derive(Debug, Clone)]
struct Got {
    ticket: u64,
    status: u16,
    at: Instant,
}

/// An upstream that answers by ticket: the statuses scripted for a ticket first (then 200), or
/// 503 to everything while `down`; it records what it got, after an optional delay, and the
/// most requests it had in flight at once.
#[derive(Clone, Default)]
struct Upstream {
    script: Arc<Mutex<HashMap<u64, Vec<u16>>>>,
    got: Arc<Mutex<Vec<Got>>>,
    down: Arc<AtomicBool>,
    delay: Arc<Mutex<Duration>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl Upstream {
    fn fail(&self, ticket: u64, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .insert(ticket, statuses.to_vec());
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        let ticket = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["data"]["ticket_id"].as_u64())
            .unwrap_or(0);
        let status = if self.down.load(Ordering::SeqCst) {
            503
        } else {
            let mut script = self.script.lock().unwrap();
            match script.get_mut(&ticket) {
                Some(statuses) if !statuses.is_empty() => statuses.remove(0),
                _ => 200,
            }
        };
        self.got.lock().unwrap().push(Got {
            ticket,
            status,
            at: Instant::now(),
        });
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        response
    }

    async fn start(&self) -> String {
        let this = self.clone();
        let addr = serve_http("127.0.0.1:0", move |req| {
            let this = this.clone();
            async move { this.answer(req).await }
        })
        .await;
        format!("http://{addr}/hook")
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The tickets delivered (answered 2xx), in the order they were.
    fn delivered(&self) -> Vec<u64> {
        self.got()
            .iter()
            .filter(|g| g.status < 300)
            .map(|g| g.ticket)
            .collect()
    }

    /// Wait (at most 20 s) until `done` holds of what it got.
    async fn until(&self, what: &str, done: impl Fn(&[Got]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.got()) {
            assert!(Instant::now() < deadline, "{what}: got {:?}", self.got());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A Homa ticket event; `title` is what the ordered routes order by.
fn ticket(id: u64, title: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-01-01T00:00:{:02}Z","data":{{"ticket_id":{id},"title":"{title}"}}}}"#,
        id % 60
    ))
}

async fn send(gateway: &Running, id: u64, title: &str) {
    let reply = post_signed(
        &homa(SECRET),
        &gateway.url("/hooks/homa"),
        ticket(id, title),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "ticket {id}");
}

async fn admin_json(method: &str, url: &str) -> Value {
    let (status, text) = admin_call(method, url, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{method} {url}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn destination<'a>(all: &'a Value, name: &str) -> &'a Value {
    all["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["destination"] == name)
        .unwrap_or_else(|| panic!("no destination {name} in {all}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_is_delivered_in_order_through_retries_dead_letters_and_a_restart() {
    let (blocking, skipping) = (Upstream::default(), Upstream::default());
    let (blocking_url, skipping_url) = (blocking.start().await, skipping.start().await);
    let config = homa_config(
        Some(TOKEN_ENV),
        &format!(
            "[delivery]\ninitial_delay = \"300ms\"\nmax_attempts = 5\n\
             [[route]]\nname = \"blocking\"\nto = \"{blocking_url}\"\norder_by = \"/data/title\"\n\
             [[route]]\nname = \"skipping\"\nto = \"{skipping_url}\"\norder_by = [\"/data/title\"]\non_dead = \"skip\"\n"
        ),
    );
    let envs = [(TOKEN_ENV, TOKEN)];
    let mut gateway = Running::start("flow-order", SECRET, &config, &envs);

    // Ticket 1 (key a) fails once, and ticket 2 (key a) comes while it waits for its retry:
    // 2 waits for 1. Ticket 3 (key b) is not held back by key a.
    for upstream in [&blocking, &skipping] {
        upstream.fail(1, &[503]);
    }
    send(&gateway, 1, "a").await;
    blocking
        .until("ticket 1 tried", |got| got.iter().any(|g| g.ticket == 1))
        .await;
    send(&gateway, 2, "a").await;
    send(&gateway, 3, "b").await;
    for upstream in [&blocking, &skipping] {
        upstream
            .until("tickets 1 to 3 delivered", |got| {
                (1..=3).all(|t| got.iter().any(|g| g.ticket == t && g.status == 200))
            })
            .await;
        let delivered = upstream.delivered();
        let at = |t: u64| delivered.iter().position(|&d| d == t).unwrap();
        assert!(at(1) < at(2), "key a in acceptance order: {delivered:?}");
        assert!(
            at(3) < at(1),
            "key b went while key a waited: {delivered:?}"
        );
        let tries_of_2 = upstream.got().iter().filter(|g| g.ticket == 2).count();
        assert_eq!(
            tries_of_2, 1,
            "ticket 2 was not sent before ticket 1 was delivered"
        );
    }

    // Ticket 4 (key c) is refused for good: a dead letter. Where the route blocks, ticket 5
    // (key c) waits, and the admin API says why; where it skips, 5 goes on.
    for upstream in [&blocking, &skipping] {
        upstream.fail(4, &[400]);
    }
    send(&gateway, 4, "c").await;
    blocking
        .until("ticket 4 refused", |got| got.iter().any(|g| g.ticket == 4))
        .await;
    skipping
        .until("ticket 4 refused", |got| got.iter().any(|g| g.ticket == 4))
        .await;
    send(&gateway, 5, "c").await;
    skipping
        .until("ticket 5 delivered where dead letters are skipped", |got| {
            got.iter().any(|g| g.ticket == 5)
        })
        .await;
    let admin = gateway.admin();
    let blocked = admin_json("GET", &format!("{admin}/blocked")).await;
    let keys = blocked["blocked"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{blocked}");
    assert_eq!(keys[0]["destination"], "blocking");
    assert_eq!(keys[0]["key"], "c");
    assert_eq!(keys[0]["waiting"], 1);
    assert_eq!(keys[0]["last_status"], 400, "why: {blocked}");
    let dead_seq = keys[0]["blocked_by"].as_u64().unwrap();

    // A restart keeps the key blocked (the dead letter says so), and 5 still waits.
    gateway.restart(&envs);
    let admin = gateway.admin();
    let blocked = admin_json("GET", &format!("{admin}/blocked")).await;
    assert_eq!(blocked["blocked"][0]["key"], "c", "{blocked}");
    assert_eq!(blocked["blocked"][0]["blocked_by"], dead_seq);
    let all = admin_json("GET", &format!("{admin}/destinations")).await;
    assert_eq!(destination(&all, "blocking")["waiting"], 1, "{all}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !blocking.got().iter().any(|g| g.ticket == 5),
        "ticket 5 waits behind the dead letter"
    );

    // Released: 5 goes on; the dead letter stays one.
    let (status, text) = admin_call(
        "POST",
        &format!("{admin}/blocked/release?destination=blocking&key=c"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    blocking
        .until("ticket 5 delivered once released", |got| {
            got.iter().any(|g| g.ticket == 5 && g.status == 200)
        })
        .await;
    let blocked = admin_json("GET", &format!("{admin}/blocked")).await;
    assert!(
        blocked["blocked"].as_array().unwrap().is_empty(),
        "{blocked}"
    );
    let (status, text) = admin_call(
        "POST",
        &format!("{admin}/blocked/release?destination=blocking&key=c"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("not_blocked"), "{text}");
    let dead = admin_json("GET", &format!("{admin}/dead")).await;
    assert!(dead.to_string().contains("blocking"), "{dead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_are_paused_throttled_and_broken_by_config_and_at_runtime() {
    let (held, narrow, slow, flaky) = (
        Upstream::default(),
        Upstream::default(),
        Upstream::default(),
        Upstream::default(),
    );
    *narrow.delay.lock().unwrap() = Duration::from_millis(50);
    flaky.down.store(true, Ordering::SeqCst);
    let urls = (
        held.start().await,
        narrow.start().await,
        slow.start().await,
        flaky.start().await,
    );
    let config = homa_config(
        Some(TOKEN_ENV),
        &format!(
            "[delivery]\ninitial_delay = \"300ms\"\nmax_attempts = 50\n\
             [[route]]\nname = \"held\"\nto = \"{}\"\npaused = true\n\
             [[route]]\nname = \"narrow\"\nto = \"{}\"\nmax_in_flight = 1\n\
             [[route]]\nname = \"slow\"\nto = \"{}\"\nrate = 4\nburst = 1\n\
             [[route]]\nname = \"flaky\"\nto = \"{}\"\nmax_in_flight = 1\n\
             circuit = {{ failures = 2, cool_down = \"3s\" }}\n",
            urls.0, urls.1, urls.2, urls.3
        ),
    );
    let envs = [(TOKEN_ENV, TOKEN)];
    let mut gateway = Running::start("flow-controls", SECRET, &config, &envs);
    for id in 1..=5 {
        send(&gateway, id, "t").await;
    }
    let admin = gateway.admin();

    // The circuit: two failures in a row open it; nothing more is sent during the cool-down.
    flaky
        .until("two failed attempts", |got| got.len() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        flaky.got().len(),
        2,
        "nothing sent while the circuit is open: {:?}\n{}",
        flaky.got(),
        gateway.server().stderr_lines().join("\n")
    );
    let all = admin_json("GET", &format!("{admin}/destinations")).await;
    assert_eq!(destination(&all, "flaky")["circuit"], "open", "{all}");
    let (_, page) = admin_call("GET", &format!("{admin}/metrics"), Some(TOKEN)).await;
    assert!(
        page.contains(r#"hookgate_destination_circuit{destination="flaky",state="open"} 1"#),
        "{page}"
    );
    // max_in_flight = 1: one at a time, all delivered.
    narrow
        .until("narrow delivered all", |got| got.len() == 5)
        .await;
    assert_eq!(narrow.most_in_flight.load(Ordering::SeqCst), 1);

    // rate = 4/s with a burst of 1: five deliveries take at least a second.
    slow.until("slow delivered all", |got| got.len() == 5).await;
    let got = slow.got();
    let span = got[4].at - got[0].at;
    assert!(span >= Duration::from_millis(900), "5 at 4/s took {span:?}");

    // The upstream comes back: after the cool-down one probe goes, succeeds, and the rest follow.
    flaky.down.store(false, Ordering::SeqCst);
    flaky
        .until("flaky delivered all once closed", |got| {
            (1..=5).all(|t| got.iter().any(|g| g.ticket == t && g.status == 200))
        })
        .await;
    let all = admin_json("GET", &format!("{admin}/destinations")).await;
    assert_eq!(destination(&all, "flaky")["circuit"], "closed", "{all}");
    let lines = gateway.server().stderr_lines().join("\n");
    for transition in ["circuit opened", "circuit half open", "circuit closed"] {
        assert!(
            lines.contains(transition),
            "no {transition:?} logged: {lines}"
        );
    }

    // Paused from the configuration: accepted and kept, nothing sent.
    let all = admin_json("GET", &format!("{admin}/destinations")).await;
    let d = destination(&all, "held");
    assert_eq!(d["paused"], true, "{d}");
    assert_eq!(d["pending"], 5, "{d}");
    assert!(held.got().is_empty());
    // Resumed at runtime: delivered.
    let resumed = admin_json("POST", &format!("{admin}/destinations/held/resume")).await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    held.until("held delivered once resumed", |got| got.len() == 5)
        .await;

    // Paused at runtime, it stays paused across a restart.
    let paused = admin_json("POST", &format!("{admin}/destinations/held/pause")).await;
    assert_eq!(paused["paused"], true, "{paused}");
    send(&gateway, 6, "t").await;
    gateway.restart(&envs);
    let admin = gateway.admin();
    let all = admin_json("GET", &format!("{admin}/destinations")).await;
    assert_eq!(destination(&all, "held")["paused"], true, "{all}");
    assert_eq!(destination(&all, "held")["pending"], 1, "{all}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(held.got().len(), 5, "nothing sent while paused");
    // Limits change at runtime, and a bad one is refused with the reason.
    let mut request = http::Request::builder()
        .method("PATCH")
        .uri(format!("{admin}/destinations/held"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json");
    request = request.header("accept", "application/json");
    let reply = hookgate::client::post(
        request
            .body(Full::new(Bytes::from_static(br#"{"max_in_flight":0}"#)))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("max_in_flight"),
        "{:?}",
        reply.body
    );
    // Reset to the configuration: paused again is the configured state, then resumed.
    let reset = admin_json("POST", &format!("{admin}/destinations/held/reset")).await;
    assert_eq!(reset["paused"], true, "configured paused: {reset}");
    admin_json("POST", &format!("{admin}/destinations/held/resume")).await;
    held.until("ticket 6 delivered", |got| got.len() == 6).await;

    // Unknown destinations are 404.
    let (status, _) = admin_call(
        "POST",
        &format!("{admin}/destinations/nope/pause"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The same from the command line.
    let cli = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"));
        command
            .args(["destinations", "--url", &admin, "--token"])
            .arg(format!("env:{TOKEN_ENV}"))
            .args(args)
            .env(TOKEN_ENV, TOKEN);
        crate::cli::finished(&mut command)
    };
    let (code, out) = cli(&["pause", "narrow"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("narrow") && out.contains("PAUSED"), "{out}");
    let (code, out) = cli(&["set", "narrow", "--max-in-flight", "2", "--rate", "7"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("max_in_flight=2 rate=7/s"), "{out}");
    let (code, out) = cli(&["list"]);
    assert_eq!(code, Some(0), "{out}");
    let row = out.lines().find(|l| l.starts_with("narrow")).unwrap();
    assert!(
        row.contains("PAUSED") && row.contains("max_in_flight=2"),
        "{out}"
    );
    let (code, out) = cli(&["reset", "narrow"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("running") && out.contains("max_in_flight=1"),
        "{out}"
    );
    let (code, out) = cli(&["blocked"]);
    assert_eq!((code, out.trim()), (Some(0), "no key is blocked"));
    let (code, out) = cli(&["pause", "nope"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no destination is named \"nope\""), "{out}");
}

#[test]
fn controls_and_ordering_are_checked_at_start() {
    let dir = crate::cli::temp_dir("flow-check");
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let config = format!(
        "[[source]]\nname = \"homa\"\nprofile = \"homa\"\nsecrets = [\"file:{}\"]\n\
         [[route]]\nto = \"log\"\nmax_in_flight = 0\nrate = -1.0\n\
         circuit = {{ failure_ratio = 1.5 }}\non_dead = \"skip\"\n\
         [[route]]\nto = \"http://127.0.0.1:9/x\"\norder_by = \"data.title\"\nburst = 3\n\
         [[route]]\nto = \"http://127.0.0.1:9/y\"\norder_by = \"header:X-Series\"\n",
        dir.join("secret").display()
    );
    let path = dir.join("hookgate.toml");
    std::fs::write(&path, config).unwrap();
    let (code, output) = crate::cli::finished(
        std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["check", "--config"])
            .arg(&path),
    );
    assert_eq!(code, Some(1), "{output}");
    for problem in [
        "max_in_flight must be at least 1",
        "rate: rate must be a positive number",
        "circuit.failure_ratio must be above 0 and at most 1",
        "`on_dead` applies to ordered routes only",
        "order_by: \"data.title\" is neither a JSON pointer",
        "`burst` needs a `rate`",
        "order_by: source \"homa\" does not keep header x-series",
    ] {
        assert!(output.contains(problem), "no {problem:?} in: {output}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// NinjaRMM's condition events need their order: `hookgate check` says so for a route that
/// carries them without `order_by`, and not once it has it.
#[test]
fn check_suggests_ordering_ninjarmm_conditions_by_series() {
    let dir = crate::cli::temp_dir("flow-suggest");
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let config = |order: &str| {
        format!(
            "[[source]]\nname = \"ninja\"\nprofile = \"ninjarmm\"\nsecrets = [\"file:{}\"]\n\
             [[route]]\nevents = [\"CONDITION.*\"]\nto = \"http://127.0.0.1:9/alerts\"\n{order}",
            dir.join("secret").display()
        )
    };
    let check = |text: String| {
        let path = dir.join("hookgate.toml");
        std::fs::write(&path, text).unwrap();
        crate::cli::finished(
            std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
                .args(["check", "--config"])
                .arg(&path),
        )
    };
    let (code, output) = check(config(""));
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("warning: route #1") && output.contains("order_by = \"/seriesUid\""),
        "{output}"
    );
    let (code, output) = check(config("order_by = \"/seriesUid\"\n"));
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains("order_by"), "{output}");
    let _ = std::fs::remove_dir_all(&dir);
}

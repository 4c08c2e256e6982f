//! Content filters on routes (`when`), over real HTTP: a real `hookgate serve`, signed events
//! posted to it, two real upstreams behind routes with different conditions; the dry run of
//! `POST /sources/{id}/test` and `hookgate sources test` saying why each route matched or not.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::delivery::Upstream;
use crate::running::{Running, admin_call, delivered_tickets, homa, homa_config};

const SECRET: &str = "filters-homa-secret-0123456789";
const TOKEN: &str = "filters-admin-token-0123456789";

/// A Homa ticket event.
fn ticket(id: u64, priority: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"ticket.created","timestamp":"2026-11-24T10:00:00Z","data":{{"ticket_id":{id},"title":"t","priority":"{priority}","status":"open"}}}}"#
    ))
}

/// POST ticket `id`, signed, with an `x-env` header if given: the status.
async fn post(url: &str, id: u64, priority: &str, env: Option<&str>) -> StatusCode {
    let mut request =
        hookgate::send::signed_request(&homa(SECRET), url, ticket(id, priority)).unwrap();
    if let Some(env) = env {
        request.headers_mut().insert("x-env", env.parse().unwrap());
    }
    hookgate::client::post(request).await.unwrap().status
}

/// The source keeps `x-env`; `urgent` takes high and urgent tickets, `big` tickets numbered 100
/// and up that came from a production environment.
fn routes(urgent: &str, big: &str) -> String {
    format!(
        r#"keep_headers = ["content-type", "x-env"]

[[route]]
events = ["ticket.*"]
to = "{urgent}"
when = [{{ pointer = "/data/priority", one_of = ["high", "urgent"] }}]

[[route]]
events = ["ticket.*"]
to = "{big}"
when = [
  {{ pointer = "/data/ticket_id", gte = 100 }},
  {{ header = "x-env", glob = "prod-*" }},
]
"#
    )
}

/// Posts the five tickets: 4 and 5 match no route, 1 only `urgent`, 200 only `big`, 300 both.
async fn post_the_tickets(url: &str) {
    for (id, priority, env) in [
        (4, "low", Some("dev")),
        (500, "low", Some("staging")),
        (1, "high", None),
        (200, "low", Some("prod-eu")),
        (300, "urgent", Some("prod-us")),
    ] {
        assert_eq!(
            post(url, id, priority, env).await,
            StatusCode::ACCEPTED,
            "ticket {id}: every verified event is acknowledged, routed or not"
        );
    }
}

fn set(ids: &[usize]) -> HashSet<usize> {
    ids.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_upstream_gets_the_events_its_route_conditions_hold_for() {
    let (urgent, big) = (Upstream::default(), Upstream::default());
    let urgent_url = urgent.start_on("127.0.0.1:0").await;
    let big_url = big.start_on("127.0.0.1:0").await;
    let config = homa_config(Some("HG_FILTERS_TOKEN"), &routes(&urgent_url, &big_url));
    let gateway = Running::start("filters", SECRET, &config, &[("HG_FILTERS_TOKEN", TOKEN)]);
    post_the_tickets(&gateway.url("/hooks/homa")).await;

    let limit = Duration::from_secs(10);
    assert_eq!(
        delivered_tickets(&urgent, &set(&[1, 300]), limit).await,
        set(&[1, 300])
    );
    assert_eq!(
        delivered_tickets(&big, &set(&[200, 300]), limit).await,
        set(&[200, 300])
    );
    // The two that matched nothing are in the log as unrouted: accepted, never delivered.
    let (status, body) = admin_call(
        "GET",
        &format!("{}/events?status=unrouted", gateway.admin()),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unrouted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        unrouted["events"].as_array().unwrap().len(),
        2,
        "{unrouted}"
    );
    // Nothing else arrives later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(urgent.received.lock().unwrap().len(), 2);
    assert_eq!(big.received.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_spool_off_routes_filter_before_the_answer() {
    let (urgent, big) = (Upstream::default(), Upstream::default());
    let urgent_url = urgent.start_on("127.0.0.1:0").await;
    let big_url = big.start_on("127.0.0.1:0").await;
    let config = homa_config(
        None,
        &format!(
            "{}\n[spool]\nenabled = false\n",
            routes(&urgent_url, &big_url)
        ),
    );
    let gateway = Running::start("filters-memory", SECRET, &config, &[]);
    post_the_tickets(&gateway.url("/hooks/homa")).await;
    // In memory mode the routes ran before each 202: everything is there already.
    let ids = |upstream: &Upstream| -> HashSet<usize> {
        upstream
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, body)| {
                let v: Value = serde_json::from_slice(body).unwrap();
                usize::try_from(v["data"]["ticket_id"].as_u64().unwrap()).unwrap()
            })
            .collect()
    };
    assert_eq!(ids(&urgent), set(&[1, 300]));
    assert_eq!(ids(&big), set(&[200, 300]));
    assert_eq!(urgent.received.lock().unwrap().len(), 2, "each once");
}

/// A call to the admin API with a JSON body: status and answer.
async fn api(method: &str, url: &str, body: Value) -> (StatusCode, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let reply = hookgate::client::post(request).await.unwrap();
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
    )
}

/// The route stage's detail of a dry-run report.
fn route_stage(report: &Value) -> &Value {
    let stage = &report["stages"][5];
    assert_eq!(stage["stage"], "route", "{report}");
    &stage["detail"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_says_why_each_route_matched_or_not() {
    let urgent = Upstream::default();
    let urgent_url = urgent.start_on("127.0.0.1:0").await;
    let config = homa_config(
        Some("HG_FILTERS_TOKEN"),
        &format!(
            "[[route]]\nname = \"urgent\"\nto = \"{urgent_url}\"\nwhen = [{{ pointer = \"/data/priority\", one_of = [\"high\", \"urgent\"] }}]\n"
        ),
    );
    let gateway = Running::start(
        "filters-test",
        SECRET,
        &config,
        &[("HG_FILTERS_TOKEN", TOKEN)],
    );
    let admin = gateway.admin();

    // A source of the configuration file: its [[route]]s, with the value each condition found.
    let low: Value = serde_json::from_slice(&ticket(7, "low")).unwrap();
    let (status, report) = api(
        "POST",
        &format!("{admin}/sources/config:homa/test"),
        json!({"body": low}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let detail = route_stage(&report);
    assert_eq!(detail["destinations"], json!([]), "{detail}");
    assert_eq!(
        detail["routes"],
        json!([{
            "pattern": "*",
            "to": "urgent",
            "matched": false,
            "type": "\"ticket.created\" matches \"*\"",
            "when": [{
                "condition": {"pointer": "/data/priority", "one_of": ["high", "urgent"]},
                "held": false,
                "why": "\"/data/priority\" is \"low\", not one of [\"high\",\"urgent\"]",
            }],
        }])
    );
    let high: Value = serde_json::from_slice(&ticket(8, "high")).unwrap();
    let (_, report) = api(
        "POST",
        &format!("{admin}/sources/config:homa/test"),
        json!({"body": high}),
    )
    .await;
    let detail = route_stage(&report);
    assert_eq!(detail["destinations"], json!(["urgent"]), "{report}");
    assert_eq!(detail["routes"][0]["matched"], true);
    assert_eq!(detail["routes"][0]["when"][0]["held"], true);

    // A source created through the API takes the same conditions, checked like the file's.
    let (status, refused) = api(
        "POST",
        &format!("{admin}/sources"),
        json!({
            "name": "tickets",
            "profile": "homa",
            "routes": [{"events": ["ticket.*"], "to": "log", "when": [
                {"pointer": "data/priority", "equals": "high"},
                {"header": "x-env", "exists": true},
            ]}],
        }),
    )
    .await;
    assert!(status.is_client_error(), "{status} {refused}");
    let message = refused.to_string();
    assert!(message.contains("must start with /"), "{message}");
    assert!(message.contains("does not keep header x-env"), "{message}");
    let (status, created) = api(
        "POST",
        &format!("{admin}/sources"),
        json!({
            "name": "tickets",
            "profile": "homa",
            "routes": [
                {"events": ["ticket.*"], "to": "log", "when": [
                    {"pointer": "/data/ticket_id", "gte": 100},
                    {"pointer": "/data/status", "exists": true},
                ]},
                {"events": ["device.*"], "to": "urgent"},
            ],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["routes"][0]["when"][0],
        json!({"pointer": "/data/ticket_id", "gte": 100})
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, report) = api(
        "POST",
        &format!("{admin}/sources/{id}/test"),
        json!({"body": low}),
    )
    .await;
    let routes = &route_stage(&report)["routes"];
    assert_eq!(routes[0]["matched"], false, "{report}");
    assert_eq!(
        routes[0]["when"][0]["why"],
        "\"/data/ticket_id\" is 7, not >= 100"
    );
    assert_eq!(
        routes[0]["when"][1]["why"],
        "\"/data/status\" is present (\"open\")"
    );
    assert_eq!(routes[0]["when"][1]["held"], true);
    assert_eq!(
        routes[1],
        json!({
            "pattern": "device.*",
            "to": "urgent",
            "matched": false,
            "type": "\"ticket.created\" does not match \"device.*\"",
        })
    );

    // The CLI prints a line per route and one per condition, and takes a body.
    let output = std::process::Command::new(crate::cli::BIN)
        .args(["sources", "test", "config:homa", "--body"])
        .arg(low.to_string())
        .args(["--url", &admin, "--token", "env:HG_FILTERS_TOKEN"])
        .env("HG_FILTERS_TOKEN", TOKEN)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("not matched * -> urgent: \"ticket.created\" matches \"*\""),
        "{out}"
    );
    assert!(
        out.contains("failed    \"/data/priority\" is \"low\", not one of [\"high\",\"urgent\"]"),
        "{out}"
    );
    // Nothing was delivered by any of it.
    assert!(urgent.received.lock().unwrap().is_empty());
}

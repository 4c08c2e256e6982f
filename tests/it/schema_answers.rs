//! Issue 18 (points 2 and 4): a 422 names the deepest field at fault, in a body under 4 KiB;
//! `x-extensible-enum` is read in both of its forms, by validation and by `hookgate gen`.

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use hookgate::profile::Profile;
use http::StatusCode;
use serde_json::{Value, json};

use crate::running::{Running, homa, homa_config};
use crate::support::*;

/// The fixture: Homa's envelope around every composition a 422 has to see through.
fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/specs/reporting30.yaml")
}

/// A real `hookgate serve` with one Homa source validating against the fixture.
fn serve(tag: &str) -> Running {
    let rest = format!("spec = {:?}", fixture().display().to_string());
    Running::start(tag, SECRET, &homa_config(None, &rest), &[])
}

/// The fixture's example with `data` changed by `edit`.
fn order(edit: impl FnOnce(&mut Value)) -> Bytes {
    let mut body = json!({
        "event": "order.placed",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {
            "id": 1,
            "device": {"id": 7, "offline": false, "references": {"organization": {"name": "Example"}}},
            "lines": [{"sku": "A-1", "quantity": 2}, null],
            "payment": {"method": "card", "last4": "4242"},
            "contact": {"email": "a@example.com"},
            "customer": {"name": "Ada", "address": {"zip": "12345"}},
            "channel": "web",
            "stage": "new",
            "currency": "EUR"
        }
    });
    edit(&mut body["data"]);
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

/// Post `body`, signed, to the running gateway's Homa source: the status and the JSON answer.
async fn post(gateway: &Running, body: Bytes) -> (StatusCode, Value, usize) {
    let reply = send(signed(&homa(SECRET), &gateway.url("/hooks/homa"), body)).await;
    (reply.status, json(&reply), reply.body.len())
}

fn instance_paths(answer: &Value) -> Vec<&str> {
    answer["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {answer}"))
        .iter()
        .map(|p| p["instance_path"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninjarmm_device_offline_no_is_422_at_device_offline() {
    let (server, mounted) = seed_gateway(256 * 1024).await;
    let m = mounted
        .iter()
        .find(|m| m.profile == Profile::NinjaRmm)
        .unwrap();
    let mut body = Profile::NinjaRmm
        .sample(Some("CONDITION.TRIGGERED"), std::time::SystemTime::now())
        .unwrap();
    body["device"]["offline"] = json!("no");
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
    let reply = send(signed(&m.source, &server.url(&m.path), bytes)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = json(&reply);
    assert_eq!(instance_paths(&answer), ["/device/offline"], "{answer}");
    assert_eq!(
        answer["details"][0]["message"],
        r#""no" is not of type "boolean" or "null""#
    );
    assert!(m.recorder.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_422_points_at_the_deepest_field_and_never_prints_an_object() {
    let gateway = serve("answers-deepest");
    let (status, answer, _) = post(&gateway, order(|_| {})).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the example is valid: {answer}"
    );

    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "nullable $ref",
            Box::new(|d| d["device"]["offline"] = json!("no")),
            "/data/device/offline",
            r#""no" is not of type "boolean""#,
        ),
        (
            "nullable $ref inside a nullable $ref",
            Box::new(|d| d["device"]["references"]["organization"]["name"] = json!(5)),
            "/data/device/references/organization/name",
            r#"5 is not of type "string""#,
        ),
        (
            "nullable $ref of no allowed type",
            Box::new(|d| d["device"] = json!("no")),
            "/data/device",
            r#""no" is not of type "object" or "null""#,
        ),
        (
            "array of nullable $refs",
            Box::new(|d| {
                d["lines"] = json!([{"sku": "A", "quantity": 1}, null, {"sku": "B", "quantity": 0}])
            }),
            "/data/lines/2/quantity",
            "0 is less than the minimum of 1",
        ),
        (
            "oneOf with a discriminator",
            Box::new(|d| d["payment"] = json!({"method": "card", "last4": "42"})),
            "/data/payment/last4",
            r#""42" does not match "^[0-9]{4}$""#,
        ),
        (
            "oneOf with a discriminator, a field of the selected branch missing",
            Box::new(|d| d["payment"] = json!({"method": "transfer", "last4": "4242"})),
            "/data/payment",
            r#""iban" is a required property"#,
        ),
        (
            "oneOf without a discriminator",
            Box::new(|d| d["contact"] = json!({"phone": "12"})),
            "/data/contact/phone",
            r#""12" does not match "^\+[0-9]+$""#,
        ),
        (
            "allOf",
            Box::new(|d| d["customer"]["address"]["zip"] = json!("ABCDE")),
            "/data/customer/address/zip",
            r#""ABCDE" does not match "^[0-9]{5}$""#,
        ),
    ];
    for (case, edit, path, message) in cases {
        let (status, answer, _) = post(&gateway, order(edit)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {answer}");
        assert_eq!(answer["error"], "invalid_event");
        assert_eq!(instance_paths(&answer), [path], "{case}: {answer}");
        assert_eq!(answer["details"][0]["message"], message, "{case}");
        assert!(answer.get("omitted").is_none(), "{case}: {answer}");
    }

    // A long string is quoted to 64 characters; an object is named, never printed.
    let (_, answer, _) = post(&gateway, order(|d| d["id"] = json!("7".repeat(1000)))).await;
    let message = answer["details"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("\"{}\"", "7".repeat(64))) && !message.contains(&"7".repeat(65)),
        "{message}"
    );
    let (_, answer, _) = post(
        &gateway,
        order(|d| d["id"] = json!({"secret": "s3cr3t", "more": [1, 2, 3]})),
    )
    .await;
    assert_eq!(
        answer["details"][0]["message"],
        r#"an object is not of type "integer""#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_422_stays_under_4_kib_and_says_how_many_problems_it_left_out() {
    let gateway = serve("answers-budget");
    let lines: Vec<Value> = (0..3000)
        .map(|_| json!({"sku": 1, "quantity": 0}))
        .collect();
    let (status, answer, size) = post(&gateway, order(|d| d["lines"] = json!(lines))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(size < 4096, "{size} bytes");
    let listed = instance_paths(&answer);
    let mut first = listed[..2].to_vec();
    first.sort_unstable();
    assert_eq!(first, ["/data/lines/0/quantity", "/data/lines/0/sku"]);
    let omitted = answer["omitted"].as_u64().unwrap() as usize;
    assert_eq!(
        listed.len() + omitted,
        hookgate::spec::problems::MAX_PROBLEMS,
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{omitted} more not listed")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensible_enums_in_both_forms_accept_new_values_and_closed_ones_do_not() {
    let gateway = serve("answers-enums");
    // `enum` + `x-extensible-enum: true`, and Zalando's list: a new value is accepted.
    let (status, answer, _) = post(&gateway, order(|d| d["channel"] = json!("app"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "flag form: {answer}");
    let (status, answer, _) = post(&gateway, order(|d| d["stage"] = json!("refunded"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "list form: {answer}");
    // A closed enum still refuses, and an open one still checks the type.
    let (status, answer, _) = post(&gateway, order(|d| d["currency"] = json!("GBP"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(instance_paths(&answer), ["/data/currency"], "{answer}");
    let (status, answer, _) = post(&gateway, order(|d| d["channel"] = json!(5))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(instance_paths(&answer), ["/data/channel"], "{answer}");
}

#[test]
fn gen_makes_both_extensible_enum_forms_open_types() {
    let out = std::env::temp_dir().join(format!("hookgate-gen-enums-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["gen", "--spec"])
        .arg(fixture())
        .arg("--out")
        .arg(&out)
        .args(["--profile", "homa"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let models = std::fs::read_to_string(out.join("src/models.rs")).unwrap();
    let body_of = |name: &str| {
        let start = models
            .find(&format!("pub enum {name} {{"))
            .unwrap_or_else(|| panic!("no enum {name} in\n{models}"));
        let end = start + models[start..].find("\n}").unwrap();
        models[start..end].to_owned()
    };
    assert!(
        body_of("OrderChannel").contains("Unknown(String)"),
        "flag form"
    );
    assert!(
        body_of("OrderStage").contains("Unknown(String)"),
        "list form"
    );
    assert!(!body_of("OrderCurrency").contains("Unknown"), "closed enum");
    let _ = std::fs::remove_dir_all(&out);
}

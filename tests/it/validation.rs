//! Issue 18, point 3: an assumed schema never refuses a real event. Against a real
//! `hookgate serve`: what a spec only assumes is accepted and its mismatches shown (admin API,
//! inbox, `/metrics`); what the sender documents is refused in `enforce`; `report` and `off`
//! per source, and a spec's own mode.

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use serde_json::{Value, json};

use crate::running::{Running, admin_call};

const SECRET: &str = "validation-test-sender-secret-0123456789";
const TOKEN: &str = "validation-test-token-abcdefghijklmnop";
const TOKEN_ENV: &str = "HOOKGATE_IT_VALIDATION_TOKEN";

/// An Ops-Center source named `name`, signing with [`SECRET`].
fn opscenter(name: &str) -> Source {
    Source::from_profile(
        name,
        Profile::OpsCenter,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    )
}

/// Post `body` to `path`, signed as Ops-Center signs: the status and the answer's JSON.
async fn post(gateway: &Running, path: &str, body: &Value) -> (StatusCode, Value) {
    post_as(&opscenter("any"), gateway, path, body).await
}

/// Post `body` to `path`, signed as `source` signs: the status and the answer's JSON.
async fn post_as(
    source: &Source,
    gateway: &Running,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap());
    let request = hookgate::send::signed_request(source, &gateway.url(path), bytes).unwrap();
    let reply = hookgate::client::post(request).await.unwrap();
    let answer = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, answer)
}

async fn admin_get(url: &str) -> String {
    let (status, body) = admin_call("GET", url, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
    body
}

/// The newest stored event of `source` with type `kind`, as `GET /events/{seq}` shows it.
async fn stored(admin: &str, source: &str, kind: &str) -> Value {
    let list: Value = serde_json::from_str(
        &admin_get(&format!(
            "{admin}/events?source={source}&type={kind}&limit=1"
        ))
        .await,
    )
    .unwrap();
    let seq = list["events"][0]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no {kind} event of {source}: {list}"));
    serde_json::from_str(&admin_get(&format!("{admin}/events/{seq}")).await).unwrap()
}

fn mismatch_paths(event: &Value) -> Vec<&str> {
    event["mismatches"]
        .as_array()
        .unwrap_or_else(|| panic!("no mismatches list: {event}"))
        .iter()
        .map(|m| m["instance_path"].as_str().unwrap())
        .collect()
}

fn config(rest: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{{data}}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"env:{TOKEN_ENV}\"\n\
         [[source]]\nname = \"ops\"\nprofile = \"opscenter\"\nsecrets = [\"file:{{secret}}\"]\n{rest}"
    )
}

fn payment_failed(payment_id: Value, amount: Value) -> Value {
    json!({
        "event": "payment.failed",
        "timestamp": "2026-02-01T10:00:00Z",
        "data": {
            "payment_id": payment_id,
            "subscription_id": "sub_1",
            "user_id": 123,
            "amount": amount,
            "currency": "usd",
            "status": "failed",
            "failure_reason": "card_declined"
        },
        "webhook_id": "9b2f6c1e-4a7d-4e8b-b0c3-5d6e7f8a9b0c"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assumed_payload_that_does_not_match_is_accepted_and_its_mismatches_shown() {
    let gateway = Running::start(
        "validation-shown",
        SECRET,
        &config(""),
        &[(TOKEN_ENV, TOKEN)],
    );
    let admin = gateway.admin();

    // The issue's event: an integer payment id, where the spec had assumed a string. Ids in
    // assumed payloads take both: accepted, and nothing to report.
    let (status, answer) = post(
        &gateway,
        "/hooks/ops",
        &payment_failed(json!(77), json!(12.5)),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let event = stored(&admin, "ops", "payment.failed").await;
    assert_eq!(mismatch_paths(&event), Vec::<&str>::new(), "{event}");

    // An assumed field of another type: still accepted (the sender would retry, then give up),
    // and the mismatch is kept with the event.
    let (status, answer) = post(
        &gateway,
        "/hooks/ops",
        &payment_failed(json!(78), json!("12.50")),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let event = stored(&admin, "ops", "payment.failed").await;
    assert_eq!(event["body"]["data"]["payment_id"], 78);
    assert_eq!(mismatch_paths(&event), ["/data/amount"], "{event}");
    assert!(
        event["mismatches"][0]["message"]
            .as_str()
            .unwrap()
            .contains("number"),
        "{event}"
    );

    // The inbox shows them on the event's page.
    let seq = event["seq"].as_u64().unwrap();
    let page = admin_get(&format!("{admin}/ui/events/{seq}")).await;
    assert!(page.contains("id=\"mismatches\""), "{page}");
    // minijinja escapes `/` in HTML.
    assert!(page.contains("&#x2f;data&#x2f;amount"), "{page}");

    // Array indices are folded in the metric's label: two items, one series.
    let updated = json!({
        "event": "user.updated",
        "timestamp": "2026-02-01T10:01:00Z",
        "data": {"user_id": 123, "changed_fields": [1, 2]}
    });
    let (status, answer) = post(&gateway, "/hooks/ops", &updated).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let event = stored(&admin, "ops", "user.updated").await;
    assert_eq!(
        mismatch_paths(&event),
        ["/data/changed_fields/0", "/data/changed_fields/1"],
        "{event}"
    );

    let metrics = admin_get(&format!("{admin}/metrics")).await;
    let series = |labels: &[&str]| {
        metrics
            .lines()
            .filter(|l| l.starts_with("hookgate_schema_mismatches_total{"))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
    };
    assert_eq!(
        series(&[
            "source=\"ops\"",
            "type=\"payment.failed\"",
            "path=\"/data/amount\""
        ])
        .as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert_eq!(
        series(&["type=\"user.updated\"", "path=\"/data/changed_fields/*\""]).as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert!(!metrics.contains("changed_fields/0"), "{metrics}");
    assert!(!metrics.contains("payment_id"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninjaone_refuses_what_its_examples_show_and_reports_what_they_do_not() {
    let ninja =
        "[[source]]\nname = \"ninja\"\nprofile = \"ninjaone\"\nsecrets = [\"file:{secret}\"]\n";
    let gateway = Running::start(
        "validation-ninjaone",
        SECRET,
        &config(ninja),
        &[(TOKEN_ENV, TOKEN)],
    );
    let admin = gateway.admin();
    let signer = Source::from_profile(
        "any",
        Profile::NinjaOne,
        &[Secret::new(SECRET.as_bytes().to_vec(), "t").unwrap()],
    );
    let event = |kind: &str, at: &str, data: Value| json!({"eventType": kind, "timestamp": at, "data": data});

    // NinjaOne's ALERT_TRIGGERED example shows `deviceId: 12345`: a string there is refused.
    let alert = |device: Value, severity: &str| {
        event(
            "ALERT_TRIGGERED",
            "2026-02-01T12:00:00Z",
            json!({"uid": "abc123", "deviceId": device, "severity": severity,
                   "message": "CPU usage above 95%", "sourceType": "CONDITION"}),
        )
    };
    let (status, answer) = post_as(
        &signer,
        &gateway,
        "/hooks/ninja",
        &alert(json!("12345"), "CRITICAL"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"], "invalid_event");
    assert_eq!(
        answer["details"][0]["instance_path"], "/data/deviceId",
        "{answer}"
    );

    // The set of severities is assumed (the example shows CRITICAL only): another one is
    // accepted, and the mismatch kept with the event.
    let (status, answer) = post_as(
        &signer,
        &gateway,
        "/hooks/ninja",
        &alert(json!(12345), "WARNING"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let stored_alert = stored(&admin, "ninja", "ALERT_TRIGGERED").await;
    assert_eq!(
        mismatch_paths(&stored_alert),
        ["/data/severity"],
        "{stored_alert}"
    );

    // NinjaOne shows no patch payload: a string device id is simply accepted (ids there take
    // both), a numeric title is accepted and reported.
    let patch = event(
        "PATCH_INSTALLED",
        "2026-02-01T12:01:00Z",
        json!({"deviceId": "dev-12345", "patchId": "KB5034122", "title": 5034122}),
    );
    let (status, answer) = post_as(&signer, &gateway, "/hooks/ninja", &patch).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let stored_patch = stored(&admin, "ninja", "PATCH_INSTALLED").await;
    assert_eq!(
        mismatch_paths(&stored_patch),
        ["/data/title"],
        "{stored_patch}"
    );

    // The envelope is documented for every event: `data` that is not an object is refused.
    let broken = event(
        "PATCH_INSTALLED",
        "2026-02-01T12:02:00Z",
        json!("KB5034122"),
    );
    let (status, answer) = post_as(&signer, &gateway, "/hooks/ninja", &broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["details"][0]["instance_path"], "/data", "{answer}");
}

/// A spec of one event type that asks for `report` itself.
const REPORTING_SPEC: &str = r##"
openapi: 3.0.3
info: {title: orders, version: "1"}
x-hookgate-validate: report
x-webhooks:
  order.paid:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [event, data]
              properties:
                event: {type: string}
                data:
                  type: object
                  required: [order_id]
                  properties: {order_id: {type: integer}}
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_refuses_documented_mismatches_report_and_off_accept_and_a_spec_sets_its_mode() {
    let spec = std::env::temp_dir().join(format!(
        "hookgate-it-validation-spec-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&spec, REPORTING_SPEC).unwrap();
    let more = |name: &str, keys: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nprofile = \"opscenter\"\n\
             secrets = [\"file:{{secret}}\"]\n{keys}\n"
        )
    };
    let spec_key = format!("spec = \"{}\"", spec.display());
    let rest = [
        more("ops-report", "validate = \"report\""),
        more("ops-off", "validate = \"off\""),
        more("orders", &spec_key),
        more(
            "orders-enforced",
            &format!("{spec_key}\nvalidate = \"enforce\""),
        ),
    ]
    .concat();
    let gateway = Running::start(
        "validation-modes",
        SECRET,
        &config(&rest),
        &[(TOKEN_ENV, TOKEN)],
    );
    let admin = gateway.admin();

    // user.created's `user_id` is documented (an integer in the seed, a string in Ops-Center's
    // notes): anything else is refused where the source enforces, the default.
    let created = json!({
        "event": "user.created",
        "timestamp": "2026-02-01T11:00:00Z",
        "data": {"user_id": {"nested": 1}, "email": "user@example.com"}
    });
    let (status, answer) = post(&gateway, "/hooks/ops", &created).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"], "invalid_event");
    assert_eq!(
        answer["details"][0]["instance_path"], "/data/user_id",
        "{answer}"
    );

    // `report`: the same event is accepted, with its mismatch kept.
    let (status, answer) = post(&gateway, "/hooks/ops-report", &created).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let event = stored(&admin, "ops-report", "user.created").await;
    assert_eq!(mismatch_paths(&event), ["/data/user_id"], "{event}");

    // `off`: anything verified goes through, and nothing is recorded.
    let nonsense = json!({"event": "user.created", "timestamp": 5, "data": "not a user"});
    let (status, answer) = post(&gateway, "/hooks/ops", &nonsense).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = post(&gateway, "/hooks/ops-off", &nonsense).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let event = stored(&admin, "ops-off", "user.created").await;
    assert_eq!(mismatch_paths(&event), Vec::<&str>::new(), "{event}");

    // A spec may ask for `report` itself; a source's own `validate` wins over it.
    let order = json!({"event": "order.paid", "timestamp": "2026-02-01T11:01:00Z",
                       "data": {"order_id": "A-1"}});
    let (status, answer) = post(&gateway, "/hooks/orders", &order).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let event = stored(&admin, "orders", "order.paid").await;
    assert_eq!(mismatch_paths(&event), ["/data/order_id"], "{event}");
    let (status, answer) = post(&gateway, "/hooks/orders-enforced", &order).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    let _ = std::fs::remove_file(&spec);
}

#[test]
fn built_in_specs_mark_what_their_senders_do_not_document() {
    use hookgate::validate::{ValidationMode, Verdict};
    let check = |profile: Profile, kind: &str, body: Value| {
        let spec = profile.spec().unwrap().unwrap();
        spec.check(kind, &body, ValidationMode::Enforce).unwrap()
    };
    // Ops-Center documents user.created's user_id and email, nothing of the other payloads.
    let homa = Profile::Homa.spec().unwrap().unwrap();
    assert_eq!(homa.is_assumed("webhook.test"), Some(true));
    assert_eq!(homa.is_assumed("ticket.created"), Some(false));
    assert!(matches!(
        check(
            Profile::OpsCenter,
            "alert.triggered",
            json!({"event": "alert.triggered", "timestamp": "2026-02-01T10:00:00Z",
                   "data": {"alert_id": 9, "severity": "apocalyptic"}})
        ),
        Verdict::Mismatched(p) if p.len() == 1 && p[0].instance_path == "/data/severity"
    ));
    // Ids in assumed payloads take strings and integers.
    for id in [json!(77), json!("pay_77")] {
        assert_eq!(
            check(
                Profile::OpsCenter,
                "payment.failed",
                payment_failed(id, json!(1.0))
            ),
            Verdict::Valid
        );
    }
    // The envelope is documented: an event without `data` is refused.
    assert!(matches!(
        check(
            Profile::OpsCenter,
            "payment.failed",
            json!({"event": "payment.failed", "timestamp": "2026-02-01T10:00:00Z"})
        ),
        Verdict::Invalid(_)
    ));
    // webnet documents the job payload only.
    assert!(matches!(
        check(
            Profile::Webnet,
            "device.created",
            json!({"event_type": "device.created", "event_timestamp": "2026-02-01T10:00:00Z",
                   "device": {"id": "dev-1", "hostname": 5}})
        ),
        Verdict::Mismatched(p) if p.iter().all(|p| p.instance_path == "/device/hostname")
    ));

    // NinjaOne documents the envelope of every event and three example payloads
    // (ALERT_TRIGGERED, DEVICE_OFFLINE, TICKET_CREATED); nothing else of its payloads.
    let ninjaone = Profile::NinjaOne.spec().unwrap().unwrap();
    for documented in [
        "ALERT_TRIGGERED",
        "DEVICE_OFFLINE",
        "TICKET_CREATED",
        "JOB_FAILED",
    ] {
        // The envelope is documented for every event: no operation is wholly assumed.
        assert_eq!(ninjaone.is_assumed(documented), Some(false), "{documented}");
    }
    let ninja = |kind: &str, data: Value| {
        check(
            Profile::NinjaOne,
            kind,
            json!({"eventType": kind, "timestamp": "2026-02-01T10:00:00Z", "data": data}),
        )
    };
    let paths = |verdict: &Verdict| -> Vec<String> {
        match verdict {
            Verdict::Mismatched(p) | Verdict::Invalid(p) => {
                p.iter().map(|p| p.instance_path.clone()).collect()
            }
            Verdict::Valid => vec![],
        }
    };
    // An example's fields, with the types it shows, are enforced ...
    for (kind, data, at) in [
        (
            "ALERT_TRIGGERED",
            json!({"uid": "a", "deviceId": "12345"}),
            "/data/deviceId",
        ),
        (
            "ALERT_TRIGGERED",
            json!({"uid": "a", "severity": 4}),
            "/data/severity",
        ),
        (
            "DEVICE_OFFLINE",
            json!({"deviceId": 1, "systemName": 7}),
            "/data/systemName",
        ),
        (
            "TICKET_CREATED",
            json!({"ticketId": 456, "organizationId": "org"}),
            "/data/organizationId",
        ),
    ] {
        let verdict = ninja(kind, data);
        assert!(
            matches!(verdict, Verdict::Invalid(_)),
            "{kind}: {verdict:?}"
        );
        assert_eq!(paths(&verdict), [at], "{kind}");
    }
    // ... and so is the envelope's `data` object of every event.
    for kind in [
        "ALERT_RESET",
        "DEVICE_ONLINE",
        "TICKET_CLOSED",
        "JOB_FAILED",
        "PATCH_FAILED",
    ] {
        assert!(
            matches!(ninja(kind, json!("not an object")), Verdict::Invalid(_)),
            "{kind}"
        );
    }
    // What the examples do not show is reported: the set of severities, the device fields
    // beyond the example's, the ticket's status and comment, and every field of the events
    // whose payload NinjaOne does not show.
    for (kind, data, at) in [
        (
            "ALERT_TRIGGERED",
            json!({"uid": "a", "severity": "WARNING"}),
            "/data/severity",
        ),
        (
            "DEVICE_OFFLINE",
            json!({"deviceId": 1, "nodeClass": 3}),
            "/data/nodeClass",
        ),
        (
            "DEVICE_OFFLINE",
            json!({"deviceId": 1, "approvalStatus": true}),
            "/data/approvalStatus",
        ),
        (
            "TICKET_CREATED",
            json!({"ticketId": 1, "status": 2}),
            "/data/status",
        ),
        (
            "TICKET_COMMENT_ADDED",
            json!({"ticketId": 1, "comment": ["a"]}),
            "/data/comment",
        ),
        ("ALERT_RESET", json!({"uid": 17}), "/data/uid"),
        ("DEVICE_ADDED", json!({"systemName": "PC"}), "/data"),
        (
            "TICKET_UPDATED",
            json!({"ticketId": "T-1"}),
            "/data/ticketId",
        ),
        ("JOB_STARTED", json!({"jobId": 1, "name": 5}), "/data/name"),
        (
            "PATCH_FAILED",
            json!({"deviceId": 1, "error": 1603}),
            "/data/error",
        ),
    ] {
        let verdict = ninja(kind, data);
        assert!(
            matches!(verdict, Verdict::Mismatched(_)),
            "{kind}: {verdict:?}"
        );
        assert_eq!(paths(&verdict), [at], "{kind}");
    }
    // Ids in the assumed parts take strings and integers.
    for id in [json!(7), json!("loc-7")] {
        let data = json!({"deviceId": 1, "locationId": id.clone()});
        assert_eq!(ninja("DEVICE_OFFLINE", data), Verdict::Valid);
        let job = json!({"jobId": id.clone(), "deviceId": id.clone()});
        assert_eq!(ninja("JOB_COMPLETED", job), Verdict::Valid);
        let patch = json!({"deviceId": id.clone(), "patchId": id});
        assert_eq!(ninja("PATCH_INSTALLED", patch), Verdict::Valid);
    }
}

//! Issue 3: specs for every seed sender, validation from them, and typed events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::senders::{homa, ninjaone, ninjarmm, opscenter, webnet};
use hookgate::spec::UnknownEvents;
use hookgate::{Event, EventId, EventKind, Gateway, Pipeline, Router, Source, Typed, TypedEvent};
use http::StatusCode;
use serde_json::{Value, json};
use tower::Layer;

use crate::support::*;

/// Build an event the way the gateway would, for typed deserialization.
fn event(profile: Profile, kind: &str, body: &Value) -> Event {
    let raw = Bytes::from(serde_json::to_vec(body).unwrap());
    Event::new(
        profile.name(),
        EventId::new("x"),
        EventKind::new(kind),
        raw,
        body.clone(),
    )
}

/// The event type the sender's generated enum gives the event, or the deserialization error.
fn typed_kind(profile: Profile, event: &Event) -> Result<Option<&'static str>, String> {
    let err = |e: hookgate::typed::FromEventError| e.to_string();
    Ok(match profile {
        Profile::NinjaOne => ninjaone::NinjaOneEvent::from_event(event)
            .map_err(err)?
            .event_type(),
        Profile::Webnet => webnet::WebnetEvent::from_event(event)
            .map_err(err)?
            .event_type(),
        Profile::Homa => homa::HomaEvent::from_event(event)
            .map_err(err)?
            .event_type(),
        Profile::OpsCenter => opscenter::OpsCenterEvent::from_event(event)
            .map_err(err)?
            .event_type(),
        Profile::NinjaRmm => ninjarmm::NinjaRmmEvent::from_event(event)
            .map_err(err)?
            .event_type(),
        _ => None,
    })
}

#[test]
fn every_example_validates_and_deserializes_into_its_typed_event() {
    let expected_counts = [
        (Profile::NinjaOne, 18),
        (Profile::Webnet, 13),
        (Profile::Homa, 5),
        (Profile::OpsCenter, 30),
        (Profile::NinjaRmm, 1),
    ];
    let mut walked = 0;
    for (profile, count) in expected_counts {
        let spec = profile.spec().unwrap().unwrap();
        assert_eq!(
            spec.events().len(),
            count,
            "{profile:?}: event types in the spec"
        );
        for described in spec.events() {
            assert!(
                !described.examples.is_empty(),
                "{profile:?} {} has no example",
                described.event_type
            );
        }
        let unknown_before = spec.unknown_values().total();
        for (kind, name, body) in profile.examples() {
            assert_eq!(
                spec.validate(&kind, &body),
                Some(Ok(())),
                "{profile:?} example {name} ({kind})"
            );
            let typed = typed_kind(profile, &event(profile, &kind, &body))
                .unwrap_or_else(|e| panic!("{profile:?} example {name} ({kind}): {e}"));
            // NinjaRMM's one endpoint takes every activity: its variant is named by the glob.
            let expected = if profile == Profile::NinjaRmm {
                "*"
            } else {
                kind.as_str()
            };
            assert_eq!(typed, Some(expected), "{profile:?} example {name}");
            walked += 1;
        }
        assert_eq!(
            spec.unknown_values().total(),
            unknown_before,
            "{profile:?}: examples use only known enum values"
        );
    }
    assert!(walked >= 18 + 13 + 5 + 30 + 6, "{walked} examples");
}

#[test]
fn sender_enums_know_exactly_the_spec_event_types() {
    let pairs: [(Profile, &[&str]); 5] = [
        (Profile::NinjaOne, ninjaone::NinjaOneEvent::KNOWN),
        (Profile::Webnet, webnet::WebnetEvent::KNOWN),
        (Profile::Homa, homa::HomaEvent::KNOWN),
        (Profile::OpsCenter, opscenter::OpsCenterEvent::KNOWN),
        (Profile::NinjaRmm, ninjarmm::NinjaRmmEvent::KNOWN),
    ];
    for (profile, known) in pairs {
        let spec = profile.spec().unwrap().unwrap();
        let mut in_spec: Vec<&str> = spec
            .events()
            .iter()
            .map(|e| e.event_type.as_str())
            .collect();
        let mut in_rust = known.to_vec();
        in_spec.sort_unstable();
        in_rust.sort_unstable();
        assert_eq!(in_spec, in_rust, "{profile:?}");
    }
}

#[tokio::test]
async fn every_example_is_accepted_over_http_even_with_an_extra_property() {
    let (server, mounted) = seed_gateway(256 * 1024).await;
    for m in &mounted {
        for (kind, name, mut body) in m.profile.examples() {
            // Senders add fields; an unknown property must not be refused. The new field also
            // makes each body a new event for the composite ids.
            body["x_added_by_a_newer_sender"] = json!({"n": 1});
            let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
            let reply = send(signed(&m.source, &server.url(&m.path), bytes)).await;
            assert!(
                reply.status == StatusCode::ACCEPTED || reply.status == StatusCode::OK,
                "{:?} {name} ({kind}): {} {:?}",
                m.profile,
                reply.status,
                reply.body
            );
        }
    }
}

/// (event type, pointer, new value or None to delete, expected instance path)
type Mutation = (&'static str, &'static str, Option<Value>, &'static str);

fn mutations(profile: Profile) -> Vec<Mutation> {
    match profile {
        Profile::NinjaOne => vec![
            (
                "ALERT_TRIGGERED",
                "/data/deviceId",
                Some(json!("twelve")),
                "/data/deviceId",
            ),
            // The example shows a string severity; the set of values is assumed (only
            // reported, tests/it/validation.rs).
            (
                "ALERT_TRIGGERED",
                "/data/severity",
                Some(json!(4)),
                "/data/severity",
            ),
            ("ALERT_TRIGGERED", "/data/uid", None, "/data"),
        ],
        Profile::NinjaRmm => vec![
            (
                "CONDITION.TRIGGERED",
                "/deviceId",
                Some(json!("seven")),
                "/deviceId",
            ),
            (
                "CONDITION.TRIGGERED",
                "/severity",
                Some(json!("LOUD")),
                "/severity",
            ),
            // NinjaRMM's schema requires nothing; the one field hookgate cannot do without is
            // the one that names the event.
            (
                "CONDITION.TRIGGERED",
                "/activityType",
                None,
                "/activityType",
            ),
        ],
        Profile::Webnet => vec![
            (
                "job.completed",
                "/job/id",
                Some(json!("one-two-three")),
                "/job/id",
            ),
            // The compliance object is assumed (only reported); the job is documented.
            (
                "job.completed",
                "/job/status",
                Some(json!(7)),
                "/job/status",
            ),
            ("job.completed", "/actor", None, ""),
        ],
        Profile::Homa => vec![
            (
                "ticket.created",
                "/data/ticket_id",
                Some(json!("123")),
                "/data/ticket_id",
            ),
            (
                "ticket.created",
                "/data/priority",
                Some(json!("extreme")),
                "/data/priority",
            ),
            ("ticket.closed", "/data/ticket_id", None, "/data"),
        ],
        // Ops-Center documents the envelope and `user.created`'s `user_id` and `email`; its other
        // payloads are assumed, and only reported (tests/it/validation.rs).
        Profile::OpsCenter => vec![
            (
                "user.created",
                "/data/user_id",
                Some(json!([1])),
                "/data/user_id",
            ),
            ("user.created", "/data/email", Some(json!(5)), "/data/email"),
            ("user.created", "/data", None, ""),
        ],
        _ => vec![],
    }
}

fn apply(body: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    // Setting may add the field; deleting must remove one that is there.
    assert!(
        value.is_some() || target.contains_key(key),
        "the example has no {pointer}"
    );
    match value {
        Some(v) => target.insert(key.to_owned(), v),
        None => target.remove(key),
    };
}

#[tokio::test]
async fn mutated_payloads_are_422_with_the_right_instance_path() {
    let (server, mounted) = seed_gateway(256 * 1024).await;
    for m in &mounted {
        for (kind, pointer, value, path) in mutations(m.profile) {
            let mut body = m
                .profile
                .sample(Some(kind), std::time::SystemTime::now())
                .unwrap();
            apply(&mut body, pointer, value.clone());
            let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
            let reply = send(signed(&m.source, &server.url(&m.path), bytes)).await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{:?} {kind} {pointer}",
                m.profile
            );
            let answer = json(&reply);
            let paths: Vec<&str> = answer["details"]
                .as_array()
                .unwrap_or_else(|| panic!("no details: {answer}"))
                .iter()
                .map(|p| p["instance_path"].as_str().unwrap())
                .collect();
            assert!(
                paths.contains(&path),
                "{:?} {kind} {pointer}: {answer}",
                m.profile
            );
        }
        assert!(
            m.recorder.events().is_empty(),
            "{:?}: nothing invalid reached a handler",
            m.profile
        );
    }
}

#[tokio::test]
async fn ninjarmm_unknown_status_code_is_accepted_and_counted() {
    let (server, mounted) = seed_gateway(256 * 1024).await;
    let m = mounted
        .iter()
        .find(|m| m.profile == Profile::NinjaRmm)
        .unwrap();
    let spec = Profile::NinjaRmm.spec().unwrap().unwrap();
    let before = spec.unknown_values().counts();
    let count_of = |counts: &[(String, String, u64)]| {
        counts
            .iter()
            .filter(|(place, value, _)| {
                place.ends_with("/statusCode") && value == "QUANTUM_FLUX_DETECTED"
            })
            .map(|(_, _, n)| *n)
            .sum::<u64>()
    };
    let mut body = Profile::NinjaRmm
        .sample(Some("CONDITION.TRIGGERED"), std::time::SystemTime::now())
        .unwrap();
    body["statusCode"] = json!("QUANTUM_FLUX_DETECTED");
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
    let reply = send(signed(&m.source, &server.url(&m.path), bytes)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(json(&reply)["type"], "CONDITION.QUANTUM_FLUX_DETECTED");
    assert_eq!(
        count_of(&spec.unknown_values().counts()),
        count_of(&before) + 1
    );
}

/// The reference's capture, verbatim, plus the `null`s senders may send.
const REAL_WORLD_ACTIVITY: &str = r#"{"id":177210,"activityTime":1742391675.556,"deviceId":7,
 "seriesUid":"e6b0b0bd-5753-445d-9e4a-71c08983cbd5","activityType":"CONDITION",
 "statusCode":"TRIGGERED","status":"Triggered","sourceConfigUid":"205b85b2-8a12-4123-834f-164be08b3314",
 "sourceName":"_average_","subject":"","message":"Memory Utilization is greater than or equal to 80% for 5 minutes",
 "type":"Condition","data":{"message":{"code":"vmm_cond_memory_usage_ge","params":{"duration":5,"threshold":80,"unit":"%"}}},
 "userId":null,"priority":null,
 "device":{"id":7,"organizationId":2,"locationId":2,"nodeClass":"VMWARE_VM_HOST","approvalStatus":"APPROVED",
   "offline":false,"systemName":"esx03.example.local","dnsName":null,"references":{"organization":{"id":2,"name":"Example Org"},
   "location":{"id":2,"name":"Main Office"}}}}"#;

#[tokio::test]
async fn real_world_ninjarmm_activity_is_accepted_end_to_end_as_a_typed_event() {
    let source = Source::from_profile("rmm", Profile::NinjaRmm, &[secret(SECRET)]);
    let seen: Arc<Mutex<Vec<ninjarmm::Activity>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let router = Router::new().typed(move |activity: Typed<ninjarmm::Activity>| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock().unwrap().push(activity.into_inner());
            Ok::<_, std::convert::Infallible>(())
        }
    });
    let gateway = Gateway::new().mount("/rmm", Pipeline::new(source.clone()).layer(router));
    let server = Server::start(gateway).await;
    let reply = send(signed(
        &source,
        &server.url("/rmm"),
        Bytes::from(REAL_WORLD_ACTIVITY),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(json(&reply)["id"], "177210");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let activity = &seen[0];
    assert_eq!(
        activity.activity_type,
        Some(ninjarmm::ActivityActivityType::Condition)
    );
    assert_eq!(
        activity.status_code,
        Some(ninjarmm::ActivityStatusCode::Triggered)
    );
    assert_eq!(activity.activity_time, Some(1742391675.556));
    assert_eq!(activity.user_id, None);
    let device = activity.device.as_ref().unwrap();
    assert_eq!(device.system_name.as_deref(), Some("esx03.example.local"));
    let org = device
        .references
        .as_ref()
        .unwrap()
        .organization
        .as_ref()
        .unwrap();
    assert_eq!(org.name.as_deref(), Some("Example Org"));
}

#[tokio::test]
async fn typed_handlers_receive_their_type_and_unknown_types_follow_the_policy() {
    let alerts = Arc::new(AtomicUsize::new(0));
    let unknown = Arc::new(AtomicUsize::new(0));
    let (a, u) = (Arc::clone(&alerts), Arc::clone(&unknown));
    let router = || {
        let (a, u) = (Arc::clone(&a), Arc::clone(&u));
        Router::new()
            .typed(move |alert: Typed<ninjaone::AlertTriggeredEvent>| {
                let a = Arc::clone(&a);
                async move {
                    assert_eq!(alert.data.severity, Some(ninjaone::Severity::Critical));
                    a.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(())
                }
            })
            .typed(move |event: Typed<ninjaone::NinjaOneEvent>| {
                let u = Arc::clone(&u);
                async move {
                    if let ninjaone::NinjaOneEvent::Unknown(json) = &*event {
                        assert_eq!(json["eventType"], "SOMETHING_NEW");
                        u.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
    };
    let accepting = Source::from_profile("accepting", Profile::NinjaOne, &[secret(SECRET)]);
    let rejecting = accepting.clone().unknown_events(UnknownEvents::Reject);
    let gateway = Gateway::new()
        .mount("/accept", Pipeline::new(accepting.clone()).layer(router()))
        .mount("/reject", Pipeline::new(rejecting).layer(router()));
    let server = Server::start(gateway).await;

    let alert = Bytes::from(
        serde_json::to_vec(
            &Profile::NinjaOne
                .sample(Some("ALERT_TRIGGERED"), std::time::SystemTime::now())
                .unwrap(),
        )
        .unwrap(),
    );
    let reply = send(signed(&accepting, &server.url("/accept"), alert)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(alerts.load(Ordering::SeqCst), 1);

    let new_type = Bytes::from_static(
        br#"{"eventType":"SOMETHING_NEW","timestamp":"2026-01-01T00:00:00Z","data":{"x":1}}"#,
    );
    let reply = send(signed(&accepting, &server.url("/accept"), new_type.clone())).await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "accepted untyped by default"
    );
    assert_eq!(unknown.load(Ordering::SeqCst), 1);
    let reply = send(signed(&accepting, &server.url("/reject"), new_type)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json(&reply)["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SOMETHING_NEW")
    );
}

#[test]
fn a_source_can_point_at_its_own_spec_file() {
    let dir = std::env::temp_dir().join(format!("hookgate-own-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec_path = dir.join("mine.yaml");
    std::fs::write(
        &spec_path,
        r#"
openapi: 3.1.0
info: {title: mine, version: "1"}
webhooks:
  ticket.created:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [data]
              properties: {data: {type: object, required: [ticket_id], properties: {ticket_id: {type: string}}}}
"#,
    )
    .unwrap();
    let secret_path = dir.join("secret");
    std::fs::write(&secret_path, SECRET).unwrap();
    let sc = hookgate::config::SourceConfig {
        name: "mine".into(),
        profile: "homa".into(),
        secrets: vec![hookgate::auth::SecretEntry::Ref(format!(
            "file:{}",
            secret_path.display()
        ))],
        spec: Some(spec_path.clone()),
        ..Default::default()
    };
    let source = hookgate::config::source_from_config(&sc).unwrap();
    let spec = source.spec().unwrap();
    assert_eq!(spec.title(), Some("mine"));
    // Homa's own spec says ticket_id is an integer; this one says string.
    let body = json!({"event": "ticket.created", "data": {"ticket_id": "T-1"}});
    assert_eq!(spec.validate("ticket.created", &body), Some(Ok(())));

    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "openapi: 3.0.3\nx-webhooks:\n  a:\n    get: {}\n").unwrap();
    let sc = hookgate::config::SourceConfig {
        spec: Some(broken.clone()),
        ..sc
    };
    let err = hookgate::config::source_from_config(&sc)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.yaml")
            && err.contains("/x-webhooks/a")
            && err.contains("no post operation"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

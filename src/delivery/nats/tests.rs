use super::*;

fn event(source: &str, kind: &str) -> StoredEvent {
    StoredEvent {
        source: source.into(),
        id: "evt-1".into(),
        kind: kind.into(),
        received_at_ms: 1_700_000_000_123,
        content_type: Some("application/json".into()),
        headers: Vec::new(),
        body: b"{}".to_vec(),
    }
}

fn destination(subject: &str) -> NatsDestination {
    NatsDestination::new("nats://127.0.0.1:4222", subject, Duration::from_secs(1)).unwrap()
}

#[test]
fn templates_are_checked() {
    for good in [
        DEFAULT_SUBJECT,
        "events",
        "a.{source}-{event}",
        "{event}.in.{source}",
        "x.{source}{event}",
    ] {
        assert!(subject_template(good).is_ok(), "{good}");
    }
    let bad = |t: &str| subject_template(t).unwrap_err();
    assert_eq!(bad(""), NatsError::EmptySubject);
    assert!(matches!(bad(" "), NatsError::Whitespace(_)));
    assert!(matches!(bad("a b.{source}"), NatsError::Whitespace(_)));
    assert!(matches!(bad("a.\t{event}"), NatsError::Whitespace(_)));
    assert_eq!(
        bad("webhooks.{sauce}.{event}"),
        NatsError::UnknownPlaceholder("sauce".into())
    );
    assert_eq!(bad("a.{}"), NatsError::UnknownPlaceholder(String::new()));
    assert!(matches!(bad("a.{source"), NatsError::Brace(_)));
    assert!(matches!(bad("a.source}"), NatsError::Brace(_)));
    assert!(matches!(bad("a.{{source}}"), NatsError::Brace(_)));
    assert!(matches!(bad("a.*.{event}"), NatsError::Wildcard(_)));
    assert!(matches!(bad("a.{event}.>"), NatsError::Wildcard(_)));
    assert!(matches!(bad(".a.{event}"), NatsError::EmptyToken(_)));
    assert!(matches!(bad("a..{event}"), NatsError::EmptyToken(_)));
    assert!(matches!(bad("a.{event}."), NatsError::EmptyToken(_)));
    let message = NatsDestination::new("nats://127.0.0.1:4222", "w.{nope}", Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(message.contains("{nope}"), "{message}");
}

#[test]
fn values_are_sanitized_into_subjects() {
    let d = destination(DEFAULT_SUBJECT);
    let subject = |source: &str, kind: &str| d.subject_for(&event(source, kind));
    assert_eq!(
        subject("homa", "ticket.created"),
        "webhooks.homa.ticket.created"
    );
    assert_eq!(subject("ho ma", "a*b>c"), "webhooks.ho_ma.a_b_c");
    assert_eq!(subject("", ""), "webhooks._._");
    assert_eq!(subject("a.b", "x\ty\u{7}"), "webhooks.a_b.x_y_");
    assert_eq!(subject("s", "a..b."), "webhooks.s.a._.b._");
    assert_eq!(subject("s", "ticket.créé"), "webhooks.s.ticket.créé");
    assert_eq!(subject("s", "line\r\nbreak"), "webhooks.s.line__break");
    assert_eq!(
        destination("x.{source}-{event}").subject_for(&event("gh", "push")),
        "x.gh-push"
    );
}

#[test]
fn stream_subjects_cover_every_rendered_subject() {
    let of = |t: &str| destination(t).stream_subject();
    assert_eq!(of(DEFAULT_SUBJECT), "webhooks.>");
    assert_eq!(of("a.b.{event}.{source}"), "a.b.>");
    assert_eq!(of("a.pre-{source}.{event}"), "a.>");
    assert_eq!(of("{source}.{event}"), ">");
    assert_eq!(of("all.events"), "all.events");
}

#[test]
fn urls_are_checked_and_credentials_kept_out_of_debug() {
    let new = |url: &str| NatsDestination::new(url, DEFAULT_SUBJECT, Duration::from_secs(1));
    assert!(new("nats://127.0.0.1:4222").is_ok());
    assert!(new("nats://nats.internal").is_ok());
    assert!(new("NATS://[::1]:4222").is_ok());
    assert!(matches!(
        new("127.0.0.1:4222").unwrap_err(),
        NatsError::Url(_)
    ));
    assert_eq!(
        new("http://x:4222").unwrap_err(),
        NatsError::Scheme("http".into())
    );
    assert_eq!(
        new("tls://x:4222").unwrap_err(),
        NatsError::Scheme("tls".into())
    );
    assert_eq!(new("nats://").unwrap_err(), NatsError::NoHost);
    assert!(matches!(
        new("nats://x:99999").unwrap_err(),
        NatsError::Url(_)
    ));
    assert_eq!(new("nats://x:4222/subject").unwrap_err(), NatsError::Extra);

    let d = new("nats://alice:s%40cret@nats.internal:4222").unwrap();
    let shown = format!("{d:?}");
    assert!(
        !shown.contains("alice") && !shown.contains("cret"),
        "{shown}"
    );
    assert!(shown.contains("nats.internal:4222"), "{shown}");
    assert!(matches!(
        &d.credentials,
        Some(Credentials::UserPassword(u, p)) if u == "alice" && p == "s@cret"
    ));
    let d = new("nats://t0k3n@nats.internal").unwrap();
    assert!(matches!(&d.credentials, Some(Credentials::Token(t)) if t == "t0k3n"));
    assert!(!format!("{d:?}").contains("t0k3n"));
    let error = new("nats://alice:s3cret@:4222").unwrap_err().to_string();
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn headers_carry_the_event_metadata() {
    let headers = headers(&event("homa", "ticket.created")).unwrap();
    let get = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(get("Nats-Msg-Id").as_deref(), Some("homa:evt-1"));
    assert_eq!(get("X-Hookgate-Source").as_deref(), Some("homa"));
    assert_eq!(get("X-Hookgate-Event-Id").as_deref(), Some("evt-1"));
    assert_eq!(
        get("X-Hookgate-Event-Type").as_deref(),
        Some("ticket.created")
    );
    assert_eq!(
        get("X-Hookgate-Verified-At").as_deref(),
        Some("2023-11-14T22:13:20.123Z")
    );
    assert_eq!(get("Content-Type").as_deref(), Some("application/json"));

    let mut broken = event("homa", "t");
    broken.id = "a\r\nb".into();
    assert!(super::headers(&broken).is_err());
}

#[tokio::test]
async fn an_impossible_header_is_permanent() {
    let d = destination(DEFAULT_SUBJECT);
    let mut broken = event("homa", "t");
    broken.id = "a\nb".into();
    assert!(matches!(
        d.deliver(&broken).await,
        Outcome::Permanent { .. }
    ));
    assert!(!d.jetstream.initialized());
}

#[tokio::test]
async fn no_catch_all_stream_is_created() {
    // Port 9 (discard): never reached, the template is refused before connecting.
    let d = NatsDestination::new(
        "nats://127.0.0.1:9",
        "{source}.{event}",
        Duration::from_secs(1),
    )
    .unwrap()
    .stream("ALL", true, Duration::from_secs(60));
    match d.deliver(&event("homa", "t")).await {
        Outcome::Retry { error, .. } => assert!(error.contains("\"ALL\""), "{error}"),
        other => panic!("{other:?}"),
    }
}

use super::*;

fn event(source: &str, kind: &str) -> StoredEvent {
    StoredEvent {
        source: source.into(),
        id: "evt-1".into(),
        kind: kind.into(),
        received_at_ms: 1_700_000_000_000,
        content_type: None,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

#[test]
fn templates_take_source_and_event_placeholders() {
    let template = stream_template("hooks:{source}:{event}").unwrap();
    assert_eq!(
        render_key(&template, &event("homa", "ticket.created")),
        "hooks:homa:ticket.created"
    );
    let plain = stream_template(DEFAULT_STREAM).unwrap();
    assert_eq!(render_key(&plain, &event("homa", "x")), "webhooks");
    let only = stream_template("{event}{source}").unwrap();
    assert_eq!(render_key(&only, &event("a", "b")), "ba");
    assert_eq!(render_key(&only, &event("", "")), "_");
}

#[test]
fn bad_templates_are_refused() {
    assert_eq!(stream_template(""), Err(RedisStreamError::EmptyStream));
    assert_eq!(
        stream_template("hooks:{id}"),
        Err(RedisStreamError::UnknownPlaceholder("id".into()))
    );
    assert_eq!(
        stream_template("hooks:{}"),
        Err(RedisStreamError::UnknownPlaceholder(String::new()))
    );
    for bad in [
        "hooks:{source",
        "hooks:}",
        "{{source}}",
        "a{source{event}}",
        "{",
    ] {
        assert_eq!(
            stream_template(bad),
            Err(RedisStreamError::Brace(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn braces_in_values_do_not_reach_the_key() {
    let template = stream_template("hooks:{source}:{event}").unwrap();
    let key = render_key(&template, &event("a{b}", "{x}"));
    assert_eq!(key, "hooks:a_b_:_x_");
    let marker = marker_key(&key, &event("a:b%", "x"));
    assert_eq!(marker, "hookgate:xadd:{hooks:a_b_:_x_}:a%3Ab%25:evt-1");
}

#[test]
fn construction_validates_without_connecting() {
    let timeout = Duration::from_secs(1);
    // Nothing listens on port 1; construction must not care.
    let d = RedisStreamDestination::new("redis://127.0.0.1:1", "{source}", timeout).unwrap();
    assert_eq!(d.stream_key(&event("homa", "x")), "homa");
    assert_eq!(
        RedisStreamDestination::new("redis://127.0.0.1", "{nope}", timeout).unwrap_err(),
        RedisStreamError::UnknownPlaceholder("nope".into())
    );
    assert_eq!(
        RedisStreamDestination::new("rediss://127.0.0.1", DEFAULT_STREAM, timeout).unwrap_err(),
        RedisStreamError::Tls
    );
    let err =
        RedisStreamDestination::new("http://u:hunter2@host", DEFAULT_STREAM, timeout).unwrap_err();
    assert!(matches!(err, RedisStreamError::Url { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn debug_hides_passwords() {
    let d = RedisStreamDestination::new(
        "redis://app:hunter2@127.0.0.1:6379/2",
        DEFAULT_STREAM,
        Duration::from_secs(1),
    )
    .unwrap();
    let debug = format!("{d:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("redis://app:***@127.0.0.1:6379/2"),
        "{debug}"
    );
    assert_eq!(
        redact("redis://:p@ss@host"),
        "redis://:***@host",
        "the last @ ends the password"
    );
    assert_eq!(redact("redis://host:6379"), "redis://host:6379");
    assert_eq!(
        redact("redis+unix:///run/redis.sock?db=1&pass=secret"),
        "redis+unix:///run/redis.sock?db=1&pass=***"
    );
}

#[test]
fn errors_are_described_without_repeats() {
    let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let error = redis::RedisError::from(refused);
    assert_eq!(describe(&error), "refused");
    assert!(!is_reply(&error));
    assert!(!is_permanent(&error));
}

#[test]
fn the_dedup_window_is_at_least_a_millisecond() {
    let d =
        RedisStreamDestination::new("redis://127.0.0.1", DEFAULT_STREAM, Duration::from_secs(1))
            .unwrap();
    assert_eq!(d.window_ms(), 24 * 3600 * 1000);
    assert_eq!(d.dedup_window(Duration::ZERO).window_ms(), 1);
}

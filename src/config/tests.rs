use super::*;

#[test]
fn the_documented_example_parses() {
    let text = r#"
        [server]
        listen = "127.0.0.1:8080"
        max_body_bytes = 1048576
        [dedup]
        ttl = "72h"
        [[source]]
        name = "ninja"
        profile = "ninjaone"
        path = "/hooks/ninja"
        secrets = ["env:NINJA_SECRET", "env:NINJA_SECRET_OLD"]
        [[route]]
        source = "ninja"
        events = ["ALERT_*", "DEVICE_OFFLINE"]
        to = "log"
    "#;
    let config = Config::from_toml(text, "example").unwrap();
    assert_eq!(config.dedup.ttl, Duration::from_secs(72 * 3600));
    assert_eq!(config.sources[0].mount_path(), "/hooks/ninja");
    assert_eq!(config.routes[0].events, ["ALERT_*", "DEVICE_OFFLINE"]);
}

#[test]
fn every_unknown_key_is_reported() {
    let text = r#"
        [server]
        listen = "127.0.0.1:0"
        lisen = "typo"
        [[source]]
        name = "a"
        profile = "homa"
        secret = "env:X"
        [source.auth]
        hedaer = "x"
    "#;
    let config = Config::from_toml(text, "t.toml").unwrap();
    let keys = &config.unknown_keys;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().any(|p| p == "server.lisen"));
    assert!(keys.iter().any(|p| p.contains("secret")));
    assert!(keys.iter().any(|p| p.contains("hedaer")));
}

#[test]
fn composite_ids_parse() {
    let text = r#"
        [[source]]
        name = "a"
        profile = "generic"
        event_id = ["header:X-Id", ["/event", "/timestamp"]]
    "#;
    let config = Config::from_toml(text, "t").unwrap();
    assert_eq!(
        config.sources[0].event_id.as_ref().unwrap()[1],
        IdPlaceConfig::Composite(vec!["/event".into(), "/timestamp".into()])
    );
}

#[test]
fn syntax_errors_are_one_line() {
    let err = Config::from_toml("[server", "t").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(!err.problems[0].contains('\n'));
}

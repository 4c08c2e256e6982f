use super::*;
use bytes::Bytes;
use http_body_util::Full;

fn build_text(text: &str) -> Result<App<Full<Bytes>>, ConfigError> {
    build(&Config::from_toml(text, "t.toml")?, "t.toml", None)
}

#[test]
fn every_problem_is_listed() {
    let err = build_text(
        r#"
        [[source]]
        name = "a"
        profile = "ninjaone"
        secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
        [[source]]
        name = "b"
        profile = "zapier"
        secrets = ["file:/nonexistent/hookgate/secret"]
        decompress = { max_bytes = 0 }
        [[route]]
        source = "c"
        to = "kafka://somewhere"
    "#,
    )
    .err()
    .unwrap();
    let all = err.problems.join("\n");
    assert!(all.contains("HOOKGATE_APP_TEST_UNSET"), "{all}");
    assert!(all.contains("unknown profile \"zapier\""), "{all}");
    assert!(all.contains("/nonexistent/hookgate/secret"), "{all}");
    assert!(all.contains("no source is named \"c\""), "{all}");
    assert!(
        all.contains("decompress.max_bytes must be above 0"),
        "{all}"
    );
    assert!(
        all.contains("unknown destination \"kafka://somewhere\""),
        "{all}"
    );
}

#[test]
fn the_admin_api_is_off_by_default_and_needs_a_token_and_loopback() {
    let secret = std::env::temp_dir().join(format!("hookgate-admin-test-{}", std::process::id()));
    std::fs::write(&secret, "an-admin-test-secret-0123").unwrap();
    let secret = format!("file:{}", secret.display());
    let source =
        format!("[[source]]\nname = \"a\"\nprofile = \"homa\"\nsecrets = [\"{secret}\"]\n");
    let app = build_text(&source).unwrap();
    assert!(
        app.admin.is_none(),
        "the admin API must be off unless configured"
    );

    let problems = |admin: &str| {
        build_text(&format!("{source}\n[admin]\n{admin}"))
            .err()
            .map(|e| e.problems.join("\n"))
            .unwrap_or_default()
    };
    let remote = problems(&format!("listen = \"0.0.0.0:9091\"\ntoken = \"{secret}\""));
    assert!(remote.contains("not a loopback address"), "{remote}");
    let tokenless = problems("listen = \"127.0.0.1:9091\"");
    assert!(tokenless.contains("admin.token is required"), "{tokenless}");
    let allowed = problems(&format!(
        "listen = \"0.0.0.0:9091\"\ntoken = \"{secret}\"\nallow_remote = true"
    ));
    assert!(allowed.is_empty(), "{allowed}");
}

#[test]
fn route_options_are_checked() {
    let err = build_text(
        r#"
        [[source]]
        name = "a"
        profile = "homa"
        secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
        keep_headers = ["x-homa-signature", "x-request-id"]
        [[route]]
        to = "log"
        forward_headers = ["x-request-id"]
        [[route]]
        to = "https://example.com/hook"
        forward_headers = ["Authorization", "bad header"]
        sign_secret = "env:HOOKGATE_APP_TEST_UNSET_SIGN"
        ca_file = "/nonexistent/ca.pem"
        [[route]]
        to = "https://example.com/hook"
    "#,
    )
    .err()
    .unwrap();
    let all = err.problems.join("\n");
    for expected in [
        "`forward_headers` does not apply to \"log\" destinations",
        "authorization carries credentials and is never forwarded",
        "\"bad header\" is not a header name",
        "HOOKGATE_APP_TEST_UNSET_SIGN",
        "ca_file /nonexistent/ca.pem",
        "one destination has one setting",
    ] {
        assert!(all.contains(expected), "{expected:?} in {all}");
    }
}

#[test]
fn broker_routes_and_the_dedup_store_are_checked() {
    let err = build_text(
        r#"
        [dedup]
        store = "memcached://127.0.0.1"
        [[source]]
        name = "a"
        profile = "homa"
        secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
        [[route]]
        to = "http://127.0.0.1:9/hook"
        subject = "x.{event}"
        [[route]]
        to = "nats://127.0.0.1:4222"
        create_stream = true
        [[route]]
        to = "nats://127.0.0.1:4223"
        subject = "{source}.{event}"
        stream = "ALL"
        create_stream = true
        [[route]]
        to = "nats://127.0.0.1:4224"
        subject = "x.{nope}"
        [[route]]
        to = "redis://127.0.0.1:6379"
        stream = "s.{source}"
        maxlen = 10
        subject = "x"
    "#,
    )
    .err()
    .unwrap();
    let all = err.problems.join("\n");
    for expected in [
        "dedup.store: \"memcached://127.0.0.1\" is not supported",
        "`subject` does not apply to \"http\" destinations",
        "create_stream needs `stream`",
        "would capture every subject on the server",
        "nope",
        "`subject` does not apply to \"redis\" destinations",
    ] {
        assert!(all.contains(expected), "{expected:?} in {all}");
    }
}

#[test]
fn embedded_default_builds() {
    let dir = std::env::temp_dir().join(format!("hookgate-app-{}", std::process::id()));
    let (config, secret) = embedded_config(&dir, Some("127.0.0.1:0")).unwrap();
    assert_eq!(secret.len(), 64);
    let app: App<Full<Bytes>> = build(&config, "embedded", None).unwrap();
    assert_eq!(app.mounts.len(), 5);
    let (_, again) = ensure_default_secret(&dir).unwrap();
    assert_eq!(secret, again, "the secret is generated once");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn route_conditions_are_checked_each_with_its_route_and_place() {
    let secret = std::env::temp_dir().join(format!("hookgate-when-test-{}", std::process::id()));
    std::fs::write(&secret, "a-when-test-secret-0123456789").unwrap();
    let text = format!(
        r#"
        [[source]]
        name = "homa"
        profile = "homa"
        secrets = ["file:{}"]
        keep_headers = ["x-env"]
        [[route]]
        to = "log"
        when = [
          {{ pointer = "severity", equals = "MAJOR" }},
          {{ pointer = "/a", gte = 1, lte = 5 }},
          {{ pointer = "/b", one_of = [] }},
          {{ pointer = "/c", gt = "3" }},
          {{ header = "x-env", glob = "prod-*" }},
          {{ header = "x-tier", equals = "gold" }},
          {{ header = "x-homa-signature", exists = true }},
        ]
        [[route]]
        to = "log"
        events = ["ticket.*"]
        when = [{{ pointer = "/d" }}]
    "#,
        secret.display()
    );
    let err = build_text(&text).err().unwrap();
    let all = err.problems.join("\n");
    for expected in [
        "route #1: condition #1 of `when`: pointer \"severity\" must start with /",
        "route #1: condition #2 of `when`: one test per condition, not both `gte` and `lte`",
        "route #1: condition #3 of `when`: `one_of` is empty",
        "route #1: condition #4 of `when`: `gt` compares numbers, and \"3\" is not one",
        "route #1: condition #6 of `when`: source \"homa\" does not keep header x-tier",
        "route #1: condition #7 of `when`: source \"homa\" does not keep header x-homa-signature",
        "route #2: condition #1 of `when`: give one test",
    ] {
        assert!(all.contains(expected), "{expected:?} in\n{all}");
    }
    assert!(!all.contains("condition #5"), "x-env is kept: {all}");

    // Routes to one destination may differ in their conditions (they select events).
    let ok = format!(
        r#"
        [[source]]
        name = "homa"
        profile = "homa"
        secrets = ["file:{}"]
        [[route]]
        to = "log"
        when = [{{ pointer = "/data/priority", equals = "high" }}]
        [[route]]
        to = "log"
        events = ["ticket.closed"]
    "#,
        secret.display()
    );
    let app = build_text(&ok).unwrap();
    assert_eq!(
        app.mounts[0].routes,
        ["* -> log (1 condition)", "ticket.closed -> log"]
    );
    // An unknown key in a condition is refused at once, with where it is.
    let typo = Config::from_toml(
        "[[route]]\nto = \"log\"\nwhen = [{ pointer = \"/a\", equal = 1 }]\n",
        "t.toml",
    )
    .unwrap_err();
    assert!(typo.problems[0].contains("unknown field `equal`"), "{typo}");
    let _ = std::fs::remove_file(&secret);
}

#[test]
fn the_readme_filter_example_builds() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### Filters on content").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let secret = std::env::temp_dir().join(format!("hookgate-readme-when-{}", std::process::id()));
    std::fs::write(&secret, "a-readme-example-secret-0123456789").unwrap();
    let text = example.replace("env:NINJA_SECRET", &format!("file:{}", secret.display()));
    let app = build_text(&text).unwrap();
    assert_eq!(
        app.mounts[0].routes,
        [
            "CONDITION* -> https://pager.example.com/hook (4 conditions)",
            "* -> log"
        ]
    );
    assert!(app.warnings.is_empty(), "{:?}", app.warnings);
    let _ = std::fs::remove_file(&secret);
}

/// The README's examples of ordering (beside a NinjaRMM source), destination controls and
/// alerts (beside a Homa one: their routes take every event) build with no warning.
#[test]
fn the_readme_flow_examples_build() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let secret = std::env::temp_dir().join(format!("hookgate-readme-flow-{}", std::process::id()));
    std::fs::write(&secret, "a-readme-example-secret-0123456789").unwrap();
    for (heading, profile) in [
        ("### Ordering per key", "ninjarmm"),
        ("### Destination controls", "homa"),
        ("### Alerts", "homa"),
    ] {
        let section = &readme[readme.find(heading).unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let text = format!(
            "[[source]]\nname = \"ninja\"\nprofile = \"{profile}\"\nsecrets = [\"file:{0}\"]\n{1}",
            secret.display(),
            example.replace("env:ALERT_SECRET", &format!("file:{}", secret.display()))
        );
        let app = build_text(&text).unwrap_or_else(|e| panic!("{heading}: {e}"));
        let warnings: Vec<&String> = app
            .warnings
            .iter()
            .filter(|w| !w.contains("has no route")) // the alerts example has none
            .collect();
        assert!(warnings.is_empty(), "{heading}: {warnings:?}");
    }
    let _ = std::fs::remove_file(&secret);
}

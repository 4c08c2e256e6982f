use super::*;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::event::{EventId, EventKind};

/// An event as the pipeline builds it: the body parsed into the tree, never into a
/// `serde_json::Value`.
fn parsed(body: Value) -> Event {
    let raw = Bytes::from(body.to_string());
    let tree = crate::tree::parse(&raw).unwrap();
    Event::from_tree(
        Arc::from("s"),
        EventId::new("1"),
        EventKind::new("k"),
        raw,
        tree,
    )
}

/// An event built by hand from a `serde_json::Value` (a test, a handler, a replay).
fn by_hand(body: Value) -> Event {
    let raw = Bytes::from(body.to_string());
    Event::new("s", EventId::new("1"), EventKind::new("k"), raw, body)
}

fn with_headers(pairs: &[(&str, &[u8])]) -> Event {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    parsed(json!({})).with_headers(headers)
}

fn condition(spec: Value) -> Condition {
    let spec: ConditionSpec = serde_json::from_value(spec).unwrap();
    Condition::parse(&spec).unwrap()
}

fn error(spec: Value) -> FilterError {
    let spec: ConditionSpec = serde_json::from_value(spec).unwrap();
    Condition::parse(&spec).unwrap_err()
}

/// Whether `spec` holds on `body`, asserting both forms of the body give the same answer.
fn holds(spec: Value, body: Value) -> bool {
    let condition = condition(spec);
    let on_tree = condition.holds(&parsed(body.clone()));
    let on_json = condition.holds(&by_hand(body.clone()));
    assert_eq!(on_tree, on_json, "tree and serde_json disagree on {body}");
    assert_eq!(
        condition.explain(&parsed(body)).held,
        on_tree,
        "explain and holds disagree"
    );
    on_tree
}

const DOC: fn() -> Value = || {
    json!({
        "severity": "MAJOR",
        "priority": 4,
        "ratio": 0.5,
        "big": 18446744073709551615u64,
        "negative": -3,
        "flag": true,
        "nothing": null,
        "count_text": "5",
        "device": {"id": 42, "name": "db-eu-1", "tags": ["a", "b"]},
        "a/b": {"~x": "escaped"},
        "list": [10, 20, 30],
    })
};

#[test]
fn equals_compares_json_values_of_the_same_type() {
    assert!(holds(
        json!({"pointer": "/severity", "equals": "MAJOR"}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/severity", "equals": "major"}),
        DOC()
    ));
    assert!(holds(json!({"pointer": "/priority", "equals": 4}), DOC()));
    assert!(
        holds(json!({"pointer": "/priority", "equals": 4.0}), DOC()),
        "numbers by value"
    );
    assert!(
        !holds(json!({"pointer": "/priority", "equals": "4"}), DOC()),
        "no coercion"
    );
    assert!(!holds(
        json!({"pointer": "/count_text", "equals": 5}),
        DOC()
    ));
    assert!(holds(json!({"pointer": "/flag", "equals": true}), DOC()));
    assert!(holds(json!({"pointer": "/nothing", "equals": null}), DOC()));
    assert!(!holds(json!({"pointer": "/flag", "equals": null}), DOC()));
    assert!(holds(
        json!({"pointer": "/device/tags", "equals": ["a", "b"]}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/device/tags", "equals": ["a"]}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/device/tags", "equals": ["a", "b", "c"]}),
        DOC()
    ));
    assert!(holds(
        json!({"pointer": "/device", "equals": {"tags": ["a", "b"], "name": "db-eu-1", "id": 42}}),
        DOC()
    ));
    assert!(
        !holds(json!({"pointer": "/device", "equals": {"id": 42}}), DOC()),
        "every member"
    );
    assert!(
        holds(json!({"pointer": "/list/1", "equals": 20}), DOC()),
        "array index"
    );
    assert!(holds(
        json!({"pointer": "/a~1b/~0x", "equals": "escaped"}),
        DOC()
    ));
    assert!(holds(
        json!({"pointer": "/big", "equals": 18446744073709551615u64}),
        DOC()
    ));
}

#[test]
fn one_of_holds_for_any_listed_value() {
    let spec = json!({"pointer": "/severity", "one_of": ["CRITICAL", "MAJOR"]});
    assert!(holds(spec.clone(), DOC()));
    assert!(!holds(spec, json!({"severity": "MINOR"})));
    assert!(holds(
        json!({"pointer": "/priority", "one_of": ["4", 4]}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/priority", "one_of": ["4", 5]}),
        DOC()
    ));
}

#[test]
fn glob_matches_strings_only() {
    assert!(holds(
        json!({"pointer": "/device/name", "glob": "db-*"}),
        DOC()
    ));
    assert!(holds(
        json!({"pointer": "/device/name", "glob": "db-??-?"}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/device/name", "glob": "web-*"}),
        DOC()
    ));
    assert!(
        !holds(json!({"pointer": "/priority", "glob": "*"}), DOC()),
        "a number is no string"
    );
    assert!(!holds(json!({"pointer": "/device", "glob": "*"}), DOC()));
}

#[test]
fn exists_tells_present_from_missing_and_null_is_present() {
    assert!(holds(
        json!({"pointer": "/device/id", "exists": true}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/device/serial", "exists": true}),
        DOC()
    ));
    assert!(holds(
        json!({"pointer": "/device/serial", "exists": false}),
        DOC()
    ));
    assert!(!holds(
        json!({"pointer": "/device/id", "exists": false}),
        DOC()
    ));
    assert!(holds(json!({"pointer": "/nothing", "exists": true}), DOC()));
    assert!(holds(json!({"pointer": "/list/3", "exists": false}), DOC()));
    assert!(
        holds(json!({"pointer": "/list/01", "exists": false}), DOC()),
        "no leading zeros"
    );
}

#[test]
fn numeric_comparisons_take_numbers_only() {
    for (test, bound, expected) in [
        ("gt", json!(3), true),
        ("gt", json!(4), false),
        ("gte", json!(4), true),
        ("gte", json!(4.5), false),
        ("lt", json!(5), true),
        ("lt", json!(4), false),
        ("lte", json!(4), true),
        ("lte", json!(3.99), false),
    ] {
        let spec = json!({"pointer": "/priority", test: bound});
        assert_eq!(holds(spec, DOC()), expected, "priority 4 {test} {bound}");
    }
    assert!(holds(json!({"pointer": "/ratio", "lt": 1}), DOC()));
    assert!(holds(json!({"pointer": "/ratio", "gt": 0.25}), DOC()));
    assert!(holds(json!({"pointer": "/negative", "lt": 0}), DOC()));
    assert!(holds(json!({"pointer": "/negative", "gte": -3}), DOC()));
    assert!(
        holds(
            json!({"pointer": "/big", "gt": 9223372036854775807i64}),
            DOC()
        ),
        "u64 beyond i64"
    );
    assert!(!holds(json!({"pointer": "/big", "lt": -1}), DOC()));
    assert!(
        !holds(json!({"pointer": "/count_text", "gt": 1}), DOC()),
        "a string is no number"
    );
    assert!(!holds(json!({"pointer": "/flag", "gte": 0}), DOC()));
    assert!(!holds(json!({"pointer": "/nothing", "lte": 0}), DOC()));
}

#[test]
fn a_missing_pointer_fails_every_test_but_exists_false() {
    let body = json!({"other": 1});
    for spec in [
        json!({"pointer": "/severity", "equals": "MAJOR"}),
        json!({"pointer": "/severity", "equals": null}),
        json!({"pointer": "/severity", "one_of": ["MAJOR"]}),
        json!({"pointer": "/severity", "glob": "*"}),
        json!({"pointer": "/severity", "exists": true}),
        json!({"pointer": "/severity", "gt": 0}),
        json!({"pointer": "/severity", "lte": 0}),
        json!({"pointer": "/other/deeper", "exists": true}),
    ] {
        assert!(!holds(spec.clone(), body.clone()), "{spec}");
    }
    assert!(holds(
        json!({"pointer": "/severity", "exists": false}),
        body
    ));
    // A body that is not an object has no members at all.
    assert!(!holds(json!({"pointer": "/a", "equals": 1}), json!([1, 2])));
    assert!(holds(json!({"pointer": "/0", "equals": 1}), json!([1, 2])));
}

#[test]
fn headers_are_text_named_in_any_case() {
    let event = with_headers(&[("x-env", b"prod-eu"), ("x-tier", b"gold")]);
    let check = |spec: Value| condition(spec).holds(&event);
    assert!(check(json!({"header": "X-Env", "equals": "prod-eu"})));
    assert!(
        !check(json!({"header": "x-env", "equals": "PROD-EU"})),
        "values are exact"
    );
    assert!(check(json!({"header": "x-env", "glob": "prod-*"})));
    assert!(!check(json!({"header": "x-env", "glob": "dev-*"})));
    assert!(check(
        json!({"header": "x-tier", "one_of": ["silver", "gold"]})
    ));
    assert!(check(json!({"header": "x-tier", "exists": true})));
    assert!(!check(json!({"header": "x-missing", "exists": true})));
    assert!(check(json!({"header": "x-missing", "exists": false})));
    assert!(!check(json!({"header": "x-missing", "glob": "*"})));
    assert!(!check(json!({"header": "x-missing", "equals": ""})));
}

#[test]
fn a_header_sent_twice_holds_when_one_value_does() {
    let event = with_headers(&[("x-env", b"staging"), ("x-env", b"prod-1")]);
    assert!(condition(json!({"header": "x-env", "glob": "prod-*"})).holds(&event));
    assert!(!condition(json!({"header": "x-env", "equals": "dev"})).holds(&event));
    let why = condition(json!({"header": "x-env", "equals": "dev"})).explain(&event);
    assert_eq!(
        why.why,
        r#"header x-env is ["staging","prod-1"], not "dev""#
    );
}

#[test]
fn a_header_value_that_is_not_utf8_matches_no_text() {
    let event = with_headers(&[("x-env", b"prod-\xff")]);
    assert!(!condition(json!({"header": "x-env", "glob": "*"})).holds(&event));
    assert!(condition(json!({"header": "x-env", "exists": true})).holds(&event));
}

#[test]
fn bad_conditions_say_what_is_wrong() {
    assert_eq!(error(json!({"equals": 1})), FilterError::NoPlace);
    assert_eq!(
        error(json!({"pointer": "/a", "header": "x", "equals": 1})),
        FilterError::TwoPlaces
    );
    assert_eq!(error(json!({"pointer": "/a"})), FilterError::NoTest);
    assert_eq!(
        error(json!({"pointer": "/a", "gte": 1, "lte": 5})),
        FilterError::TwoTests("gte", "lte")
    );
    assert_eq!(
        error(json!({"pointer": "/a", "equals": 1, "exists": true})),
        FilterError::TwoTests("equals", "exists")
    );
    assert!(matches!(
        error(json!({"pointer": "severity", "equals": 1})),
        FilterError::BadPointer { .. }
    ));
    assert!(matches!(
        error(json!({"pointer": "", "equals": 1})),
        FilterError::BadPointer { .. }
    ));
    assert!(matches!(
        error(json!({"pointer": "/a~2", "equals": 1})),
        FilterError::BadPointer { .. }
    ));
    assert!(matches!(
        error(json!({"pointer": "/a~", "equals": 1})),
        FilterError::BadPointer { .. }
    ));
    assert_eq!(
        error(json!({"pointer": "/a", "one_of": []})),
        FilterError::EmptyOneOf
    );
    assert_eq!(
        error(json!({"pointer": "/a", "gt": "3"})),
        FilterError::NotANumber {
            test: "gt",
            value: "\"3\"".into()
        }
    );
    assert_eq!(
        error(json!({"header": "bad header", "exists": true})),
        FilterError::BadHeader("bad header".into())
    );
    assert_eq!(
        error(json!({"header": "x-n", "lt": 3})),
        FilterError::NumberOnHeader {
            header: "x-n".into(),
            test: "lt"
        }
    );
    assert!(matches!(
        error(json!({"header": "x-n", "one_of": ["a", 3]})),
        FilterError::NotText { test: "one_of", .. }
    ));
    assert!(matches!(
        error(json!({"header": "x-n", "equals": true})),
        FilterError::NotText { test: "equals", .. }
    ));
    let unknown =
        serde_json::from_value::<ConditionSpec>(json!({"pointer": "/a", "equal": 1})).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `equal`"),
        "{unknown}"
    );
}

#[test]
fn a_filter_needs_every_condition_and_reports_each_bad_one() {
    let specs: Vec<ConditionSpec> = serde_json::from_value(json!([
        {"pointer": "/severity", "one_of": ["CRITICAL", "MAJOR"]},
        {"pointer": "/device/id", "exists": true},
    ]))
    .unwrap();
    let filter = Filter::parse(&specs).unwrap();
    assert!(filter.holds(&parsed(DOC())));
    assert!(!filter.holds(&parsed(json!({"severity": "MAJOR"}))));
    assert!(
        Filter::default().holds(&parsed(json!(null))),
        "no condition: holds"
    );

    let bad: Vec<ConditionSpec> = serde_json::from_value(json!([
        {"pointer": "/ok", "exists": true},
        {"pointer": "nope", "exists": true},
        {"pointer": "/x", "one_of": []},
    ]))
    .unwrap();
    let errors = Filter::parse(&bad).unwrap_err();
    let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, [1, 2]);
    assert!(
        errors[1]
            .to_string()
            .starts_with("condition #3 of `when`: `one_of` is empty"),
        "{}",
        errors[1]
    );
}

#[test]
fn specs_round_trip_through_conditions_and_json() {
    let written = json!([
        {"pointer": "/a", "equals": null},
        {"pointer": "/b", "one_of": [1, "x"]},
        {"header": "x-env", "glob": "prod-*"},
        {"pointer": "/c", "exists": false},
        {"pointer": "/d", "gte": 2.5},
    ]);
    let specs: Vec<ConditionSpec> = serde_json::from_value(written.clone()).unwrap();
    let filter = Filter::parse(&specs).unwrap();
    assert_eq!(serde_json::to_value(filter.specs()).unwrap(), written);
}

#[test]
fn explanations_name_the_value_found() {
    let why = |spec: Value, body: Value| condition(spec).explain(&parsed(body)).why;
    assert_eq!(
        why(
            json!({"pointer": "/severity", "one_of": ["CRITICAL", "MAJOR"]}),
            json!({"severity": "MINOR"})
        ),
        r#""/severity" is "MINOR", not one of ["CRITICAL","MAJOR"]"#
    );
    assert_eq!(
        why(
            json!({"pointer": "/severity", "equals": "MINOR"}),
            json!({"severity": "MINOR"})
        ),
        r#""/severity" is "MINOR""#
    );
    assert_eq!(
        why(json!({"pointer": "/device/id", "exists": true}), json!({})),
        r#""/device/id" is missing"#
    );
    assert_eq!(
        why(
            json!({"pointer": "/device/id", "exists": false}),
            json!({"device": {"id": 7}})
        ),
        r#""/device/id" is present (7)"#
    );
    assert_eq!(
        why(json!({"pointer": "/p", "gte": 3}), json!({"p": 2})),
        r#""/p" is 2, not >= 3"#
    );
    assert_eq!(
        why(json!({"pointer": "/p", "gte": 3}), json!({"p": "high"})),
        r#""/p" is "high", not a number"#
    );
    assert_eq!(
        why(
            json!({"pointer": "/n", "glob": "db-*"}),
            json!({"n": "db-1"})
        ),
        r#""/n" is "db-1", matching "db-*""#
    );
    assert_eq!(
        why(json!({"pointer": "/n", "glob": "db-*"}), json!({"n": 5})),
        r#""/n" is 5, not a string to match "db-*""#
    );
    let long = why(
        json!({"pointer": "/t", "equals": "x"}),
        json!({"t": "y".repeat(500)}),
    );
    assert!(long.len() < 200 && long.contains("..."), "{long}");
    let event = with_headers(&[("x-env", b"dev")]);
    assert_eq!(
        condition(json!({"header": "x-env", "glob": "prod-*"}))
            .explain(&event)
            .why,
        r#"header x-env is "dev", not matching "prod-*""#
    );
}

#[test]
fn a_spec_names_its_header_in_lower_case() {
    let spec: ConditionSpec =
        serde_json::from_value(json!({"header": "X-Request-Id", "one_of": [1]})).unwrap();
    assert_eq!(
        spec.header_name(),
        Some(HeaderName::from_static("x-request-id"))
    );
    assert!(crate::parse::shape::default_keep_headers().contains(&spec.header_name().unwrap()));
    let body: ConditionSpec = serde_json::from_value(json!({"pointer": "/a"})).unwrap();
    assert_eq!(body.header_name(), None);
}

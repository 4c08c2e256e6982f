//! The parsed body: one parse into a cheap tree, read in place by every later stage.
//!
//! [`parse`] turns verified bytes into a [`sonic_rs::Value`] (a SIMD parser whose tree is one
//! allocation per container, against serde_json's one per string and per map node). The event's
//! type and id are read from it ([`EventShape`](crate::parse::shape::EventShape)) through
//! [`View`], a read-only view that `serde_json::Value` has too, and (with the `schema` feature)
//! the sender's schema validates it directly: `Sonic` implements `jsonschema`'s `Json` trait, so
//! no `serde_json::Value` is built on the request path. A handler that asks for
//! [`Event::json`](crate::Event::json) gets one, built on first use from the tree.
//!
//! What a reader sees is what `serde_json` (which hookgate used before) would have shown it, with
//! one deliberate difference:
//!
//! * an object with a **repeated key** is refused. Parsers disagree about such a document (the
//!   first value, the last, or both), so the type hookgate routes by, the value the schema checks,
//!   and what a consumer downstream reads from the raw bytes could differ. RFC 8259 leaves the
//!   meaning open; I-JSON (RFC 7493) forbids it. No sender's serializer produces one;
//! * integers beyond 64 bits read as the nearest `f64`, numbers beyond `f64` are refused;
//! * nesting deeper than [`MAX_DEPTH`] is refused before the parser sees it (sonic-rs recurses, and
//!   a deep enough document would overflow the stack: a crash, not an error).
//!
//! Optimized, 128 levels take under 64 KiB of stack; unoptimized they can take more than a 2 MiB
//! thread has, which is why hookgate's `Cargo.toml` builds sonic-rs with `opt-level = 3` in the
//! dev profile too.

use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Value};

#[cfg(feature = "schema")]
mod schema;
mod view;

#[cfg(feature = "schema")]
pub use self::schema::Sonic;
pub use self::view::{View, pointer};

/// The deepest nesting of arrays and objects accepted, as in `serde_json`.
pub const MAX_DEPTH: usize = 128;

/// Why a body is not a JSON document hookgate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Not JSON. The text says where, and never quotes the body.
    #[error("{0}")]
    Syntax(String),
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// An object names the same key twice (the key, shortened to 64 characters).
    #[error("the key {0:?} appears more than once in one object")]
    RepeatedKey(String),
}

/// Parse `bytes` into a tree; see the [module docs](self).
pub fn parse(bytes: &[u8]) -> Result<Value, TreeError> {
    if nesting_exceeds(bytes, MAX_DEPTH) {
        return Err(TreeError::TooDeep);
    }
    let tree: Value = sonic_rs::from_slice(bytes).map_err(|e| {
        // sonic-rs appends an excerpt of the input to its message; keep only the description
        // and the position.
        let text = e.to_string();
        let what = text.split(" at line ").next().unwrap_or("invalid JSON");
        TreeError::Syntax(format!("{what} at line {} column {}", e.line(), e.column()))
    })?;
    match repeated_key(&tree) {
        Some(key) => Err(TreeError::RepeatedKey(key.chars().take(64).collect())),
        None => Ok(tree),
    }
}

/// The first key some object of `value` names twice. Recursion is bounded by [`MAX_DEPTH`].
fn repeated_key(value: &Value) -> Option<&str> {
    if let Some(items) = value.as_array() {
        return items.iter().find_map(repeated_key);
    }
    let members = value.as_object()?;
    if members.len() <= 16 {
        // Small objects (nearly all): compare each key with the ones before it, kept on the
        // stack (one walk of the object: its iterator is not cheap to restart).
        let mut earlier = [""; 16];
        for (n, (key, _)) in members.iter().enumerate() {
            if earlier[..n].contains(&key) {
                return Some(key);
            }
            earlier[n] = key;
        }
    } else {
        let mut keys: Vec<&str> = members.iter().map(|(key, _)| key).collect();
        keys.sort_unstable();
        if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
            return Some(pair[0]);
        }
    }
    members.iter().find_map(|(_, v)| repeated_key(v))
}

/// Whether arrays and objects nest deeper than `limit` in `bytes`, which may not be JSON at all.
///
/// Cheap in the common case: a document with at most `limit` opening brackets in all cannot nest
/// deeper, and counting them is a `memchr` pass. Only a document with more is walked, skipping
/// strings, to find its real depth.
fn nesting_exceeds(bytes: &[u8], limit: usize) -> bool {
    if memchr::memchr2_iter(b'[', b'{', bytes).nth(limit).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The `serde_json` form of a tree (what [`Event::json`](crate::Event::json) returns).
pub fn to_serde(value: &Value) -> serde_json::Value {
    if let Some(s) = value.as_str() {
        return serde_json::Value::String(s.to_owned());
    }
    if let Some(number) = value.as_number() {
        return serde_json::Value::Number(serde_number(&number));
    }
    if let Some(b) = value.as_bool() {
        return serde_json::Value::Bool(b);
    }
    if let Some(items) = value.as_array() {
        return serde_json::Value::Array(items.iter().map(to_serde).collect());
    }
    if let Some(members) = value.as_object() {
        let mut map = serde_json::Map::with_capacity(members.len());
        for (key, v) in members.iter() {
            map.insert(key.to_owned(), to_serde(v));
        }
        return serde_json::Value::Object(map);
    }
    serde_json::Value::Null
}

/// A tree from a `serde_json` value (for events built by hand and for cold paths).
#[cfg_attr(not(feature = "schema"), allow(dead_code))]
pub(crate) fn from_serde(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::new_null(),
        serde_json::Value::Bool(b) => Value::new_bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::new_u64(u)
            } else if let Some(i) = n.as_i64() {
                Value::new_i64(i)
            } else {
                n.as_f64()
                    .and_then(Value::new_f64)
                    .unwrap_or_else(Value::new_null)
            }
        }
        serde_json::Value::String(s) => Value::copy_str(s),
        serde_json::Value::Array(items) => {
            let mut array = Value::new_array_with(items.len());
            for item in items {
                array.append_value(from_serde(item));
            }
            array
        }
        serde_json::Value::Object(map) => {
            let mut object = Value::new_object();
            for (key, v) in map {
                object.insert(key, from_serde(v));
            }
            object
        }
    }
}

pub(crate) fn serde_number(number: &sonic_rs::Number) -> serde_json::Number {
    if let Some(u) = number.as_u64() {
        serde_json::Number::from(u)
    } else if let Some(i) = number.as_i64() {
        serde_json::Number::from(i)
    } else {
        // sonic-rs refuses non-finite numbers, so `from_f64` always succeeds; 0 is never seen.
        number
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .unwrap_or_else(|| serde_json::Number::from(0u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "schema")]
    #[test]
    fn conforms_to_the_validator_contract() {
        let document = jsonschema::json::conformance::document();
        let tree = parse(&serde_json::to_vec(&document).unwrap()).unwrap();
        jsonschema::json::conformance::assert_conformance::<Sonic>(&&tree);
        let built = from_serde(&document);
        jsonschema::json::conformance::assert_conformance::<Sonic>(&&built);
    }

    #[test]
    fn reads_like_serde_json() {
        let cases: &[&str] = &[
            r#"{"b":[1,2.5,-3,"x",null,true],"a":{"c":{}}}"#,
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            r#""\ud83d\ude00 h\u00e9llo \u0000""#,
            "5e-324",
            "1E2",
            "[]",
            "{}",
        ];
        for case in cases {
            let tree = parse(case.as_bytes()).unwrap();
            let serde: serde_json::Value = serde_json::from_str(case).unwrap();
            assert_eq!(to_serde(&tree), serde, "{case}");
            assert_eq!(to_serde(&from_serde(&serde)), serde, "{case}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for case in [
            "1e400",
            "-1e400",
            "NaN",
            "[1,]",
            "{} x",
            "01",
            "\"a\tb\"",
            r#""\ud800""#,
            "",
            "{",
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(case).is_err(),
                "{case}"
            );
            assert!(parse(case.as_bytes()).is_err(), "{case}");
        }
        assert!(parse(b"\"\xff\"").is_err());
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for doc in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"b":{"c":[{"d":1,"e":2,"d":3}]}}"#,
            r#"[{"x":1},{"y":2,"y":2}]"#,
        ] {
            assert!(
                matches!(parse(doc.as_bytes()), Err(TreeError::RepeatedKey(_))),
                "{doc}"
            );
        }
        // A large object takes the sorting path.
        let mut large: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(parse(format!("{{{}}}", large.join(",")).as_bytes()).is_ok());
        large.push("\"k7\":0".into());
        assert_eq!(
            parse(format!("{{{}}}", large.join(",")).as_bytes()),
            Err(TreeError::RepeatedKey("k7".into()))
        );
        // The same key in different objects is fine.
        assert!(parse(br#"{"a":{"a":1},"b":[{"a":2},{"a":3}]}"#).is_ok());
    }

    #[test]
    fn errors_do_not_quote_the_body() {
        let err = parse(br#"{"secret-looking":"value", oops}"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 1 column"), "{text}");
        assert!(!text.contains("secret-looking"), "{text}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing() {
        for depth in [MAX_DEPTH + 1, 100_000, 1_000_000] {
            let mut doc = vec![b'['; depth];
            doc.extend(vec![b']'; depth]);
            assert_eq!(parse(&doc), Err(TreeError::TooDeep), "depth {depth}");
            let mut doc = b"{\"a\":".repeat(depth);
            doc.extend(vec![b'}'; depth]);
            assert_eq!(parse(&doc), Err(TreeError::TooDeep), "depth {depth}");
        }
        let mut ok = vec![b'['; MAX_DEPTH];
        ok.extend(vec![b']'; MAX_DEPTH]);
        assert!(parse(&ok).is_ok());
        // Brackets inside strings do not count.
        let many = format!(r#"{{"s":"{}"}}"#, "[{".repeat(10_000));
        assert!(parse(many.as_bytes()).is_ok());
        let escaped = format!(r#"["\"{}"]"#, "[".repeat(1_000));
        assert!(parse(escaped.as_bytes()).is_ok());
    }

    /// The JSON Schema Test Suite (draft 2020-12) through both representations: every instance
    /// is parsed from its exact text by [`parse`] and by `serde_json`, and the two validators
    /// (same schema, same options) must give the same answer, valid or not, fast path or
    /// error path. Where `jsonschema` itself agrees with the suite on `serde_json` (nearly
    /// everywhere), the tree must too. The suite's numbers, big integers and unicode strings
    /// are the point: they are where a representation can go wrong.
    ///
    /// The suite is not in the repository: `.ci/run` unpacks it from python-jsonschema's source
    /// distribution on PyPI into `target/json-schema-test-suite/`.
    #[cfg(feature = "schema")]
    #[test]
    fn json_schema_test_suite_gives_the_same_answers_as_serde_json() {
        use serde_json::value::RawValue;

        #[derive(serde::Deserialize)]
        struct Group {
            description: String,
            schema: serde_json::Value,
            tests: Vec<Case>,
        }
        #[derive(serde::Deserialize)]
        struct Case {
            description: String,
            data: Box<RawValue>,
            valid: bool,
        }

        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/json-schema-test-suite/draft2020-12");
        if !root.is_dir() {
            let why = format!(
                "the JSON Schema Test Suite is not at {} (.ci/run unpacks it)",
                root.display()
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}, and CI=true"
            );
            eprintln!("skipped: {why}");
            return;
        }
        let mut files: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        for optional in ["bignum", "float-overflow", "non-bmp-regex"] {
            files.push(root.join(format!("optional/{optional}.json")));
        }
        files.sort();
        let (mut cases, mut disagree, mut wrong) = (0, Vec::new(), Vec::new());
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let groups: Vec<Group> = serde_json::from_str(&text).unwrap();
            for group in groups {
                let options = || {
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(false)
                };
                let on_tree = jsonschema::options_for::<Sonic>()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(false)
                    .build(&group.schema);
                let on_serde = options().build(&group.schema);
                let (on_tree, on_serde) = match (on_tree, on_serde) {
                    (Ok(t), Ok(s)) => (t, s),
                    // Remote references: neither can compile them here.
                    (Err(_), Err(_)) => continue,
                    _ => panic!("{file:?} {}: compiles for one only", group.description),
                };
                for case in group.tests {
                    cases += 1;
                    let place = format!(
                        "{} / {} / {}",
                        file.file_name().unwrap().to_string_lossy(),
                        group.description,
                        case.description
                    );
                    let serde: serde_json::Value = serde_json::from_str(case.data.get()).unwrap();
                    let tree = parse(case.data.get().as_bytes())
                        .unwrap_or_else(|e| panic!("{place}: the tree refused the instance: {e}"));
                    let by_serde = on_serde.is_valid(&serde);
                    let by_tree = on_tree.is_valid(&tree);
                    if by_tree != by_serde || on_tree.validate(&tree).is_ok() != by_tree {
                        disagree.push(place.clone());
                    }
                    if by_serde == case.valid && by_tree != case.valid {
                        wrong.push(place);
                    }
                }
            }
        }
        assert!(cases > 1000, "only {cases} cases: is the suite complete?");
        assert!(
            disagree.is_empty(),
            "tree and serde_json disagree: {disagree:#?}"
        );
        assert!(
            wrong.is_empty(),
            "tree is wrong where serde_json is right: {wrong:#?}"
        );
    }

    #[test]
    fn pointers_resolve_in_both_representations() {
        let text = r#"{"a":{"b/c":[20,{"~d":"y"}]},"":1}"#;
        let tree = parse(text.as_bytes()).unwrap();
        let serde: serde_json::Value = serde_json::from_str(text).unwrap();
        for (p, expected) in [
            ("/a/b~1c/0", Some(serde_json::json!(20))),
            ("/a/b~1c/1/~0d", Some(serde_json::json!("y"))),
            ("/", Some(serde_json::json!(1))),
            ("/a/b~1c/01", None),
            ("/a/b~1c/2", None),
            ("/nope", None),
            ("a", None),
        ] {
            let got = pointer(&tree, p).map(to_serde);
            assert_eq!(got, expected, "{p}");
            let got = pointer(&serde, p).cloned();
            assert_eq!(got, expected, "{p}");
            assert_eq!(serde.pointer(p).cloned(), expected, "{p}");
        }
        assert_eq!(pointer(&tree, "").map(to_serde), Some(serde));
    }
}

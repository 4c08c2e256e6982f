//! The parsed body: one parse into a cheap tree, read in place by every later stage.
//!
//! [`parse`] turns verified bytes into a [`sonic_rs::Value`] (a SIMD parser whose tree is one
//! allocation per container, against serde_json's one per string and per map node). The event's
//! type and id are read from it ([`EventShape`](crate::parse::shape::EventShape)), and the
//! sender's schema validates it directly: [`Sonic`] implements `jsonschema`'s [`Json`] trait, so
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

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Value};

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
        // Small objects (nearly all): compare each key with the ones before it, no allocation.
        for (i, (key, _)) in members.iter().enumerate() {
            if members.iter().take(i).any(|(earlier, _)| earlier == key) {
                return Some(key);
            }
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
pub fn from_serde(value: &serde_json::Value) -> Value {
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

fn serde_number(number: &sonic_rs::Number) -> serde_json::Number {
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

/// The value at a JSON pointer (RFC 6901) in any representation `jsonschema` can validate:
/// `serde_json::Value` or the [`Sonic`] tree.
pub fn pointer<'a, F: Json>(root: F::Node<'a>, pointer: &str) -> Option<F::Node<'a>> {
    if pointer.is_empty() {
        return Some(root);
    }
    let rest = pointer.strip_prefix('/')?;
    let mut node = root;
    for token in rest.split('/') {
        let token: Cow<'_, str> = if token.contains('~') {
            Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
        } else {
            Cow::Borrowed(token)
        };
        node = if let Some(object) = node.as_object() {
            object.get(&F::prepare_key(&token))?
        } else if let Some(array) = node.as_array() {
            let index = parse_index(&token)?;
            array.elements().nth(index)?
        } else {
            return None;
        };
    }
    Some(node)
}

/// An array index as RFC 6901 writes it: digits, no leading zero (but `0` itself).
fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

/// The [`sonic_rs::Value`] tree as a `jsonschema` instance representation.
#[derive(Debug)]
pub enum Sonic {}

impl Json for Sonic {
    type Node<'a> = &'a Value;
    type PreparedKey = String;
    // Objects are vectors of pairs: a lookup is a scan, so a members pass that visits a few keys
    // per lookup it replaces is the better deal.
    const KEYS_PER_LOOKUP: usize = 8;
    type StringBuffer = Value;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(buffer: &mut Value, string: &str, f: impl FnOnce(&Value) -> T) -> T {
        *buffer = Value::copy_str(string);
        f(buffer)
    }
}

/// A number of the [`Sonic`] tree.
#[derive(Debug, Clone)]
pub struct SonicNumber(sonic_rs::Number);

impl JsonNumber for SonicNumber {
    fn as_u64(&self) -> Option<u64> {
        self.0.as_u64()
    }

    fn as_i64(&self) -> Option<i64> {
        self.0.as_i64()
    }

    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(serde_number(&self.0).to_string())
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(serde_number(&self.0))
    }

    fn is_written_as_integer(&self) -> bool {
        // The tree keeps native numbers, not their text: integers parse as integers.
        self.0.is_u64() || self.0.is_i64()
    }
}

impl<'a> Node<'a, Sonic> for &'a Value {
    type Object = &'a sonic_rs::Object;
    type Array = &'a sonic_rs::Array;
    type Number = SonicNumber;

    fn as_object(&self) -> Option<Self::Object> {
        JsonContainerTrait::as_object(*self)
    }

    fn as_array(&self) -> Option<Self::Array> {
        JsonContainerTrait::as_array(*self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        JsonValueTrait::as_str(*self).map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<SonicNumber> {
        JsonValueTrait::as_number(*self).map(SonicNumber)
    }

    fn as_boolean(&self) -> Option<bool> {
        JsonValueTrait::as_bool(*self)
    }

    fn is_null(&self) -> bool {
        JsonValueTrait::is_null(*self)
    }

    fn is_number(&self) -> bool {
        JsonValueTrait::is_number(*self)
    }

    fn is_string(&self) -> bool {
        JsonValueTrait::is_str(*self)
    }

    fn json_type(&self) -> JsonType {
        match self.get_type() {
            sonic_rs::JsonType::Null => JsonType::Null,
            sonic_rs::JsonType::Boolean => JsonType::Boolean,
            sonic_rs::JsonType::Number => JsonType::Number,
            sonic_rs::JsonType::String => JsonType::String,
            sonic_rs::JsonType::Array => JsonType::Array,
            sonic_rs::JsonType::Object => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &serde_json::Value) -> bool {
        // `enum` and `const` of scalars are on the hot path: compare without building a value.
        match expected {
            serde_json::Value::String(s) => JsonValueTrait::as_str(*self) == Some(s.as_str()),
            serde_json::Value::Bool(b) => JsonValueTrait::as_bool(*self) == Some(*b),
            serde_json::Value::Null => JsonValueTrait::is_null(*self),
            serde_json::Value::Number(_) => match JsonValueTrait::as_number(*self) {
                Some(n) => jsonschema::json::cmp::equal(
                    &serde_json::Value::Number(serde_number(&n)),
                    expected,
                ),
                None => false,
            },
            _ => jsonschema::json::cmp::equal(&to_serde(self), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(to_serde(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Value>(*self) as usize
        ))
    }
}

impl<'a> Object<'a, Sonic> for &'a sonic_rs::Object {
    type Node = &'a Value;
    type MemberName = &'a str;
    type MembersIter = sonic_rs::value::object::Iter<'a>;

    fn len(&self) -> usize {
        sonic_rs::Object::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Value> {
        // `parse` refuses repeated keys, so the first match is the only one.
        self.iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    }

    fn members(&self) -> Self::MembersIter {
        self.iter()
    }
}

impl<'a> Array<'a, Sonic> for &'a sonic_rs::Array {
    type Node = &'a Value;
    type ElementsIter = std::slice::Iter<'a, Value>;

    fn len(&self) -> usize {
        sonic_rs::Array::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let got = pointer::<Sonic>(&tree, p).map(to_serde);
            assert_eq!(got, expected, "{p}");
            let got = pointer::<jsonschema::json::SerdeJson>(&serde, p).cloned();
            assert_eq!(got, expected, "{p}");
            assert_eq!(serde.pointer(p).cloned(), expected, "{p}");
        }
        assert_eq!(pointer::<Sonic>(&tree, "").map(to_serde), Some(serde));
    }
}

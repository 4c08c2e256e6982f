//! Where an event's type, id and timestamp live in a sender's requests.
//!
//! An [`EventShape`] is what the [`Parse`](super::Parse) stage reads an event by; profiles
//! ([`crate::Profile`]) and configuration build one per source, which is why it lives here, below
//! both, and is re-exported from [`crate::source`].
//!
//! # Event ids
//!
//! Deduplication needs an id that is the same on every retry of one event and different between
//! events. An [`EventShape`] lists [`IdPlace`]s, tried in order; the first that resolves wins:
//!
//! * a **header** (`header:X-Request-Id`);
//! * a **JSON pointer** (`/id`): a string or number is used as is; an object or array is hashed;
//! * a **composite** of several headers or pointers, all of which must be present. Its id is
//!   `sha256:<hex>` over the parts, where JSON values are written in a canonical form (keys sorted,
//!   no whitespace), so a sender that re-serialises its payload on retry still produces the same id.
//!
//! * **`delivery`**: every delivery is its own event, with a random id (`delivery:<hex>`), for a
//!   sender whose bodies carry no identity and repeat for distinct events (Dropbox's "these
//!   accounts changed"). Such a source is not deduplicated: a retry is processed again.
//!
//! If no place resolves, the id is `sha256:<hex>` of the raw body.

use std::fmt;
use std::io::Write;

use http::{HeaderMap, HeaderName};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::event::{EventId, EventKind};
use crate::rejection::Rejection;
use crate::tree::{View, pointer};

/// Ids longer than this (from a header or a field) are hashed to keep dedup keys small.
const MAX_ID_LEN: usize = 200;

/// One part of an id: a header or a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPart {
    /// A request header.
    Header(HeaderName),
    /// A JSON pointer into the body (`""` is the whole document).
    Pointer(String),
}

/// A place an event id can come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPlace {
    /// One header or pointer.
    Single(IdPart),
    /// Several parts hashed together; all must be present.
    Composite(Vec<IdPart>),
    /// A random id for each delivery (`delivery` in configuration): no deduplication.
    Delivery,
}

/// Why an id place or pointer in a configuration is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither a JSON pointer (\"/a/b\", or \"\" for the whole body) nor header:NAME")]
pub struct PlaceError(pub String);

impl IdPart {
    /// Parse `header:NAME` or a JSON pointer (`/a/b`, or `""` for the whole body).
    pub fn parse(text: &str) -> Result<Self, PlaceError> {
        if let Some(name) = text.strip_prefix("header:") {
            HeaderName::try_from(name.trim())
                .map(Self::Header)
                .map_err(|_| PlaceError(text.to_owned()))
        } else if text.is_empty() || text.starts_with('/') {
            Ok(Self::Pointer(text.to_owned()))
        } else {
            Err(PlaceError(text.to_owned()))
        }
    }
}

impl fmt::Display for IdPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(h) => write!(f, "header:{h}"),
            Self::Pointer(p) => write!(f, "{p:?}"),
        }
    }
}

/// What a sender's events look like to hookgate: where the type, id and timestamp are, and which
/// headers are worth keeping on the [`Event`](crate::Event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventShape {
    /// JSON pointers (or `header:NAME`) whose values, joined by `.`, form the event type. The
    /// first must be present; later ones are appended when present (NinjaRMM: `/activityType` +
    /// `/statusCode`; GitHub: `header:X-GitHub-Event` + `/action`). `key:/a/b` stands for the
    /// name `b` when `/a/b` holds anything (Dropbox's `{"list_folder": {...}}` is a
    /// `list_folder` event).
    pub kind: Vec<String>,
    /// Places the event id is taken from, in order; see the [module docs](self).
    pub id: Vec<IdPlace>,
    /// JSON pointer to the sender's timestamp, if it sends one.
    pub timestamp: Option<String>,
    /// Request headers copied onto the event (never credential headers).
    pub keep_headers: Vec<HeaderName>,
    /// For form-encoded bodies (`application/x-www-form-urlencoded`): the field that holds the
    /// JSON (GitHub's and Slack's `payload`). Without it, form bodies are not JSON (400). The
    /// signature still covers, and forwarders still send, the raw form bytes.
    pub form_field: Option<String>,
}

impl EventShape {
    /// Make an example of this shape a new event: its timestamp set to `now`, and a fresh
    /// numeric id (milliseconds since the epoch) where the id is a numeric field, so that sending
    /// it again is not taken for a duplicate.
    pub fn refresh(&self, body: &mut Value, now: std::time::SystemTime) {
        let since_epoch = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if let Some(slot) = self.timestamp.as_deref().and_then(|p| body.pointer_mut(p)) {
            *slot = match slot {
                Value::Number(_) => Value::from(since_epoch.as_secs_f64()),
                _ => Value::from(humantime::format_rfc3339_millis(now).to_string()),
            };
        }
        for place in &self.id {
            if let IdPlace::Single(IdPart::Pointer(p)) = place {
                if let Some(slot @ Value::Number(_)) = body.pointer_mut(p) {
                    *slot = Value::from(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX));
                }
            }
        }
    }

    /// A shape with the given type pointers, no id places (body hash), and the default headers.
    pub fn new(kind: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            kind: kind.into_iter().map(Into::into).collect(),
            id: Vec::new(),
            timestamp: None,
            keep_headers: default_keep_headers(),
            form_field: None,
        }
    }

    /// Read the event type from a parsed body (type places in headers are taken as absent).
    pub fn kind_of(&self, json: &Value) -> Result<EventKind, Rejection> {
        self.kind_in(&HeaderMap::new(), json)
    }

    /// Read the event type from a request's headers and parsed body.
    pub fn kind_from(&self, headers: &HeaderMap, json: &Value) -> Result<EventKind, Rejection> {
        self.kind_in(headers, json)
    }

    /// [`kind_from`](Self::kind_from) in either [`View`]: the parsed tree or `serde_json`.
    pub(crate) fn kind_in<'a, V: View<'a>>(
        &self,
        headers: &HeaderMap,
        json: V,
    ) -> Result<EventKind, Rejection> {
        let mut kind = String::new();
        for (i, place) in self.kind.iter().enumerate() {
            let text = if let Some(at) = place.strip_prefix("key:") {
                pointer(json, at)
                    .filter(|v| !v.is_json_null())
                    .and(at.rsplit('/').next())
                    .filter(|key| !key.is_empty())
                    .map(str::to_owned)
            } else {
                match place.strip_prefix("header:") {
                    Some(name) => headers
                        .get(name.trim())
                        .and_then(|v| v.to_str().ok())
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                    None => pointer(json, place).and_then(|v| scalar_text(v)),
                }
            };
            match text {
                Some(text) => {
                    if !kind.is_empty() {
                        kind.push('.');
                    }
                    kind.push_str(&text);
                }
                None if i == 0 => {
                    return Err(Rejection::MissingEventType(format!("{place:?}")));
                }
                None => {}
            }
        }
        if kind.is_empty() {
            return Err(Rejection::MissingEventType("(no place configured)".into()));
        }
        Ok(EventKind::new(kind))
    }

    /// Work out the event id; see the [module docs](self).
    pub fn id_of(&self, headers: &HeaderMap, json: &Value, raw: &[u8]) -> EventId {
        self.id_in(headers, json, raw)
    }

    /// [`id_of`](Self::id_of) in either [`View`]: the parsed tree or `serde_json`.
    pub(crate) fn id_in<'a, V: View<'a>>(
        &self,
        headers: &HeaderMap,
        json: V,
        raw: &[u8],
    ) -> EventId {
        if let Some(id) = first_place(&self.id, headers, json) {
            return id;
        }
        hashed(Sha256::new_with_prefix(raw))
    }
}

/// The id (or key) the first place of `places` that resolves gives, if one does: the same
/// reading as event ids (a header's or field's text, a composite's hash), for the event id
/// and for a route's ordering key (`order_by`).
pub(crate) fn first_place<'a, V: View<'a>>(
    places: &[IdPlace],
    headers: &HeaderMap,
    json: V,
) -> Option<EventId> {
    for place in places {
        match place {
            IdPlace::Single(IdPart::Header(name)) => {
                if let Some(text) = headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                {
                    return Some(bounded(text));
                }
            }
            IdPlace::Single(IdPart::Pointer(place)) => match pointer(json, place) {
                None => {}
                Some(value) if value.is_json_null() => {}
                Some(value) => match scalar_text(value) {
                    Some(text) if !text.is_empty() => return Some(bounded(&text)),
                    Some(_) => {}
                    None => {
                        let mut hasher = Sha256::new();
                        hash_canonical(value, &mut hasher);
                        return Some(hashed(hasher));
                    }
                },
            },
            IdPlace::Composite(parts) => {
                if let Some(id) = composite(parts, headers, json) {
                    return Some(id);
                }
            }
            IdPlace::Delivery => return Some(delivery_id()),
        }
    }
    None
}

/// Headers worth keeping on every event by default.
pub fn default_keep_headers() -> Vec<HeaderName> {
    vec![
        http::header::CONTENT_TYPE,
        http::header::USER_AGENT,
        HeaderName::from_static("x-request-id"),
        HeaderName::from_static("x-forwarded-for"),
    ]
}

fn composite<'a, V: View<'a>>(parts: &[IdPart], headers: &HeaderMap, json: V) -> Option<EventId> {
    let mut hasher = Sha256::new();
    for part in parts {
        // Each part is hashed on its own, streamed (no canonical copy of a large `data` object
        // is built), and the outer hash takes the parts' fixed-size digests: ("ab","c") and
        // ("a","bc") still differ.
        let mut inner = Sha256::new();
        match part {
            IdPart::Header(name) => {
                inner.update(headers.get(name)?.as_bytes());
                hasher.update([0u8]);
            }
            IdPart::Pointer(place) => {
                let value = pointer(json, place)?;
                if value.is_json_null() {
                    return None;
                }
                hash_canonical(value, &mut inner);
                hasher.update([1u8]);
            }
        }
        hasher.update(inner.finalize());
    }
    Some(hashed(hasher))
}

/// A fresh random id (128 bits), unique across processes and replicas sharing a dedup store;
/// should the system's generator fail, the receipt time and a process counter instead.
fn delivery_id() -> EventId {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes[..8].copy_from_slice(&(nanos as u64).to_be_bytes());
        bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    EventId::new(format!("delivery:{}", hex::encode(bytes)))
}

fn hashed(hasher: Sha256) -> EventId {
    EventId::new(format!("sha256:{}", hex::encode(hasher.finalize())))
}

fn bounded(text: &str) -> EventId {
    if text.len() <= MAX_ID_LEN {
        EventId::new(text)
    } else {
        hashed(Sha256::new_with_prefix(text.as_bytes()))
    }
}

/// The text of a string, number or boolean; `None` for anything else.
fn scalar_text<'a, V: View<'a>>(value: V) -> Option<String> {
    if let Some(s) = value.text() {
        Some(s.to_owned())
    } else if let Some(n) = value.number() {
        Some(n.to_string())
    } else {
        value.boolean().map(|b| b.to_string())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Feed the canonical form of `value` to `hasher`. (A 512-byte buffer in between was measured
/// 3-7% slower: the hasher buffers its own block.)
fn hash_canonical<'a, V: View<'a>>(value: V, hasher: &mut Sha256) {
    canonical(value, &mut HashWriter(hasher));
}

/// Write `value` as canonical JSON: object keys sorted, no whitespace, strings and numbers as
/// `serde_json` writes them. The same bytes whichever representation the value is in.
fn canonical<'a, V: View<'a>, W: Write>(value: V, out: &mut W) {
    // Writing into a hasher or a Vec cannot fail, so write errors are ignored.
    if let Some(object) = value.object_members() {
        // Keys are unique: serde_json maps hold each once, and `tree::parse` refuses repeats.
        let mut members: Vec<(&'a str, V)> = object.collect();
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let _ = out.write_all(b"{");
        for (i, (key, v)) in members.iter().enumerate() {
            if i > 0 {
                let _ = out.write_all(b",");
            }
            let _ = serde_json::to_writer(&mut *out, key);
            let _ = out.write_all(b":");
            canonical(*v, out);
        }
        let _ = out.write_all(b"}");
    } else if let Some(items) = value.array_elements() {
        let _ = out.write_all(b"[");
        for (i, item) in items.enumerate() {
            if i > 0 {
                let _ = out.write_all(b",");
            }
            canonical(item, out);
        }
        let _ = out.write_all(b"]");
    } else if let Some(s) = value.text() {
        let _ = serde_json::to_writer(&mut *out, s);
    } else if let Some(n) = value.number() {
        let _ = serde_json::to_writer(&mut *out, n.as_ref());
    } else if let Some(b) = value.boolean() {
        let _ = out.write_all(if b { b"true" } else { b"false" });
    } else {
        let _ = out.write_all(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(id: Vec<IdPlace>) -> EventShape {
        EventShape {
            id,
            ..EventShape::new(["/event"])
        }
    }

    #[test]
    fn kind_joins_present_parts() {
        let s = EventShape::new(["/activityType", "/statusCode"]);
        let kind = s
            .kind_of(&json!({"activityType": "CONDITION", "statusCode": "TRIGGERED"}))
            .unwrap();
        assert_eq!(kind.as_str(), "CONDITION.TRIGGERED");
        let kind = s.kind_of(&json!({"activityType": "SYSTEM"})).unwrap();
        assert_eq!(kind.as_str(), "SYSTEM");
        assert!(matches!(
            s.kind_of(&json!({"statusCode": "X"})),
            Err(Rejection::MissingEventType(_))
        ));
    }

    #[test]
    fn pointer_id_uses_the_value() {
        let s = shape(vec![IdPlace::Single(IdPart::Pointer("/id".into()))]);
        let id = s.id_of(&HeaderMap::new(), &json!({"id": 12938}), b"");
        assert_eq!(id.as_str(), "12938");
    }

    #[test]
    fn header_id_comes_first_when_listed_first() {
        let s = shape(vec![
            IdPlace::Single(IdPart::parse("header:X-Request-Id").unwrap()),
            IdPlace::Single(IdPart::Pointer("/id".into())),
        ]);
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "abc".parse().unwrap());
        assert_eq!(s.id_of(&headers, &json!({"id": 1}), b"").as_str(), "abc");
        assert_eq!(
            s.id_of(&HeaderMap::new(), &json!({"id": 1}), b"").as_str(),
            "1"
        );
    }

    #[test]
    fn composite_ignores_key_order_and_whitespace() {
        let parts = ["/event", "/timestamp", "/data"]
            .into_iter()
            .map(|p| IdPart::Pointer(p.into()))
            .collect();
        let s = shape(vec![IdPlace::Composite(parts)]);
        let a: Value =
            serde_json::from_str(r#"{"event":"e","timestamp":"t","data":{"a":1,"b":[1,2]}}"#)
                .unwrap();
        let b: Value = serde_json::from_str(
            r#"{ "data" : { "b" : [1, 2], "a" : 1 }, "timestamp": "t", "event": "e" }"#,
        )
        .unwrap();
        let c: Value =
            serde_json::from_str(r#"{"event":"e","timestamp":"t","data":{"a":2,"b":[1,2]}}"#)
                .unwrap();
        let h = HeaderMap::new();
        assert_eq!(s.id_of(&h, &a, b"1"), s.id_of(&h, &b, b"2"));
        assert_ne!(s.id_of(&h, &a, b"1"), s.id_of(&h, &c, b"1"));
        assert!(s.id_of(&h, &a, b"").as_str().starts_with("sha256:"));
    }

    #[test]
    fn the_parsed_tree_gives_the_ids_and_types_serde_json_gives() {
        use crate::tree;
        let composite = IdPlace::Composite(
            ["/event", "/timestamp", "/data"]
                .into_iter()
                .map(|p| IdPart::Pointer(p.into()))
                .collect(),
        );
        let shapes = [
            shape(vec![composite]),
            shape(vec![IdPlace::Single(IdPart::Pointer("/data".into()))]),
            shape(vec![IdPlace::Single(IdPart::Pointer("/data/n".into()))]),
        ];
        let docs = [
            r#"{"event":"e","timestamp":"t","data":{"b":[1,2.5,-3,null,true,"\u00e9\n"],"a":{}}}"#,
            r#"{"event":"e","timestamp":7,"data":{"x":1,"a":[{"z":0,"y":1e2}]}}"#,
            r#"{"event":"f","timestamp":"t","data":{"n":18446744073709551616}}"#,
            r#"{"event":true,"timestamp":"t","data":{"n":-12}}"#,
        ];
        for doc in docs {
            let tree = tree::parse(doc.as_bytes()).unwrap();
            let serde: Value = serde_json::from_str(doc).unwrap();
            for s in &shapes {
                let headers = HeaderMap::new();
                assert_eq!(
                    s.id_in(&headers, &tree, doc.as_bytes()),
                    s.id_of(&headers, &serde, doc.as_bytes()),
                    "{doc}"
                );
                assert_eq!(
                    s.kind_in(&HeaderMap::new(), &tree).ok(),
                    s.kind_of(&serde).ok()
                );
            }
        }
    }

    #[test]
    fn missing_places_fall_back_to_the_body_hash() {
        let s = shape(vec![IdPlace::Single(IdPart::Pointer("/id".into()))]);
        let id = s.id_of(&HeaderMap::new(), &json!({"id": null}), b"raw");
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(b"raw")));
        assert_eq!(id.as_str(), expected);
    }

    #[test]
    fn composite_parts_are_framed() {
        let parts = vec![IdPart::Pointer("/a".into()), IdPart::Pointer("/b".into())];
        let s = shape(vec![IdPlace::Composite(parts)]);
        let h = HeaderMap::new();
        let x = s.id_of(&h, &json!({"a": "ab", "b": "c"}), b"");
        let y = s.id_of(&h, &json!({"a": "a", "b": "bc"}), b"");
        assert_ne!(x, y);
    }

    #[test]
    fn bad_places_are_refused() {
        assert!(IdPart::parse("id").is_err());
        assert!(IdPart::parse("header:bad header").is_err());
        assert_eq!(IdPart::parse("").unwrap(), IdPart::Pointer(String::new()));
    }
}

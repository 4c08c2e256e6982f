//! The verified event that handlers receive.
//!
//! An [`Event`] is built by the [`Parse`](crate::parse::Parse) stage from a request that the
//! [`Authenticate`](crate::auth::Authenticate) stage verified. It keeps the exact bytes that were
//! signed ([`Event::raw`]) next to their parsed form ([`Event::json`]), so a forwarder can pass on
//! exactly what the sender signed and a handler can read fields without parsing again.
//!
//! The body is parsed once, into a cheap tree (sonic-rs) that the type, id and schema checks
//! read; the `serde_json::Value` that [`Event::json`] returns (and typed handlers deserialize
//! from) is built from it the first time it is asked for, so a forwarder, or a handler that reads
//! only the type, id or raw bytes, never pays for one.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;

/// Proof that a request's body passed its source's authentication.
///
/// Only the [`auth`](crate::auth) module can create one, so holding a `Verified` means the bytes in
/// it were checked. It travels in the request's extensions from `Authenticate` to `Parse`.
#[derive(Clone)]
pub struct Verified {
    pub(crate) raw: Bytes,
    pub(crate) scheme: &'static str,
    pub(crate) key_index: usize,
    pub(crate) at: SystemTime,
}

impl Verified {
    pub(crate) fn new(raw: Bytes, scheme: &'static str, key_index: usize) -> Self {
        Self {
            raw,
            scheme,
            key_index,
            at: SystemTime::now(),
        }
    }

    /// The exact bytes the signature or token was checked against.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The scheme that verified the request (`"hmac"`, `"ed25519"`, `"token"`).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Which of the source's secrets matched (0 = the first listed). Useful to see when a rotated-out
    /// secret stops being used.
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// When the verification happened.
    pub fn at(&self) -> SystemTime {
        self.at
    }
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is left out on purpose: bodies never reach logs by default.
        f.debug_struct("Verified")
            .field("scheme", &self.scheme)
            .field("key_index", &self.key_index)
            .field("bytes", &self.raw.len())
            .finish()
    }
}

/// The id an event is deduplicated by: a sender's id, or a content hash where it sends none.
///
/// Shared text: cloning one does not copy it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Arc<str>);

impl EventId {
    /// Wrap an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(Arc::from(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The event type that routes the event (`ALERT_TRIGGERED`, `job.completed`, `CONDITION.TRIGGERED`).
///
/// Shared text: cloning one does not copy it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKind(Arc<str>);

impl EventKind {
    /// Wrap an event type.
    pub fn new(kind: impl Into<String>) -> Self {
        Self(Arc::from(kind.into()))
    }

    /// The event type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A webhook event that passed authentication and parsing.
///
/// Cheap to clone: the body, the parsed JSON and the source name are shared.
#[derive(Clone)]
pub struct Event {
    source: Arc<str>,
    id: EventId,
    kind: EventKind,
    received_at: SystemTime,
    raw: Bytes,
    parsed: Arc<Parsed>,
    headers: Arc<HeaderMap>,
    verified: Option<Verified>,
    // Empty for nearly every event: an `Arc` keeps clones cheap when it is not.
    mismatches: Arc<[crate::rejection::Problem]>,
}

/// The parsed body in its two forms; at least one is set when the event is built, the other is
/// derived from it on first use.
#[derive(Default)]
struct Parsed {
    tree: OnceLock<sonic_rs::Value>,
    json: OnceLock<serde_json::Value>,
}

impl Event {
    /// Build an event by hand, for example to test a handler. Events built this way carry no
    /// [`Verified`] proof.
    pub fn new(
        source: impl Into<Arc<str>>,
        id: EventId,
        kind: EventKind,
        raw: Bytes,
        json: serde_json::Value,
    ) -> Self {
        let parsed = Parsed::default();
        let _ = parsed.json.set(json);
        Self::with_parsed(source.into(), id, kind, raw, parsed)
    }

    /// An event whose body was parsed into `tree` (what [`Parse`](crate::parse::Parse) builds).
    pub(crate) fn from_tree(
        source: Arc<str>,
        id: EventId,
        kind: EventKind,
        raw: Bytes,
        tree: sonic_rs::Value,
    ) -> Self {
        let parsed = Parsed::default();
        let _ = parsed.tree.set(tree);
        Self::with_parsed(source, id, kind, raw, parsed)
    }

    fn with_parsed(
        source: Arc<str>,
        id: EventId,
        kind: EventKind,
        raw: Bytes,
        parsed: Parsed,
    ) -> Self {
        Self {
            source,
            id,
            kind,
            received_at: SystemTime::now(),
            raw,
            parsed: Arc::new(parsed),
            headers: Arc::default(),
            verified: None,
            mismatches: Arc::new([]),
        }
    }

    /// Set the headers kept on the event (for example to test a handler that reads them).
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Arc::new(headers);
        self
    }

    #[cfg_attr(not(feature = "spool"), allow(dead_code))]
    pub(crate) fn with_received_at(mut self, at: SystemTime) -> Self {
        self.received_at = at;
        self
    }

    pub(crate) fn with_verified(mut self, verified: Option<Verified>) -> Self {
        if let Some(v) = &verified {
            self.received_at = v.at;
        }
        self.verified = verified;
        self
    }

    /// The name of the source (sender configuration) the event arrived through.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The shared source name.
    pub fn source_arc(&self) -> &Arc<str> {
        &self.source
    }

    /// The event's id (what deduplication keys on).
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// The event's type.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// When hookgate received (and verified) the event.
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// The exact bytes the sender signed.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The parsed body, as a `serde_json::Value` (built on the first call, then shared by every
    /// clone of the event).
    pub fn json(&self) -> &serde_json::Value {
        self.parsed
            .json
            .get_or_init(|| match self.parsed.tree.get() {
                Some(tree) => crate::tree::to_serde(tree),
                None => serde_json::Value::Null,
            })
    }

    /// The parsed body as the tree the pipeline's own stages read.
    #[cfg_attr(not(feature = "schema"), allow(dead_code))]
    pub(crate) fn tree(&self) -> &sonic_rs::Value {
        self.parsed
            .tree
            .get_or_init(|| match self.parsed.json.get() {
                Some(json) => crate::tree::from_serde(json),
                None => sonic_rs::Value::new_null(),
            })
    }

    /// The tree the body was parsed into, if it was (what [`Parse`](crate::parse::Parse)
    /// builds); `None` for an event built from a `serde_json::Value` whose tree nobody asked
    /// for. Readers that take either form ([`tree::View`](crate::tree::View)) read this one
    /// when it is there, so that nothing is built for them.
    pub(crate) fn parsed_tree(&self) -> Option<&sonic_rs::Value> {
        self.parsed.tree.get()
    }

    /// The request headers the source keeps (never the credential headers).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The verification proof, when the event came through [`Authenticate`](crate::auth::Authenticate).
    pub fn verified(&self) -> Option<&Verified> {
        self.verified.as_ref()
    }

    /// Where the event does not match its sender's spec, though it was accepted (a part the
    /// spec only assumes, or a source in `report` mode; see [`crate::validate`]). Empty for an
    /// event that fits.
    pub fn mismatches(&self) -> &[crate::rejection::Problem] {
        &self.mismatches
    }

    /// Attach the problems an accepted event has (the [`Validate`](crate::validate::Validate)
    /// stage does; also for testing a handler that reads them).
    pub fn with_mismatches(mut self, problems: Vec<crate::rejection::Problem>) -> Self {
        self.set_mismatches(problems);
        self
    }

    pub(crate) fn set_mismatches(&mut self, problems: Vec<crate::rejection::Problem>) {
        self.mismatches = problems.into();
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("source", &self.source)
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("received_at", &self.received_at)
            .field("bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

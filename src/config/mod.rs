//! The TOML configuration of `hookgate serve`.
//!
//! Reading a configuration never stops at the first problem: unknown keys (a typo silently
//! ignored would be a security hole), unknown profiles, missing or short secrets and bad routes
//! are all collected, so `hookgate check` can list every one. See [`crate::app`] for the checks
//! that need more than the text, and the README for a reference of every key.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! max_body_bytes = 1048576
//!
//! [dedup]
//! ttl = "72h"
//!
//! [[source]]
//! name = "ninja"
//! profile = "ninjaone"
//! path = "/hooks/ninja"
//! secrets = ["env:NINJA_SECRET", "env:NINJA_SECRET_OLD"]
//!
//! [[route]]
//! source = "ninja"
//! events = ["ALERT_*", "DEVICE_OFFLINE"]
//! to = "log"
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::secret::SecretEntry;
use crate::auth::signature::{Algorithm, Encoding, KeyEncoding, TimeFormat};
use crate::route::filter::ConditionSpec;

mod assemble;

pub use self::assemble::source_from_config;
pub(crate) use self::assemble::{build_source, resolve_source};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// The listener and request limits.
    pub server: ServerSection,
    /// The deduplication window.
    pub dedup: DedupSection,
    /// The senders (`[[source]]` tables).
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Where events go (`[[route]]` tables).
    #[serde(rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The embedded durable store.
    pub spool: SpoolSection,
    /// Delivery onward from the spool.
    pub delivery: DeliverySection,
    /// The admin API (off unless `listen` is set).
    pub admin: AdminSection,
    /// How logs are written.
    pub log: LogSection,
    /// The NinjaOne API client `hookgate ninjaone` registers with.
    pub ninjaone: NinjaOneSection,
    /// Where alerts go (`[[alert]]` tables).
    #[serde(rename = "alert")]
    pub alerts: Vec<AlertConfig>,
    /// When the spool and refusal alerts go.
    pub alerting: AlertingSection,
    /// Keys found in the file that hookgate does not know (each one is a problem).
    #[serde(skip)]
    pub unknown_keys: Vec<String>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerSection {
    /// Address to listen on.
    pub listen: String,
    /// Largest body accepted, in bytes (413 past it).
    pub max_body_bytes: usize,
    /// Where hookgate keeps its state (the embedded default's secret; later the spool).
    pub data_dir: PathBuf,
    /// How long handlers may take before the event counts as not accepted (503).
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Duration,
    /// How long a client may take to send the request head.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// The most headers a request may carry.
    pub max_headers: usize,
    /// What `Retry-After` says on 409 and 503.
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Runtime worker threads: 0 (default) one per core; 1 a single-threaded runtime (best
    /// latency when the process is pinned to one core); N that many.
    pub worker_threads: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: crate::body::DEFAULT_MAX_BODY_BYTES,
            data_dir: PathBuf::from("hookgate-data"),
            handler_timeout: crate::handler::DEFAULT_HANDLER_TIMEOUT,
            header_read_timeout: Duration::from_secs(10),
            max_headers: 100,
            retry_after: crate::dedup::DEFAULT_RETRY_AFTER,
            shutdown_grace: Duration::from_secs(30),
            worker_threads: 0,
        }
    }
}

/// `[dedup]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DedupSection {
    /// How long processed event ids are remembered.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long a claim stays in flight before another delivery may take it over. Keep it above
    /// `server.handler_timeout`.
    #[serde(with = "humantime_serde")]
    pub in_flight_ttl: Duration,
    /// How many ids are remembered at most (the oldest are forgotten first; in-memory store).
    pub max_entries: usize,
    /// Where the dedup state lives: absent for this process alone (in the spool when it is on,
    /// else in memory), or a `redis://` URL shared by several replicas.
    pub store: Option<String>,
}

impl Default for DedupSection {
    fn default() -> Self {
        Self {
            ttl: crate::dedup::memory::DEFAULT_TTL,
            in_flight_ttl: crate::dedup::memory::DEFAULT_IN_FLIGHT_TTL,
            max_entries: crate::dedup::memory::DEFAULT_MAX_ENTRIES,
            store: None,
        }
    }
}

/// `[spool]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SpoolSection {
    /// Persist every event (fsync'd, group commit) before answering 202, and deliver afterwards.
    /// When off, routes run before the answer and nothing survives a crash.
    pub enabled: bool,
    /// Where the store lives; `<server.data_dir>/spool` when absent.
    pub path: Option<PathBuf>,
    /// Pending deliveries at most; past it new events get 503 with `Retry-After`.
    pub max_pending: u64,
    /// Bytes of pending deliveries at most (bodies, once per destination); past it, 503.
    pub max_bytes: u64,
    /// Free space to keep on the spool's filesystem: below it new events get 503 until space
    /// returns, so the store never fails a write for lack of disk (0 turns the check off).
    pub min_free_bytes: u64,
    /// Delivered events are kept this long for queries and replay, then removed (as are dedup
    /// records past their window). Dead letters and pending deliveries are never removed.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// `[ninjaone]`: the NinjaOne Public API client for `hookgate ninjaone register | status |
/// disable` (flags and `NINJAONE_*` environment variables take precedence).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NinjaOneSection {
    /// Region (`us`, `us2`, `eu`, `ca`, `oc`) or the API's base URL.
    pub region: Option<String>,
    /// The API client's id.
    pub client_id: Option<String>,
    /// Reference (`env:`/`file:`) to the API client's secret.
    pub client_secret: Option<String>,
    /// OAuth2 scopes asked for (default `monitoring management`).
    pub scope: Option<String>,
}

/// `[[alert]]`: an endpoint told when something needs a person ([`crate::delivery::alerts`]).
///
/// ```toml
/// [[alert]]
/// url = "https://ops.example.com/hookgate"
/// secret = "env:ALERT_SECRET"          # signs Standard Webhooks style
/// on = ["circuit", "dead_letter"]      # default: circuit, dead_letter, spool, refusals
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// The `http://` or `https://` URL alerts are POSTed to.
    pub url: String,
    /// Reference (`env:`/`file:`) to the secret alerts are signed with (`webhook-signature`).
    pub secret: Option<String>,
    /// Which alerts: `circuit`, `dead_letter`, `spool`, `refusals` (all when absent).
    pub on: Option<Vec<String>>,
    /// A PEM bundle of the CA certificates the endpoint's certificate must chain to.
    pub ca_file: Option<PathBuf>,
}

/// `[alerting]`: when the spool and refusal alerts go.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingSection {
    /// Share of `spool.max_pending` or `spool.max_bytes` past which the spool alerts.
    pub spool_fill: f64,
    /// Refusals (401, 422) per minute of one source past which it alerts.
    pub refusals_per_minute: u64,
}

impl Default for AlertingSection {
    fn default() -> Self {
        let thresholds = crate::delivery::alerts::Thresholds::default();
        Self {
            spool_fill: thresholds.spool_fill,
            refusals_per_minute: thresholds.refusals_per_minute,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSection {
    /// `text` (one line per record, the default), `pretty` (multi-line, for people) or `json`
    /// (one JSON object per line, for collectors). `HOOKGATE_LOG_FORMAT` overrides it.
    pub format: LogFormat,
}

/// How log records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per record.
    #[default]
    Text,
    /// Several lines per record, with the span's fields laid out.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[admin]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AdminSection {
    /// Address of the admin API; the API is off when absent.
    pub listen: Option<String>,
    /// Reference (`env:`/`file:`) to the bearer token every admin request must carry.
    pub token: Option<String>,
    /// Allow a `listen` address that is not loopback (put TLS in front of it).
    pub allow_remote: bool,
    /// Tenants' tokens (`[[admin.tenant]]`): each sees and changes only its own sources and
    /// their events.
    #[serde(rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

/// `[[admin.tenant]]`: a tenant and its admin token.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TenantConfig {
    /// The tenant's name (sources name it in `tenant`).
    pub name: String,
    /// Reference (`env:`/`file:`) to the tenant's bearer token.
    pub token: String,
}

impl Default for SpoolSection {
    fn default() -> Self {
        let limits = crate::spool::SpoolLimits::default();
        Self {
            enabled: true,
            path: None,
            max_pending: limits.max_pending,
            max_bytes: limits.max_bytes,
            min_free_bytes: limits.min_free_bytes,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `[delivery]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DeliverySection {
    /// Delay before the second attempt.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// Each later delay is this many times the one before.
    pub factor: f64,
    /// No delay is longer than this.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// Give up on an event this long after it was accepted.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How long one attempt at an HTTP upstream may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for DeliverySection {
    fn default() -> Self {
        let policy = crate::delivery::RetryPolicy::default();
        Self {
            initial_delay: policy.initial_delay,
            factor: policy.factor,
            max_delay: policy.max_delay,
            max_attempts: policy.max_attempts,
            max_age: policy.max_age,
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliverySection {
    /// The retry policy these settings describe.
    pub fn policy(&self) -> crate::delivery::RetryPolicy {
        crate::delivery::RetryPolicy {
            initial_delay: self.initial_delay,
            factor: self.factor,
            max_delay: self.max_delay,
            max_attempts: self.max_attempts,
            max_age: self.max_age,
        }
    }
}

impl Config {
    /// Where the spool lives.
    pub fn spool_path(&self) -> PathBuf {
        self.spool
            .path
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("spool"))
    }
}

/// `[[source]]`: one sender.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SourceConfig {
    /// Unique name, used in routes, logs and event ids.
    pub name: String,
    /// The tenant it belongs to: a tenant's admin token sees only its own sources and their
    /// events.
    pub tenant: Option<String>,
    /// `ninjaone`, `ninjarmm`, `webnet`, `homa`, `opscenter` or `generic`.
    pub profile: String,
    /// Path the source is mounted at; `/hooks/<name>` when absent.
    pub path: Option<String>,
    /// Secret references (`env:NAME`, `file:PATH`), or `{ ref = "env:OLD", not_after =
    /// "2026-12-01T00:00:00Z" }` for one that stops being accepted at a given time; any valid
    /// one matches (rotation).
    pub secrets: Vec<SecretEntry>,
    /// The shortest secret accepted (default 16 bytes, never below 8): lower it only for a
    /// sender whose secret cannot be made longer; hookgate warns at start-up.
    pub min_secret_bytes: Option<usize>,
    /// Per-source body cap, overriding `server.max_body_bytes`.
    pub max_body_bytes: Option<usize>,
    /// Accept `gzip`/`deflate` bodies, inflated under this cap and verified on the inflated
    /// bytes; without it a compressed body is 415.
    pub decompress: Option<DecompressConfig>,
    /// How fast the sender may send: past it, 429 `rate_limited` with `Retry-After`. Verified
    /// requests and refused (401) ones have separate budgets.
    pub ingest: Option<IngestConfig>,
    /// Overrides of the profile's authentication.
    pub auth: Option<AuthConfig>,
    /// JSON pointers whose values, joined by `.`, form the event type.
    pub event_type: Option<Vec<String>>,
    /// Places the event id is taken from, tried in order: `"/pointer"`, `"header:Name"`, or a list
    /// of those (a composite).
    pub event_id: Option<Vec<IdPlaceConfig>>,
    /// Request headers kept on the event.
    pub keep_headers: Option<Vec<String>>,
    /// OpenAPI document (YAML or JSON) the source's events are validated against, instead of the
    /// profile's built-in spec.
    pub spec: Option<PathBuf>,
    /// What a mismatch with the spec does: `enforce` (422 for what the sender documents, and
    /// reported for what the spec assumes; the default), `report` (accepted and recorded) or
    /// `off` (no validation). `true`/`false` still read as `enforce`/`off`. Profiles without a
    /// spec never validate.
    pub validate: Option<crate::validate::ValidationMode>,
    /// Event types the spec does not describe: `accept` (default, unvalidated) or `reject` (422).
    pub unknown_events: Option<crate::spec::UnknownEvents>,
    /// Form-encoded bodies: the field holding the JSON (`payload` for github and slack).
    pub form_field: Option<String>,
    /// A sender's endpoint check to answer: `slack`, `zoom`, `microsoft-graph`, `okta`,
    /// `dropbox` (each the default of its profile), or `none`.
    pub handshake: Option<String>,
    /// The one success status the sender counts: 200, 202 or 204 (no body). New events and
    /// duplicates alike are answered with it. Absent: the profile's (200 for zoom, okta and
    /// dropbox, 202 for microsoft-graph), else `202 accepted` and `200 duplicate`.
    pub ack_status: Option<u16>,
}

impl SourceConfig {
    /// The path the source is mounted at.
    pub fn mount_path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("/hooks/{}", self.name))
    }
}

/// `[source.decompress]`: opt-in decompression of compressed bodies
/// ([`crate::auth::decode`]).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DecompressConfig {
    /// Largest inflated body accepted; past it, 413 `decompressed_too_large`.
    pub max_bytes: usize,
}

/// `[source.ingest]`: a source's ingest limits ([`crate::rate`]).
///
/// ```toml
/// ingest = { rate = 50, burst = 200 }                      # verified and refused alike
/// ingest = { rate = 50, burst = 200, failed_rate = 1, failed_burst = 10 }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Verified requests per second, on average.
    pub rate: f64,
    /// Verified requests at once (a full bucket).
    pub burst: u32,
    /// Refused (401) requests per second; `rate` when absent.
    pub failed_rate: Option<f64>,
    /// Refused (401) requests at once; `burst` when absent.
    pub failed_burst: Option<u32>,
}

impl IngestConfig {
    /// The two budgets, or why they cannot be made.
    pub fn limits(&self) -> Result<crate::rate::IngestLimits, crate::rate::RateError> {
        use crate::rate::{IngestLimits, Rate};
        let verified = Rate::new(self.rate, self.burst)?;
        let failed = Rate::new(
            self.failed_rate.unwrap_or(self.rate),
            self.failed_burst.unwrap_or(self.burst),
        )?;
        Ok(IngestLimits::with_failed(verified, failed))
    }
}

/// `[source.auth]`: how requests are authenticated, overriding the profile. For `generic`
/// sources this is the whole description of the sender's signature (see
/// [`SignatureFormat`](crate::auth::SignatureFormat)):
///
/// ```toml
/// [source.auth]                      # Stripe, described by hand
/// header = "Stripe-Signature"
/// separator = ","
/// prefix = "v1="
/// encoding = "hex"
/// algorithm = "sha256"
/// content = "{timestamp}.{body}"
/// timestamp = "signature:t="
/// tolerance = "5m"
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    /// `signature` (HMAC or Ed25519; `hmac` is another name for it) or `token`.
    pub scheme: Option<String>,
    /// Header(s) carrying the signature or token; with several, the first present is read
    /// (`["webhook-signature", "svix-signature"]`).
    pub header: Option<OneOrMany>,
    /// Query-string parameter carrying the signature or token.
    pub query: Option<String>,
    /// Text before each signature or the token (`sha256=`, `v1,`, `Bearer `).
    pub prefix: Option<String>,
    /// Several signatures in one value, separated by this (`" "`, `","`).
    pub separator: Option<String>,
    /// Signature encoding: `hex`, `base64` or `base64url`.
    pub encoding: Option<Encoding>,
    /// `sha1`, `sha256`, `sha512` (HMAC) or `ed25519` (secrets are public keys).
    pub algorithm: Option<Algorithm>,
    /// What is signed: a template over `{id}`, `{timestamp}`, `{body}`, `{method}`, `{url}`.
    pub content: Option<String>,
    /// Where the timestamp is: `header:NAME`, `query:NAME` or `signature:PREFIX` (an item of
    /// the signature value, Stripe's `t=`); several: the first present.
    pub timestamp: Option<OneOrMany>,
    /// `unix` (seconds, the default), `unix_ms` or `rfc3339`.
    pub timestamp_format: Option<TimeFormat>,
    /// Where the id that `{id}` stands for is (`header:webhook-id`); several: the first present.
    pub id: Option<OneOrMany>,
    /// How far a signed timestamp may be from the receipt time (default 5m).
    #[serde(with = "humantime_serde")]
    pub tolerance: Option<Duration>,
    /// How secrets become keys: `raw` (the default) or `base64` (after `whsec_`/`whpk_`).
    pub key: Option<KeyEncoding>,
    /// The URL the sender calls, without the path (`https://hooks.example.com`), for `{url}`.
    pub public_url: Option<String>,
}

/// One string or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several, in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, in order.
    pub fn items(&self) -> Vec<&str> {
        match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One place an event id comes from: a single place or a composite.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum IdPlaceConfig {
    /// `"/pointer"` or `"header:Name"`.
    Single(String),
    /// Several places hashed together.
    Composite(Vec<String>),
}

impl IdPlaceConfig {
    /// The place this names: `"delivery"`, a header or pointer, or a composite of them.
    pub fn place(&self) -> Result<crate::parse::shape::IdPlace, crate::parse::shape::PlaceError> {
        use crate::parse::shape::{IdPart, IdPlace};
        match self {
            Self::Single(text) if text == "delivery" => Ok(IdPlace::Delivery),
            Self::Single(text) => IdPart::parse(text).map(IdPlace::Single),
            Self::Composite(parts) => parts
                .iter()
                .map(|p| IdPart::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map(IdPlace::Composite),
        }
    }
}

/// `[[route]]`: where events of some types from some source go.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct RouteConfig {
    /// The source's name; every source when absent.
    pub source: Option<String>,
    /// Event types: exact names or globs (`ALERT_*`, `job.*`, `*`).
    pub events: Vec<String>,
    /// Conditions on the body and headers that must all hold too (`{ pointer = "/severity",
    /// one_of = ["CRITICAL"] }`, `{ header = "x-env", glob = "prod-*" }`); see
    /// [`route::filter`](crate::route::filter).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<ConditionSpec>,
    /// Destination: `log` prints each event as a JSON line on standard output; an `http://` or
    /// `https://` URL receives each event by POST (the exact bytes, with hookgate's metadata
    /// headers); a `nats://` URL publishes to JetStream; a `redis://` URL appends to a stream.
    pub to: String,
    /// HTTP destinations: request headers of the sender to pass on (credentials never are).
    pub forward_headers: Vec<String>,
    /// HTTP destinations: re-sign deliveries with this secret (`env:`/`file:`), Standard
    /// Webhooks style (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,...`).
    pub sign_secret: Option<String>,
    /// HTTPS destinations: a PEM bundle of the CA certificates the upstream's certificate must
    /// chain to, instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// The destination's name in the delivery log (default: `to`). Routes naming the same
    /// destination must configure it the same way.
    pub name: Option<String>,
    /// NATS destinations: the subject template (`{source}`, `{event}`); default
    /// `webhooks.{source}.{event}`.
    pub subject: Option<String>,
    /// NATS destinations: the JetStream stream (created when `create_stream`); Redis
    /// destinations: the stream key template (default `webhooks`).
    pub stream: Option<String>,
    /// NATS destinations: create the stream if it does not exist.
    pub create_stream: bool,
    /// NATS destinations: the duplicate window of a created stream (default 2m, JetStream's).
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Option<Duration>,
    /// Redis destinations: trim the stream to about this many entries (`MAXLEN ~`).
    pub maxlen: Option<u64>,
    /// Deliveries of events with the same key go to the destination one at a time, in the
    /// order they were accepted: `"/pointer"`, `"header:Name"` (a header the source keeps),
    /// or a list of places tried in order (a list inside it: a composite). Needs the spool.
    pub order_by: Option<OrderByConfig>,
    /// What an ordered delivery that becomes a dead letter does to the later ones of its key:
    /// `block` (they wait until it is retried or released; the default) or `skip`.
    pub on_dead: Option<crate::spool::OnDead>,
    /// Deliveries in flight to the destination at most.
    pub max_in_flight: Option<usize>,
    /// Deliveries started per second at most, on average (a token bucket).
    pub rate: Option<f64>,
    /// Deliveries started at once at most (the bucket's size; `rate` rounded up by default).
    pub burst: Option<u32>,
    /// Start with the destination paused: events are accepted and kept, nothing is sent until
    /// it is resumed (admin API, CLI or inbox).
    pub paused: bool,
    /// The destination's circuit breaker.
    pub circuit: Option<CircuitConfig>,
}

/// `order_by`: one place, or places tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OrderByConfig {
    /// `"/pointer"` or `"header:Name"`.
    One(String),
    /// Places tried in order (each one place, or a list of them: a composite).
    Many(Vec<IdPlaceConfig>),
}

impl OrderByConfig {
    /// The places, in order.
    pub fn places(&self) -> Vec<IdPlaceConfig> {
        match self {
            Self::One(place) => vec![IdPlaceConfig::Single(place.clone())],
            Self::Many(places) => places.clone(),
        }
    }
}

/// `[route.circuit]`: when the destination's circuit opens
/// ([`crate::delivery::controls`]).
///
/// ```toml
/// circuit = { failures = 5, cool_down = "30s" }
/// circuit = { failure_ratio = 0.5, window = "1m", min_attempts = 20, cool_down = "1m" }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitConfig {
    /// Consecutive failed attempts that open it (5 when neither this nor `failure_ratio` is
    /// set).
    pub failures: Option<u32>,
    /// Share of failed attempts over `window` that opens it.
    pub failure_ratio: Option<f64>,
    /// The window of `failure_ratio` (default 1m).
    #[serde(default, with = "humantime_serde")]
    pub window: Option<Duration>,
    /// Attempts in the window before the ratio counts (default 20).
    pub min_attempts: Option<u32>,
    /// How long it stays open before a delivery probes the destination (default 30s).
    #[serde(default, with = "humantime_serde")]
    pub cool_down: Option<Duration>,
}

impl CircuitConfig {
    /// The breaker's settings, or why they cannot be.
    pub fn settings(&self) -> Result<crate::delivery::controls::CircuitSettings, String> {
        let defaults = crate::delivery::controls::CircuitSettings::default();
        if self.failures == Some(0) {
            return Err("circuit.failures must be at least 1".into());
        }
        if let Some(ratio) = self.failure_ratio {
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(format!(
                    "circuit.failure_ratio must be above 0 and at most 1, not {ratio}"
                ));
            }
        }
        let window = self.window.unwrap_or(defaults.window);
        if window.is_zero() {
            return Err("circuit.window must be longer than 0".into());
        }
        let cool_down = self.cool_down.unwrap_or(defaults.cool_down);
        if cool_down.is_zero() {
            return Err("circuit.cool_down must be longer than 0".into());
        }
        let failures = match (self.failures, self.failure_ratio) {
            (None, None) => defaults.failures,
            (failures, _) => failures,
        };
        Ok(crate::delivery::controls::CircuitSettings {
            failures,
            failure_ratio: self.failure_ratio,
            window,
            min_attempts: self.min_attempts.unwrap_or(defaults.min_attempts),
            cool_down,
        })
    }
}

impl RouteConfig {
    /// The destination's name in the delivery log.
    pub fn destination_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.to)
    }

    /// The route without what selects events (source, types, conditions) and how they are
    /// ordered: equal for routes
    /// configuring a destination the same way.
    pub fn destination_settings(&self) -> Self {
        Self {
            source: None,
            events: Vec::new(),
            order_by: None,
            on_dead: None,
            when: Vec::new(),
            ..self.clone()
        }
    }

    /// Does the route set any of the destination's controls?
    pub fn has_controls(&self) -> bool {
        self.max_in_flight.is_some()
            || self.rate.is_some()
            || self.burst.is_some()
            || self.paused
            || self.circuit.is_some()
    }
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            source: None,
            events: vec!["*".into()],
            when: Vec::new(),
            to: String::new(),
            forward_headers: Vec::new(),
            sign_secret: None,
            ca_file: None,
            name: None,
            subject: None,
            stream: None,
            create_stream: false,
            duplicate_window: None,
            maxlen: None,
            order_by: None,
            on_dead: None,
            max_in_flight: None,
            rate: None,
            burst: None,
            paused: false,
            circuit: None,
        }
    }
}

/// Everything wrong with a configuration, one line per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the configuration came from.
    pub origin: String,
    /// Each problem, as a sentence naming what is wrong and where.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{}:",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse TOML text. Unknown keys are kept in [`unknown_keys`](Self::unknown_keys), so that
    /// [`app::build`](crate::app::build) reports them together with every other problem; syntax
    /// and type errors are returned at once.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError {
            origin: origin.to_owned(),
            problems,
        };
        let deserializer =
            toml::de::Deserializer::parse(text).map_err(|e| fail(vec![one_line(&e)]))?;
        let mut unknown = Vec::new();
        let mut config: Config =
            serde_ignored::deserialize(deserializer, |path| unknown.push(path.to_string()))
                .map_err(|e| fail(vec![one_line(&e)]))?;
        config.unknown_keys = unknown;
        Ok(config)
    }

    /// Read and parse a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            problems: vec![format!("cannot read the file: {e}")],
        })?;
        Self::from_toml(&text, &origin)
    }
}

fn one_line(error: &impl fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;

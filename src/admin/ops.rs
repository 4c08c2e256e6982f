//! The delivery log's operations, as JSON: what the admin API answers and the CLI prints.
//!
//! One implementation serves both the HTTP API and `hookgate events` run against a stopped
//! gateway's spool, so the two cannot drift. Every answer is built from the stored event record,
//! which never holds credentials (see [`Source::new`](crate::Source::new)).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{epoch_ms, now_ms};
use crate::delivery::Deliverer;
use crate::delivery::controls::{ControlError, Overrides};
use crate::spool::{
    DeliveryView, EventStatus, EventSummary, Filter, ReplayOf, Spool, SpoolError, StoredEvent,
};

/// Events per page when the query does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// Events per page at most.
pub const MAX_LIMIT: usize = 1000;

/// Why an operation failed; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// A query parameter is wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such event (404).
    #[error("no event {0}")]
    NotFound(u64),
    /// No destination has this name (404).
    #[error("no destination is named {0:?}")]
    NoSuchDestination(String),
    /// The key is not blocked (404).
    #[error("{destination:?} has no blocked key {key:?}")]
    NotBlocked {
        /// The destination.
        destination: String,
        /// The key asked for.
        key: String,
    },
    /// Destination controls live in a running gateway's deliverer (409).
    #[error("destination controls need a running gateway (its admin API)")]
    NotRunning,
    /// The spool failed (500).
    #[error(transparent)]
    Spool(SpoolError),
}

impl From<ControlError> for OpError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::NoSuchDestination(name) => Self::NoSuchDestination(name),
            ControlError::Spool(e) => Self::Spool(e),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<SpoolError> for OpError {
    fn from(error: SpoolError) -> Self {
        match error {
            SpoolError::NoSuchEvent(seq) => Self::NotFound(seq),
            other => Self::Spool(other),
        }
    }
}

impl OpError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::NoSuchDestination(_) | Self::NotBlocked { .. } => {
                http::StatusCode::NOT_FOUND
            }
            Self::NotRunning => http::StatusCode::CONFLICT,
            Self::Spool(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::NoSuchDestination(_) => "no_such_destination",
            Self::NotBlocked { .. } => "not_blocked",
            Self::NotRunning => "not_running",
            Self::Spool(_) => "storage_error",
        }
    }
}

/// Which events: the query string of the admin API, and the flags of `hookgate events`.
///
/// Times (`since`, `until`) are RFC 3339 (`2026-11-23T10:00:00Z`) or an age (`90m`, `2h`: that
/// long ago).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// Source name.
    pub source: Option<String>,
    /// Event type, exact or glob.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Event id.
    pub id: Option<String>,
    /// pending, retrying, delivered, dead or unrouted.
    pub status: Option<String>,
    /// Has a delivery to this destination.
    pub destination: Option<String>,
    /// Received at or after.
    pub since: Option<String>,
    /// Received before.
    pub until: Option<String>,
    /// Page cursor: events below this sequence number (the `next` of the page before).
    pub before: Option<u64>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<usize>,
    /// Bulk operations (replay, purge) need a filter, or this set to true to mean every event.
    pub all: Option<bool>,
    /// Replay only: the destination to deliver to (default: the event's own deliveries).
    pub to: Option<String>,
    /// Only events of these sources: set from the caller's scope, never from the query string.
    #[serde(skip)]
    pub only: Option<Vec<String>>,
}

impl Query {
    /// The query as `key=value` pairs (for the CLI to send to the API).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut push = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        push("source", self.source.clone());
        push("type", self.kind.clone());
        push("id", self.id.clone());
        push("status", self.status.clone());
        push("destination", self.destination.clone());
        push("since", self.since.clone());
        push("until", self.until.clone());
        push("before", self.before.map(|b| b.to_string()));
        push("limit", self.limit.map(|l| l.to_string()));
        push("all", self.all.map(|a| a.to_string()));
        push("to", self.to.clone());
        out
    }

    /// The spool filter this query describes.
    pub fn filter(&self) -> Result<Filter, OpError> {
        let status = match &self.status {
            Some(s) => Some(s.parse::<EventStatus>().map_err(OpError::BadRequest)?),
            None => None,
        };
        Ok(Filter {
            source: self.source.clone(),
            kind: self.kind.clone(),
            id: self.id.clone(),
            status,
            destination: self.destination.clone(),
            since_ms: self.since.as_deref().map(time_ms).transpose()?,
            until_ms: self.until.as_deref().map(time_ms).transpose()?,
            before: self.before,
            sources: self.only.clone(),
        })
    }

    fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// A filter for a bulk operation: refuses an empty one unless `all=true`.
    fn bulk_filter(&self) -> Result<Filter, OpError> {
        let filter = self.filter()?;
        let unscoped = Filter {
            sources: None,
            ..filter.clone()
        };
        if unscoped == Filter::default() && self.all != Some(true) {
            return Err(OpError::BadRequest(
                "a bulk operation needs a filter (source, type, id, status, destination, since, \
                 until, before), or all=true for every event"
                    .into(),
            ));
        }
        Ok(filter)
    }
}

fn time_ms(text: &str) -> Result<u64, OpError> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(epoch_ms(at));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => Ok(now_ms().saturating_sub(u64::try_from(ago.as_millis()).unwrap_or(u64::MAX))),
        Err(_) => Err(OpError::BadRequest(format!(
            "{text:?} is neither an RFC 3339 time nor an age like 2h"
        ))),
    }
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn delivery_json(view: &DeliveryView, with_history: bool) -> Value {
    let d = &view.delivery;
    let mut out = json!({
        "destination": view.destination,
        "status": view.status,
        "attempts": d.attempts,
        "first_at": rfc3339(d.first_at_ms),
        "last_status": d.last_status,
        "last_error": d.last_error,
    });
    if let Some(map) = out.as_object_mut() {
        if matches!(
            view.status,
            crate::spool::DeliveryStatus::Pending | crate::spool::DeliveryStatus::Retrying
        ) {
            map.insert("next_at".into(), json!(rfc3339(d.next_at_ms)));
        }
        if let Some(at) = d.settled_at_ms {
            map.insert("settled_at".into(), json!(rfc3339(at)));
        }
        if with_history {
            let history: Vec<Value> = d
                .history
                .iter()
                .map(|a| {
                    json!({
                        "at": rfc3339(a.at_ms),
                        "status": a.status,
                        "error": a.error,
                        "latency_ms": a.latency_ms,
                    })
                })
                .collect();
            map.insert("history".into(), json!(history));
        }
    }
    out
}

fn summary_json(e: &EventSummary) -> Value {
    json!({
        "seq": e.seq,
        "source": e.source,
        "id": e.id,
        "type": e.kind,
        "received_at": rfc3339(e.received_at_ms),
        "status": e.status,
        "deliveries": e.deliveries.iter().map(|d| delivery_json(d, false)).collect::<Vec<_>>(),
    })
}

fn body_json(event: &StoredEvent) -> (&'static str, Value) {
    match serde_json::from_slice::<Value>(&event.body) {
        Ok(value) => ("body", value),
        Err(_) => (
            "body_base64",
            json!(base64::engine::general_purpose::STANDARD.encode(&event.body)),
        ),
    }
}

/// The delivery log's operations over one spool: each answers the JSON the admin API sends.
#[derive(Clone)]
pub struct Ops {
    spool: Arc<Spool>,
    deliverer: Option<Arc<Deliverer>>,
    destinations: Arc<[String]>,
    registry: Option<Arc<crate::catalog::Registry>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("destinations", &self.destinations)
            .finish_non_exhaustive()
    }
}

impl Ops {
    /// The spool these operations work on.
    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// The destinations a replay may target.
    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }

    /// Operations on `spool`. `destinations` are the names a replay may target; `deliverer`,
    /// when running, is woken after replays.
    pub fn new(
        spool: Arc<Spool>,
        deliverer: Option<Arc<Deliverer>>,
        destinations: Vec<String>,
    ) -> Self {
        Self {
            spool,
            deliverer,
            destinations: destinations.into(),
            registry: None,
        }
    }

    /// Serve the sources API over `registry`, and scope the event log by tenant with it.
    pub fn with_registry(mut self, registry: Arc<crate::catalog::Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The sources registry, when the sources API is on.
    pub fn registry(&self) -> Option<&Arc<crate::catalog::Registry>> {
        self.registry.as_ref()
    }

    /// The sources whose events `scope` may see (`None`: all).
    pub fn visible_sources(&self, scope: &crate::catalog::Scope) -> Option<Vec<String>> {
        match (scope, &self.registry) {
            (crate::catalog::Scope::Global, _) => None,
            (_, Some(registry)) => registry.names(scope),
            (_, None) => Some(Vec::new()),
        }
    }

    /// `NotFound` unless event `seq` is of one of `only` (when given).
    pub fn check_visible(&self, seq: u64, only: Option<&[String]>) -> Result<(), OpError> {
        let Some(only) = only else {
            return Ok(());
        };
        match self.spool.get(seq)? {
            Some(event) if only.contains(&event.source) => Ok(()),
            _ => Err(OpError::NotFound(seq)),
        }
    }

    fn controls(&self) -> Result<&Arc<crate::delivery::Controls>, OpError> {
        self.deliverer
            .as_ref()
            .map(|d| d.controls())
            .ok_or(OpError::NotRunning)
    }

    /// `{"destinations": [...]}`: every destination's controls, circuit, queue (pending, in
    /// flight, waiting) and blocked keys.
    pub fn destinations_view(&self) -> Result<Value, OpError> {
        let controls = self.controls()?;
        let now = tokio::time::Instant::now();
        let lanes = self.spool.lanes();
        let blocked = self.spool.blocked();
        let mut out = Vec::new();
        for name in self.destinations.iter() {
            out.push(self.destination_json(name, controls, now, &lanes, &blocked));
        }
        Ok(json!({ "destinations": out }))
    }

    /// One destination, as in [`destinations_view`](Self::destinations_view).
    pub fn destination(&self, name: &str) -> Result<Value, OpError> {
        let controls = self.controls()?;
        if !self.destinations.iter().any(|d| d == name) {
            return Err(OpError::NoSuchDestination(name.to_owned()));
        }
        let now = tokio::time::Instant::now();
        Ok(self.destination_json(
            name,
            controls,
            now,
            &self.spool.lanes(),
            &self.spool.blocked(),
        ))
    }

    fn destination_json(
        &self,
        name: &str,
        controls: &crate::delivery::Controls,
        now: tokio::time::Instant,
        lanes: &[crate::spool::LaneView],
        blocked: &[crate::spool::BlockedKey],
    ) -> Value {
        let lane = lanes.iter().find(|l| l.destination == name);
        let keys: Vec<Value> = blocked
            .iter()
            .filter(|b| b.destination == name)
            .map(|b| self.blocked_json(b))
            .collect();
        let mut view = match controls.view(name, now) {
            Some(view) => serde_json::to_value(view).unwrap_or_default(),
            None => json!({
                "destination": name, "paused": false, "max_in_flight": null, "rate": null,
                "burst": null, "in_flight": 0, "circuit": "closed", "breaker": false,
                "consecutive_failures": 0, "opened": 0, "open_for_seconds": null,
                "overrides": {},
            }),
        };
        if let Some(map) = view.as_object_mut() {
            map.insert("pending".into(), json!(lane.map_or(0, |l| l.pending)));
            map.insert("waiting".into(), json!(lane.map_or(0, |l| l.waiting)));
            map.insert(
                "ordered_keys".into(),
                json!(lane.map_or(0, |l| l.ordered_keys)),
            );
            map.insert("blocked_keys".into(), Value::Array(keys));
        }
        view
    }

    /// A blocked key, with why: the dead letter's event and its last error.
    fn blocked_json(&self, blocked: &crate::spool::BlockedKey) -> Value {
        let dead = self
            .spool
            .deliveries(blocked.blocked_by)
            .ok()
            .and_then(|all| {
                all.into_iter()
                    .find(|d| d.destination == blocked.destination)
            });
        json!({
            "destination": blocked.destination,
            "key": blocked.key,
            "blocked_by": blocked.blocked_by,
            "waiting": blocked.waiting,
            "last_status": dead.as_ref().and_then(|d| d.delivery.last_status),
            "last_error": dead.as_ref().and_then(|d| d.delivery.last_error.clone()),
            "attempts": dead.as_ref().map(|d| d.delivery.attempts),
        })
    }

    /// Change a destination's runtime controls (pause, resume, `max_in_flight`, `rate`).
    pub async fn change_destination(
        &self,
        name: &str,
        change: Overrides,
    ) -> Result<Value, OpError> {
        self.controls()?.change(name, change).await?;
        self.destination(name)
    }

    /// Drop a destination's runtime changes: back to its configuration.
    pub async fn reset_destination(&self, name: &str) -> Result<Value, OpError> {
        self.controls()?.reset(name).await?;
        self.destination(name)
    }

    /// `{"blocked": [...]}`: every ordering key held back by a dead letter, and why.
    pub fn blocked(&self) -> Value {
        let keys: Vec<Value> = self
            .spool
            .blocked()
            .iter()
            .map(|b| self.blocked_json(b))
            .collect();
        json!({ "blocked": keys })
    }

    /// Let a blocked key go on without its dead letter (which stays a dead letter).
    pub async fn release_key(&self, destination: &str, key: &str) -> Result<Value, OpError> {
        match self.spool.release_key(destination, key).await? {
            Some(seq) => Ok(
                json!({ "released": true, "destination": destination, "key": key, "dead_letter": seq }),
            ),
            None => Err(OpError::NotBlocked {
                destination: destination.to_owned(),
                key: key.to_owned(),
            }),
        }
    }

    /// `{"events": [...], "next": seq | null}`, newest first.
    pub fn list(&self, query: &Query) -> Result<Value, OpError> {
        let limit = query.limit();
        let events = self.spool.list(&query.filter()?, limit)?;
        let next = (events.len() == limit)
            .then(|| events.last().map(|e| e.seq))
            .flatten();
        Ok(json!({
            "events": events.iter().map(summary_json).collect::<Vec<_>>(),
            "next": next,
        }))
    }

    /// The dead letters: like [`list`](Self::list) of dead events, each delivery given up on
    /// with its last error.
    pub fn dead(&self, query: &Query) -> Result<Value, OpError> {
        let mut query = query.clone();
        query.status = Some("dead".into());
        self.list(&query)
    }

    /// One event with its headers, body, every delivery's attempts, and where it does not match
    /// its spec (`mismatches`, empty when it does).
    pub fn show(&self, seq: u64) -> Result<Value, OpError> {
        let (event, deliveries) = self.spool.show(seq)?.ok_or(OpError::NotFound(seq))?;
        let mismatches = self.spool.mismatches(seq)?;
        let status = EventStatus::of(&deliveries);
        let (body_key, body) = body_json(&event);
        let headers: serde_json::Map<String, Value> = event
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let mut out = json!({
            "seq": seq,
            "source": event.source,
            "id": event.id,
            "type": event.kind,
            "received_at": rfc3339(event.received_at_ms),
            "status": status,
            "content_type": event.content_type,
            "headers": headers,
            "mismatches": mismatches,
            "deliveries": deliveries.iter().map(|d| delivery_json(d, true)).collect::<Vec<_>>(),
        });
        if let Some(map) = out.as_object_mut() {
            map.insert(body_key.into(), body);
        }
        Ok(out)
    }

    fn check_destination(&self, destination: Option<&str>) -> Result<(), OpError> {
        match destination {
            Some(d) if !self.destinations.iter().any(|known| known == d) => {
                Err(OpError::BadRequest(format!(
                    "unknown destination {d:?} (known: {})",
                    self.destinations.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }

    fn woke(&self, scheduled: usize) -> Value {
        if scheduled > 0 {
            if let Some(deliverer) = &self.deliverer {
                deliverer.wake();
            }
        }
        json!({ "scheduled": scheduled })
    }

    /// Deliver event `seq` again (to `destination` only, when given).
    pub async fn replay(&self, seq: u64, destination: Option<&str>) -> Result<Value, OpError> {
        self.check_destination(destination)?;
        let n = self.spool.replay(seq, destination, ReplayOf::All).await?;
        Ok(self.woke(n))
    }

    /// Deliver every event matching `query` again.
    pub async fn replay_matching(
        &self,
        query: &Query,
        destination: Option<&str>,
    ) -> Result<Value, OpError> {
        self.check_destination(destination)?;
        let filter = query.bulk_filter()?;
        let n = self
            .spool
            .replay_matching(&filter, destination, ReplayOf::All)
            .await?;
        Ok(self.woke(n))
    }

    /// Retry the dead letters of event `seq`.
    pub async fn retry(&self, seq: u64) -> Result<Value, OpError> {
        let n = self.spool.replay(seq, None, ReplayOf::Dead).await?;
        Ok(self.woke(n))
    }

    /// Retry every dead letter matching `query` (no filter needed: all dead letters).
    pub async fn retry_matching(&self, query: &Query) -> Result<Value, OpError> {
        let n = self
            .spool
            .replay_matching(&query.filter()?, None, ReplayOf::Dead)
            .await?;
        Ok(self.woke(n))
    }

    /// Remove the settled events matching `query` (pending ones are kept).
    pub async fn purge(&self, query: &Query) -> Result<Value, OpError> {
        let n = self.spool.purge(&query.bulk_filter()?).await?;
        Ok(json!({ "purged": n }))
    }
}

//! Alerts: tell an operator's endpoint when something needs a person.
//!
//! An `[[alert]]` is an HTTP URL that gets a signed JSON POST (Standard Webhooks style:
//! `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`, the same
//! signing as a route's `sign_secret`) when:
//!
//! * a destination's circuit **opens**, and when it **closes** again;
//! * a delivery becomes a **dead letter**;
//! * the spool **fills** past a share of its `max_pending` or `max_bytes` (and when it is back
//!   below most of that);
//! * a source's **refusals** (401 and 422 answers) pass a rate per minute (and when they fall
//!   back under half of it).
//!
//! Each alert goes **once per episode**: a circuit alerts when it opens, not again while it
//! probes and reopens, and once more when it closes; dead letters alert once per destination
//! until a delivery to it succeeds again; the spool and refusal alerts once per crossing, with
//! a margin before the next one so that a value hovering at the line does not flap.
//!
//! Alerts are sent from a task of their own, each tried 3 times with a growing pause; they are
//! not spooled (an alert about a full spool could not be). Failures are logged.
//!
//! The body: `{"type": "circuit.opened", "timestamp": "<RFC 3339>", "data": {...}}` with `type`
//! one of `circuit.opened`, `circuit.closed`, `delivery.dead`, `spool.filling`,
//! `spool.recovered`, `source.refusals`, `source.refusals_recovered`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Destination, HttpDestination, Outcome};
use crate::clock::now_ms;
use crate::spool::{Spool, SpoolLimits, StoredEvent};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A destination's circuit opened.
    CircuitOpened,
    /// A destination's circuit closed.
    CircuitClosed,
    /// A delivery became a dead letter.
    DeadLetter,
    /// The spool filled past its threshold.
    SpoolFilling,
    /// The spool is back below its threshold.
    SpoolRecovered,
    /// A source's refusals passed their rate.
    Refusals,
    /// A source's refusals fell back.
    RefusalsRecovered,
}

impl AlertKind {
    /// The `type` in the alert's body.
    pub fn name(self) -> &'static str {
        match self {
            Self::CircuitOpened => "circuit.opened",
            Self::CircuitClosed => "circuit.closed",
            Self::DeadLetter => "delivery.dead",
            Self::SpoolFilling => "spool.filling",
            Self::SpoolRecovered => "spool.recovered",
            Self::Refusals => "source.refusals",
            Self::RefusalsRecovered => "source.refusals_recovered",
        }
    }

    /// The group `on` names in the configuration: `circuit`, `dead_letter`, `spool`,
    /// `refusals`.
    pub fn group(self) -> &'static str {
        match self {
            Self::CircuitOpened | Self::CircuitClosed => "circuit",
            Self::DeadLetter => "dead_letter",
            Self::SpoolFilling | Self::SpoolRecovered => "spool",
            Self::Refusals | Self::RefusalsRecovered => "refusals",
        }
    }
}

/// The groups of alerts there are.
pub const GROUPS: [&str; 4] = ["circuit", "dead_letter", "spool", "refusals"];

/// One alert endpoint and what it is told.
#[derive(Debug, Clone)]
pub struct AlertTarget {
    /// Where alerts are POSTed, signed when the destination signs.
    pub destination: HttpDestination,
    /// The groups it gets ([`GROUPS`]).
    pub groups: HashSet<String>,
}

/// When the spool and refusal alerts go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Share of `max_pending` or `max_bytes` past which the spool alerts (0 < x <= 1).
    pub spool_fill: f64,
    /// Refusals (401, 422) per minute of one source past which it alerts.
    pub refusals_per_minute: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            spool_fill: 0.8,
            refusals_per_minute: 60,
        }
    }
}

/// What runs beside the server: the sender of raised alerts, and the watch over the spool's
/// fill and the sources' refusals.
pub struct AlertsTask {
    alerts: Arc<Alerts>,
    sender: futures_util::future::BoxFuture<'static, ()>,
    spool: Option<Arc<Spool>>,
    limits: SpoolLimits,
    thresholds: Thresholds,
}

impl std::fmt::Debug for AlertsTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsTask")
            .field("alerts", &self.alerts)
            .field("thresholds", &self.thresholds)
            .finish_non_exhaustive()
    }
}

/// How often the spool's fill and the refusal rates are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

impl AlertsTask {
    /// Send alerts and watch until `shutdown`; alerts still queued then get a second to go.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            alerts,
            sender,
            spool,
            limits,
            thresholds,
        } = self;
        let sending = tokio::spawn(sender);
        alerts
            .clone()
            .watch(spool, limits, thresholds, WATCH_EVERY, shutdown)
            .await;
        alerts.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), sending).await;
    }
}

/// Raises alerts, once per episode; see the [module docs](self).
#[derive(Debug)]
pub struct Alerts {
    targets: Arc<[AlertTarget]>,
    queue: Mutex<Option<mpsc::UnboundedSender<(AlertKind, Value)>>>,
    /// Destinations with a dead letter since their last successful delivery.
    dead: Mutex<HashSet<String>>,
}

impl Alerts {
    /// Alerts to `targets`, and the task that sends them and watches the spool (`limits`) and
    /// the sources, past `thresholds` (run it beside the server).
    pub fn new(
        targets: Vec<AlertTarget>,
        spool: Option<Arc<Spool>>,
        limits: SpoolLimits,
        thresholds: Thresholds,
    ) -> (Arc<Self>, AlertsTask) {
        let (queue, rx) = mpsc::unbounded_channel();
        let targets: Arc<[AlertTarget]> = targets.into();
        let alerts = Arc::new(Self {
            targets: Arc::clone(&targets),
            queue: Mutex::new(Some(queue)),
            dead: Mutex::new(HashSet::new()),
        });
        let task = AlertsTask {
            alerts: Arc::clone(&alerts),
            sender: Box::pin(send_loop(targets, rx)),
            spool,
            limits,
            thresholds,
        };
        (alerts, task)
    }

    /// Raise an alert now (no episode check: callers that have episodes keep them).
    pub fn raise(&self, kind: AlertKind, data: Value) {
        if !self.targets.iter().any(|t| t.groups.contains(kind.group())) {
            return;
        }
        tracing::info!(alert = kind.name(), "raising an alert");
        let queue = match self.queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(queue) = queue.as_ref() {
            let _ = queue.send((kind, data));
        }
    }

    /// Take no more alerts: the sender ends once it sent what is queued.
    fn close(&self) {
        match self.queue.lock() {
            Ok(mut queue) => *queue = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    /// A delivery to `destination` became a dead letter: an alert, unless one went since its
    /// last successful delivery.
    pub fn dead_letter(&self, destination: &str, data: Value) {
        let first = match self.dead.lock() {
            Ok(mut dead) => dead.insert(destination.to_owned()),
            Err(poisoned) => poisoned.into_inner().insert(destination.to_owned()),
        };
        if first {
            self.raise(AlertKind::DeadLetter, data);
        }
    }

    /// A delivery to `destination` was made: its dead-letter episode is over.
    pub fn delivered(&self, destination: &str) {
        let mut dead = match self.dead.lock() {
            Ok(dead) => dead,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !dead.is_empty() {
            dead.remove(destination);
        }
    }

    /// Watch the spool's fill and the sources' refusals every `every`, until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        spool: Option<Arc<Spool>>,
        limits: SpoolLimits,
        thresholds: Thresholds,
        every: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut watch = Watch::new(thresholds);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Some(spool) = &spool {
                let fill = fill(spool, &limits);
                if let Some((kind, data)) = watch.spool(fill) {
                    self.raise(kind, data);
                }
            }
            for (kind, data) in watch.refusals(Instant::now(), &crate::observe::refusal_counts()) {
                self.raise(kind, data);
            }
        }
    }
}

/// The larger of the spool's shares of `max_pending` and `max_bytes`.
fn fill(spool: &Spool, limits: &SpoolLimits) -> f64 {
    let share = |used: u64, max: u64| {
        if max == 0 {
            0.0
        } else {
            used as f64 / max as f64
        }
    };
    share(spool.pending_len() as u64, limits.max_pending)
        .max(share(spool.pending_bytes(), limits.max_bytes))
}

/// The spool's and the sources' episodes.
#[derive(Debug)]
struct Watch {
    thresholds: Thresholds,
    spool_filling: bool,
    /// Per source: its refusal counts over the last minute, oldest first, and whether it is
    /// in an episode.
    sources: HashMap<String, (VecDeque<(Instant, u64)>, bool)>,
}

impl Watch {
    fn new(thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            spool_filling: false,
            sources: HashMap::new(),
        }
    }

    fn spool(&mut self, fill: f64) -> Option<(AlertKind, Value)> {
        let line = self.thresholds.spool_fill;
        if !self.spool_filling && fill >= line {
            self.spool_filling = true;
            return Some((
                AlertKind::SpoolFilling,
                json!({ "fill": fill, "threshold": line }),
            ));
        }
        // Back under 90% of the line ends the episode.
        if self.spool_filling && fill < line * 0.9 {
            self.spool_filling = false;
            return Some((
                AlertKind::SpoolRecovered,
                json!({ "fill": fill, "threshold": line }),
            ));
        }
        None
    }

    /// The alerts the refusal counts (cumulative, per source) call for at `now`.
    fn refusals(&mut self, now: Instant, counts: &[(String, u64)]) -> Vec<(AlertKind, Value)> {
        const WINDOW: Duration = Duration::from_secs(60);
        let limit = self.thresholds.refusals_per_minute;
        let mut out = Vec::new();
        for (source, count) in counts {
            let (history, alerting) = self.sources.entry(source.clone()).or_insert_with(|| {
                // A source seen for the first time had none at the last look: every one of its
                // refusals came since.
                (VecDeque::from([(now, 0)]), false)
            });
            history.push_back((now, *count));
            while history
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > WINDOW)
            {
                history.pop_front();
            }
            let oldest = history.front().map_or(*count, |(_, c)| *c);
            let in_window = count.saturating_sub(oldest);
            if !*alerting && in_window > limit {
                *alerting = true;
                out.push((
                    AlertKind::Refusals,
                    json!({ "source": source, "refusals_last_minute": in_window, "threshold": limit }),
                ));
            } else if *alerting && in_window <= limit / 2 {
                *alerting = false;
                out.push((
                    AlertKind::RefusalsRecovered,
                    json!({ "source": source, "refusals_last_minute": in_window, "threshold": limit }),
                ));
            }
        }
        out
    }
}

/// Send what is raised, to every target that wants it, each tried 3 times.
async fn send_loop(
    targets: Arc<[AlertTarget]>,
    mut rx: mpsc::UnboundedReceiver<(AlertKind, Value)>,
) {
    while let Some((kind, data)) = rx.recv().await {
        let mut id = [0u8; 12];
        let _ = getrandom::fill(&mut id);
        let id = format!("alert_{}", hex::encode(id));
        let received = now_ms();
        let at = std::time::UNIX_EPOCH + Duration::from_millis(received);
        let body = json!({
            "type": kind.name(),
            "timestamp": humantime::format_rfc3339_millis(at).to_string(),
            "data": data,
        });
        let event = StoredEvent {
            source: "hookgate".into(),
            id,
            kind: kind.name().into(),
            received_at_ms: received,
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        };
        for target in targets.iter().filter(|t| t.groups.contains(kind.group())) {
            let mut pause = Duration::from_millis(200);
            for attempt in 1..=3 {
                match target.destination.deliver(&event).await {
                    Outcome::Delivered { .. } => break,
                    Outcome::Permanent { error, .. } => {
                        tracing::warn!(alert = kind.name(), %error, "the alert endpoint refused an alert");
                        break;
                    }
                    Outcome::Retry { error, .. } if attempt == 3 => {
                        tracing::warn!(alert = kind.name(), %error, "cannot send an alert; giving up");
                    }
                    Outcome::Retry { .. } => {
                        tokio::time::sleep(pause).await;
                        pause *= 4;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_alerts_once_per_crossing_with_a_margin() {
        let mut watch = Watch::new(Thresholds::default());
        assert!(watch.spool(0.5).is_none());
        assert_eq!(watch.spool(0.8).unwrap().0, AlertKind::SpoolFilling);
        assert!(watch.spool(0.95).is_none(), "once per episode");
        assert!(watch.spool(0.75).is_none(), "inside the margin");
        assert_eq!(watch.spool(0.7).unwrap().0, AlertKind::SpoolRecovered);
        assert!(watch.spool(0.7).is_none());
        assert_eq!(watch.spool(0.9).unwrap().0, AlertKind::SpoolFilling);
    }

    #[test]
    fn refusals_alert_once_past_their_rate_and_again_after_falling_back() {
        let mut watch = Watch::new(Thresholds {
            refusals_per_minute: 10,
            ..Thresholds::default()
        });
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let counts = |n: u64| vec![("homa".to_owned(), n)];
        assert!(
            watch.refusals(at(0), &counts(5)).is_empty(),
            "5 since the start"
        );
        assert!(watch.refusals(at(10), &counts(9)).is_empty());
        let raised = watch.refusals(at(20), &counts(11));
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].0, AlertKind::Refusals);
        assert_eq!(raised[0].1["refusals_last_minute"], 11);
        assert!(watch.refusals(at(30), &counts(40)).is_empty(), "once");
        assert!(
            watch.refusals(at(75), &counts(40)).is_empty(),
            "still 29 in the window"
        );
        // A quiet minute later: back under half the rate.
        let recovered = watch.refusals(at(95), &counts(40));
        assert_eq!(recovered[0].0, AlertKind::RefusalsRecovered);
    }

    #[test]
    fn dead_letters_alert_once_per_destination_until_a_delivery_succeeds() {
        let (alerts, _task) = Alerts::new(
            vec![AlertTarget {
                destination: HttpDestination::new(
                    "http://127.0.0.1:9/alerts".parse().unwrap(),
                    Duration::from_secs(1),
                )
                .unwrap(),
                groups: GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            }],
            None,
            SpoolLimits::default(),
            Thresholds::default(),
        );
        let dead = |alerts: &Alerts| alerts.dead.lock().unwrap().clone();
        alerts.dead_letter("up", json!({}));
        alerts.dead_letter("up", json!({}));
        assert_eq!(dead(&alerts).len(), 1);
        alerts.delivered("up");
        assert!(dead(&alerts).is_empty());
    }
}

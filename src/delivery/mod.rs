//! Delivery: take accepted events from the [`Spool`] to their destinations, at least once.
//!
//! A [`Deliverer`] works through the spool's pending deliveries: each goes to its
//! [`Destination`], and the [`Outcome`] decides what happens next:
//!
//! * delivered: forgotten;
//! * retry (a 5xx, 408, 429, a timeout, a refused connection): tried again after an exponential
//!   backoff with jitter ([`RetryPolicy`]), or after the destination's `Retry-After` when longer;
//! * permanent (any other 4xx), or out of attempts or age: moved to the dead letters.
//!
//! Deliveries run continuously, up to 64 at once: a new one starts as soon as one ends, so a
//! slow destination does not hold back the others. What each destination may start is bounded
//! by its [`controls`] (paused, `max_in_flight`, `rate`, circuit breaker), and deliveries with
//! the same ordering key (a route's `order_by`) go one at a time in acceptance order (the
//! spool's due index keeps that order). Without `order_by`, order is not promised; the event id
//! travels with every delivery so the receiving end can deduplicate. Because state lives in the
//! spool, a restart picks up where the last run stopped.

pub mod alerts;
pub mod controls;
pub mod handlers;
pub mod http;
pub mod nats;
mod readiness;
pub mod redis_dedup;
pub mod redis_stream;
pub mod spooled;
mod template;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

use self::controls::Health;
pub use self::controls::{ControlSettings, Controls};
pub use self::handlers::RouterDestination;
pub use self::http::HttpDestination;
pub use self::readiness::DestinationReadiness;
pub use self::redis_dedup::RedisStore;
pub use self::spooled::{Spooled, SpooledParts};
use crate::clock::now_ms;
use crate::observe;
use crate::spool::{Attempt, Due, Spool, StoredEvent};

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination has the event.
    Delivered {
        /// HTTP status of the answer, for destinations that speak HTTP.
        status: Option<u16>,
    },
    /// Try again; `after` is the destination's own `Retry-After`, if it gave one.
    Retry {
        /// The destination's requested delay.
        after: Option<Duration>,
        /// HTTP status, if there was a response.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
    /// Retrying will not help (a 4xx other than 408 and 429).
    Permanent {
        /// HTTP status, if there was a response.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// Somewhere events are delivered to.
pub trait Destination: Send + Sync + 'static {
    /// Deliver one event.
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome>;

    /// Can the destination take events now? `/readyz` asks the brokers (NATS, Redis); the
    /// default, for destinations whose outages the spool rides out (HTTP upstreams, the log),
    /// is yes. The error says what is wrong, without credentials.
    fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// The `log` destination: one JSON line per event on standard output.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogDestination;

impl Destination for LogDestination {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let body: serde_json::Value = serde_json::from_slice(&event.body)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&event.body)));
            let received = std::time::UNIX_EPOCH + Duration::from_millis(event.received_at_ms);
            let line = json!({
                "received_at": humantime::format_rfc3339_millis(received).to_string(),
                "source": event.source,
                "id": event.id,
                "type": event.kind,
                "event": body,
            });
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|()| out.flush()) {
                Ok(()) => Outcome::Delivered { status: None },
                Err(e) => Outcome::Retry {
                    after: None,
                    status: None,
                    error: format!("standard output: {e}"),
                },
            }
        })
    }
}

/// When to try again, and when to give up.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Each later delay is this many times the one before.
    pub factor: f64,
    /// No delay is longer than this.
    pub max_delay: Duration,
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// Give up on an event this long after it was accepted.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(3600),
            max_attempts: 20,
            max_age: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts: exponential, capped, with jitter (between half
    /// and all of it) so that a destination coming back is not hit by every retry at once.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exponent = i32::try_from(attempts.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_delay.as_secs_f64() * self.factor.powi(exponent);
        let capped = base.min(self.max_delay.as_secs_f64());
        let mut random = [0u8; 4];
        let unit = match getrandom::fill(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        Duration::from_secs_f64(capped * (0.5 + unit / 2.0))
    }
}

/// Drains the spool's pending deliveries; see the [module docs](self).
pub struct Deliverer {
    spool: Arc<Spool>,
    destinations: HashMap<String, Arc<dyn Destination>>,
    policy: RetryPolicy,
    controls: Arc<Controls>,
    alerts: Option<Arc<alerts::Alerts>>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field(
                "destinations",
                &self.destinations.keys().collect::<Vec<_>>(),
            )
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How many deliveries run at once: a new one starts as soon as one ends (not in lockstep
/// groups, which left the slots of the fast ones idle while the slowest finished).
const CONCURRENCY: usize = 64;
/// Due deliveries [`Deliverer::run_once`] takes.
const ROUND: usize = CONCURRENCY * 8;
/// On shutdown, how long deliveries already started may take to finish (and be recorded)
/// before the deliverer stops; none is started after the shutdown signal. One cut short is
/// attempted again after the restart (at least once: the destination may see it twice).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the spool is looked at when nothing wakes the deliverer.
const IDLE_POLL: Duration = Duration::from_millis(500);

impl Deliverer {
    /// A deliverer for `spool` with these named destinations.
    pub fn new(
        spool: Arc<Spool>,
        destinations: HashMap<String, Arc<dyn Destination>>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            spool,
            destinations,
            policy,
            controls: Arc::new(Controls::default()),
            alerts: None,
        }
    }

    /// Raise an alert when a delivery becomes a dead letter (once per destination until one
    /// to it succeeds again).
    pub fn with_alerts(mut self, alerts: Arc<alerts::Alerts>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Hold deliveries back by these [`Controls`] (paused, `max_in_flight`, `rate`, circuit
    /// breakers); without them every destination takes what is due.
    pub fn with_controls(mut self, controls: Arc<Controls>) -> Self {
        self.controls = controls;
        self
    }

    /// The destinations' controls (the admin API changes them at runtime).
    pub fn controls(&self) -> &Arc<Controls> {
        &self.controls
    }

    /// Look at the spool now (new events were accepted): [`Spool::wake_deliverer`].
    pub fn wake(&self) {
        self.spool.wake_deliverer();
    }

    /// Attempt what may be attempted now (at most 512, 64 at a time) and wait for them;
    /// returns how many were attempted. [`run`](Self::run) is what a gateway runs.
    pub async fn run_once(&self) -> usize {
        let (due, _) = self.take(ROUND);
        let attempted = due.len();
        futures_util::stream::iter(&due)
            .for_each_concurrent(CONCURRENCY, |d| self.attempt(d))
            .await;
        attempted
    }

    /// Take at most `limit` deliveries that may start now, within each destination's controls.
    /// Also says when the next delivery of a destination not held back falls due.
    fn take(&self, limit: usize) -> (Vec<Due>, Option<u64>) {
        let now = tokio::time::Instant::now();
        let taken = self
            .spool
            .take_due(now_ms(), limit, |d| self.controls.allowance(d, now));
        match taken {
            Ok((due, next)) => {
                let mut i = 0;
                while i < due.len() {
                    let destination = &due[i].destination;
                    let n = due[i..]
                        .iter()
                        .take_while(|d| &d.destination == destination)
                        .count();
                    self.controls.started(destination, now, n);
                    i += n;
                }
                (due, next)
            }
            Err(error) => {
                tracing::error!(%error, "cannot read pending deliveries");
                (Vec::new(), None)
            }
        }
    }

    /// Run until `shutdown` completes; then let the deliveries already started finish, for at
    /// most 5 seconds, and start no other (what is pending stays in the spool).
    ///
    /// Up to 64 deliveries run at once; whenever one ends, or new work is
    /// signalled ([`Spool::wake_deliverer`]), or a delivery falls due, or a held-back
    /// destination may go again (a rate token, a circuit's cool-down), more are taken.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut running = FuturesUnordered::new();
        loop {
            let mut next_due_ms = None;
            if running.len() < CONCURRENCY {
                let (due, next) = self.take(CONCURRENCY - running.len());
                next_due_ms = next;
                for one in due {
                    running.push(self.attempt_owned(one));
                }
            }
            let now = tokio::time::Instant::now();
            let mut wait = IDLE_POLL;
            if let Some(at) = next_due_ms {
                wait = wait.min(Duration::from_millis(at.saturating_sub(now_ms())));
            }
            if let Some(at) = self.controls.next_change(now) {
                wait = wait.min(at.saturating_duration_since(now));
            }
            let wait = wait.max(Duration::from_millis(1));
            tokio::select! {
                () = &mut shutdown => {
                    let drain = async { while running.next().await.is_some() {} };
                    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                        tracing::warn!("deliveries still running at shutdown were cut short; they will be attempted again");
                    }
                    return;
                }
                Some(()) = running.next(), if !running.is_empty() => {}
                () = self.spool.deliverer_woken() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// [`attempt`](Self::attempt), owning what it needs (for the set of running attempts).
    fn attempt_owned(self: &Arc<Self>, due: Due) -> impl std::future::Future<Output = ()> + use<> {
        let this = Arc::clone(self);
        async move { this.attempt(&due).await }
    }

    async fn attempt(&self, due: &Due) {
        let event = match self.spool.get(due.seq) {
            Ok(Some(event)) => event,
            Ok(None) => {
                tracing::error!(seq = due.seq, "pending delivery of an event that is gone");
                if self.spool.drop_pending(due).await.is_err() {
                    self.spool.release(due);
                }
                self.controls.finished(
                    &due.destination,
                    tokio::time::Instant::now(),
                    Health::Unknown,
                );
                return;
            }
            Err(error) => {
                tracing::error!(%error, seq = due.seq, "cannot read a spooled event");
                self.spool.release(due);
                self.controls.finished(
                    &due.destination,
                    tokio::time::Instant::now(),
                    Health::Unknown,
                );
                return;
            }
        };
        let started = tokio::time::Instant::now();
        let at_ms = now_ms();
        let outcome = match self.destinations.get(&due.destination) {
            Some(destination) => destination.deliver(&event).await,
            None => Outcome::Permanent {
                status: None,
                error: format!("destination {:?} is no longer configured", due.destination),
            },
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let health = match &outcome {
            Outcome::Retry { .. } => Health::Failed,
            Outcome::Delivered { .. } | Outcome::Permanent { .. } => Health::Up,
        };
        self.controls
            .finished(&due.destination, tokio::time::Instant::now(), health);
        let (status, error) = match &outcome {
            Outcome::Delivered { status } => (*status, None),
            Outcome::Retry { status, error, .. } | Outcome::Permanent { status, error } => {
                (*status, Some(error.clone()))
            }
        };
        let mut next = due.delivery.clone();
        next.record(Attempt {
            at_ms,
            status,
            error,
            latency_ms,
        });
        let result = match outcome {
            Outcome::Delivered { .. } => {
                tracing::debug!(id = %event.id, destination = %due.destination, "delivered");
                count(&due.destination, "delivered");
                if let Some(alerts) = &self.alerts {
                    alerts.delivered(&due.destination);
                }
                self.spool.delivered(due, &next).await
            }
            Outcome::Retry { after, .. } => {
                let delay = self
                    .policy
                    .delay(next.attempts)
                    .max(after.unwrap_or_default());
                let next_at =
                    now_ms().saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
                let age_limit = next.first_at_ms.saturating_add(
                    u64::try_from(self.policy.max_age.as_millis()).unwrap_or(u64::MAX),
                );
                if next.attempts >= self.policy.max_attempts || next_at > age_limit {
                    tracing::warn!(id = %event.id, destination = %due.destination, attempts = next.attempts, "giving up; dead letter");
                    count(&due.destination, "dead");
                    self.alert_dead(due, &event, &next);
                    self.spool.bury(due, &next).await
                } else {
                    next.next_at_ms = next_at;
                    tracing::debug!(id = %event.id, destination = %due.destination, attempts = next.attempts, ?delay, "will retry");
                    count(&due.destination, "failed");
                    metrics::counter!(observe::RETRIES, "destination" => due.destination.clone())
                        .increment(1);
                    self.spool.reschedule(due, &next).await
                }
            }
            Outcome::Permanent { .. } => {
                tracing::warn!(id = %event.id, destination = %due.destination, "refused by the destination; dead letter");
                count(&due.destination, "dead");
                self.alert_dead(due, &event, &next);
                self.spool.bury(due, &next).await
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot record a delivery outcome; it will be attempted again");
            self.spool.release(due);
        }
    }
}

impl Deliverer {
    fn alert_dead(&self, due: &Due, event: &StoredEvent, delivery: &crate::spool::Delivery) {
        if let Some(alerts) = &self.alerts {
            alerts.dead_letter(
                &due.destination,
                json!({
                    "destination": due.destination,
                    "seq": due.seq,
                    "source": event.source,
                    "event_id": event.id,
                    "event_type": event.kind,
                    "attempts": delivery.attempts,
                    "last_status": delivery.last_status,
                    "last_error": delivery.last_error,
                    "blocks_key": delivery.order.as_ref().filter(|o| o.blocks()).map(|o| &o.key),
                }),
            );
        }
    }
}

/// Count one delivery attempt's result (and a dead letter when it is one).
fn count(destination: &str, result: &'static str) {
    metrics::counter!(observe::DELIVERIES, "destination" => destination.to_owned(), "result" => result)
        .increment(1);
    if result == "dead" {
        metrics::counter!(observe::DEAD_LETTERS, "destination" => destination.to_owned())
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes every event at once.
    struct Sink;

    impl Destination for Sink {
        fn deliver<'a>(&'a self, _: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
            Box::pin(async { Outcome::Delivered { status: Some(200) } })
        }
    }

    fn event(n: usize) -> StoredEvent {
        StoredEvent {
            source: "s".into(),
            id: n.to_string(),
            kind: "k".into(),
            received_at_ms: 0,
            content_type: None,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        }
    }

    /// A deliverer from `spool` to `destination` (named `d`), running until `stop` is sent.
    fn start(
        spool: &Arc<Spool>,
        destination: impl Destination,
    ) -> (
        Arc<Deliverer>,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let destinations: HashMap<String, Arc<dyn Destination>> = HashMap::from([(
            "d".to_owned(),
            Arc::new(destination) as Arc<dyn Destination>,
        )]);
        let deliverer = Arc::new(Deliverer::new(
            Arc::clone(spool),
            destinations,
            RetryPolicy::default(),
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(Arc::clone(&deliverer).run(async move {
            let _ = stopped.await;
        }));
        (deliverer, stop, running)
    }

    /// Events are delivered while more are accepted; a delivery settled before its accepting
    /// task resumed used to be lost from the pending count (it could only drift up).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pending_count_is_zero_once_everything_is_delivered() {
        let dir = std::env::temp_dir().join(format!("hookgate-pending-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let (deliverer, stop, running) = start(&spool, Sink);
        let accepting: Vec<_> = (0..32)
            .map(|task| {
                let spool = Arc::clone(&spool);
                tokio::spawn(async move {
                    for n in 0..50 {
                        spool
                            .accept(&event(task * 50 + n), &["d".to_owned()], Vec::new())
                            .await
                            .unwrap();
                        spool.wake_deliverer();
                    }
                })
            })
            .collect();
        for task in accepting {
            task.await.unwrap();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !spool.due(u64::MAX, 1).unwrap().is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nothing is due, but the last attempts may not have counted themselves settled yet:
        // their commit is done before their task runs again. Stopping the deliverer waits for
        // the attempts it started; after that the count is final.
        let _ = stop.send(());
        running.await.unwrap();
        assert_eq!(spool.pending_len(), 0, "every delivery settled");
        drop(deliverer);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Shutdown does not wait for the backlog: deliveries not yet started stay pending.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_leaves_the_backlog_in_the_spool() {
        struct Slow;
        impl Destination for Slow {
            fn deliver<'a>(&'a self, _: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Outcome::Delivered { status: Some(200) }
                })
            }
        }
        let dir = std::env::temp_dir().join(format!("hookgate-backlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        for n in 0..2000 {
            spool
                .accept(&event(n), &["d".to_owned()], Vec::new())
                .await
                .unwrap();
        }
        let (deliverer, stop, running) = start(&spool, Slow);
        tokio::time::sleep(Duration::from_millis(120)).await;
        let _ = stop.send(());
        // At 64 at a time and 50 ms each, the backlog would take about 1.6 s to deliver.
        tokio::time::timeout(Duration::from_millis(800), running)
            .await
            .expect("the deliverer stops with its started deliveries")
            .unwrap();
        let left = spool.pending_len();
        assert!(
            left > 1000,
            "{left} pending: the backlog stays for the restart"
        );
        drop(deliverer);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        for (attempts, full) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (4, 8.0),
            (5, 10.0),
            (30, 10.0),
        ] {
            let d = policy.delay(attempts).as_secs_f64();
            assert!(
                d >= full / 2.0 - 1e-9 && d <= full + 1e-9,
                "{attempts}: {d}"
            );
        }
    }
}

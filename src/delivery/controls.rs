//! Destination controls: how many deliveries may be in flight to a destination, how fast they
//! may start, whether it is paused, and its circuit breaker.
//!
//! The [`Deliverer`](super::Deliverer) asks [`Controls::allowance`] how many more deliveries a
//! destination may start now before it takes any from the spool, so a destination that is held
//! back costs nothing and its events stay pending (accepted and kept, nothing sent):
//!
//! * **paused**: none, until resumed;
//! * **`max_in_flight`**: no more than this many at once;
//! * **`rate`**: a token bucket, `rate` deliveries per second on average, `burst` at once;
//! * **circuit breaker**: after `failures` consecutive failed attempts, or a failure ratio of
//!   `failure_ratio` over the last `window` (once `min_attempts` were made in it), the circuit
//!   **opens** and nothing is sent for `cool_down`; then it is **half open** and one delivery
//!   probes the destination: success closes the circuit, failure opens it again. A failed
//!   attempt is one that will be retried (a 5xx, 408, 429, timeout or refused connection); a
//!   destination that answers 4xx is up, so that counts as a success here.
//!
//! Each destination's state is a gauge on `/metrics` and every transition is logged. Pause,
//! resume and changes of `max_in_flight` and `rate` may also come at runtime (admin API, CLI,
//! inbox); they are stored in the spool, so a pause survives a restart, until they are reset to
//! the configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::observe;
use crate::rate::{Bucket, Rate, RateError};
use crate::spool::{Spool, SpoolError};

/// A destination's controls as configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlSettings {
    /// Deliveries in flight at most (none: no limit beyond the deliverer's own).
    pub max_in_flight: Option<usize>,
    /// Deliveries started per second, and at once.
    pub rate: Option<Rate>,
    /// Start paused.
    pub paused: bool,
    /// The circuit breaker, if it has one.
    pub circuit: Option<CircuitSettings>,
}

/// When a destination's circuit opens, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitSettings {
    /// Consecutive failed attempts that open it.
    pub failures: Option<u32>,
    /// Share of failed attempts over `window` that opens it (0 < ratio <= 1).
    pub failure_ratio: Option<f64>,
    /// The window the ratio is measured over.
    pub window: Duration,
    /// Attempts in the window before the ratio counts.
    pub min_attempts: u32,
    /// How long it stays open before one delivery probes the destination.
    pub cool_down: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        Self {
            failures: Some(5),
            failure_ratio: None,
            window: Duration::from_secs(60),
            min_attempts: 20,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Changes made at runtime; each field set replaces the configured value until reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Paused (true) or resumed (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Deliveries in flight at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Deliveries per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Deliveries at once (the bucket's size); `rate` rounded up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// Why a change of controls was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No destination has this name.
    #[error("no destination is named {0:?}")]
    NoSuchDestination(String),
    /// The change is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The spool could not store it.
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl From<RateError> for ControlError {
    fn from(error: RateError) -> Self {
        Self::Invalid(format!("rate: {error}"))
    }
}

/// The burst of a rate given without one: a second's worth, at least 1.
pub fn default_burst(per_second: f64) -> u32 {
    // Clamped to u32's range before the cast.
    per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Deliveries go.
    Closed,
    /// Nothing goes until the cool-down is over.
    Open,
    /// One delivery probes the destination.
    HalfOpen,
}

impl CircuitState {
    /// Its name in metrics, logs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// What one attempt says about the destination's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It answered (delivered, or refused with a 4xx).
    Up,
    /// It failed in a way worth retrying.
    Failed,
    /// Nothing was learnt (the attempt's outcome could not be recorded).
    Unknown,
}

/// Outcomes over a sliding window, in ten slots.
#[derive(Debug, Default)]
struct Window {
    slots: [(u32, u32); 10],
    slot: usize,
    slot_start: Option<Instant>,
}

impl Window {
    fn record(&mut self, now: Instant, width: Duration, failed: bool) {
        self.advance(now, width);
        let slot = &mut self.slots[self.slot];
        if failed {
            slot.1 += 1;
        } else {
            slot.0 += 1;
        }
    }

    fn advance(&mut self, now: Instant, width: Duration) {
        let step = (width / 10).max(Duration::from_millis(1));
        let Some(mut start) = self.slot_start else {
            self.slot_start = Some(now);
            return;
        };
        let mut moved = 0;
        while now.saturating_duration_since(start) >= step && moved < 10 {
            start += step;
            self.slot = (self.slot + 1) % 10;
            self.slots[self.slot] = (0, 0);
            moved += 1;
        }
        if moved == 10 {
            start = now;
        }
        self.slot_start = Some(start);
    }

    fn totals(&self) -> (u32, u32) {
        self.slots
            .iter()
            .fold((0, 0), |(ok, failed), s| (ok + s.0, failed + s.1))
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[derive(Debug)]
struct Circuit {
    settings: CircuitSettings,
    state: CircuitState,
    consecutive: u32,
    window: Window,
    open_until: Option<Instant>,
    probing: bool,
    opened: u64,
}

impl Circuit {
    fn new(settings: CircuitSettings) -> Self {
        Self {
            settings,
            state: CircuitState::Closed,
            consecutive: 0,
            window: Window::default(),
            open_until: None,
            probing: false,
            opened: 0,
        }
    }
}

#[derive(Debug)]
struct Control {
    config: ControlSettings,
    overrides: Overrides,
    bucket: Option<Bucket>,
    circuit: Option<Circuit>,
    in_flight: usize,
}

impl Control {
    fn new(config: ControlSettings, overrides: Overrides) -> Result<Self, ControlError> {
        let mut control = Self {
            circuit: config.circuit.clone().map(Circuit::new),
            config,
            overrides: Overrides::default(),
            bucket: None,
            in_flight: 0,
        };
        control.apply(overrides)?;
        Ok(control)
    }

    fn paused(&self) -> bool {
        self.overrides.paused.unwrap_or(self.config.paused)
    }

    fn max_in_flight(&self) -> Option<usize> {
        self.overrides.max_in_flight.or(self.config.max_in_flight)
    }

    fn rate(&self) -> Result<Option<Rate>, RateError> {
        match self.overrides.rate {
            Some(per_second) => Rate::new(
                per_second,
                self.overrides
                    .burst
                    .unwrap_or_else(|| default_burst(per_second)),
            )
            .map(Some),
            None => Ok(self.config.rate),
        }
    }

    /// Replace the overrides (checked first; nothing changes if they are not valid).
    fn apply(&mut self, overrides: Overrides) -> Result<(), ControlError> {
        if overrides.max_in_flight == Some(0) {
            return Err(ControlError::Invalid(
                "max_in_flight must be at least 1 (pause the destination to send nothing)".into(),
            ));
        }
        if overrides.burst.is_some() && overrides.rate.is_none() {
            return Err(ControlError::Invalid("burst needs a rate".into()));
        }
        let old_rate = self.rate().ok().flatten();
        self.overrides = overrides;
        let rate = self.rate()?;
        if rate != old_rate || (rate.is_some() && self.bucket.is_none()) {
            self.bucket = rate.map(Bucket::new);
        }
        Ok(())
    }
}

/// A destination's controls and state, as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlView {
    /// The destination.
    pub destination: String,
    /// Paused: nothing is sent.
    pub paused: bool,
    /// Deliveries in flight at most.
    pub max_in_flight: Option<usize>,
    /// Deliveries started per second.
    pub rate: Option<f64>,
    /// Deliveries started at once.
    pub burst: Option<u32>,
    /// Deliveries in flight now.
    pub in_flight: usize,
    /// The circuit's state (`closed` when it has no breaker).
    pub circuit: CircuitState,
    /// Whether it has a circuit breaker.
    pub breaker: bool,
    /// Consecutive failed attempts.
    pub consecutive_failures: u32,
    /// How many times the circuit opened since the start.
    pub opened: u64,
    /// Seconds until an open circuit lets a probe through.
    pub open_for_seconds: Option<f64>,
    /// What was changed at runtime (stored in the spool).
    pub overrides: Overrides,
}

/// Every destination's controls; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Controls {
    by_name: Mutex<HashMap<String, Control>>,
    spool: Option<Arc<Spool>>,
    alerts: Option<Arc<super::alerts::Alerts>>,
}

impl Controls {
    /// Controls for these destinations (one not named has none).
    pub fn new(settings: HashMap<String, ControlSettings>) -> Self {
        let by_name = settings
            .into_iter()
            .filter_map(|(name, config)| {
                Control::new(config, Overrides::default())
                    .ok()
                    .map(|c| (name, c))
            })
            .collect();
        let controls = Self {
            by_name: Mutex::new(by_name),
            spool: None,
            alerts: None,
        };
        controls.publish_all();
        controls
    }

    /// Keep runtime changes in `spool`, and apply the ones it kept (a pause survives a
    /// restart). A stored change for a destination that is no longer configured is ignored.
    pub fn stored_in(mut self, spool: Arc<Spool>) -> Result<Self, SpoolError> {
        for (name, record) in spool.controls()? {
            let Ok(overrides) = serde_json::from_slice::<Overrides>(&record) else {
                tracing::warn!(destination = %name, "ignoring unreadable stored controls");
                continue;
            };
            let mut by_name = self.lock();
            if let Some(control) = by_name.get_mut(&name) {
                if let Err(error) = control.apply(overrides) {
                    tracing::warn!(destination = %name, %error, "ignoring stored controls");
                } else if control.paused() {
                    tracing::info!(destination = %name, "destination paused (kept from before the restart)");
                }
            }
        }
        self.spool = Some(spool);
        self.publish_all();
        Ok(self)
    }

    /// Raise an alert when a circuit opens (from closed) and when it closes.
    pub fn alerting(mut self, alerts: Arc<super::alerts::Alerts>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Control>> {
        match self.by_name.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// How many more deliveries `destination` may start at `now`. An open circuit whose
    /// cool-down is over turns half open here.
    pub fn allowance(&self, destination: &str, now: Instant) -> usize {
        let mut by_name = self.lock();
        let Some(control) = by_name.get_mut(destination) else {
            return usize::MAX;
        };
        if control.paused() {
            return 0;
        }
        let mut room = match control.max_in_flight() {
            Some(max) => max.saturating_sub(control.in_flight),
            None => usize::MAX,
        };
        if let Some(circuit) = control.circuit.as_mut() {
            if circuit.state == CircuitState::Open
                && circuit.open_until.is_some_and(|until| now >= until)
            {
                transition(destination, circuit, CircuitState::HalfOpen, None);
            }
            match circuit.state {
                CircuitState::Closed => {}
                CircuitState::Open => return 0,
                CircuitState::HalfOpen if circuit.probing => return 0,
                CircuitState::HalfOpen => room = room.min(1),
            }
        }
        if let Some(bucket) = &control.bucket {
            room = room.min(bucket.available(now) as usize);
        }
        room
    }

    /// `n` deliveries to `destination` started (taken within its allowance).
    pub fn started(&self, destination: &str, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        let mut by_name = self.lock();
        let Some(control) = by_name.get_mut(destination) else {
            return;
        };
        control.in_flight += n;
        if let Some(bucket) = &control.bucket {
            bucket.take_n(now, u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(circuit) = control.circuit.as_mut() {
            if circuit.state == CircuitState::HalfOpen {
                circuit.probing = true;
            }
        }
        publish_in_flight(destination, control.in_flight);
    }

    /// A delivery to `destination` ended, and what it showed of its health.
    pub fn finished(&self, destination: &str, now: Instant, health: Health) {
        let mut by_name = self.lock();
        let Some(control) = by_name.get_mut(destination) else {
            return;
        };
        control.in_flight = control.in_flight.saturating_sub(1);
        publish_in_flight(destination, control.in_flight);
        let Some(circuit) = control.circuit.as_mut() else {
            return;
        };
        let failed = match health {
            Health::Up => false,
            Health::Failed => true,
            Health::Unknown => {
                circuit.probing = false;
                return;
            }
        };
        match circuit.state {
            CircuitState::HalfOpen => {
                circuit.probing = false;
                if failed {
                    open(destination, circuit, now, None);
                } else {
                    circuit.consecutive = 0;
                    circuit.window.clear();
                    transition(
                        destination,
                        circuit,
                        CircuitState::Closed,
                        self.alerts.as_deref(),
                    );
                }
            }
            // An attempt started before the circuit opened: it tells nothing new.
            CircuitState::Open => {}
            CircuitState::Closed => {
                circuit.consecutive = if failed { circuit.consecutive + 1 } else { 0 };
                let width = circuit.settings.window;
                circuit.window.record(now, width, failed);
                let (ok, bad) = circuit.window.totals();
                let by_count = circuit
                    .settings
                    .failures
                    .is_some_and(|n| circuit.consecutive >= n);
                let by_ratio = circuit.settings.failure_ratio.is_some_and(|ratio| {
                    let total = ok + bad;
                    total >= circuit.settings.min_attempts.max(1)
                        && f64::from(bad) >= ratio * f64::from(total)
                });
                if failed && (by_count || by_ratio) {
                    open(destination, circuit, now, self.alerts.as_deref());
                }
            }
        }
    }

    /// When something held back may go again: an open circuit's cool-down ends, or a
    /// destination out of rate tokens gets one back.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let by_name = self.lock();
        let mut next: Option<Instant> = None;
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for control in by_name.values() {
            if control.paused() {
                continue;
            }
            // A cool-down already over needs no wake-up: the circuit turns half open when its
            // destination next has something due (waking for it would spin while it has none).
            if let Some(until) = control
                .circuit
                .as_ref()
                .filter(|c| c.state == CircuitState::Open)
                .and_then(|c| c.open_until)
                .filter(|until| *until > now)
            {
                consider(until);
            }
            if let Some(bucket) = &control.bucket {
                let wait = bucket.next_token_in(now);
                if !wait.is_zero() {
                    consider(now + wait);
                }
            }
        }
        next
    }

    /// Every destination's controls, by name.
    pub fn views(&self, now: Instant) -> Vec<ControlView> {
        let by_name = self.lock();
        let mut views: Vec<ControlView> = by_name
            .iter()
            .map(|(name, control)| view(name, control, now))
            .collect();
        views.sort_by(|a, b| a.destination.cmp(&b.destination));
        views
    }

    /// One destination's controls.
    pub fn view(&self, destination: &str, now: Instant) -> Option<ControlView> {
        self.lock()
            .get(destination)
            .map(|control| view(destination, control, now))
    }

    /// Change a destination's runtime controls: `change` sets what it names, keeping the
    /// other overrides. Stored before it applies, so it survives a restart.
    pub async fn change(
        &self,
        destination: &str,
        change: Overrides,
    ) -> Result<ControlView, ControlError> {
        let merged = {
            let by_name = self.lock();
            let control = by_name
                .get(destination)
                .ok_or_else(|| ControlError::NoSuchDestination(destination.to_owned()))?;
            let mut merged = control.overrides.clone();
            if change.paused.is_some() {
                merged.paused = change.paused;
            }
            if change.max_in_flight.is_some() {
                merged.max_in_flight = change.max_in_flight;
            }
            if change.rate.is_some() {
                merged.rate = change.rate;
                merged.burst = change.burst;
            } else if change.burst.is_some() {
                merged.burst = change.burst;
            }
            merged
        };
        self.replace(destination, merged).await
    }

    /// Drop a destination's runtime changes: back to its configuration.
    pub async fn reset(&self, destination: &str) -> Result<ControlView, ControlError> {
        self.replace(destination, Overrides::default()).await
    }

    async fn replace(
        &self,
        destination: &str,
        overrides: Overrides,
    ) -> Result<ControlView, ControlError> {
        // Checked on a copy first: nothing is stored that would not apply.
        {
            let by_name = self.lock();
            let control = by_name
                .get(destination)
                .ok_or_else(|| ControlError::NoSuchDestination(destination.to_owned()))?;
            let mut probe = Control::new(control.config.clone(), Overrides::default())?;
            probe.apply(overrides.clone())?;
        }
        if let Some(spool) = &self.spool {
            let record =
                serde_json::to_vec(&overrides).map_err(|e| ControlError::Invalid(e.to_string()))?;
            spool.put_controls(destination, record).await?;
        }
        let now = Instant::now();
        let view = {
            let mut by_name = self.lock();
            let control = by_name
                .get_mut(destination)
                .ok_or_else(|| ControlError::NoSuchDestination(destination.to_owned()))?;
            let was_paused = control.paused();
            control.apply(overrides)?;
            match (was_paused, control.paused()) {
                (false, true) => tracing::warn!(destination, "destination paused"),
                (true, false) => tracing::info!(destination, "destination resumed"),
                _ => {}
            }
            tracing::info!(
                destination,
                max_in_flight = ?control.max_in_flight(),
                rate = ?control.rate().ok().flatten().map(|r| r.per_second()),
                "destination controls changed"
            );
            publish(destination, control);
            view(destination, control, now)
        };
        if let Some(spool) = &self.spool {
            spool.wake_deliverer();
        }
        Ok(view)
    }

    fn publish_all(&self) {
        for (name, control) in self.lock().iter() {
            publish(name, control);
        }
    }
}

fn view(name: &str, control: &Control, now: Instant) -> ControlView {
    let rate = control.rate().ok().flatten();
    let circuit = control.circuit.as_ref();
    ControlView {
        destination: name.to_owned(),
        paused: control.paused(),
        max_in_flight: control.max_in_flight(),
        rate: rate.map(|r| r.per_second()),
        burst: rate.map(|r| r.burst()),
        in_flight: control.in_flight,
        circuit: circuit.map_or(CircuitState::Closed, |c| c.state),
        breaker: circuit.is_some(),
        consecutive_failures: circuit.map_or(0, |c| c.consecutive),
        opened: circuit.map_or(0, |c| c.opened),
        open_for_seconds: circuit
            .filter(|c| c.state == CircuitState::Open)
            .and_then(|c| c.open_until)
            .map(|until| until.saturating_duration_since(now).as_secs_f64()),
        overrides: control.overrides.clone(),
    }
}

/// Open the circuit for a cool-down; `alerts` when it opens from closed (a failed probe is the
/// same episode).
fn open(
    destination: &str,
    circuit: &mut Circuit,
    now: Instant,
    alerts: Option<&super::alerts::Alerts>,
) {
    circuit.open_until = Some(now + circuit.settings.cool_down);
    circuit.opened += 1;
    transition(destination, circuit, CircuitState::Open, alerts);
}

fn transition(
    destination: &str,
    circuit: &mut Circuit,
    to: CircuitState,
    alerts: Option<&super::alerts::Alerts>,
) {
    let from = circuit.state;
    if from == to {
        return;
    }
    circuit.state = to;
    if let Some(alerts) = alerts {
        let kind = match to {
            CircuitState::Open => Some(super::alerts::AlertKind::CircuitOpened),
            CircuitState::Closed => Some(super::alerts::AlertKind::CircuitClosed),
            CircuitState::HalfOpen => None,
        };
        if let Some(kind) = kind {
            alerts.raise(
                kind,
                serde_json::json!({
                    "destination": destination,
                    "consecutive_failures": circuit.consecutive,
                    "cool_down_seconds": circuit.settings.cool_down.as_secs_f64(),
                    "opened": circuit.opened,
                }),
            );
        }
    }
    match to {
        CircuitState::Open => tracing::warn!(
            destination,
            from = from.as_str(),
            consecutive_failures = circuit.consecutive,
            cool_down = ?circuit.settings.cool_down,
            "circuit opened: nothing is sent until the cool-down is over"
        ),
        CircuitState::HalfOpen => tracing::info!(
            destination,
            from = from.as_str(),
            "circuit half open: one delivery probes the destination"
        ),
        CircuitState::Closed => tracing::info!(
            destination,
            from = from.as_str(),
            "circuit closed: deliveries go again"
        ),
    }
    metrics::counter!(observe::CIRCUIT_TRANSITIONS, "destination" => destination.to_owned(), "to" => to.as_str())
        .increment(1);
    publish_circuit(destination, to);
}

fn publish(destination: &str, control: &Control) {
    metrics::gauge!(observe::DESTINATION_PAUSED, "destination" => destination.to_owned())
        .set(if control.paused() { 1.0 } else { 0.0 });
    publish_in_flight(destination, control.in_flight);
    if let Some(circuit) = &control.circuit {
        publish_circuit(destination, circuit.state);
    }
}

fn publish_in_flight(destination: &str, in_flight: usize) {
    metrics::gauge!(observe::DESTINATION_IN_FLIGHT, "destination" => destination.to_owned())
        .set(in_flight as f64);
}

fn publish_circuit(destination: &str, state: CircuitState) {
    for s in [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
    ] {
        metrics::gauge!(observe::DESTINATION_CIRCUIT, "destination" => destination.to_owned(), "state" => s.as_str())
            .set(if s == state { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: Option<u32>, ratio: Option<f64>) -> Controls {
        Controls::new(HashMap::from([(
            "d".to_owned(),
            ControlSettings {
                circuit: Some(CircuitSettings {
                    failures,
                    failure_ratio: ratio,
                    window: Duration::from_secs(10),
                    min_attempts: 4,
                    cool_down: Duration::from_secs(5),
                }),
                ..ControlSettings::default()
            },
        )]))
    }

    fn attempt(controls: &Controls, now: Instant, health: Health) {
        assert!(controls.allowance("d", now) > 0, "may start one");
        controls.started("d", now, 1);
        controls.finished("d", now, health);
    }

    #[test]
    fn the_circuit_opens_after_consecutive_failures_probes_once_and_closes_on_success() {
        let controls = breaker(Some(3), None);
        let t0 = Instant::now();
        attempt(&controls, t0, Health::Failed);
        attempt(&controls, t0, Health::Up); // a success resets the count
        attempt(&controls, t0, Health::Failed);
        attempt(&controls, t0, Health::Failed);
        assert_eq!(
            controls.view("d", t0).unwrap().circuit,
            CircuitState::Closed
        );
        attempt(&controls, t0, Health::Failed);
        assert_eq!(controls.view("d", t0).unwrap().circuit, CircuitState::Open);
        assert_eq!(controls.allowance("d", t0 + Duration::from_secs(4)), 0);
        assert_eq!(
            controls.next_change(t0),
            Some(t0 + Duration::from_secs(5)),
            "the deliverer wakes when the cool-down ends"
        );
        assert_eq!(
            controls.next_change(t0 + Duration::from_secs(6)),
            None,
            "and not again for a cool-down that is over"
        );
        // Cool-down over: one probe, no second while it runs.
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(controls.allowance("d", t1), 1);
        controls.started("d", t1, 1);
        assert_eq!(controls.allowance("d", t1), 0);
        controls.finished("d", t1, Health::Failed);
        assert_eq!(controls.view("d", t1).unwrap().circuit, CircuitState::Open);
        assert_eq!(controls.view("d", t1).unwrap().opened, 2);
        let t2 = t1 + Duration::from_secs(5);
        assert_eq!(controls.allowance("d", t2), 1);
        controls.started("d", t2, 1);
        controls.finished("d", t2, Health::Up);
        assert_eq!(
            controls.view("d", t2).unwrap().circuit,
            CircuitState::Closed
        );
        assert_eq!(controls.allowance("d", t2), usize::MAX);
    }

    #[test]
    fn the_circuit_opens_on_a_failure_ratio_once_enough_attempts_were_made() {
        let controls = breaker(None, Some(0.5));
        let t0 = Instant::now();
        attempt(&controls, t0, Health::Failed);
        attempt(&controls, t0, Health::Failed);
        attempt(&controls, t0, Health::Up);
        assert_eq!(
            controls.view("d", t0).unwrap().circuit,
            CircuitState::Closed,
            "3 attempts: below min_attempts"
        );
        attempt(&controls, t0, Health::Failed);
        assert_eq!(controls.view("d", t0).unwrap().circuit, CircuitState::Open);
        // Old outcomes leave the window.
        let controls = breaker(None, Some(0.5));
        for _ in 0..3 {
            attempt(&controls, t0, Health::Failed);
        }
        for _ in 0..4 {
            attempt(&controls, t0 + Duration::from_secs(11), Health::Up);
        }
        attempt(&controls, t0 + Duration::from_secs(11), Health::Failed);
        assert_eq!(
            controls.view("d", t0).unwrap().circuit,
            CircuitState::Closed,
            "1 failure in 5 within the window"
        );
    }

    #[test]
    fn max_in_flight_and_rate_bound_the_allowance() {
        let controls = Controls::new(HashMap::from([(
            "d".to_owned(),
            ControlSettings {
                max_in_flight: Some(3),
                rate: Some(Rate::new(10.0, 2).unwrap()),
                ..ControlSettings::default()
            },
        )]));
        let t0 = Instant::now();
        assert_eq!(controls.allowance("d", t0), 2, "the bucket holds 2");
        controls.started("d", t0, 2);
        assert_eq!(controls.allowance("d", t0), 0);
        assert_eq!(
            controls.next_change(t0),
            Some(t0 + Duration::from_millis(100))
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(controls.allowance("d", t1), 1, "3 in flight at most");
        controls.finished("d", t1, Health::Up);
        assert_eq!(controls.allowance("d", t1), 2);
        assert_eq!(controls.allowance("other", t1), usize::MAX);
    }

    #[tokio::test]
    async fn pause_and_changes_apply_at_runtime_and_reset_to_the_configuration() {
        let controls = Controls::new(HashMap::from([(
            "d".to_owned(),
            ControlSettings {
                max_in_flight: Some(4),
                ..ControlSettings::default()
            },
        )]));
        let now = Instant::now();
        let view = controls
            .change(
                "d",
                Overrides {
                    paused: Some(true),
                    ..Overrides::default()
                },
            )
            .await
            .unwrap();
        assert!(view.paused);
        assert_eq!(controls.allowance("d", now), 0);
        let view = controls
            .change(
                "d",
                Overrides {
                    paused: Some(false),
                    max_in_flight: Some(1),
                    ..Overrides::default()
                },
            )
            .await
            .unwrap();
        assert!(!view.paused);
        assert_eq!(controls.allowance("d", now), 1);
        assert!(matches!(
            controls
                .change(
                    "d",
                    Overrides {
                        max_in_flight: Some(0),
                        ..Overrides::default()
                    }
                )
                .await,
            Err(ControlError::Invalid(_))
        ));
        assert!(matches!(
            controls.change("nope", Overrides::default()).await,
            Err(ControlError::NoSuchDestination(_))
        ));
        let view = controls.reset("d").await.unwrap();
        assert_eq!(view.max_in_flight, Some(4));
        assert_eq!(view.overrides, Overrides::default());
    }
}

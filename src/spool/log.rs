//! The delivery log: what happened to each accepted event, and the operations on it.
//!
//! Every delivery of an event to a destination lives in one of three tables, which is its
//! status: pending (not attempted yet, or retrying after failed attempts), delivered, or dead.
//! Moving between them is one atomic commit, so an event is never in two states at once nor in
//! none. Settled deliveries keep their attempts (time, status, error, latency) so that the log
//! can be queried, replayed from, and purged; [`Spool::sweep`] applies the retention horizon.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    Delivery, Op, Spool, SpoolError, StoredEvent, Table, decode, delivery_key, encode, seq_of,
    split_delivery_key,
};
use crate::clock::now_ms;
use crate::glob;

/// Commit the log's bulk operations in chunks of about this many writes.
const CHUNK_OPS: usize = 2048;

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// Attempted, failed, and due again later.
    Retrying,
    /// The destination has it.
    Delivered,
    /// Given up on: a dead letter, until replayed or purged.
    Dead,
}

/// Where an event stands: the least settled of its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Some delivery is not attempted yet (and none failed).
    Pending,
    /// Some delivery failed and will be retried (and none is dead).
    Retrying,
    /// Every delivery was made.
    Delivered,
    /// Some delivery was given up on.
    Dead,
    /// No route matched the event type: it was accepted and stored, and goes nowhere.
    Unrouted,
}

impl std::str::FromStr for EventStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "retrying" => Ok(Self::Retrying),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            "unrouted" => Ok(Self::Unrouted),
            other => Err(format!(
                "unknown status {other:?} (pending, retrying, delivered, dead, unrouted)"
            )),
        }
    }
}

/// One delivery of an event, with its state and attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    /// The destination's name.
    pub destination: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Its state and attempts.
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// An event in the log, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    /// Sequence number: the event's key in the log.
    pub seq: u64,
    /// Source name.
    pub source: String,
    /// Event id.
    pub id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was received (ms since the epoch).
    pub received_at_ms: u64,
    /// Where it stands.
    pub status: EventStatus,
    /// Its deliveries (attempt histories left out; see [`Spool::show`]).
    pub deliveries: Vec<DeliveryView>,
}

/// Which events an operation applies to. Every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Source name.
    pub source: Option<String>,
    /// Event type: exact or glob (`ALERT_*`).
    pub kind: Option<String>,
    /// Event id.
    pub id: Option<String>,
    /// Event status.
    pub status: Option<EventStatus>,
    /// Has a delivery to this destination.
    pub destination: Option<String>,
    /// Received at or after (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Received before (ms since the epoch).
    pub until_ms: Option<u64>,
    /// Sequence number below this (a page cursor: the last `seq` of the page before).
    pub before: Option<u64>,
    /// Only events of these sources (a tenant's scope).
    pub sources: Option<Vec<String>>,
}

impl Filter {
    fn matches_event(&self, event: &StoredEvent) -> bool {
        self.source.as_ref().is_none_or(|s| *s == event.source)
            && self
                .sources
                .as_ref()
                .is_none_or(|list| list.contains(&event.source))
            && self.id.as_ref().is_none_or(|id| *id == event.id)
            && self
                .kind
                .as_ref()
                .is_none_or(|k| glob::matches(k, &event.kind))
            && self.since_ms.is_none_or(|t| event.received_at_ms >= t)
            && self.until_ms.is_none_or(|t| event.received_at_ms < t)
    }

    fn matches_deliveries(&self, status: EventStatus, deliveries: &[DeliveryView]) -> bool {
        self.status.is_none_or(|s| s == status)
            && self
                .destination
                .as_ref()
                .is_none_or(|d| deliveries.iter().any(|v| v.destination == *d))
    }
}

/// What a retention sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Settled events (every delivery made, or none routed) older than the horizon.
    pub events: usize,
}

impl EventStatus {
    /// The status of an event with these deliveries.
    pub fn of(deliveries: &[DeliveryView]) -> Self {
        event_status(deliveries)
    }
}

fn event_status(deliveries: &[DeliveryView]) -> EventStatus {
    let has = |s: DeliveryStatus| deliveries.iter().any(|d| d.status == s);
    if has(DeliveryStatus::Dead) {
        EventStatus::Dead
    } else if has(DeliveryStatus::Retrying) {
        EventStatus::Retrying
    } else if has(DeliveryStatus::Pending) {
        EventStatus::Pending
    } else if deliveries.is_empty() {
        EventStatus::Unrouted
    } else {
        EventStatus::Delivered
    }
}

/// Which settled deliveries a replay sends again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOf {
    /// Delivered ones and dead letters.
    All,
    /// Dead letters only (retrying them).
    Dead,
}

impl Spool {
    /// Every delivery of event `seq`, whatever its status.
    pub fn deliveries(&self, seq: u64) -> Result<Vec<DeliveryView>, SpoolError> {
        let mut out = Vec::new();
        let prefix = seq.to_be_bytes();
        for table in [Table::Pending, Table::Delivered, Table::Dead] {
            for guard in self.table(table).prefix(prefix) {
                let (key, value) = guard.into_inner()?;
                let (_, destination) = split_delivery_key(&key)?;
                let delivery = decode(&value)
                    .map_err(|_| SpoolError::Corrupt(format!("delivery {seq}/{destination}")))?;
                let status = match table {
                    Table::Pending if delivery.attempts == 0 => DeliveryStatus::Pending,
                    Table::Pending => DeliveryStatus::Retrying,
                    Table::Delivered => DeliveryStatus::Delivered,
                    _ => DeliveryStatus::Dead,
                };
                out.push(DeliveryView {
                    destination,
                    status,
                    delivery,
                });
            }
        }
        out.sort_by(|a, b| a.destination.cmp(&b.destination));
        Ok(out)
    }

    /// One event with all its deliveries and their attempts.
    pub fn show(&self, seq: u64) -> Result<Option<(StoredEvent, Vec<DeliveryView>)>, SpoolError> {
        match self.get(seq)? {
            Some(event) => Ok(Some((event, self.deliveries(seq)?))),
            None => Ok(None),
        }
    }

    /// The events matching `filter`, newest first, at most `limit`.
    pub fn list(&self, filter: &Filter, limit: usize) -> Result<Vec<EventSummary>, SpoolError> {
        let mut out = Vec::new();
        self.scan(filter, |seq, event, mut deliveries, status| {
            for view in &mut deliveries {
                view.delivery.history.clear();
            }
            out.push(EventSummary {
                seq,
                source: event.source,
                id: event.id,
                kind: event.kind,
                received_at_ms: event.received_at_ms,
                status,
                deliveries,
            });
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Walk the events matching `filter`, newest first, until `visit` returns false.
    fn scan(
        &self,
        filter: &Filter,
        mut visit: impl FnMut(u64, StoredEvent, Vec<DeliveryView>, EventStatus) -> bool,
    ) -> Result<(), SpoolError> {
        let upper = filter.before.unwrap_or(u64::MAX);
        for guard in self.table(Table::Events).range(..upper.to_be_bytes()).rev() {
            let (key, value) = guard.into_inner()?;
            let seq = seq_of(&key).ok_or_else(|| SpoolError::Corrupt("event key".into()))?;
            let event =
                StoredEvent::decode(&value).map_err(|_| SpoolError::Corrupt(seq.to_string()))?;
            if !filter.matches_event(&event) {
                continue;
            }
            let deliveries = self.deliveries(seq)?;
            let status = event_status(&deliveries);
            if !filter.matches_deliveries(status, &deliveries) {
                continue;
            }
            if !visit(seq, event, deliveries, status) {
                break;
            }
        }
        Ok(())
    }

    /// Deliver event `seq` again: its delivered and dead deliveries (or, with
    /// [`ReplayOf::Dead`], its dead letters only) go back to pending with a fresh retry budget,
    /// keeping their attempt history. With `destination`, only the delivery to it, which is
    /// created if the event never had one. Deliveries still pending are left as they are.
    /// Returns how many deliveries were scheduled.
    pub async fn replay(
        &self,
        seq: u64,
        destination: Option<&str>,
        which: ReplayOf,
    ) -> Result<usize, SpoolError> {
        let _guard = self.maintenance.lock().await;
        let Some(event) = self.get(seq)? else {
            return Err(SpoolError::NoSuchEvent(seq));
        };
        let (ops, count, bytes) =
            self.replay_ops(seq, &event, &self.deliveries(seq)?, destination, which)?;
        self.commit_requeued(ops, count, bytes).await?;
        Ok(count)
    }

    /// [`replay`](Self::replay) every event matching `filter`; returns how many deliveries
    /// were scheduled.
    pub async fn replay_matching(
        &self,
        filter: &Filter,
        destination: Option<&str>,
        which: ReplayOf,
    ) -> Result<usize, SpoolError> {
        let _guard = self.maintenance.lock().await;
        let mut batches: Vec<(Vec<Op>, usize, u64)> = vec![(Vec::new(), 0, 0)];
        let mut failed = None;
        self.scan(filter, |seq, event, deliveries, _| {
            match self.replay_ops(seq, &event, &deliveries, destination, which) {
                Ok((ops, count, bytes)) => {
                    if let Some(batch) = batches.last_mut() {
                        batch.0.extend(ops);
                        batch.1 += count;
                        batch.2 += bytes;
                        if batch.0.len() >= CHUNK_OPS {
                            batches.push((Vec::new(), 0, 0));
                        }
                    }
                    true
                }
                Err(error) => {
                    failed = Some(error);
                    false
                }
            }
        })?;
        if let Some(error) = failed {
            return Err(error);
        }
        let mut total = 0;
        for (ops, count, bytes) in batches {
            if ops.is_empty() {
                continue;
            }
            self.commit_requeued(ops, count, bytes).await?;
            total += count;
        }
        Ok(total)
    }

    fn replay_ops(
        &self,
        seq: u64,
        event: &StoredEvent,
        deliveries: &[DeliveryView],
        destination: Option<&str>,
        which: ReplayOf,
    ) -> Result<(Vec<Op>, usize, u64), SpoolError> {
        let now = now_ms();
        let mut ops = Vec::new();
        let (mut count, mut bytes) = (0usize, 0u64);
        for view in deliveries {
            if destination.is_some_and(|d| d != view.destination) {
                continue;
            }
            let from = match (view.status, which) {
                (DeliveryStatus::Dead, _) => Table::Dead,
                (DeliveryStatus::Delivered, ReplayOf::All) => Table::Delivered,
                _ => continue,
            };
            let key = delivery_key(seq, &view.destination);
            let mut again = Delivery {
                attempts: 0,
                first_at_ms: now,
                next_at_ms: now,
                settled_at_ms: None,
                ..view.delivery.clone()
            };
            if let Some(order) = again.order.as_mut() {
                order.released = false;
            }
            ops.push(Op::Remove(from, key.clone()));
            ops.push(Op::Put(Table::Pending, key, encode(&again)?));
            ops.push(Op::schedule(seq, &view.destination, &again));
            count += 1;
            bytes += again.bytes;
        }
        if let Some(destination) = destination {
            if !deliveries.iter().any(|v| v.destination == destination) {
                let fresh = Delivery::fresh(now, event.body.len() as u64);
                ops.push(Op::Put(
                    Table::Pending,
                    delivery_key(seq, destination),
                    encode(&fresh)?,
                ));
                ops.push(Op::schedule(seq, destination, &fresh));
                count += 1;
                bytes += fresh.bytes;
            }
        }
        Ok((ops, count, bytes))
    }

    /// Remove the events matching `filter` and their delivery logs; events with a delivery
    /// still pending are kept (they would be lost). Returns how many events were removed.
    pub async fn purge(&self, filter: &Filter) -> Result<usize, SpoolError> {
        let _guard = self.maintenance.lock().await;
        let mut victims = Vec::new();
        self.scan(filter, |seq, _, deliveries, status| {
            if !matches!(status, EventStatus::Pending | EventStatus::Retrying) {
                victims.push((seq, deliveries));
            }
            true
        })?;
        let removed = victims.len();
        self.remove_events(victims).await?;
        Ok(removed)
    }

    /// Apply the retention horizon: remove events received more than `retention` ago whose
    /// deliveries were all made (or that no route took). Dead letters and pending deliveries
    /// are never swept. Dedup records past their expiry are not read here: compaction drops
    /// them (`dedup::DropExpired`), and until it does they no longer count.
    pub async fn sweep(&self, retention: Duration) -> Result<Swept, SpoolError> {
        let _guard = self.maintenance.lock().await;
        let now = now_ms();
        let cutoff = now.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
        let mut victims = Vec::new();
        // Oldest first; sequence numbers follow arrival, so the walk stops at the horizon.
        for guard in self.table(Table::Events).iter() {
            let (key, value) = guard.into_inner()?;
            let seq = seq_of(&key).ok_or_else(|| SpoolError::Corrupt("event key".into()))?;
            let event =
                StoredEvent::decode(&value).map_err(|_| SpoolError::Corrupt(seq.to_string()))?;
            if event.received_at_ms >= cutoff {
                break;
            }
            let deliveries = self.deliveries(seq)?;
            if matches!(
                event_status(&deliveries),
                EventStatus::Delivered | EventStatus::Unrouted
            ) {
                victims.push((seq, deliveries));
            }
        }
        let events = victims.len();
        self.remove_events(victims).await?;
        Ok(Swept { events })
    }

    async fn remove_events(
        &self,
        victims: Vec<(u64, Vec<DeliveryView>)>,
    ) -> Result<(), SpoolError> {
        let mut ops = Vec::new();
        for (seq, deliveries) in victims {
            ops.push(Op::Remove(Table::Events, seq.to_be_bytes().to_vec()));
            ops.push(Op::Remove(Table::Mismatches, seq.to_be_bytes().to_vec()));
            for view in deliveries {
                let table = match view.status {
                    DeliveryStatus::Delivered => Table::Delivered,
                    DeliveryStatus::Dead => Table::Dead,
                    // Never reached: events with pending deliveries are not removed.
                    DeliveryStatus::Pending | DeliveryStatus::Retrying => continue,
                };
                ops.push(Op::Remove(table, delivery_key(seq, &view.destination)));
            }
            if ops.len() >= CHUNK_OPS {
                self.commit(std::mem::take(&mut ops)).await?;
            }
        }
        if !ops.is_empty() {
            self.commit(ops).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

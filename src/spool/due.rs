//! The due index: every pending delivery by destination and next attempt time, in memory, with
//! the order each ordered key must keep.
//!
//! The deliverer asks "what may be attempted now?" many times a second. When the index was a
//! keyspace of the store, every settled delivery left a tombstone in it that each of those range
//! scans walked until compaction removed it: in a 10-minute run at 7,700 events per second the
//! scans came to dominate the CPU and the gateway fell to a fifth of its rate (BENCHMARKS.md,
//! issue 20). Kept in memory, a scan costs what is taken, the index costs no write per accept
//! and none per settle, and it is rebuilt from the pending deliveries (and the dead letters
//! that block a key) when the spool opens, which the store keeps durably. It costs about 100
//! bytes per pending delivery; the spool's `max_pending` (default 1,000,000) bounds it.
//!
//! # Lanes
//!
//! Each destination has a **lane**, so that a destination the deliverer holds back (paused, its
//! circuit open, at its `max_in_flight` or out of rate tokens) costs nothing to skip: its due
//! deliveries are not walked past to find another destination's.
//!
//! # Ordered keys
//!
//! A delivery may carry an ordering key (a route's `order_by`). Of the pending deliveries of one
//! key in one lane, only the one accepted first (lowest sequence number) is **ready**; the
//! others **wait**, and none is ready while one of the key's deliveries is in flight. When the
//! head is settled the next one becomes ready; when it is retried it stays the head, so a later
//! event waits through an earlier one's retries. A key whose delivery became a dead letter
//! under `on_dead = "block"` is **blocked**: nothing of it is ready until the dead letter is
//! retried or released. Keys with nothing pending or blocked take no memory.
//!
//! # Taking
//!
//! The deliverer [`take`](DueIndex::take)s what it attempts: a taken delivery is **in flight**
//! until the batch settling or rescheduling it is durable, so it is never taken twice, and
//! [`release`](DueIndex::release) puts back one whose attempt could not be recorded.
//!
//! The group-commit writer changes the index only after the batch that carries the change is
//! durable, in the order of the batch, so the index never names a delivery the store does not
//! hold.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where one pending delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In [`Lane::ready`]: may be taken once due.
    Ready,
    /// Behind an earlier delivery of its key, or its key is blocked.
    Waiting,
    /// Taken, and not yet settled or rescheduled.
    InFlight,
}

#[derive(Debug)]
struct Slot {
    next_at_ms: u64,
    key: Option<Box<str>>,
    state: State,
}

/// The pending deliveries of one ordering key in one lane.
#[derive(Debug, Default)]
struct KeyQueue {
    /// Every pending delivery of the key, by sequence number (acceptance order).
    seqs: BTreeSet<u64>,
    /// The one in [`Lane::ready`], if any.
    ready: Option<u64>,
    /// The one in flight, if any.
    in_flight: Option<u64>,
    /// The dead letter that blocks the key, if one does.
    blocked_by: Option<u64>,
}

impl KeyQueue {
    fn is_idle(&self) -> bool {
        self.seqs.is_empty() && self.blocked_by.is_none()
    }
}

/// One destination's pending deliveries.
#[derive(Debug, Default)]
struct Lane {
    /// (next attempt time, sequence number) of the deliveries that may be taken once due.
    ready: BTreeSet<(u64, u64)>,
    /// Every pending delivery of the destination, by sequence number.
    slots: HashMap<u64, Slot>,
    /// The ordering keys with something pending or blocked.
    keys: HashMap<Box<str>, KeyQueue>,
    in_flight: usize,
}

impl Lane {
    fn is_idle(&self) -> bool {
        self.slots.is_empty() && self.keys.is_empty()
    }

    /// Make the key's head ready if nothing holds it back, and nothing else of the key.
    fn refresh(&mut self, key: &str) {
        let Some(queue) = self.keys.get_mut(key) else {
            return;
        };
        if queue.is_idle() {
            self.keys.remove(key);
            return;
        }
        let wanted = match (queue.blocked_by, queue.in_flight) {
            (None, None) => queue.seqs.first().copied(),
            _ => None,
        };
        if queue.ready == wanted {
            return;
        }
        if let Some(old) = queue.ready.take() {
            if let Some(slot) = self.slots.get_mut(&old) {
                if slot.state == State::Ready {
                    self.ready.remove(&(slot.next_at_ms, old));
                    slot.state = State::Waiting;
                }
            }
        }
        if let Some(new) = wanted {
            if let Some(slot) = self.slots.get_mut(&new) {
                if slot.state == State::Waiting {
                    self.ready.insert((slot.next_at_ms, new));
                    slot.state = State::Ready;
                    queue.ready = Some(new);
                }
            }
        }
    }

    /// Put a delivery that is not ready (new, or back from flight) where it belongs.
    fn place(&mut self, seq: u64) {
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        match slot.key.clone() {
            None => {
                slot.state = State::Ready;
                self.ready.insert((slot.next_at_ms, seq));
            }
            Some(key) => {
                slot.state = State::Waiting;
                self.refresh(&key);
            }
        }
    }

    /// Take the slot out of whatever set holds it (ready, in flight), leaving it `Waiting`.
    fn unplace(&mut self, seq: u64) {
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        match slot.state {
            State::Ready => {
                self.ready.remove(&(slot.next_at_ms, seq));
            }
            State::InFlight => self.in_flight = self.in_flight.saturating_sub(1),
            State::Waiting => {}
        }
        slot.state = State::Waiting;
        if let Some(queue) = slot.key.as_deref().and_then(|k| self.keys.get_mut(k)) {
            if queue.ready == Some(seq) {
                queue.ready = None;
            }
            if queue.in_flight == Some(seq) {
                queue.in_flight = None;
            }
        }
    }
}

/// A delivery the deliverer took: it is in flight until settled, rescheduled or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken {
    pub(crate) seq: u64,
    pub(crate) destination: String,
    pub(crate) next_at_ms: u64,
}

/// What [`DueIndex::take`] found.
#[derive(Debug, Default)]
pub(crate) struct Take {
    /// The deliveries taken.
    pub(crate) taken: Vec<Taken>,
    /// When the next delivery of a destination that was not held back falls due, if one will.
    pub(crate) next_due_ms: Option<u64>,
}

/// One ordering key held back by a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedKey {
    /// The destination.
    pub destination: String,
    /// The ordering key.
    pub key: String,
    /// The sequence number of the event whose dead letter blocks it.
    pub blocked_by: u64,
    /// How many deliveries of the key wait behind it.
    pub waiting: usize,
}

/// One destination's queue, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneView {
    /// The destination.
    pub destination: String,
    /// Pending deliveries (ready, waiting or in flight).
    pub pending: usize,
    /// Deliveries in flight.
    pub in_flight: usize,
    /// Deliveries waiting behind an earlier one of their key, or behind a blocked key.
    pub waiting: usize,
    /// Ordering keys with something pending.
    pub ordered_keys: usize,
}

/// The pending deliveries by destination and next attempt time; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct DueIndex {
    lanes: BTreeMap<String, Lane>,
    /// How many pending deliveries each event has, to find the oldest without a scan.
    by_seq: BTreeMap<u64, u32>,
    /// The lane [`take`](Self::take) starts after, so that every destination gets its turn.
    cursor: Option<String>,
}

impl DueIndex {
    /// Add a pending delivery, or give one already there (in flight, being rescheduled) its
    /// new time. A delivery of a key blocked by this very event's dead letter (a retry of it)
    /// unblocks the key.
    pub(crate) fn schedule(
        &mut self,
        destination: &str,
        seq: u64,
        next_at_ms: u64,
        key: Option<&str>,
    ) {
        if !self.lanes.contains_key(destination) {
            self.lanes.insert(destination.to_owned(), Lane::default());
        }
        let Some(lane) = self.lanes.get_mut(destination) else {
            return;
        };
        let fresh = match lane.slots.entry(seq) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(Slot {
                    next_at_ms,
                    key: key.map(Into::into),
                    state: State::Waiting,
                });
                true
            }
        };
        if fresh {
            *self.by_seq.entry(seq).or_default() += 1;
            if let Some(key) = key {
                let queue = lane.keys.entry(key.into()).or_default();
                queue.seqs.insert(seq);
                if queue.blocked_by == Some(seq) {
                    queue.blocked_by = None;
                }
            }
        } else {
            // Out of the set it is in under its old time first.
            lane.unplace(seq);
            if let Some(slot) = lane.slots.get_mut(&seq) {
                slot.next_at_ms = next_at_ms;
            }
        }
        lane.place(seq);
    }

    /// Remove a pending delivery (delivered, buried or gone); the next of its key becomes
    /// ready.
    pub(crate) fn unschedule(&mut self, destination: &str, seq: u64) {
        let Some(lane) = self.lanes.get_mut(destination) else {
            return;
        };
        lane.unplace(seq);
        let Some(slot) = lane.slots.remove(&seq) else {
            return;
        };
        if let Some(count) = self.by_seq.get_mut(&seq) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.by_seq.remove(&seq);
            }
        }
        if let Some(key) = slot.key {
            if let Some(queue) = lane.keys.get_mut(&key) {
                queue.seqs.remove(&seq);
            }
            lane.refresh(&key);
        }
        if lane.is_idle() {
            self.lanes.remove(destination);
        }
    }

    /// Hold `key` back: event `seq`'s delivery of it became a dead letter.
    pub(crate) fn block(&mut self, destination: &str, key: &str, seq: u64) {
        if !self.lanes.contains_key(destination) {
            self.lanes.insert(destination.to_owned(), Lane::default());
        }
        let Some(lane) = self.lanes.get_mut(destination) else {
            return;
        };
        let queue = lane.keys.entry(key.into()).or_default();
        queue.blocked_by = Some(queue.blocked_by.map_or(seq, |s| s.min(seq)));
        lane.refresh(key);
    }

    /// Let `key` go on (its dead letter was released); true if it was blocked.
    pub(crate) fn unblock(&mut self, destination: &str, key: &str) -> bool {
        let Some(lane) = self.lanes.get_mut(destination) else {
            return false;
        };
        let Some(queue) = lane.keys.get_mut(key) else {
            return false;
        };
        let was = queue.blocked_by.take().is_some();
        lane.refresh(key);
        if lane.is_idle() {
            self.lanes.remove(destination);
        }
        was
    }

    /// Take what is due at `now_ms`, at most `limit`, longest due first within a destination,
    /// each destination in turn; `allowance` says how many more each destination may take now
    /// (0 holds it back: its due deliveries are not walked).
    pub(crate) fn take(
        &mut self,
        now_ms: u64,
        limit: usize,
        mut allowance: impl FnMut(&str) -> usize,
    ) -> Take {
        let mut out = Take::default();
        let names: Vec<String> = {
            let after = self.cursor.as_deref();
            let (later, earlier): (Vec<&String>, Vec<&String>) = self
                .lanes
                .keys()
                .partition(|name| after.is_none_or(|a| name.as_str() > a));
            later.into_iter().chain(earlier).cloned().collect()
        };
        for name in names {
            if out.taken.len() >= limit {
                break;
            }
            let Some(lane) = self.lanes.get_mut(&name) else {
                continue;
            };
            let Some(&(first_at, _)) = lane.ready.first() else {
                continue;
            };
            let room = allowance(&name).min(limit - out.taken.len());
            if room == 0 {
                continue;
            }
            if first_at > now_ms {
                out.next_due_ms = Some(out.next_due_ms.map_or(first_at, |n| n.min(first_at)));
                continue;
            }
            self.cursor = Some(name.clone());
            let mut taken_here = 0;
            while taken_here < room {
                let Some(&(at, seq)) = lane.ready.first() else {
                    break;
                };
                if at > now_ms {
                    out.next_due_ms = Some(out.next_due_ms.map_or(at, |n| n.min(at)));
                    break;
                }
                lane.ready.remove(&(at, seq));
                lane.in_flight += 1;
                taken_here += 1;
                if let Some(slot) = lane.slots.get_mut(&seq) {
                    slot.state = State::InFlight;
                    if let Some(queue) = slot.key.as_deref().and_then(|k| lane.keys.get_mut(k)) {
                        queue.ready = None;
                        queue.in_flight = Some(seq);
                    }
                }
                out.taken.push(Taken {
                    seq,
                    destination: name.clone(),
                    next_at_ms: at,
                });
            }
        }
        out
    }

    /// Put back a taken delivery whose attempt was not recorded: it may be taken again.
    pub(crate) fn release(&mut self, destination: &str, seq: u64) {
        if let Some(lane) = self.lanes.get_mut(destination) {
            if lane
                .slots
                .get(&seq)
                .is_some_and(|s| s.state == State::InFlight)
            {
                lane.unplace(seq);
                lane.place(seq);
            }
        }
    }

    /// The ready deliveries due at `now_ms` (without taking them), longest due first, then by
    /// sequence number and destination, at most `limit`.
    pub(crate) fn due(&self, now_ms: u64, limit: usize) -> Vec<Taken> {
        let mut all: Vec<Taken> = Vec::new();
        for (name, lane) in &self.lanes {
            for &(at, seq) in lane.ready.iter().take_while(|(at, _)| *at <= now_ms) {
                all.push(Taken {
                    seq,
                    destination: name.clone(),
                    next_at_ms: at,
                });
            }
        }
        all.sort_by(|a, b| {
            (a.next_at_ms, a.seq, &a.destination).cmp(&(b.next_at_ms, b.seq, &b.destination))
        });
        all.truncate(limit);
        all
    }

    /// The lowest sequence number with a pending delivery.
    pub(crate) fn oldest_seq(&self) -> Option<u64> {
        self.by_seq.keys().next().copied()
    }

    /// Every key held back by a dead letter.
    pub(crate) fn blocked(&self) -> Vec<BlockedKey> {
        let mut out = Vec::new();
        for (name, lane) in &self.lanes {
            for (key, queue) in &lane.keys {
                if let Some(seq) = queue.blocked_by {
                    out.push(BlockedKey {
                        destination: name.clone(),
                        key: key.to_string(),
                        blocked_by: seq,
                        waiting: queue.seqs.len(),
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.destination, &a.key).cmp(&(&b.destination, &b.key)));
        out
    }

    /// The dead letter blocking `key` of `destination`, if one does.
    pub(crate) fn blocked_by(&self, destination: &str, key: &str) -> Option<u64> {
        self.lanes.get(destination)?.keys.get(key)?.blocked_by
    }

    /// Each destination's queue.
    pub(crate) fn lanes(&self) -> Vec<LaneView> {
        self.lanes
            .iter()
            .map(|(name, lane)| LaneView {
                destination: name.clone(),
                pending: lane.slots.len(),
                in_flight: lane.in_flight,
                waiting: lane
                    .slots
                    .values()
                    .filter(|s| s.state == State::Waiting)
                    .count(),
                ordered_keys: lane.keys.values().filter(|q| !q.seqs.is_empty()).count(),
            })
            .collect()
    }

    /// How many deliveries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lanes.values().map(|l| l.slots.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(take: &Take) -> Vec<(u64, &str)> {
        take.taken
            .iter()
            .map(|t| (t.seq, t.destination.as_str()))
            .collect()
    }

    #[test]
    fn orders_by_time_and_counts_per_event() {
        let mut index = DueIndex::default();
        index.schedule("a", 1, 30, None);
        index.schedule("a", 2, 10, None);
        index.schedule("b", 1, 20, None);
        index.schedule("b", 1, 20, None); // again: no change
        assert_eq!(index.len(), 3);
        let due: Vec<(u64, String)> = index
            .due(20, 10)
            .into_iter()
            .map(|t| (t.seq, t.destination))
            .collect();
        assert_eq!(due, vec![(2, "a".into()), (1, "b".into())]);
        assert_eq!(index.oldest_seq(), Some(1));
        index.unschedule("a", 1);
        assert_eq!(index.oldest_seq(), Some(1), "event 1 still has b pending");
        index.unschedule("b", 1);
        index.unschedule("b", 1); // again: no change
        assert_eq!(index.oldest_seq(), Some(2));
        index.unschedule("a", 2);
        assert_eq!(index.oldest_seq(), None);
        assert!(index.due(u64::MAX, 10).is_empty());
        assert!(index.lanes.is_empty(), "idle lanes are dropped");
    }

    #[test]
    fn a_taken_delivery_is_not_taken_again_until_rescheduled_or_released() {
        let mut index = DueIndex::default();
        index.schedule("a", 1, 10, None);
        index.schedule("a", 2, 10, None);
        let first = index.take(10, 1, |_| usize::MAX);
        assert_eq!(seqs(&first), vec![(1, "a")]);
        assert_eq!(seqs(&index.take(10, 10, |_| usize::MAX)), vec![(2, "a")]);
        assert!(index.take(10, 10, |_| usize::MAX).taken.is_empty());
        index.release("a", 1);
        assert_eq!(seqs(&index.take(10, 10, |_| usize::MAX)), vec![(1, "a")]);
        index.schedule("a", 1, 50, None); // retried later
        let later = index.take(10, 10, |_| usize::MAX);
        assert!(later.taken.is_empty());
        assert_eq!(later.next_due_ms, Some(50));
        assert_eq!(seqs(&index.take(50, 10, |_| usize::MAX)), vec![(1, "a")]);
    }

    #[test]
    fn a_held_back_destination_is_skipped_and_others_take_turns() {
        let mut index = DueIndex::default();
        for seq in 0..4 {
            index.schedule("a", seq, 0, None);
            index.schedule("b", seq, 0, None);
        }
        let take = index.take(10, 10, |d| if d == "a" { 0 } else { 1 });
        assert_eq!(seqs(&take), vec![(0, "b")]);
        // Both allowed two: each gets its share, starting after the last lane served.
        let take = index.take(10, 3, |_| 2);
        assert_eq!(seqs(&take), vec![(0, "a"), (1, "a"), (1, "b")]);
        let take = index.take(10, 3, |_| 2);
        assert_eq!(seqs(&take), vec![(2, "a"), (3, "a"), (2, "b")]);
    }

    #[test]
    fn one_key_goes_one_at_a_time_in_acceptance_order() {
        let mut index = DueIndex::default();
        index.schedule("d", 1, 0, Some("k"));
        index.schedule("d", 2, 0, Some("k"));
        index.schedule("d", 3, 0, Some("other"));
        index.schedule("d", 4, 0, None);
        let take = index.take(10, 10, |_| usize::MAX);
        assert_eq!(seqs(&take), vec![(1, "d"), (3, "d"), (4, "d")]);
        // The head is retried: still the head, the next waits through its retries.
        index.schedule("d", 1, 100, Some("k"));
        assert!(index.take(10, 10, |_| usize::MAX).taken.is_empty());
        assert_eq!(seqs(&index.take(100, 10, |_| usize::MAX)), vec![(1, "d")]);
        index.unschedule("d", 1); // delivered
        assert_eq!(seqs(&index.take(100, 10, |_| usize::MAX)), vec![(2, "d")]);
        // A replay of an older event of the key goes first once the one in flight is done.
        index.schedule("d", 0, 100, Some("k"));
        assert!(index.take(100, 10, |_| usize::MAX).taken.is_empty());
        index.schedule("d", 2, 100, Some("k")); // retried
        assert_eq!(seqs(&index.take(100, 10, |_| usize::MAX)), vec![(0, "d")]);
    }

    #[test]
    fn a_blocked_key_waits_until_released_or_its_dead_letter_is_retried() {
        let mut index = DueIndex::default();
        index.schedule("d", 1, 0, Some("k"));
        index.schedule("d", 2, 0, Some("k"));
        assert_eq!(seqs(&index.take(10, 10, |_| usize::MAX)), vec![(1, "d")]);
        // Event 1 dies, and blocks the key.
        index.block("d", "k", 1);
        index.unschedule("d", 1);
        assert!(index.take(10, 10, |_| usize::MAX).taken.is_empty());
        assert_eq!(index.blocked_by("d", "k"), Some(1));
        assert_eq!(index.blocked()[0].waiting, 1);
        index.schedule("d", 3, 0, Some("k")); // a later event waits too
        assert!(index.take(10, 10, |_| usize::MAX).taken.is_empty());
        // Retrying the dead letter unblocks the key, and it goes first.
        index.schedule("d", 1, 20, Some("k"));
        assert_eq!(index.blocked_by("d", "k"), None);
        assert_eq!(seqs(&index.take(20, 10, |_| usize::MAX)), vec![(1, "d")]);
        index.block("d", "k", 1);
        index.unschedule("d", 1);
        assert!(index.unblock("d", "k"));
        assert!(!index.unblock("d", "k"));
        assert_eq!(seqs(&index.take(20, 10, |_| usize::MAX)), vec![(2, "d")]);
        index.unschedule("d", 2);
        index.unschedule("d", 3);
        assert!(index.lanes.is_empty(), "nothing is kept for an idle key");
    }
}

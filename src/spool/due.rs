//! The due index: every pending delivery by the time of its next attempt, in memory.
//!
//! The deliverer asks "what is due now?" many times a second. When the index was a keyspace of
//! the store, every settled delivery left a tombstone in it that each of those range scans
//! walked until compaction removed it: in a 10-minute run at 7,700 events per second the scans
//! came to dominate the CPU and the gateway fell to a fifth of its rate (BENCHMARKS.md, issue
//! 20). Kept in memory, a scan costs what is due, the index costs no write per accept and none
//! per settle, and it is rebuilt from the pending deliveries when the spool opens (which the
//! store keeps durably). It costs about 80 bytes per pending delivery; the spool's
//! `max_pending` (default 1,000,000) bounds it.
//!
//! The group-commit writer changes the index only after the batch that carries the change is
//! durable, in the order of the batch, so the index never names a delivery the store does not
//! hold.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// The pending deliveries by next attempt time; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct DueIndex {
    /// Due-index keys: next attempt time, sequence number, destination (see `due_key`).
    by_time: BTreeSet<Box<[u8]>>,
    /// How many pending deliveries each event has, to find the oldest without a scan.
    by_seq: BTreeMap<u64, u32>,
}

/// The sequence number inside a due-index key.
fn seq_in(key: &[u8]) -> Option<u64> {
    key.get(8..16)
        .and_then(|seq| seq.try_into().ok())
        .map(u64::from_be_bytes)
}

impl DueIndex {
    /// Add a delivery's key (no change if it is there).
    pub(crate) fn insert(&mut self, key: &[u8]) {
        if self.by_time.insert(key.into()) {
            if let Some(seq) = seq_in(key) {
                *self.by_seq.entry(seq).or_default() += 1;
            }
        }
    }

    /// Remove a delivery's key (no change if it is not there).
    pub(crate) fn remove(&mut self, key: &[u8]) {
        if self.by_time.remove(key) {
            if let Some(seq) = seq_in(key) {
                if let Some(count) = self.by_seq.get_mut(&seq) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        self.by_seq.remove(&seq);
                    }
                }
            }
        }
    }

    /// The keys of the deliveries due at `now_ms` (next attempt at or before it), at most
    /// `limit`, longest due first, starting after the key `after` (from the start if `None`).
    pub(crate) fn due(&self, now_ms: u64, after: Option<&[u8]>, limit: usize) -> Vec<Box<[u8]>> {
        let upper = now_ms.saturating_add(1).to_be_bytes();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_time
            .range::<[u8], _>((lower, Bound::Excluded(&upper[..])))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The lowest sequence number with a pending delivery.
    pub(crate) fn oldest_seq(&self) -> Option<u64> {
        self.by_seq.keys().next().copied()
    }

    /// How many deliveries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_time.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::due_key;

    #[test]
    fn orders_by_time_and_counts_per_event() {
        let mut index = DueIndex::default();
        index.insert(&due_key(30, 1, "a"));
        index.insert(&due_key(10, 2, "a"));
        index.insert(&due_key(20, 1, "b"));
        index.insert(&due_key(20, 1, "b")); // again: no change
        assert_eq!(index.len(), 3);
        assert_eq!(
            index.due(20, None, 10),
            vec![due_key(10, 2, "a").into(), due_key(20, 1, "b").into()]
        );
        assert_eq!(
            index.due(u64::MAX, None, 1),
            vec![due_key(10, 2, "a").into()]
        );
        assert_eq!(
            index.due(u64::MAX, Some(&due_key(10, 2, "a")), 1),
            vec![due_key(20, 1, "b").into()]
        );
        assert_eq!(index.oldest_seq(), Some(1));
        index.remove(&due_key(30, 1, "a"));
        assert_eq!(index.oldest_seq(), Some(1), "event 1 still has b pending");
        index.remove(&due_key(20, 1, "b"));
        index.remove(&due_key(20, 1, "b")); // again: no change
        assert_eq!(index.oldest_seq(), Some(2));
        index.remove(&due_key(10, 2, "a"));
        assert_eq!(index.oldest_seq(), None);
        assert!(index.due(u64::MAX, None, 10).is_empty());
    }
}

//! An in-process [`DedupStore`]: bounded, with a time-to-live, sharded to keep lock hold times short.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::{self, BoxFuture};
use tokio::time::Instant;

use super::{Claim, Claimed, DedupError, DedupKey, DedupStore};

/// The dedup window used when none is configured: 72 hours, longer than the seed senders retry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(72 * 3600);
/// How long a claim stays in flight before another request may take it over.
pub const DEFAULT_IN_FLIGHT_TTL: Duration = Duration::from_secs(60);
/// How many ids the store remembers by default before evicting the oldest.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

const SHARDS: usize = 16;

/// Remembers event ids in memory for a window; see [`DedupStore`] for the protocol.
///
/// Bounded: past `max_entries` the oldest processed ids are forgotten first (a warning is logged),
/// so memory stays flat under any load. Ids in flight are never evicted.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    ttl: Duration,
    in_flight_ttl: Duration,
    max_per_shard: usize,
    next_token: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    InFlight { token: u64, expires: Instant },
    Done { expires: Instant },
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<DedupKey, Entry, BuildHasherDefault<KeyHasher>>,
    // Processed ids in commit order. With one window length for all of them this is also expiry
    // order, so expired ids are always at the front.
    order: VecDeque<(Instant, DedupKey)>,
}

impl Shard {
    fn purge(&mut self, now: Instant) {
        while let Some(&(expires, key)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            self.remove_done(key, expires);
        }
    }

    /// Remove `key` if it is still the processed entry that `expires` describes (a later claim of
    /// the same key may have replaced it).
    fn remove_done(&mut self, key: DedupKey, expires: Instant) {
        if let Some(Entry::Done { expires: e }) = self.map.get(&key) {
            if *e == expires {
                self.map.remove(&key);
            }
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((expires, key)) = self.order.pop_front() {
            let before = self.map.len();
            self.remove_done(key, expires);
            if self.map.len() < before {
                return true;
            }
        }
        false
    }
}

impl MemoryStore {
    /// A store with the default window, in-flight time and size.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_TTL, DEFAULT_IN_FLIGHT_TTL, DEFAULT_MAX_ENTRIES)
    }

    /// A store remembering processed ids for `ttl`, holding claims for `in_flight_ttl`, and at most
    /// about `max_entries` ids.
    pub fn with_limits(ttl: Duration, in_flight_ttl: Duration, max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            ttl,
            in_flight_ttl,
            max_per_shard: max_entries.div_ceil(SHARDS).max(1),
            next_token: AtomicU64::new(1),
        }
    }

    /// How many ids the store holds now (processed and in flight).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.map.len()).unwrap_or(0))
            .sum()
    }

    /// True when the store holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &DedupKey) -> Result<std::sync::MutexGuard<'_, Shard>, DedupError> {
        let index = key.0[15] as usize % SHARDS;
        // A poisoned lock means a panic while holding it, which the code below cannot do; refuse
        // rather than guess.
        self.shards[index]
            .lock()
            .map_err(|_| DedupError::Unavailable("memory store lock poisoned".into()))
    }

    fn claim_now(&self, key: DedupKey) -> Result<Claimed, DedupError> {
        let now = Instant::now();
        let mut shard = self.shard(&key)?;
        shard.purge(now);
        match shard.map.get(&key) {
            Some(Entry::Done { expires }) if *expires > now => return Ok(Claimed::Duplicate),
            Some(Entry::InFlight { expires, .. }) if *expires > now => {
                return Ok(Claimed::InFlight);
            }
            _ => {}
        }
        if shard.map.len() >= self.max_per_shard && shard.evict_oldest() {
            tracing::warn!("dedup memory store is full; forgetting the oldest processed ids");
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        shard.map.insert(
            key,
            Entry::InFlight {
                token,
                expires: now + self.in_flight_ttl,
            },
        );
        Ok(Claimed::New(Claim { key, token }))
    }

    fn commit_now(&self, claim: &Claim) -> Result<(), DedupError> {
        let now = Instant::now();
        let mut shard = self.shard(&claim.key)?;
        let owned = match shard.map.get(&claim.key) {
            Some(Entry::InFlight { token, .. }) => *token == claim.token,
            // Evicted or expired meanwhile: the event was processed, so remember it.
            None => true,
            Some(Entry::Done { .. }) => false,
        };
        if owned {
            let expires = now + self.ttl;
            shard.map.insert(claim.key, Entry::Done { expires });
            shard.order.push_back((expires, claim.key));
        }
        Ok(())
    }

    fn release_now(&self, claim: &Claim) -> Result<(), DedupError> {
        let mut shard = self.shard(&claim.key)?;
        if let Some(Entry::InFlight { token, .. }) = shard.map.get(&claim.key) {
            if *token == claim.token {
                shard.map.remove(&claim.key);
            }
        }
        Ok(())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl DedupStore for MemoryStore {
    fn claim(&self, key: DedupKey) -> BoxFuture<'_, Result<Claimed, DedupError>> {
        Box::pin(future::ready(self.claim_now(key)))
    }

    fn commit<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(future::ready(self.commit_now(claim)))
    }

    fn release<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(future::ready(self.release_now(claim)))
    }
}

/// Dedup keys are already uniform (a cryptographic hash), so the table hashes by taking 8 of
/// their bytes instead of running SipHash over them again.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventId;

    fn key(id: &str) -> DedupKey {
        DedupKey::new("src", &EventId::new(id))
    }

    fn new_claim(store: &MemoryStore, id: &str) -> Claim {
        match store.claim_now(key(id)).unwrap() {
            Claimed::New(c) => c,
            other => panic!("expected a new claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn committed_id_is_a_duplicate() {
        let store = MemoryStore::new();
        let claim = new_claim(&store, "a");
        store.commit_now(&claim).unwrap();
        assert!(matches!(
            store.claim_now(key("a")).unwrap(),
            Claimed::Duplicate
        ));
    }

    #[tokio::test]
    async fn claimed_id_is_in_flight_and_released_id_is_new() {
        let store = MemoryStore::new();
        let claim = new_claim(&store, "a");
        assert!(matches!(
            store.claim_now(key("a")).unwrap(),
            Claimed::InFlight
        ));
        store.release_now(&claim).unwrap();
        new_claim(&store, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn ids_are_forgotten_after_the_window() {
        let store = MemoryStore::with_limits(Duration::from_secs(10), Duration::from_secs(1), 100);
        let claim = new_claim(&store, "a");
        store.commit_now(&claim).unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        new_claim(&store, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_claim_can_be_taken_over_and_old_owner_cannot_release_it() {
        let store = MemoryStore::with_limits(Duration::from_secs(10), Duration::from_secs(1), 100);
        let old = new_claim(&store, "a");
        tokio::time::advance(Duration::from_secs(2)).await;
        let _new = new_claim(&store, "a");
        store.release_now(&old).unwrap();
        assert!(matches!(
            store.claim_now(key("a")).unwrap(),
            Claimed::InFlight
        ));
    }

    #[tokio::test]
    async fn store_stays_bounded() {
        let store = MemoryStore::with_limits(DEFAULT_TTL, DEFAULT_IN_FLIGHT_TTL, 160);
        for i in 0..1000 {
            let claim = new_claim(&store, &i.to_string());
            store.commit_now(&claim).unwrap();
        }
        assert!(store.len() <= 160, "{}", store.len());
        // The most recent id is still remembered.
        assert!(matches!(
            store.claim_now(key("999")).unwrap(),
            Claimed::Duplicate
        ));
    }
}

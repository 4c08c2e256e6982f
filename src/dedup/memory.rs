//! An in-process [`DedupStore`]: bounded, with a time-to-live, sharded to keep lock hold times short.

use std::collections::HashMap;
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

/// Shards at most. Many small tables instead of a few large ones: a table grows by doubling,
/// and the request that makes it grow rehashes it under the shard's lock, so the largest
/// rehash (the p99 spike a growing store showed with 16 shards) is 16 times shorter.
const MAX_SHARDS: usize = 256;
/// Ids per shard aimed at when choosing the number of shards for a store's limit.
const IDS_PER_SHARD: usize = 1024;
/// How often (seconds) a shard drops the ids whose window has passed. Expired ids already
/// count as absent when claimed; the sweep only gives their memory back.
const SWEEP_EVERY_SECS: u32 = 60;

/// Remembers event ids in memory for a window; see [`DedupStore`] for the protocol.
///
/// Bounded: past `max_entries` the oldest processed ids are forgotten first (a warning is logged),
/// so memory stays flat under any load. Ids in flight are never evicted.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    // shards.len() - 1 (a power of two).
    shard_mask: usize,
    ttl: Duration,
    in_flight_ttl: Duration,
    max_per_shard: usize,
    next_token: AtomicU64,
    // Expiry times of processed ids are whole seconds since this instant: 4 bytes an id.
    base: Instant,
}

/// Processed ids, compactly: the key (16 bytes) and its expiry in seconds since the store's base
/// (4 bytes), one table entry and nothing else, about 32 bytes an id with the table's slack (at
/// most 50; tested). Expired ids are swept every [`SWEEP_EVERY_SECS`]; when the shard is full
/// the oldest eighth goes at once. Claims in flight, a handful at any time, live apart with
/// their owner token.
#[derive(Debug, Default)]
struct Shard {
    done: HashMap<DedupKey, u32, BuildHasherDefault<KeyHasher>>,
    in_flight: HashMap<DedupKey, (u64, Instant), BuildHasherDefault<KeyHasher>>,
    // When (seconds since the store's base) to sweep expired ids next.
    next_sweep: u32,
}

impl Shard {
    fn sweep(&mut self, now: u32) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_EVERY_SECS);
        self.done.retain(|_, expires| *expires > now);
    }

    /// Forget the oldest eighth of the processed ids (at least one); false if there were none.
    /// With one window for all ids, the oldest are the ones that expire first.
    fn evict_oldest(&mut self) -> bool {
        if self.done.is_empty() {
            return false;
        }
        let mut expiries: Vec<u32> = self.done.values().copied().collect();
        let nth = (expiries.len() / 8).min(expiries.len() - 1);
        let (_, cutoff, _) = expiries.select_nth_unstable(nth);
        let cutoff = *cutoff;
        self.done.retain(|_, expires| *expires > cutoff);
        true
    }

    fn len(&self) -> usize {
        self.done.len() + self.in_flight.len()
    }

    fn bytes(&self) -> usize {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket besides the entry; buckets are a power of two
        // holding up to 7/8 of them.
        let buckets = |capacity: usize| (capacity * 8 / 7).next_power_of_two();
        buckets(self.done.capacity()) * (size_of::<(DedupKey, u32)>() + 1)
            + buckets(self.in_flight.capacity()) * (size_of::<(DedupKey, (u64, Instant))>() + 1)
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
        let shards = (max_entries / IDS_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two();
        let shards = shards.min(MAX_SHARDS);
        Self {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            shard_mask: shards - 1,
            ttl,
            in_flight_ttl,
            max_per_shard: max_entries.div_ceil(shards).max(1),
            next_token: AtomicU64::new(1),
            base: Instant::now(),
        }
    }

    /// How many ids the store holds now (processed and in flight).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }

    /// True when the store holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory held by the store's tables, in bytes (allocated capacity, not just what is used).
    pub fn memory_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.bytes()).unwrap_or(0))
            .sum()
    }

    /// Whole seconds since the base, rounded up: an id is remembered at least its window.
    fn seconds(&self, at: Instant) -> u32 {
        let elapsed = at.saturating_duration_since(self.base);
        let secs = elapsed.as_secs() + u64::from(elapsed.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    fn shard(&self, key: &DedupKey) -> Result<std::sync::MutexGuard<'_, Shard>, DedupError> {
        let index = key.0[15] as usize & self.shard_mask;
        // A poisoned lock means a panic while holding it, which the code below cannot do; refuse
        // rather than guess.
        self.shards[index]
            .lock()
            .map_err(|_| DedupError::Unavailable("memory store lock poisoned".into()))
    }

    fn claim_now(&self, key: DedupKey) -> Result<Claimed, DedupError> {
        let now = Instant::now();
        // Expired when its expiry second has fully passed: the floor of now.
        let now_secs =
            u32::try_from(now.saturating_duration_since(self.base).as_secs()).unwrap_or(u32::MAX);
        let mut shard = self.shard(&key)?;
        shard.sweep(now_secs);
        if shard.done.get(&key).is_some_and(|e| *e > now_secs) {
            return Ok(Claimed::Duplicate);
        }
        if shard.in_flight.get(&key).is_some_and(|(_, e)| *e > now) {
            return Ok(Claimed::InFlight);
        }
        if shard.len() >= self.max_per_shard && shard.evict_oldest() {
            tracing::warn!("dedup memory store is full; forgetting the oldest processed ids");
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        shard
            .in_flight
            .insert(key, (token, now + self.in_flight_ttl));
        Ok(Claimed::New(Claim { key, token }))
    }

    fn commit_now(&self, claim: &Claim) -> Result<(), DedupError> {
        let now = Instant::now();
        let mut shard = self.shard(&claim.key)?;
        let owned = match shard.in_flight.get(&claim.key) {
            Some((token, _)) => *token == claim.token,
            // Expired and evicted meanwhile: the event was processed, so remember it (unless a
            // later owner already did).
            None => shard
                .done
                .get(&claim.key)
                .is_none_or(|expires| *expires <= self.seconds(now)),
        };
        if owned {
            shard.in_flight.remove(&claim.key);
            let expires = self.seconds(now + self.ttl);
            shard.done.insert(claim.key, expires);
        }
        Ok(())
    }

    fn release_now(&self, claim: &Claim) -> Result<(), DedupError> {
        let mut shard = self.shard(&claim.key)?;
        if shard
            .in_flight
            .get(&claim.key)
            .is_some_and(|(token, _)| *token == claim.token)
        {
            shard.in_flight.remove(&claim.key);
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

    #[test]
    fn a_remembered_id_costs_at_most_50_bytes() {
        // 200k ids over 256 shards: the tables grow by doubling, so this also covers their slack.
        let store = MemoryStore::with_limits(DEFAULT_TTL, DEFAULT_IN_FLIGHT_TTL, 1_000_000);
        let n = 200_000;
        for i in 0..n {
            let claim = new_claim(&store, &format!("id-{i}"));
            store.commit_now(&claim).unwrap();
        }
        assert_eq!(store.len(), n);
        let per_id = store.memory_bytes() / n;
        eprintln!("{per_id} bytes per remembered id");
        assert!(per_id <= 50, "{per_id} bytes per remembered id");
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

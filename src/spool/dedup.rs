//! The spool's dedup table: the one owner of its record, and [`DurableStore`] over it.
//!
//! A processed event's id is remembered as one record, `[DedupKey, 16 bytes] -> expires_ms`
//! (a `u64`, big-endian, wall-clock milliseconds: expiry must mean the same after a restart).
//! Two writers make it: the [`SpoolSink`](super::SpoolSink), in the same commit as the event it
//! accepts, and [`DurableStore::commit`] for pipelines whose sink is not the spool's. Both go
//! through [`DedupRecord`], so the format lives here only.
//!
//! [`DurableStore`] is a [`DedupStore`] whose memory of processed events survives restarts.
//! Claims in flight live in memory (a crash drops them, which is right: the sender's retry must
//! then be processed). Commits are written to the [`Spool`] through its group-commit writer, so a
//! commit costs a share of one fsync, and are read back after a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fjall::compaction::filter::{
    CompactionFilter, CompactionFilterResult, Context, Factory, ItemAccessor, Verdict,
};
use fjall::{Database, Keyspace};
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{Op, Spool, SpoolError, Table};
use crate::clock::now_ms;
use crate::dedup::{Claim, Claimed, DedupError, DedupKey, DedupStore, Remembered};

/// One remembered id in the spool's dedup table; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DedupRecord {
    key: DedupKey,
    expires_ms: u64,
}

impl DedupRecord {
    /// Remember `key` for `ttl` from now.
    pub(crate) fn remember(key: DedupKey, ttl: Duration) -> Self {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self {
            key,
            expires_ms: now_ms().saturating_add(ttl_ms),
        }
    }

    /// The write that stores this record (in a commit of its own or with an event's).
    pub(crate) fn put_op(&self) -> Op {
        Op::Put(
            Table::Dedup,
            self.key.0.to_vec(),
            self.expires_ms.to_be_bytes().to_vec(),
        )
    }

    /// Whether `spool` remembers `key` at `now_ms`: its record is there and has not expired.
    pub(crate) fn live(spool: &Spool, key: DedupKey, now_ms: u64) -> Result<bool, fjall::Error> {
        let stored = spool.table(Table::Dedup).get(key.0)?;
        Ok(stored.is_some_and(|value| Self::expires_ms(&value) > now_ms))
    }

    /// When the stored `value` of a record expires (ms since the epoch); a value that does not
    /// decode has expired (0).
    pub(crate) fn expires_ms(value: &[u8]) -> u64 {
        <[u8; 8]>::try_from(value).map_or(0, u64::from_be_bytes)
    }
}

/// Drops expired records when fjall compacts the dedup table, so that expiry costs no scan.
///
/// A record past its expiry is already not [`live`](DedupRecord::live); this takes it off disk
/// the next time compaction rewrites its table, in fjall's background worker, instead of a
/// retention sweep reading the whole table (millions of records on a busy gateway) and
/// committing its removals through the group-commit writer, in the batches of accepted events.
/// Installed on the dedup keyspace only, by name, when the spool opens.
pub(super) struct DropExpired;

impl Factory for DropExpired {
    fn name(&self) -> &str {
        "hookgate-dedup-expiry"
    }

    fn make_filter(&self, _: &Context) -> Box<dyn CompactionFilter> {
        Box::new(ExpiredBy(now_ms()))
    }
}

/// One compaction's filter: records expired at this time (ms since the epoch) are dropped.
struct ExpiredBy(u64);

impl CompactionFilter for ExpiredBy {
    fn filter_item(&mut self, item: ItemAccessor<'_>, ctx: &Context) -> CompactionFilterResult {
        if DedupRecord::expires_ms(&item.value()?) > self.0 {
            Ok(Verdict::Keep)
        } else if ctx.is_last_level {
            // Nothing older lies below the last level: no tombstone is needed.
            Ok(Verdict::Destroy)
        } else {
            // A tombstone, so that no older record of the id in a lower level shows through.
            Ok(Verdict::Remove)
        }
    }
}

/// Copy the live records of a dedup keyspace written by an earlier version (`old`, whose
/// settings cannot change) into `new`, in batches; expired records are left behind.
pub(super) fn migrate(db: &Database, old: &Keyspace, new: &Keyspace) -> Result<(), SpoolError> {
    const BATCH: usize = 16 * 1024;
    let now = now_ms();
    let (mut batch, mut in_batch, mut copied) = (db.batch(), 0, 0u64);
    for guard in old.iter() {
        let (key, value) = guard.into_inner()?;
        if DedupRecord::expires_ms(&value) <= now {
            continue;
        }
        batch.insert(new, key, value);
        in_batch += 1;
        copied += 1;
        if in_batch == BATCH {
            std::mem::replace(&mut batch, db.batch()).commit()?;
            in_batch = 0;
        }
    }
    batch.commit()?;
    tracing::info!(
        copied,
        "spool: dedup records moved to the table with small tables"
    );
    Ok(())
}

impl From<SpoolError> for DedupError {
    fn from(error: SpoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Processed event ids kept on disk in the spool: claims in memory, commits written to the
/// [`Spool`] through its group-commit writer and read back after a restart.
#[derive(Debug)]
pub struct DurableStore {
    spool: Arc<Spool>,
    ttl: Duration,
    in_flight_ttl: Duration,
    in_flight: Mutex<HashMap<DedupKey, (u64, Instant)>>,
    next_token: AtomicU64,
}

impl DurableStore {
    /// Remember processed ids in `spool` for `ttl`; claims hold for `in_flight_ttl`.
    pub fn new(spool: Arc<Spool>, ttl: Duration, in_flight_ttl: Duration) -> Self {
        Self {
            spool,
            ttl,
            in_flight_ttl,
            in_flight: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
        }
    }

    fn claim_now(&self, key: DedupKey) -> Result<Claimed, DedupError> {
        let now = Instant::now();
        let mut in_flight = self
            .in_flight
            .lock()
            .map_err(|_| DedupError::Unavailable("dedup lock poisoned".into()))?;
        if let Some((_, expires)) = in_flight.get(&key) {
            if *expires > now {
                return Ok(Claimed::InFlight);
            }
        }
        if DedupRecord::live(&self.spool, key, now_ms())
            .map_err(|e| DedupError::Unavailable(e.to_string()))?
        {
            return Ok(Claimed::Duplicate);
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        in_flight.insert(key, (token, now + self.in_flight_ttl));
        Ok(Claimed::New(Claim { key, token }))
    }

    fn forget(&self, claim: &Claim) {
        if let Ok(mut in_flight) = self.in_flight.lock() {
            if in_flight
                .get(&claim.key)
                .is_some_and(|(t, _)| *t == claim.token)
            {
                in_flight.remove(&claim.key);
            }
        }
    }
}

impl DedupStore for DurableStore {
    fn claim(&self, key: DedupKey) -> BoxFuture<'_, Result<Claimed, DedupError>> {
        Box::pin(async move { self.claim_now(key) })
    }

    fn commit<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            // The spool sink writes the dedup record in the same commit as the event; then
            // there is nothing left to write (and no second fsync to wait for).
            let already = DedupRecord::live(&self.spool, claim.key, now_ms()).unwrap_or(false);
            let result = if already {
                Ok(())
            } else {
                let record = DedupRecord::remember(claim.key, self.ttl);
                self.spool.commit(vec![record.put_op()]).await
            };
            // Written or not, this claim is over; on failure the id is not remembered and a
            // retry is processed again (at least once).
            self.forget(claim);
            result.map_err(DedupError::from)
        })
    }

    fn commit_remembered<'a>(
        &'a self,
        claim: &'a Claim,
        remembered: Remembered,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        if remembered.is_in(Arc::as_ptr(&self.spool)) {
            // Written with the event, in this store's own table: nothing to write or look up.
            self.forget(claim);
            return Box::pin(async { Ok(()) });
        }
        self.commit(claim)
    }

    fn release<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            self.forget(claim);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventId;
    use crate::spool::OLD_DEDUP_TABLE;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hookgate-durable-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn key(id: &str) -> DedupKey {
        DedupKey::new("src", &EventId::new(id))
    }

    async fn new_claim(store: &DurableStore, id: &str) -> Claim {
        match store.claim(key(id)).await.unwrap() {
            Claimed::New(claim) => claim,
            other => panic!("expected a new claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn processed_ids_survive_a_restart() {
        let dir = temp("restart");
        {
            let store = DurableStore::new(
                Arc::new(Spool::open(&dir).unwrap()),
                Duration::from_secs(3600),
                Duration::from_secs(60),
            );
            let claim = new_claim(&store, "a").await;
            assert_eq!(store.claim(key("a")).await.unwrap(), Claimed::InFlight);
            store.commit(&claim).await.unwrap();
            // Claimed but never committed: forgotten by the crash, so the retry is processed.
            new_claim(&store, "b").await;
        }
        let store = DurableStore::new(
            Arc::new(Spool::open(&dir).unwrap()),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        assert_eq!(store.claim(key("a")).await.unwrap(), Claimed::Duplicate);
        new_claim(&store, "b").await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_record_written_with_the_event_is_not_written_again() {
        let dir = temp("remembered");
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let store = DurableStore::new(
            Arc::clone(&spool),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        // The sink wrote the record in the event's commit.
        let claim = new_claim(&store, "a").await;
        spool
            .commit(vec![
                DedupRecord::remember(claim.key, Duration::from_secs(3600)).put_op(),
            ])
            .await
            .unwrap();
        let commits = spool.commits();
        let here = Remembered::in_table(Arc::as_ptr(&spool));
        store.commit_remembered(&claim, here).await.unwrap();
        assert_eq!(spool.commits(), commits, "no second write");
        assert_eq!(store.claim(key("a")).await.unwrap(), Claimed::Duplicate);
        // A record remembered in some other table is committed here as usual.
        let claim = new_claim(&store, "b").await;
        let elsewhere = Remembered::in_table(std::ptr::null::<Spool>());
        store.commit_remembered(&claim, elsewhere).await.unwrap();
        assert_eq!(spool.commits(), commits + 1);
        assert_eq!(store.claim(key("b")).await.unwrap(), Claimed::Duplicate);
        drop(store);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Expired records leave the disk when their table is compacted; live ones stay.
    #[tokio::test]
    async fn compaction_drops_expired_records_only() {
        let dir = temp("compaction");
        let spool = Spool::open(&dir).unwrap();
        let now = now_ms();
        let record = |key: &[u8], expires_ms: u64| {
            Op::Put(
                Table::Dedup,
                key.to_vec(),
                expires_ms.to_be_bytes().to_vec(),
            )
        };
        spool
            .commit(vec![
                record(b"expired", now - 1),
                record(b"live", now + 3_600_000),
            ])
            .await
            .unwrap();
        let table = spool.table(Table::Dedup);
        table.rotate_memtable_and_wait().unwrap();
        assert!(table.get(b"expired").unwrap().is_some(), "still on disk");
        table.major_compact().unwrap();
        assert!(table.get(b"expired").unwrap().is_none(), "dropped");
        assert!(table.get(b"live").unwrap().is_some(), "kept");
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A spool whose dedup table an earlier version wrote (fjall's default compaction, under
    /// the old name) still remembers its live ids after the upgrade, in the new table.
    #[tokio::test]
    async fn ids_remembered_by_an_earlier_version_are_remembered_after_the_upgrade() {
        let dir = temp("migrate");
        let now = now_ms();
        {
            let db = Database::builder(&dir).open().unwrap();
            let old = db
                .keyspace(OLD_DEDUP_TABLE, fjall::KeyspaceCreateOptions::default)
                .unwrap();
            old.insert(key("live").0, (now + 3_600_000).to_be_bytes())
                .unwrap();
            old.insert(key("expired").0, (now - 1).to_be_bytes())
                .unwrap();
            db.persist(fjall::PersistMode::SyncAll).unwrap();
        }
        let spool = Arc::new(Spool::open(&dir).unwrap());
        assert!(
            spool
                .table(Table::Dedup)
                .get(key("expired").0)
                .unwrap()
                .is_none()
        );
        let store = DurableStore::new(
            Arc::clone(&spool),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        assert_eq!(store.claim(key("live")).await.unwrap(), Claimed::Duplicate);
        new_claim(&store, "expired").await;
        drop(store);
        drop(spool);
        let db = Database::builder(&dir).open().unwrap();
        assert!(
            !db.keyspace_exists(OLD_DEDUP_TABLE),
            "the old table is gone"
        );
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn released_and_expired_ids_are_new_again() {
        let dir = temp("expiry");
        let store = DurableStore::new(
            Arc::new(Spool::open(&dir).unwrap()),
            Duration::ZERO,
            Duration::from_secs(60),
        );
        let claim = new_claim(&store, "a").await;
        store.release(&claim).await.unwrap();
        let claim = new_claim(&store, "a").await;
        store.commit(&claim).await.unwrap();
        // A zero window forgets at once.
        new_claim(&store, "a").await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

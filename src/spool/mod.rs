//! The embedded durable store: events and dedup state on local disk, fsync'd before a 202.
//!
//! A [`Spool`] is a [fjall](https://docs.rs/fjall) database (an LSM tree with a write-ahead
//! journal, pure Rust) in the data directory. Every write goes through one **group-commit
//! writer**: a dedicated thread takes every write that is waiting, applies them as one atomic
//! batch, fsyncs the journal once, and only then answers each writer. Concurrent requests so
//! share one fsync instead of paying one each, which is what makes durability affordable: on the
//! machine this was measured on, an fsync'd 1 KB write costs about 0.55 ms, so one fsync per
//! request would cap the gateway near 1,800 events per second.
//!
//! Why fjall and not redb: measured on this machine with 1 KB events, durable appends through
//! fjall's journal ran 3.2x (batches of 256) to 5.9x (single events) faster than redb commits,
//! which fsync twice per transaction.
//!
//! The spool holds events ([`StoredEvent`], by sequence number) and the dedup state that
//! survives restarts ([`DurableStore`]). Delivery onward (forwarders, retries, dead
//! letters) builds on it.
//!
//! # Disk space
//!
//! A journal write that fails for lack of space poisons a fjall database until the process
//! restarts, so the spool never lets it come to that: while its filesystem has less free space
//! than [`SpoolLimits::min_free_bytes`] (default 128 MiB), new events are refused with 503 and
//! `Retry-After`, and they are accepted again as soon as space returns. The writer also refuses
//! any batch unless twice its size plus 32 MiB is free (room for a memtable flush), whatever
//! the reserve; measured on a tmpfs, a 4 MiB margin alone still let the database be poisoned. Nothing that was refused was
//! acknowledged, so senders retry it; nothing that was acknowledged is touched.

mod commit;
mod dedup;
mod disk;
mod due;
mod log;
mod queue;
mod readiness;
mod record;
pub mod sink;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use fjall::compaction::Leveled;
use fjall::compaction::filter::Factory as CompactionFilterFactory;
use fjall::config::PinningPolicy;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::clock::now_ms;

use self::commit::{Write, write_loop};
pub use self::dedup::DurableStore;
pub use self::due::{BlockedKey, LaneView};
pub use self::log::{
    DeliveryStatus, DeliveryView, EventStatus, EventSummary, Filter, ReplayOf, Swept,
};
pub use self::queue::{Attempt, Delivery, Due, OnDead, Order};
pub(crate) use self::queue::{decode, delivery_key, encode, seq_of, split_delivery_key};
pub use self::readiness::SpoolReadiness;
pub use self::record::{StoredEvent, StoredMismatch};
pub use self::sink::{SpoolRoute, SpoolSink};

/// Block cache of the store. Reads are recent events (deliveries, admin queries), mostly still
/// in memtables; a small cache keeps the gateway's memory flat.
const BLOCK_CACHE_BYTES: u64 = 8 << 20;
/// Memtable of the events keyspace before it is flushed to disk. fjall's default (64 MiB per
/// keyspace) made a loaded gateway's RSS reach 170 MiB; the journal, not the memtable, is what
/// makes writes durable, so smaller memtables cost only more frequent background flushes.
const EVENTS_MEMTABLE_BYTES: u64 = 8 << 20;
/// Memtables of the small-record keyspaces (deliveries, dedup).
const MEMTABLE_BYTES: u64 = 2 << 20;
/// Event records from this size up keep their bytes in blob files (fjall's key-value
/// separation): written once when the memtable is flushed, never rewritten by compaction, which
/// then moves only keys and pointers. Measured with 1 KB events: 2.8 KB written to disk per
/// event without it, 1.8 KB with it (BENCHMARKS.md, issue 20). Keyspace options are fixed when
/// a keyspace is created, so a spool created by an earlier version keeps its layout.
const BLOB_THRESHOLD_BYTES: u32 = 512;
/// Blob files are deleted (or their live records moved) once most of what they hold has been
/// removed by retention; smaller files give space back sooner.
const BLOB_FILE_BYTES: u64 = 16 << 20;

/// Tables of the dedup keyspace. Its keys are random (hashes of event ids), so every table
/// flushed from a memtable overlaps every older one; with fjall's default (64 MiB tables, a
/// first level of 256 MiB) the whole dedup table sat in one level and each merge into it
/// rewrote all of it: 0.5 s of the one background worker at 500k ids, 1.2 s at 1M, and the
/// reason a gateway's p99 climbed after minutes of sustained load (BENCHMARKS.md, issue 20).
/// Small tables give the levels a size limit, so a merge rewrites a bounded part.
const DEDUP_TABLE_BYTES: u64 = 2 << 20;

/// Most operations applied in one group commit; more wait for the next one.
const MAX_BATCH_OPS: usize = 4096;

/// Why the spool could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The database failed (disk full, I/O error, corruption).
    #[error("spool storage error: {0}")]
    Storage(String),
    /// The writer thread is gone (the spool is shutting down).
    #[error("the spool is closed")]
    Closed,
    /// The spool's filesystem has too little free space for this write; nothing was written.
    #[error("the spool's disk is full ({free} bytes free, {needed} needed)")]
    DiskFull {
        /// Bytes free when the write was refused.
        free: u64,
        /// Bytes the write needed, its margin included.
        needed: u64,
    },
    /// A stored record does not decode.
    #[error("spool record {0} is corrupt")]
    Corrupt(String),
    /// No event is stored under this sequence number (never was, or purged).
    #[error("no event {0} in the spool")]
    NoSuchEvent(u64),
}

impl From<fjall::Error> for SpoolError {
    fn from(error: fjall::Error) -> Self {
        Self::Storage(error.to_string())
    }
}

/// One change in a group commit.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Table, Vec<u8>, Vec<u8>),
    Remove(Table, Vec<u8>),
    /// Change the in-memory due index once the batch is durable.
    Index(IndexChange),
}

/// A change of the due index ([`due`]), applied by the writer after the batch that carries it
/// is durable.
#[derive(Debug, Clone)]
pub(crate) enum IndexChange {
    /// A pending delivery, new or with a new time.
    Schedule {
        destination: String,
        seq: u64,
        next_at_ms: u64,
        key: Option<String>,
    },
    /// A pending delivery is settled (delivered, buried, gone).
    Unschedule { destination: String, seq: u64 },
    /// A dead letter holds its key back.
    Block {
        destination: String,
        key: String,
        seq: u64,
    },
    /// A blocked key goes on.
    Unblock { destination: String, key: String },
}

impl IndexChange {
    fn apply(&self, index: &mut due::DueIndex) {
        match self {
            Self::Schedule {
                destination,
                seq,
                next_at_ms,
                key,
            } => index.schedule(destination, *seq, *next_at_ms, key.as_deref()),
            Self::Unschedule { destination, seq } => index.unschedule(destination, *seq),
            Self::Block {
                destination,
                key,
                seq,
            } => index.block(destination, key, *seq),
            Self::Unblock { destination, key } => {
                index.unblock(destination, key);
            }
        }
    }
}

impl Op {
    /// Schedule `delivery` of event `seq` to `destination` at its next time.
    pub(crate) fn schedule(seq: u64, destination: &str, delivery: &Delivery) -> Self {
        Self::Index(IndexChange::Schedule {
            destination: destination.to_owned(),
            seq,
            next_at_ms: delivery.next_at_ms,
            key: delivery.order.as_ref().map(|o| o.key.clone()),
        })
    }

    /// Take event `seq`'s delivery to `destination` out of the due index.
    pub(crate) fn unschedule(seq: u64, destination: &str) -> Self {
        Self::Index(IndexChange::Unschedule {
            destination: destination.to_owned(),
            seq,
        })
    }
}

/// The spool's keyspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// seq -> [`StoredEvent`]
    Events = 0,
    /// dedup key -> expiry (ms since the epoch)
    Dedup = 1,
    /// seq + destination -> [`Delivery`] still to be made
    Pending = 2,
    /// seq + destination -> [`Delivery`] given up on
    Dead = 3,
    /// seq + destination -> [`Delivery`] made
    Delivered = 4,
    /// source id -> the source's record (JSON), for sources managed through the admin API
    Sources = 5,
    /// seq -> [`StoredMismatch`]es: where an accepted event does not match its
    /// spec. A keyspace of its own, so that event records of earlier versions read unchanged
    /// and events that fit (nearly all) cost nothing more
    Mismatches = 6,
    /// destination name -> its controls as changed at runtime (JSON), so that a pause
    /// survives a restart
    Controls = 7,
}

const TABLES: [&str; 8] = [
    "events",
    DEDUP_TABLE,
    "pending",
    "dead",
    "delivered",
    "sources",
    "mismatches",
    "controls",
];

/// The keyspace that held the due index before it moved to memory ([`due`]); a spool
/// written by an earlier version has it, and it is deleted at open.
const OLD_DUE_TABLE: &str = "due";

/// The dedup keyspace. fjall fixes a keyspace's compaction settings when it is created, so
/// the small tables ([`DEDUP_TABLE_BYTES`]) need a keyspace of their own: a spool written by
/// an earlier version has [`OLD_DEDUP_TABLE`], whose live records are copied here at open.
const DEDUP_TABLE: &str = "dedup.v2";
const OLD_DEDUP_TABLE: &str = "dedup";

/// Attempts kept in a delivery's history; older ones are dropped (the count stays exact).
pub const MAX_HISTORY: usize = 32;

/// One pending delivery an accepted event gets: its destination, and its place in an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    /// The destination's name.
    pub destination: String,
    /// Its ordering key, when its route orders deliveries and the event has the key.
    pub order: Option<Order>,
}

impl Fanout {
    /// A delivery to `destination` in no particular order.
    pub fn unordered(destination: impl Into<String>) -> Self {
        Self {
            destination: destination.into(),
            order: None,
        }
    }
}

/// How much the spool may hold before new events are refused (503) instead of accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Pending deliveries at most.
    pub max_pending: u64,
    /// Bytes of pending deliveries (bodies, once per destination) at most.
    pub max_bytes: u64,
    /// Free space to keep on the spool's filesystem; below it new events are refused (0: no
    /// check). See [Disk space](self#disk-space).
    pub min_free_bytes: u64,
}

/// Default [`SpoolLimits::min_free_bytes`]: room for fjall's journal to be flushed and
/// compacted after the last event was accepted.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 128 << 20;

impl Default for SpoolLimits {
    fn default() -> Self {
        Self {
            max_pending: 1_000_000,
            max_bytes: 1 << 30,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

/// Why the spool refuses new events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fullness {
    /// It holds as many pending deliveries, or bytes of them, as its limits allow.
    Pending,
    /// Its filesystem has less free space than [`SpoolLimits::min_free_bytes`].
    Disk {
        /// Bytes free.
        free: u64,
    },
}

/// The embedded durable store; see the [module docs](self).
pub struct Spool {
    tables: [Keyspace; 8],
    // The pending deliveries by next attempt time, changed by the writer after each commit.
    due: Arc<std::sync::Mutex<due::DueIndex>>,
    // What is pending, kept in memory so that the full check on every request costs nothing;
    // rebuilt from the pending table at open.
    pending: AtomicU64,
    pending_bytes: AtomicU64,
    writes: mpsc::UnboundedSender<Write>,
    // Serializes the delivery log's read-modify-write operations (replay, purge, sweep).
    maintenance: tokio::sync::Mutex<()>,
    next_seq: AtomicU64,
    commits: Arc<AtomicU64>,
    disk: Arc<disk::DiskWatch>,
    // The last group commit's error (a refusal for lack of disk aside), cleared by a success.
    write_failed: Arc<std::sync::Mutex<Option<String>>>,
    writer: Option<JoinHandle<()>>,
    // Wakes whoever delivers from this spool. The spool owns it, not the deliverer, so that what
    // writes work (the sink, the admin API) needs to know only the spool.
    deliverer_wake: Notify,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("next_seq", &self.next_seq)
            .field("commits", &self.commits)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Open (or create) the spool in `dir`.
    pub fn open(dir: &Path) -> Result<Self, SpoolError> {
        let db = Database::builder(dir)
            .cache_size(BLOCK_CACHE_BYTES)
            .with_compaction_filter_factories(Arc::new(|keyspace| {
                (keyspace == DEDUP_TABLE)
                    .then(|| Arc::new(dedup::DropExpired) as Arc<dyn CompactionFilterFactory>)
            }))
            .open()?;
        let mut opened = Vec::with_capacity(TABLES.len());
        for name in TABLES {
            let memtable = if name == "events" {
                EVENTS_MEMTABLE_BYTES
            } else {
                MEMTABLE_BYTES
            };
            opened.push(db.keyspace(name, || {
                let options = KeyspaceCreateOptions::default().max_memtable_size(memtable);
                match name {
                    "events" => options.with_kv_separation(Some(
                        KvSeparationOptions::default()
                            .separation_threshold(BLOB_THRESHOLD_BYTES)
                            .file_target_size(BLOB_FILE_BYTES),
                    )),
                    // Every new event looks its id up here, and finds nothing: the filters
                    // answer that, so they stay in memory (about 1.25 bytes per remembered id)
                    // instead of competing for the block cache with the events.
                    DEDUP_TABLE => options
                        .filter_block_pinning_policy(PinningPolicy::all(true))
                        .index_block_pinning_policy(PinningPolicy::all(true))
                        .compaction_strategy(Arc::new(
                            Leveled::default().with_table_target_size(DEDUP_TABLE_BYTES),
                        )),
                    _ => options,
                }
            })?);
        }
        let tables: [Keyspace; 8] = opened
            .try_into()
            .map_err(|_| SpoolError::Storage("keyspaces".into()))?;
        if db.keyspace_exists(OLD_DUE_TABLE) {
            let old = db.keyspace(OLD_DUE_TABLE, KeyspaceCreateOptions::default)?;
            db.delete_keyspace(old)?;
        }
        if db.keyspace_exists(OLD_DEDUP_TABLE) {
            let old = db.keyspace(OLD_DEDUP_TABLE, KeyspaceCreateOptions::default)?;
            dedup::migrate(&db, &old, &tables[Table::Dedup as usize])?;
            // The copy is on disk before the original goes: a crash in between copies again.
            db.persist(PersistMode::SyncAll)?;
            db.delete_keyspace(old)?;
        }
        // The due index, rebuilt from the pending deliveries (the store's durable record) and
        // the dead letters that hold their keys back.
        let (mut pending, mut pending_bytes) = (0u64, 0u64);
        let mut index = due::DueIndex::default();
        for guard in tables[Table::Dead as usize].iter() {
            let (key, value) = guard.into_inner()?;
            let delivery = decode(&value)?;
            if let Some(order) = delivery.order.as_ref().filter(|o| o.blocks()) {
                let (seq, destination) = split_delivery_key(&key)?;
                index.block(&destination, &order.key, seq);
            }
        }
        for guard in tables[Table::Pending as usize].iter() {
            let (key, value) = guard.into_inner()?;
            let delivery = decode(&value)?;
            pending += 1;
            pending_bytes += delivery.bytes;
            let (seq, destination) = split_delivery_key(&key)?;
            index.schedule(
                &destination,
                seq,
                delivery.next_at_ms,
                delivery.order.as_ref().map(|o| o.key.as_str()),
            );
        }
        let due = Arc::new(std::sync::Mutex::new(index));
        // Sequence numbers continue after the last stored event.
        let next_seq = match tables[Table::Events as usize].iter().next_back() {
            Some(guard) => {
                let key = guard.key()?;
                seq_of(&key).map_or(0, |s| s + 1)
            }
            None => 0,
        };
        let (writes, rx) = mpsc::unbounded_channel();
        let commits = Arc::new(AtomicU64::new(0));
        let disk = Arc::new(disk::DiskWatch::new(dir));
        let write_failed = Arc::new(std::sync::Mutex::new(None));
        let writer = {
            let (db, tables, commits) = (db.clone(), tables.clone(), Arc::clone(&commits));
            let (disk, failed) = (Arc::clone(&disk), Arc::clone(&write_failed));
            let due = Arc::clone(&due);
            std::thread::Builder::new()
                .name("hookgate-spool-writer".into())
                .spawn(move || write_loop(rx, &db, &tables, &due, &commits, &disk, &failed))
                .map_err(|e| SpoolError::Storage(format!("cannot start the writer: {e}")))?
        };
        Ok(Self {
            tables,
            due,
            pending: AtomicU64::new(pending),
            pending_bytes: AtomicU64::new(pending_bytes),
            writes,
            maintenance: tokio::sync::Mutex::new(()),
            next_seq: AtomicU64::new(next_seq),
            commits,
            disk,
            write_failed,
            writer: Some(writer),
            deliverer_wake: Notify::new(),
        })
    }

    /// Apply `ops` atomically and durably (sharing the fsync with concurrent writers).
    pub(crate) async fn commit(&self, ops: Vec<Op>) -> Result<(), SpoolError> {
        let (done, answer) = oneshot::channel();
        self.writes
            .send(Write { ops, done })
            .map_err(|_| SpoolError::Closed)?;
        answer.await.map_err(|_| SpoolError::Closed)?
    }

    /// Tell whoever delivers from this spool that there is work now (an event was accepted, a
    /// delivery rescheduled). A wake-up while nobody waits is kept for the next wait.
    pub fn wake_deliverer(&self) {
        self.deliverer_wake.notify_one();
    }

    /// Wait for the next [`wake_deliverer`](Self::wake_deliverer) (or the one kept since the
    /// last wait). The deliverer waits on it between rounds.
    pub async fn deliverer_woken(&self) {
        self.deliverer_wake.notified().await;
    }

    /// Store the record of a managed source durably (replacing any under `id`).
    pub async fn put_source(&self, id: &str, record: Vec<u8>) -> Result<(), SpoolError> {
        self.commit(vec![Op::Put(
            Table::Sources,
            id.as_bytes().to_vec(),
            record,
        )])
        .await
    }

    /// Remove the record of a managed source durably.
    pub async fn remove_source(&self, id: &str) -> Result<(), SpoolError> {
        self.commit(vec![Op::Remove(Table::Sources, id.as_bytes().to_vec())])
            .await
    }

    /// Store the runtime controls of a destination durably (JSON), replacing earlier ones.
    pub async fn put_controls(&self, destination: &str, record: Vec<u8>) -> Result<(), SpoolError> {
        self.commit(vec![Op::Put(
            Table::Controls,
            destination.as_bytes().to_vec(),
            record,
        )])
        .await
    }

    /// Every destination's stored runtime controls, by name.
    pub fn controls(&self) -> Result<Vec<(String, Vec<u8>)>, SpoolError> {
        let mut all = Vec::new();
        for guard in self.tables[Table::Controls as usize].iter() {
            let (key, value) = guard.into_inner()?;
            all.push((String::from_utf8_lossy(&key).into_owned(), value.to_vec()));
        }
        Ok(all)
    }

    /// Every stored source record, by id.
    pub fn sources(&self) -> Result<Vec<(String, Vec<u8>)>, SpoolError> {
        let mut all = Vec::new();
        for guard in self.tables[Table::Sources as usize].iter() {
            let (key, value) = guard.into_inner()?;
            all.push((String::from_utf8_lossy(&key).into_owned(), value.to_vec()));
        }
        Ok(all)
    }

    /// Store `event` durably; returns its sequence number once it is on disk.
    pub async fn append(&self, event: &StoredEvent) -> Result<u64, SpoolError> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let bytes = event.encode()?;
        self.commit(vec![Op::Put(
            Table::Events,
            seq.to_be_bytes().to_vec(),
            bytes,
        )])
        .await?;
        Ok(seq)
    }

    /// The event stored under `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<StoredEvent>, SpoolError> {
        match self.table(Table::Events).get(seq.to_be_bytes())? {
            Some(bytes) => StoredEvent::decode(&bytes)
                .map(Some)
                .map_err(|_| SpoolError::Corrupt(seq.to_string())),
            None => Ok(None),
        }
    }

    /// Where the event stored under `seq` does not match its spec (empty when it does, or for
    /// events stored by versions that did not record it).
    pub fn mismatches(&self, seq: u64) -> Result<Vec<StoredMismatch>, SpoolError> {
        match self.table(Table::Mismatches).get(seq.to_be_bytes())? {
            Some(bytes) => record::decode_mismatches(&bytes)
                .map_err(|_| SpoolError::Corrupt(format!("mismatches of {seq}"))),
            None => Ok(Vec::new()),
        }
    }

    /// Every stored event, in sequence order.
    pub fn events(&self) -> impl Iterator<Item = Result<(u64, StoredEvent), SpoolError>> + '_ {
        self.table(Table::Events).iter().map(|guard| {
            let (key, value) = guard.into_inner()?;
            let seq = seq_of(&key).ok_or_else(|| SpoolError::Corrupt("key".into()))?;
            let event =
                StoredEvent::decode(&value).map_err(|_| SpoolError::Corrupt(seq.to_string()))?;
            Ok((seq, event))
        })
    }

    /// How many group commits (each one fsync) the writer has done since the spool opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    pub(crate) fn table(&self, table: Table) -> &Keyspace {
        &self.tables[table as usize]
    }

    /// Store `event` and one pending delivery per destination, plus `extra` writes (the dedup
    /// commit), in one atomic, durable commit. Returns the event's sequence number.
    #[cfg(test)]
    pub(crate) async fn accept(
        &self,
        event: &StoredEvent,
        destinations: &[String],
        extra: Vec<Op>,
    ) -> Result<u64, SpoolError> {
        let fanout: Vec<Fanout> = destinations
            .iter()
            .map(|d| Fanout::unordered(d.clone()))
            .collect();
        self.accept_with_mismatches(event, &[], &fanout, extra)
            .await
    }

    /// [`accept`](Self::accept), keeping in the same commit where the event does not match its
    /// spec (nothing is written for an event that does).
    pub(crate) async fn accept_with_mismatches(
        &self,
        event: &StoredEvent,
        mismatches: &[StoredMismatch],
        destinations: &[Fanout],
        extra: Vec<Op>,
    ) -> Result<u64, SpoolError> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let mut ops = vec![Op::Put(
            Table::Events,
            seq.to_be_bytes().to_vec(),
            event.encode()?,
        )];
        if !mismatches.is_empty() {
            ops.push(Op::Put(
                Table::Mismatches,
                seq.to_be_bytes().to_vec(),
                record::encode_mismatches(mismatches)?,
            ));
        }
        let bytes = event.body.len() as u64;
        let mut fresh = Delivery::fresh(now, bytes);
        let unordered = encode(&fresh)?;
        for fanout in destinations {
            let record = match &fanout.order {
                None => unordered.clone(),
                Some(order) => {
                    fresh.order = Some(order.clone());
                    encode(&fresh)?
                }
            };
            ops.push(Op::Put(
                Table::Pending,
                delivery_key(seq, &fanout.destination),
                record,
            ));
            ops.push(Op::Index(IndexChange::Schedule {
                destination: fanout.destination.clone(),
                seq,
                next_at_ms: now,
                key: fanout.order.as_ref().map(|o| o.key.clone()),
            }));
        }
        ops.extend(extra);
        let count = destinations.len();
        self.commit_requeued(ops, count, bytes.saturating_mul(count as u64))
            .await?;
        Ok(seq)
    }

    /// Is the spool at or over `limits`? New events should then be refused (503).
    pub fn is_full(&self, limits: &SpoolLimits) -> bool {
        self.fullness(limits).is_some()
    }

    /// Why the spool is at or over `limits`, if it is: too much pending, or too little disk.
    /// The disk check applies to every event (each one is written), the pending check only to
    /// events that will be delivered, so callers decide which to apply.
    pub fn fullness(&self, limits: &SpoolLimits) -> Option<Fullness> {
        if self.pending.load(Ordering::Relaxed) >= limits.max_pending
            || self.pending_bytes.load(Ordering::Relaxed) >= limits.max_bytes
        {
            return Some(Fullness::Pending);
        }
        self.disk_low(limits)
    }

    /// [`Fullness::Disk`] if the spool's filesystem has less free space than the limits keep.
    pub fn disk_low(&self, limits: &SpoolLimits) -> Option<Fullness> {
        if limits.min_free_bytes == 0 {
            return None;
        }
        let free = self.disk.free_bytes();
        (free < limits.min_free_bytes).then_some(Fullness::Disk { free })
    }

    /// Can the spool take events now? Not when its last write failed (an I/O error; after a
    /// failed journal write the store refuses every write until restart), nor while its disk has
    /// less free space than `limits` keep. The error says which.
    pub fn writable(&self, limits: &SpoolLimits) -> Result<(), String> {
        let failed = match self.write_failed.lock() {
            Ok(failed) => failed.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(error) = failed {
            return Err(format!("the last write failed: {error}"));
        }
        match self.disk_low(limits) {
            Some(Fullness::Disk { free }) => Err(format!(
                "{free} bytes free on the spool's disk, below min_free_bytes = {}",
                limits.min_free_bytes
            )),
            _ => Ok(()),
        }
    }

    /// Age of the oldest pending delivery (the event accepted first that still has one), if
    /// any is pending.
    pub fn oldest_pending_age(&self) -> Result<Option<std::time::Duration>, SpoolError> {
        let oldest = self.index().oldest_seq();
        let Some(seq) = oldest else {
            return Ok(None);
        };
        let Some(guard) = self.table(Table::Pending).prefix(seq.to_be_bytes()).next() else {
            return Ok(None); // settled since
        };
        let value = guard.value()?;
        let delivery = decode(&value)?;
        Ok(Some(std::time::Duration::from_millis(
            now_ms().saturating_sub(delivery.first_at_ms),
        )))
    }

    /// Bytes free on the spool's filesystem (read at most every 50 ms).
    pub fn free_bytes(&self) -> u64 {
        self.disk.free_bytes()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it finished what was queued.
        let (closed, _) = mpsc::unbounded_channel();
        self.writes = closed;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests;

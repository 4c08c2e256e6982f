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
//! survives restarts ([`crate::dedup::durable`]). Delivery onward (forwarders, retries, dead
//! letters) builds on it.

mod record;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use tokio::sync::{mpsc, oneshot};

pub use self::record::StoredEvent;

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
    /// A stored record does not decode.
    #[error("spool record {0} is corrupt")]
    Corrupt(String),
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
}

/// The spool's keyspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Events,
    Dedup,
}

struct Write {
    ops: Vec<Op>,
    done: oneshot::Sender<Result<(), SpoolError>>,
}

/// The embedded durable store; see the [module docs](self).
pub struct Spool {
    events: Keyspace,
    dedup: Keyspace,
    writes: mpsc::UnboundedSender<Write>,
    next_seq: AtomicU64,
    commits: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
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
        let db = Database::builder(dir).open()?;
        let events = db.keyspace("events", KeyspaceCreateOptions::default)?;
        let dedup = db.keyspace("dedup", KeyspaceCreateOptions::default)?;
        // Sequence numbers continue after the last stored event.
        let next_seq = match events.iter().next_back() {
            Some(guard) => {
                let key = guard.key()?;
                seq_of(&key).map_or(0, |s| s + 1)
            }
            None => 0,
        };
        let (writes, rx) = mpsc::unbounded_channel();
        let commits = Arc::new(AtomicU64::new(0));
        let writer = {
            let (db, events, dedup, commits) = (
                db.clone(),
                events.clone(),
                dedup.clone(),
                Arc::clone(&commits),
            );
            std::thread::Builder::new()
                .name("hookgate-spool-writer".into())
                .spawn(move || write_loop(rx, &db, &events, &dedup, &commits))
                .map_err(|e| SpoolError::Storage(format!("cannot start the writer: {e}")))?
        };
        Ok(Self {
            events,
            dedup,
            writes,
            next_seq: AtomicU64::new(next_seq),
            commits,
            writer: Some(writer),
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
        match self.events.get(seq.to_be_bytes())? {
            Some(bytes) => StoredEvent::decode(&bytes)
                .map(Some)
                .map_err(|_| SpoolError::Corrupt(seq.to_string())),
            None => Ok(None),
        }
    }

    /// Every stored event, in sequence order.
    pub fn events(&self) -> impl Iterator<Item = Result<(u64, StoredEvent), SpoolError>> + '_ {
        self.events.iter().map(|guard| {
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

    pub(crate) fn dedup_table(&self) -> &Keyspace {
        &self.dedup
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

fn seq_of(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

fn write_loop(
    mut rx: mpsc::UnboundedReceiver<Write>,
    db: &Database,
    events: &Keyspace,
    dedup: &Keyspace,
    commits: &AtomicU64,
) {
    while let Some(first) = rx.blocking_recv() {
        // Everything that queued up while the last fsync ran goes into this one.
        let mut waiting = vec![first];
        let mut ops = waiting[0].ops.len();
        while ops < MAX_BATCH_OPS {
            match rx.try_recv() {
                Ok(write) => {
                    ops += write.ops.len();
                    waiting.push(write);
                }
                Err(_) => break,
            }
        }
        let mut batch = db.batch();
        for write in &waiting {
            for Op::Put(table, key, value) in &write.ops {
                let ks = match table {
                    Table::Events => events,
                    Table::Dedup => dedup,
                };
                batch.insert(ks, key.as_slice(), value.as_slice());
            }
        }
        let result = batch
            .commit()
            .and_then(|()| db.persist(PersistMode::SyncAll))
            .map_err(SpoolError::from);
        commits.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            tracing::error!(%error, "spool commit failed; the writes are refused");
        }
        for write in waiting {
            let _ = write.done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("hookgate-spool-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn event(i: u64) -> StoredEvent {
        StoredEvent {
            source: "homa".into(),
            id: format!("id-{i}"),
            kind: "ticket.created".into(),
            received_at_ms: 1_700_000_000_000 + i,
            content_type: Some("application/json".into()),
            body: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    #[tokio::test]
    async fn appended_events_survive_a_reopen_and_sequence_numbers_continue() {
        let dir = temp("reopen");
        {
            let spool = Spool::open(&dir).unwrap();
            assert_eq!(spool.append(&event(0)).await.unwrap(), 0);
            assert_eq!(spool.append(&event(1)).await.unwrap(), 1);
        }
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(spool.get(1).unwrap().unwrap(), event(1));
        assert_eq!(spool.append(&event(2)).await.unwrap(), 2);
        let all: Vec<_> = spool.events().map(|r| r.unwrap().0).collect();
        assert_eq!(all, [0, 1, 2]);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_share_fsyncs() {
        let dir = temp("group");
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let spool = Arc::clone(&spool);
                tokio::spawn(async move { spool.append(&event(i)).await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(spool.events().count(), 200);
        // Each commit is one fsync; 200 concurrent writers must not need 200 of them.
        assert!(spool.commits() < 200, "{} commits", spool.commits());
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

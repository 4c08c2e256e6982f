//! The spool's one writer thread: group commit. Every write (an accepted event with its
//! deliveries and dedup record, a delivery's new state, a source record) is queued to it; it
//! takes what is queued, applies it as one batch, syncs the journal once, and answers each
//! writer. Many writes share one fsync, and none is answered before its fsync.

use super::*;

pub(super) struct Write {
    pub(super) ops: Vec<Op>,
    pub(super) done: oneshot::Sender<Result<(), SpoolError>>,
}

pub(super) fn write_loop(
    mut rx: mpsc::UnboundedReceiver<Write>,
    db: &Database,
    tables: &[Keyspace; TABLES.len()],
    due: &std::sync::Mutex<due::DueIndex>,
    commits: &AtomicU64,
    disk: &disk::DiskWatch,
    failed: &std::sync::Mutex<Option<String>>,
) {
    // Bytes applied to each keyspace's memtable since it was last rotated.
    let mut unflushed = [0u64; TABLES.len()];
    while let Some(first) = rx.blocking_recv() {
        // Everything that queued up while the last fsync ran goes into this one.
        let mut waiting = vec![first];
        let mut ops = waiting[0].ops.len();
        // No deliberate wait for more: measured with 250 us to 1 ms of delay, fewer fsyncs
        // (one per 17 events instead of 10) bought no throughput and cost latency.
        drain(&mut rx, &mut waiting, &mut ops);
        // Refuse a batch that would not fit with a margin: a journal write that fails for lack
        // of space poisons the database until restart, a refused batch only fails its writers.
        let bytes: u64 = waiting
            .iter()
            .flat_map(|write| &write.ops)
            .map(|op| match op {
                Op::Put(_, key, value) => (key.len() + value.len()) as u64,
                Op::Remove(_, key) => key.len() as u64,
                Op::Index(_) => 0,
            })
            .sum();
        let needed = bytes
            .saturating_mul(2)
            .saturating_add(disk::WRITER_MARGIN_BYTES);
        let free = disk.refresh(now_ms());
        if free < needed {
            tracing::error!(free, needed, "spool disk full; the writes are refused");
            let refused = SpoolError::DiskFull { free, needed };
            for write in waiting {
                let _ = write.done.send(Err(refused.clone()));
            }
            continue;
        }
        let mut batch = db.batch();
        for write in &waiting {
            for op in &write.ops {
                match op {
                    Op::Put(table, key, value) => {
                        batch.insert(&tables[*table as usize], key.as_slice(), value.as_slice());
                    }
                    Op::Remove(table, key) => {
                        batch.remove(&tables[*table as usize], key.as_slice())
                    }
                    Op::Index(_) => {}
                }
            }
        }
        let result = batch
            .commit()
            // fdatasync: the journal is only appended to, and fdatasync flushes the file's
            // size with its data; the times that fsync would add are not needed to read it.
            .and_then(|()| db.persist(PersistMode::SyncData))
            .map_err(SpoolError::from);
        commits.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            tracing::error!(%error, "spool commit failed; the writes are refused");
        }
        let mut last = match failed.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        *last = result.as_ref().err().map(ToString::to_string);
        drop(last);
        if result.is_ok() {
            rotate_full_memtables(tables, &waiting, &mut unflushed);
            // The index follows the store, in the batch's order, once the batch is durable.
            let mut index = match due.lock() {
                Ok(index) => index,
                Err(poisoned) => poisoned.into_inner(),
            };
            for op in waiting.iter().flat_map(|write| &write.ops) {
                if let Op::Index(change) = op {
                    change.apply(&mut index);
                }
            }
        }
        for write in waiting {
            let _ = write.done.send(result.clone());
        }
    }
}

/// Hand each keyspace's memtable to fjall's flush once half its size has been written to it.
///
/// fjall can rotate memtables by itself: every batch that leaves a memtable over its maximum
/// size sends its worker pool a rotation request, without blocking, on a channel of 1,000. But
/// while the pool's worker is busy (a compaction of the dedup table takes seconds once it holds
/// millions of ids), a gateway taking thousands of events per second fills that channel with
/// such requests, and the worker's own rotation then blocks on sending its flush request to the
/// channel that only it reads. With one worker (fjall starts one per CPU the process may run
/// on, so one in a 1-CPU container or under `taskset -c 0`) that is a deadlock: nothing is
/// flushed again, and memtables and the journal grow until memory runs out. It happened after
/// 3.5 minutes at 7,200 events per second in bench/longrun.sh (stack of the stuck worker in
/// BENCHMARKS.md, issue 20). Rotating here, below fjall's own threshold, means fjall never asks,
/// and the channel holds only flush and compaction requests. The sizes are counted as key plus
/// value bytes, which undercounts fjall's measure (it adds per-entry overhead), hence half.
fn rotate_full_memtables(
    tables: &[Keyspace; TABLES.len()],
    batch: &[Write],
    unflushed: &mut [u64; TABLES.len()],
) {
    for op in batch.iter().flat_map(|write| &write.ops) {
        let (table, bytes) = match op {
            Op::Put(table, key, value) => (*table, key.len() + value.len()),
            Op::Remove(table, key) => (*table, key.len()),
            Op::Index(_) => continue,
        };
        unflushed[table as usize] += bytes as u64;
    }
    for (index, written) in unflushed.iter_mut().enumerate() {
        let limit = if index == Table::Events as usize {
            EVENTS_MEMTABLE_BYTES
        } else {
            MEMTABLE_BYTES
        };
        if *written >= limit / 2 {
            *written = 0;
            // `rotate_memtable` is public but hidden from fjall's docs (its own tests use it);
            // the version is pinned in Cargo.lock. A failed rotation leaves the data in the
            // memtable, as durable as before (the journal has it); fjall's own request is then
            // the fallback.
            if let Err(error) = tables[index].rotate_memtable() {
                tracing::warn!(%error, table = TABLES[index], "cannot rotate a spool memtable");
            }
        }
    }
}

/// Take what is queued, up to [`MAX_BATCH_OPS`].
fn drain(rx: &mut mpsc::UnboundedReceiver<Write>, waiting: &mut Vec<Write>, ops: &mut usize) {
    while *ops < MAX_BATCH_OPS {
        match rx.try_recv() {
            Ok(write) => {
                *ops += write.ops.len();
                waiting.push(write);
            }
            Err(_) => break,
        }
    }
}

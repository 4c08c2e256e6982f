//! The delivery queue: what a pending delivery is (its attempts, its next time), how its keys
//! are laid out (the due index orders by next time, then sequence, then destination), and the
//! spool's methods that take due deliveries, settle, reschedule or bury them.

use super::*;

/// One delivery attempt, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// When it started (ms since the epoch).
    pub at_ms: u64,
    /// HTTP status, if there was a response.
    pub status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
}

/// The delivery state of one event to one destination.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt was due (ms since the epoch); the age limit counts from here.
    pub first_at_ms: u64,
    /// When the next attempt is due (ms since the epoch).
    pub next_at_ms: u64,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// What went wrong last, if anything.
    pub last_error: Option<String>,
    /// Size of the event's body: what this delivery keeps in the spool.
    pub bytes: u64,
    /// The latest attempts, oldest first (at most [`MAX_HISTORY`]; replays keep them).
    pub history: Vec<Attempt>,
    /// When it was delivered or given up on (ms since the epoch).
    pub settled_at_ms: Option<u64>,
}

impl Delivery {
    /// A delivery not attempted yet, due at `now_ms`, of a body of `bytes`.
    pub fn fresh(now_ms: u64, bytes: u64) -> Self {
        Self {
            attempts: 0,
            first_at_ms: now_ms,
            next_at_ms: now_ms,
            last_status: None,
            last_error: None,
            bytes,
            history: Vec::new(),
            settled_at_ms: None,
        }
    }

    /// Record one attempt.
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_status = attempt.status;
        self.last_error.clone_from(&attempt.error);
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push(attempt);
    }
}

/// A delivery that is due, with what it needs.
#[derive(Debug, Clone)]
pub struct Due {
    /// The event's sequence number.
    pub seq: u64,
    /// The destination's name.
    pub destination: String,
    /// Its state.
    pub delivery: Delivery,
}

/// The due index's key of a delivery due at `next_at_ms`.
pub(crate) fn due_key(next_at_ms: u64, seq: u64, destination: &str) -> Vec<u8> {
    let mut key = next_at_ms.to_be_bytes().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key.extend_from_slice(destination.as_bytes());
    key
}

pub(crate) fn delivery_key(seq: u64, destination: &str) -> Vec<u8> {
    let mut key = seq.to_be_bytes().to_vec();
    key.extend_from_slice(destination.as_bytes());
    key
}

impl Due {
    /// Its key in the due index, as it was when it was read.
    fn index_key(&self) -> Vec<u8> {
        due_key(self.delivery.next_at_ms, self.seq, &self.destination)
    }
}

pub(crate) fn encode(delivery: &Delivery) -> Result<Vec<u8>, SpoolError> {
    postcard::to_stdvec(delivery).map_err(|e| SpoolError::Storage(e.to_string()))
}

pub(crate) fn split_delivery_key(key: &[u8]) -> Result<(u64, String), SpoolError> {
    let corrupt = || SpoolError::Corrupt("delivery key".into());
    let (seq, destination) = key.split_at_checked(8).ok_or_else(corrupt)?;
    let seq = seq_of(seq).ok_or_else(corrupt)?;
    let destination = String::from_utf8(destination.to_vec()).map_err(|_| corrupt())?;
    Ok((seq, destination))
}

pub(crate) fn seq_of(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

impl Spool {
    /// One pending delivery is settled (delivered or buried): it no longer counts.
    pub(crate) fn settled(&self, delivery: &Delivery) {
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        let _ = self
            .pending_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(delivery.bytes))
            });
    }

    /// Commit `ops`, which make `count` deliveries of `bytes` pending (accepted or replayed).
    /// They count from before the commit: the deliverer may settle one as soon as the commit
    /// is done, before this task runs again, and a settle that found the count at zero would
    /// be lost for good (the gauge and the `max_pending` check would drift up). A failed commit
    /// takes them back.
    pub(crate) async fn commit_requeued(
        &self,
        ops: Vec<Op>,
        count: usize,
        bytes: u64,
    ) -> Result<(), SpoolError> {
        let count = count as u64;
        self.pending.fetch_add(count, Ordering::Relaxed);
        self.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
        let committed = self.commit(ops).await;
        if committed.is_err() {
            self.pending.fetch_sub(count, Ordering::Relaxed);
            self.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
        committed
    }

    /// Deliveries due at `now_ms`, at most `limit`, longest due first.
    ///
    /// The store changes before the index (the index follows once the batch is durable), so a
    /// key in the index may name a delivery settled or rescheduled a moment ago: such keys are
    /// skipped and the walk goes on past them, so that `limit` is filled whenever that many are
    /// due (with `limit` 1 and a stale first key, "nothing is due" was answered while hundreds
    /// were).
    pub fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<Due>, SpoolError> {
        let mut due = Vec::new();
        let mut after: Option<Box<[u8]>> = None;
        while due.len() < limit {
            let wanted = limit - due.len();
            let keys = match self.due.lock() {
                Ok(index) => index.due(now_ms, after.as_deref(), wanted),
                Err(poisoned) => poisoned.into_inner().due(now_ms, after.as_deref(), wanted),
            };
            for key in &keys {
                if let Some(one) = self.still_due(key)? {
                    due.push(one);
                }
            }
            if keys.len() < wanted {
                break; // the index has no more due now
            }
            after = keys.into_iter().next_back();
        }
        Ok(due)
    }

    /// The delivery a due-index key names, if the store still has it pending at that time.
    fn still_due(&self, key: &[u8]) -> Result<Option<Due>, SpoolError> {
        let corrupt = || SpoolError::Corrupt("due key".into());
        let (at, rest) = key.split_at_checked(8).ok_or_else(corrupt)?;
        let at = seq_of(at).ok_or_else(corrupt)?;
        let (seq, destination) = split_delivery_key(rest)?;
        let Some(value) = self
            .table(Table::Pending)
            .get(delivery_key(seq, &destination))?
        else {
            return Ok(None); // settled since
        };
        let delivery: Delivery =
            postcard::from_bytes(&value).map_err(|_| SpoolError::Corrupt("delivery".into()))?;
        if delivery.next_at_ms != at {
            return Ok(None); // rescheduled since
        }
        Ok(Some(Due {
            seq,
            destination,
            delivery,
        }))
    }

    /// The delivery is made: move it to the delivery log, with this final state.
    pub async fn delivered(&self, due: &Due, delivery: &Delivery) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        let mut done = delivery.clone();
        done.settled_at_ms = Some(now_ms());
        self.commit(vec![
            Op::Unschedule(due.index_key()),
            Op::Remove(Table::Pending, key.clone()),
            Op::Put(Table::Delivered, key, encode(&done)?),
        ])
        .await?;
        self.settled(&due.delivery);
        Ok(())
    }

    /// Forget a pending delivery whose event is gone.
    #[cfg_attr(not(feature = "delivery"), allow(dead_code))]
    pub(crate) async fn drop_pending(&self, due: &Due) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        self.commit(vec![
            Op::Unschedule(due.index_key()),
            Op::Remove(Table::Pending, key),
        ])
        .await?;
        self.settled(&due.delivery);
        Ok(())
    }

    /// Try again later, with this state.
    pub async fn reschedule(&self, due: &Due, delivery: &Delivery) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        self.commit(vec![
            Op::Unschedule(due.index_key()),
            Op::Schedule(due_key(delivery.next_at_ms, due.seq, &due.destination)),
            Op::Put(Table::Pending, key, encode(delivery)?),
        ])
        .await
    }

    /// Give up: move the delivery to the dead letters.
    pub async fn bury(&self, due: &Due, delivery: &Delivery) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        let mut dead = delivery.clone();
        dead.settled_at_ms = Some(now_ms());
        self.commit(vec![
            Op::Unschedule(due.index_key()),
            Op::Remove(Table::Pending, key.clone()),
            Op::Put(Table::Dead, key, encode(&dead)?),
        ])
        .await?;
        self.settled(&due.delivery);
        Ok(())
    }

    /// How many deliveries are pending.
    pub fn pending_len(&self) -> usize {
        usize::try_from(self.pending.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// The dead letters: (event sequence number, destination, last state).
    pub fn dead(&self) -> Result<Vec<Due>, SpoolError> {
        let mut dead = Vec::new();
        for guard in self.table(Table::Dead).iter() {
            let (key, value) = guard.into_inner()?;
            let delivery: Delivery =
                postcard::from_bytes(&value).map_err(|_| SpoolError::Corrupt("dead".into()))?;
            let (seq, destination) = split_delivery_key(&key)?;
            dead.push(Due {
                seq,
                destination,
                delivery,
            });
        }
        Ok(dead)
    }
}

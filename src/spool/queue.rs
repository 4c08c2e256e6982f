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
    /// Its ordering key, when its route has `order_by` and the event has the key.
    pub order: Option<Order>,
}

/// A delivery's place in the order of its key: deliveries of one key to one destination go
/// one at a time, in the order they were accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// The key's value (from the route's `order_by`).
    pub key: String,
    /// What its becoming a dead letter does to the key.
    pub on_dead: OnDead,
    /// A dead letter that blocked its key was released by an operator (the key went on).
    pub released: bool,
}

/// What a dead letter of an ordered delivery does to the deliveries of its key behind it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDead {
    /// They wait until the dead letter is retried or released (the order holds).
    #[default]
    Block,
    /// They go on (the key's order holds among the deliveries that are made).
    Skip,
}

impl Order {
    /// The order of key `key`, whose dead letters do `on_dead`.
    pub fn new(key: impl Into<String>, on_dead: OnDead) -> Self {
        Self {
            key: key.into(),
            on_dead,
            released: false,
        }
    }

    /// Does a dead letter with this order hold its key back?
    pub fn blocks(&self) -> bool {
        self.on_dead == OnDead::Block && !self.released
    }
}

/// A delivery as versions before ordering stored it (no `order`).
#[derive(serde::Deserialize)]
struct DeliveryV1 {
    attempts: u32,
    first_at_ms: u64,
    next_at_ms: u64,
    last_status: Option<u16>,
    last_error: Option<String>,
    bytes: u64,
    history: Vec<Attempt>,
    settled_at_ms: Option<u64>,
}

/// Read a stored delivery, in this version's layout or the one before it.
pub(crate) fn decode(bytes: &[u8]) -> Result<Delivery, SpoolError> {
    // postcard records are not self-describing: a record of the earlier layout ends where
    // `order` would start, so reading it as the new layout fails (never misreads), and it is
    // read again as the old one.
    if let Ok(delivery) = postcard::from_bytes::<Delivery>(bytes) {
        return Ok(delivery);
    }
    let old: DeliveryV1 =
        postcard::from_bytes(bytes).map_err(|_| SpoolError::Corrupt("delivery".into()))?;
    Ok(Delivery {
        attempts: old.attempts,
        first_at_ms: old.first_at_ms,
        next_at_ms: old.next_at_ms,
        last_status: old.last_status,
        last_error: old.last_error,
        bytes: old.bytes,
        history: old.history,
        settled_at_ms: old.settled_at_ms,
        order: None,
    })
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
            order: None,
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

pub(crate) fn delivery_key(seq: u64, destination: &str) -> Vec<u8> {
    let mut key = seq.to_be_bytes().to_vec();
    key.extend_from_slice(destination.as_bytes());
    key
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

    /// Deliveries that may be attempted at `now_ms` (ready and due: not in flight, not
    /// waiting behind an earlier delivery of their key), at most `limit`, longest due first.
    /// Nothing is taken; the deliverer uses [`take_due`](Self::take_due).
    pub fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<Due>, SpoolError> {
        let listed = self.index().due(now_ms, usize::MAX);
        let mut due = Vec::new();
        for taken in listed {
            if due.len() >= limit {
                break;
            }
            if let Some(one) = self.still_due(&taken)? {
                due.push(one);
            }
        }
        Ok(due)
    }

    /// Take deliveries to attempt now: at most `limit`, each destination at most what
    /// `allowance` grants it (0 holds it back). A taken delivery is in flight until it is
    /// settled, rescheduled or [`release`](Self::release)d; ordered keys give one at a time.
    /// Also says when the next delivery of a destination that was not held back falls due.
    pub fn take_due(
        &self,
        now_ms: u64,
        limit: usize,
        allowance: impl FnMut(&str) -> usize,
    ) -> Result<(Vec<Due>, Option<u64>), SpoolError> {
        let take = self.index().take(now_ms, limit, allowance);
        let mut due = Vec::with_capacity(take.taken.len());
        for taken in take.taken {
            match self.still_due(&taken) {
                Ok(Some(one)) => due.push(one),
                // The store moved on before the index did (settled a moment ago): the index
                // follows once that batch is durable. Put it back meanwhile.
                Ok(None) => self.index().release(&taken.destination, taken.seq),
                Err(error) => {
                    self.index().release(&taken.destination, taken.seq);
                    for one in &due {
                        self.release(one);
                    }
                    return Err(error);
                }
            }
        }
        Ok((due, take.next_due_ms))
    }

    /// Put back a taken delivery whose attempt could not be recorded; it is taken again.
    pub fn release(&self, due: &Due) {
        self.index().release(&due.destination, due.seq);
    }

    pub(crate) fn index(&self) -> std::sync::MutexGuard<'_, due::DueIndex> {
        match self.due.lock() {
            Ok(index) => index,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The delivery a due-index entry names, if the store still has it pending at that time.
    fn still_due(&self, taken: &due::Taken) -> Result<Option<Due>, SpoolError> {
        let Some(value) = self
            .table(Table::Pending)
            .get(delivery_key(taken.seq, &taken.destination))?
        else {
            return Ok(None); // settled since
        };
        let delivery = decode(&value)?;
        if delivery.next_at_ms != taken.next_at_ms {
            return Ok(None); // rescheduled since
        }
        Ok(Some(Due {
            seq: taken.seq,
            destination: taken.destination.clone(),
            delivery,
        }))
    }

    /// The delivery is made: move it to the delivery log, with this final state.
    pub async fn delivered(&self, due: &Due, delivery: &Delivery) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        let mut done = delivery.clone();
        done.settled_at_ms = Some(now_ms());
        self.commit(vec![
            Op::unschedule(due.seq, &due.destination),
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
            Op::unschedule(due.seq, &due.destination),
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
            Op::schedule(due.seq, &due.destination, delivery),
            Op::Put(Table::Pending, key, encode(delivery)?),
        ])
        .await
    }

    /// Give up: move the delivery to the dead letters. An ordered delivery whose route says
    /// `on_dead = "block"` holds its key back until it is retried or released.
    pub async fn bury(&self, due: &Due, delivery: &Delivery) -> Result<(), SpoolError> {
        let key = delivery_key(due.seq, &due.destination);
        let mut dead = delivery.clone();
        dead.settled_at_ms = Some(now_ms());
        let mut ops = Vec::with_capacity(4);
        if let Some(order) = dead.order.as_ref().filter(|o| o.blocks()) {
            // Before the unschedule, so that the next of the key never becomes ready.
            ops.push(Op::Index(IndexChange::Block {
                destination: due.destination.clone(),
                key: order.key.clone(),
                seq: due.seq,
            }));
        }
        ops.push(Op::unschedule(due.seq, &due.destination));
        ops.push(Op::Remove(Table::Pending, key.clone()));
        ops.push(Op::Put(Table::Dead, key, encode(&dead)?));
        self.commit(ops).await?;
        self.settled(&due.delivery);
        Ok(())
    }

    /// Every ordering key held back by a dead letter.
    pub fn blocked(&self) -> Vec<BlockedKey> {
        self.index().blocked()
    }

    /// Each destination's queue: pending, in flight, waiting.
    pub fn lanes(&self) -> Vec<LaneView> {
        self.index().lanes()
    }

    /// Let a blocked key go on without its dead letter, which stays a dead letter (marked
    /// released, so that a restart does not block the key again). Returns the event whose
    /// dead letter was released, or `None` if the key was not blocked.
    pub async fn release_key(
        &self,
        destination: &str,
        key: &str,
    ) -> Result<Option<u64>, SpoolError> {
        let _guard = self.maintenance.lock().await;
        let Some(seq) = self.index().blocked_by(destination, key) else {
            return Ok(None);
        };
        let record = delivery_key(seq, destination);
        let mut ops = Vec::with_capacity(2);
        if let Some(value) = self.table(Table::Dead).get(&record)? {
            let mut dead = decode(&value)?;
            if let Some(order) = dead.order.as_mut() {
                order.released = true;
            }
            ops.push(Op::Put(Table::Dead, record, encode(&dead)?));
        }
        ops.push(Op::Index(IndexChange::Unblock {
            destination: destination.to_owned(),
            key: key.to_owned(),
        }));
        self.commit(ops).await?;
        self.wake_deliverer();
        Ok(Some(seq))
    }

    /// Bytes of pending deliveries (bodies, once per destination).
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes.load(Ordering::Relaxed)
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
            let delivery = decode(&value)?;
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

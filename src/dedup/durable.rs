//! A [`DedupStore`] whose memory of processed events survives restarts: the spool's dedup table.
//!
//! Claims in flight live in memory (a crash drops them, which is right: the sender's retry must
//! then be processed). Commits are written to the [`Spool`] through its group-commit writer, so a
//! commit costs a share of one fsync, and are read back after a restart. Expiry uses wall-clock
//! time, since it must mean the same after a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{Claim, Claimed, DedupError, DedupKey, DedupStore};
use crate::clock::now_ms;
use crate::spool::{Op, Spool, SpoolError, Table};

impl From<SpoolError> for DedupError {
    fn from(error: SpoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Processed event ids kept on disk in the spool; see the [module docs](self).
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
        let stored = self
            .spool
            .table(Table::Dedup)
            .get(key.0)
            .map_err(|e| DedupError::Unavailable(e.to_string()))?;
        if let Some(bytes) = stored {
            let expires_ms = <[u8; 8]>::try_from(&bytes[..]).map_or(0, u64::from_be_bytes);
            if expires_ms > now_ms() {
                return Ok(Claimed::Duplicate);
            }
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
            let already = self
                .spool
                .table(Table::Dedup)
                .get(claim.key.0)
                .ok()
                .flatten()
                .and_then(|bytes| <[u8; 8]>::try_from(&bytes[..]).ok())
                .is_some_and(|expires| u64::from_be_bytes(expires) > now_ms());
            let result = if already {
                Ok(())
            } else {
                let expires_ms = now_ms()
                    .saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
                let op = Op::Put(
                    Table::Dedup,
                    claim.key.0.to_vec(),
                    expires_ms.to_be_bytes().to_vec(),
                );
                self.spool.commit(vec![op]).await
            };
            // Written or not, this claim is over; on failure the id is not remembered and a
            // retry is processed again (at least once).
            self.forget(claim);
            result.map_err(DedupError::from)
        })
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

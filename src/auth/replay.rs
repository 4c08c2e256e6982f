//! Replay cache: each signed request is processed once within its timestamp window.
//!
//! A timestamp tolerance alone lets a captured request be replayed for as long as its timestamp
//! stays in the window (five minutes by default). The [`ReplayGuard`] closes that gap: it
//! remembers each (id, timestamp, signature) that verified until its timestamp leaves the window,
//! and answers a second copy without processing it, the way the dedup stage answers a second
//! copy of an event:
//!
//! - while the first is still being processed: 409 `in_flight` with `Retry-After`;
//! - after the first was accepted (2xx): `200 {"status":"duplicate","id":...}`, with the id of
//!   the event the first answer named ([`Answered`](crate::answer::Answered)). A byte-identical
//!   copy is what a sender sends when it retries after losing the first 2xx (a sender that signs
//!   each attempt afresh sends a new signature, which the dedup stage answers the same way); to
//!   refuse it would make the sender mark a delivered event failed and keep retrying. A captured
//!   request replayed by someone else gains nothing: it is not processed again;
//! - after the first was refused or failed: the entry is gone, and the copy is processed like
//!   any retry (the same rule as a released dedup claim: nothing that was not acknowledged is
//!   lost).
//!
//! Without this cache a copy would still be a duplicate wherever the dedup stage sees the same
//! event id; the cache is what keeps a copy from being processed twice where it would not (no
//! dedup stage, or an event id that the signature does not cover).
//!
//! The cache is per process and holds at most [`DEFAULT_MAX_ENTRIES`]; past that, new signed
//! requests get 503 `unavailable` until entries expire (fail closed). Replicas behind a load
//! balancer each have their own: the shared dedup store (Redis) is what catches a replay sent to
//! another replica, by event id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::event::EventId;

/// Entries at most, by default (about 150 MB with ids of a few dozen bytes, 300 MB at worst
/// with 200-byte ids; at 5 minutes' tolerance, a steady 1,600 signed requests per second).
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// What identifies one signed request, and until when it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey {
    digest: [u8; 32],
    until: SystemTime,
}

impl ReplayKey {
    /// A key for a request whose (id, timestamp, signature) hash to `digest`, kept until `until`
    /// (its signed timestamp plus the tolerance).
    pub fn new(digest: [u8; 32], until: SystemTime) -> Self {
        Self { digest, until }
    }

    /// When the entry can be forgotten: after it, the timestamp window refuses the request.
    pub fn until(&self) -> SystemTime {
        self.until
    }
}

/// What the guard says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayVerdict {
    /// First sight: process it, then [`accept`](ReplayGuard::accept) or
    /// [`release`](ReplayGuard::release) it.
    New,
    /// The same request is being processed now.
    InFlight,
    /// The same request was already accepted, as this event (`None`: the answer named none).
    Accepted(Option<EventId>),
    /// The cache is full.
    Full,
}

#[derive(Debug)]
struct Entry {
    until: SystemTime,
    /// `None` while in flight; once accepted, the event the answer named, if any.
    accepted: Option<Option<EventId>>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<[u8; 32], Entry>,
    /// Sweep expired entries when the map reaches this size (then double it): amortised O(1).
    sweep_at: usize,
}

/// Remembers signed requests within their window; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    // A std Mutex: held for a hash-map lookup, never across an await.
    state: Arc<Mutex<State>>,
    max_entries: usize,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ENTRIES)
    }
}

impl ReplayGuard {
    /// A guard holding at most `max_entries`.
    pub fn new(max_entries: usize) -> Self {
        Self {
            state: Arc::default(),
            max_entries: max_entries.max(1),
        }
    }

    /// Claim `key` at `now`.
    pub fn claim(&self, key: &ReplayKey, now: SystemTime) -> ReplayVerdict {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.entries.get(&key.digest) {
            if entry.until > now {
                return match &entry.accepted {
                    Some(id) => ReplayVerdict::Accepted(id.clone()),
                    None => ReplayVerdict::InFlight,
                };
            }
        }
        let len = state.entries.len();
        if len >= self.max_entries || len >= state.sweep_at.max(1024) {
            state.entries.retain(|_, e| e.until > now);
            state.sweep_at = state.entries.len() * 2;
        }
        if state.entries.len() >= self.max_entries {
            return ReplayVerdict::Full;
        }
        state.entries.insert(
            key.digest,
            Entry {
                until: key.until,
                accepted: None,
            },
        );
        ReplayVerdict::New
    }

    /// The request claimed under `key` was accepted as the event `id` (`None`: the answer named
    /// no event): a copy is answered as a duplicate of it until the entry expires.
    pub fn accept(&self, key: &ReplayKey, id: Option<EventId>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.entries.get_mut(&key.digest) {
            entry.accepted = Some(id);
        }
    }

    /// The request claimed under `key` was not accepted (refused, failed, or abandoned): forget
    /// it, so that a retry of the same bytes is processed.
    pub fn release(&self, key: &ReplayKey) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.entries.remove(&key.digest);
    }

    /// How many requests it remembers.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Releases a claim when dropped unless it was accepted: a request whose future is dropped (the
/// client went away) must not leave its signature blocked.
#[derive(Debug)]
pub(crate) struct ReplayHold {
    guard: ReplayGuard,
    key: ReplayKey,
    done: bool,
}

impl ReplayHold {
    pub(crate) fn new(guard: ReplayGuard, key: ReplayKey) -> Self {
        Self {
            guard,
            key,
            done: false,
        }
    }

    /// Accepted as the event `id`: copies are duplicates of it.
    pub(crate) fn accept(mut self, id: Option<EventId>) {
        self.done = true;
        self.guard.accept(&self.key, id);
    }
}

impl Drop for ReplayHold {
    fn drop(&mut self) {
        if !self.done {
            self.guard.release(&self.key);
        }
    }
}

/// How long a sender is told to wait when the same signed request is in flight.
pub(crate) const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8, until: u64) -> ReplayKey {
        ReplayKey::new([n; 32], SystemTime::UNIX_EPOCH + Duration::from_secs(until))
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_signature_is_processed_once_within_its_window() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.claim(&key(1, 100), at(10)), ReplayVerdict::New);
        assert_eq!(guard.claim(&key(1, 100), at(11)), ReplayVerdict::InFlight);
        guard.accept(&key(1, 100), Some(EventId::new("evt_1")));
        assert_eq!(
            guard.claim(&key(1, 100), at(12)),
            ReplayVerdict::Accepted(Some(EventId::new("evt_1")))
        );
        // Past the window the timestamp check refuses it; the entry may be reused.
        assert_eq!(guard.claim(&key(1, 100), at(101)), ReplayVerdict::New);
    }

    #[test]
    fn an_answer_that_names_no_event_is_still_remembered() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.claim(&key(4, 100), at(10)), ReplayVerdict::New);
        ReplayHold::new(guard.clone(), key(4, 100)).accept(None);
        assert_eq!(
            guard.claim(&key(4, 100), at(11)),
            ReplayVerdict::Accepted(None)
        );
    }

    #[test]
    fn a_failed_request_releases_its_signature() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.claim(&key(2, 100), at(10)), ReplayVerdict::New);
        guard.release(&key(2, 100));
        assert_eq!(guard.claim(&key(2, 100), at(11)), ReplayVerdict::New);
        drop(ReplayHold::new(guard.clone(), key(2, 100)));
        assert_eq!(guard.claim(&key(2, 100), at(12)), ReplayVerdict::New);
    }

    #[test]
    fn a_full_cache_fails_closed_and_sweeps_expired_entries() {
        let guard = ReplayGuard::new(2);
        assert_eq!(guard.claim(&key(1, 100), at(10)), ReplayVerdict::New);
        assert_eq!(guard.claim(&key(2, 100), at(10)), ReplayVerdict::New);
        assert_eq!(guard.claim(&key(3, 100), at(10)), ReplayVerdict::Full);
        // Once the first two have expired, there is room again.
        assert_eq!(guard.claim(&key(3, 300), at(200)), ReplayVerdict::New);
        assert_eq!(guard.len(), 1);
    }
}

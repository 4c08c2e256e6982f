//! Replay cache: each signed request is accepted once within its timestamp window.
//!
//! A timestamp tolerance alone lets a captured request be replayed for as long as its timestamp
//! stays in the window (five minutes by default). The [`ReplayGuard`] closes that gap: it
//! remembers each (id, timestamp, signature) that verified until its timestamp leaves the window,
//! and answers a second copy:
//!
//! - while the first is still being processed: 409 `in_flight` with `Retry-After`, as the dedup
//!   stage does;
//! - after the first was accepted (2xx): 401 `replayed_signature`. Standard Webhooks, Stripe and
//!   Slack senders sign every attempt afresh, so a genuine retry never presents the same
//!   signature twice;
//! - after the first was refused or failed: the entry is gone, and the copy is processed like
//!   any retry (the same rule as a released dedup claim: nothing that was not acknowledged is
//!   lost).
//!
//! The cache is per process and holds at most [`DEFAULT_MAX_ENTRIES`]; past that, new signed
//! requests get 503 `unavailable` until entries expire (fail closed). Replicas behind a load
//! balancer each have their own: the shared dedup store (Redis) is what catches a replay sent to
//! another replica, by event id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Entries at most, by default (about 100 MB at worst; at 5 minutes' tolerance, a steady
/// 1,600 signed requests per second).
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
pub enum Claim {
    /// First sight: process it, then [`finish`](ReplayGuard::finish).
    New,
    /// The same request is being processed now.
    InFlight,
    /// The same request was already accepted.
    Replayed,
    /// The cache is full.
    Full,
}

#[derive(Debug)]
struct Entry {
    until: SystemTime,
    accepted: bool,
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
    pub fn claim(&self, key: &ReplayKey, now: SystemTime) -> Claim {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.entries.get(&key.digest) {
            if entry.until > now {
                return if entry.accepted {
                    Claim::Replayed
                } else {
                    Claim::InFlight
                };
            }
        }
        let len = state.entries.len();
        if len >= self.max_entries || len >= state.sweep_at.max(1024) {
            state.entries.retain(|_, e| e.until > now);
            state.sweep_at = state.entries.len() * 2;
        }
        if state.entries.len() >= self.max_entries {
            return Claim::Full;
        }
        state.entries.insert(
            key.digest,
            Entry {
                until: key.until,
                accepted: false,
            },
        );
        Claim::New
    }

    /// The request claimed under `key` was answered: keep it as accepted, or forget it so that
    /// a retry of the same bytes is processed.
    pub fn finish(&self, key: &ReplayKey, accepted: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if accepted {
            if let Some(entry) = state.entries.get_mut(&key.digest) {
                entry.accepted = true;
            }
        } else {
            state.entries.remove(&key.digest);
        }
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

/// Releases a claim when dropped unless it was finished: a request whose future is dropped (the
/// client went away) must not leave its signature blocked.
#[derive(Debug)]
pub(crate) struct ClaimGuard {
    guard: ReplayGuard,
    key: ReplayKey,
    done: bool,
}

impl ClaimGuard {
    pub(crate) fn new(guard: ReplayGuard, key: ReplayKey) -> Self {
        Self {
            guard,
            key,
            done: false,
        }
    }

    pub(crate) fn finish(mut self, accepted: bool) {
        self.done = true;
        self.guard.finish(&self.key, accepted);
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.done {
            self.guard.finish(&self.key, false);
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
    fn a_signature_is_accepted_once_within_its_window() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.claim(&key(1, 100), at(10)), Claim::New);
        assert_eq!(guard.claim(&key(1, 100), at(11)), Claim::InFlight);
        guard.finish(&key(1, 100), true);
        assert_eq!(guard.claim(&key(1, 100), at(12)), Claim::Replayed);
        // Past the window the timestamp check refuses it; the entry may be reused.
        assert_eq!(guard.claim(&key(1, 100), at(101)), Claim::New);
    }

    #[test]
    fn a_failed_request_releases_its_signature() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.claim(&key(2, 100), at(10)), Claim::New);
        guard.finish(&key(2, 100), false);
        assert_eq!(guard.claim(&key(2, 100), at(11)), Claim::New);
        drop(ClaimGuard::new(guard.clone(), key(2, 100)));
        assert_eq!(guard.claim(&key(2, 100), at(12)), Claim::New);
    }

    #[test]
    fn a_full_cache_fails_closed_and_sweeps_expired_entries() {
        let guard = ReplayGuard::new(2);
        assert_eq!(guard.claim(&key(1, 100), at(10)), Claim::New);
        assert_eq!(guard.claim(&key(2, 100), at(10)), Claim::New);
        assert_eq!(guard.claim(&key(3, 100), at(10)), Claim::Full);
        // Once the first two have expired, there is room again.
        assert_eq!(guard.claim(&key(3, 300), at(200)), Claim::New);
        assert_eq!(guard.len(), 1);
    }
}

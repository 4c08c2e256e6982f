//! Wall-clock time in milliseconds since the Unix epoch.
//!
//! The one clock for everything that must mean the same after a restart or on another machine:
//! spool records and their due times, durable dedup expiry, delivery timestamps, admin queries.
//! Durations inside one process use `tokio::time::Instant` instead, so paused-time tests control
//! them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now (0 if the system clock is before the epoch).
pub fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

/// Milliseconds since the Unix epoch at `at`: 0 before the epoch, `u64::MAX` past what fits.
pub fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn epoch_ms_counts_from_the_epoch_and_saturates_before_it() {
        assert_eq!(epoch_ms(UNIX_EPOCH + Duration::from_millis(1_234)), 1_234);
        assert_eq!(epoch_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert!(now_ms() > 1_700_000_000_000);
    }
}

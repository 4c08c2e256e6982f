//! The wall clock, as every stored timestamp counts it: milliseconds since the Unix epoch.
//!
//! Records that must mean the same after a restart (dedup expiries, delivery times) use wall
//! time, not a monotonic instant; this is the one place that reads it.

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

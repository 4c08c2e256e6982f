//! Free space on the spool's filesystem: refuse new events while it is low, so the store never
//! runs out of disk.
//!
//! A write that fails for lack of space does not just fail: fjall marks the whole database
//! *poisoned* after a failed journal write, and every later write fails until the process
//! restarts. hookgate therefore keeps a reserve. While the free space (what an unprivileged
//! process may still write, `f_bavail`) is below [`SpoolLimits::min_free_bytes`], new events are
//! answered 503 with `Retry-After` and nothing is written; as soon as space returns they are
//! accepted again, without a restart. The group-commit writer also refuses a batch that would not
//! fit with a margin, which covers writes that do not go through the admission check (delivery
//! bookkeeping) and a disk that fills faster than the check notices.
//!
//! Reading the free space costs one `statvfs` call; [`DiskWatch`] caches the reading for
//! [`REFRESH_MS`] so that a busy gateway pays it at most twenty times a second.
//!
//! [`SpoolLimits::min_free_bytes`]: super::SpoolLimits::min_free_bytes

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::now_ms;

/// How long one free-space reading is used before it is read again.
pub(crate) const REFRESH_MS: u64 = 50;

/// Space the writer keeps free beyond a batch's own size, whatever the configured reserve: fjall
/// needs room for its journal's framing and for memtable flushes.
pub(crate) const WRITER_MARGIN_BYTES: u64 = 32 << 20;

/// The free space of one directory's filesystem, read at most every [`REFRESH_MS`].
#[derive(Debug)]
pub(crate) struct DiskWatch {
    dir: PathBuf,
    free: AtomicU64,
    read_at_ms: AtomicU64,
}

impl DiskWatch {
    pub(crate) fn new(dir: &Path) -> Self {
        let watch = Self {
            dir: dir.to_path_buf(),
            free: AtomicU64::new(u64::MAX),
            read_at_ms: AtomicU64::new(0),
        };
        watch.refresh(now_ms());
        watch
    }

    /// Bytes still free for the spool, as of at most [`REFRESH_MS`] ago.
    pub(crate) fn free_bytes(&self) -> u64 {
        let now = now_ms();
        if now.saturating_sub(self.read_at_ms.load(Ordering::Relaxed)) >= REFRESH_MS {
            self.refresh(now)
        } else {
            self.free.load(Ordering::Relaxed)
        }
    }

    /// Read the free space now.
    pub(crate) fn refresh(&self, now: u64) -> u64 {
        let free = available(&self.dir);
        self.free.store(free, Ordering::Relaxed);
        self.read_at_ms.store(now, Ordering::Relaxed);
        free
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`. A filesystem
/// that cannot say counts as full (fail closed; `min_free_bytes = 0` turns the check off).
#[cfg(unix)]
pub(crate) fn available(dir: &Path) -> u64 {
    match rustix::fs::statvfs(dir) {
        Ok(stat) => stat.f_bavail.saturating_mul(stat.f_frsize),
        Err(error) => {
            tracing::warn!(%error, dir = %dir.display(), "cannot read the spool's free space; counting it as full");
            0
        }
    }
}

/// Elsewhere the free space is not checked.
#[cfg(not(unix))]
pub(crate) fn available(_dir: &Path) -> u64 {
    u64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_free_space_of_a_real_directory() {
        let watch = DiskWatch::new(&std::env::temp_dir());
        let free = watch.free_bytes();
        assert!(free > 0 && free < u64::MAX, "{free}");
    }

    #[test]
    fn a_directory_that_cannot_be_read_counts_as_full() {
        assert_eq!(available(Path::new("/nonexistent/hookgate/spool")), 0);
    }
}

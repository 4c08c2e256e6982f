//! [`SpoolReadiness`]: the spool's `/readyz` check.
//!
//! It lives with the spool so that [`health`](crate::health) needs no storage: the application
//! registers it with [`Health::with`](crate::health::Health::with).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{Spool, SpoolLimits};
use crate::health::Readiness;

/// The `spool` check: the spool is writable under its limits ([`Spool::writable`]): its last
/// write did not fail and its disk has the free space the limits keep.
#[derive(Debug, Clone)]
pub struct SpoolReadiness {
    spool: Arc<Spool>,
    limits: SpoolLimits,
}

impl SpoolReadiness {
    /// Check that `spool` is writable under `limits`.
    pub fn new(spool: Arc<Spool>, limits: SpoolLimits) -> Self {
        Self { spool, limits }
    }
}

impl Readiness for SpoolReadiness {
    fn name(&self) -> &str {
        "spool"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.spool.writable(&self.limits) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Health;

    #[tokio::test]
    async fn a_spool_on_a_disk_below_its_reserve_is_not_ready() {
        let dir = std::env::temp_dir().join(format!("hookgate-health-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let ok = Health::new().with(SpoolReadiness::new(
            Arc::clone(&spool),
            SpoolLimits::default(),
        ));
        assert!(ok.check().await.ready);
        let starved = SpoolLimits {
            min_free_bytes: u64::MAX,
            ..SpoolLimits::default()
        };
        let report = Health::new()
            .with(SpoolReadiness::new(Arc::clone(&spool), starved))
            .check()
            .await;
        assert!(!report.ready);
        assert_eq!(report.checks[1].name, "spool");
        assert!(
            report.checks[1].error.as_deref().unwrap().contains("free"),
            "{report:?}"
        );
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Health: `/healthz` says the process is up, `/readyz` whether it can take events now.
//!
//! A load balancer or orchestrator probes these. `/healthz` answers 200 whenever the process
//! answers at all. `/readyz` answers 200 only when every check passes, and 503 otherwise, with a
//! JSON body naming each check and, for a failed one, why:
//!
//! - `config`: the configuration was loaded (always true once serving; a bad one refuses to
//!   start);
//! - `spool`: the embedded store is writable: its last write did not fail and its disk has the
//!   free space the limits keep ([`Spool::writable`]);
//! - `dedup`: the dedup store answers (Redis is pinged);
//! - `destination:<name>`: each broker a route needs is reachable (NATS connected, Redis pinged).
//!   HTTP upstreams are not checked: their outages are what the spool rides out.
//!
//! Checks run concurrently, each bounded by its own client's timeout. Answers never carry
//! credentials: broker errors name the server, not the URL's user or password.
//!
//! # Example
//!
//! ```
//! use hookgate::health::Health;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let report = Health::new().check().await;
//! assert!(report.ready);
//! assert_eq!(report.checks[0].name, "config");
//! # }
//! ```

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::dedup::DedupStore;
use crate::delivery::Destination;
use crate::spool::{Spool, SpoolLimits};

/// What `/readyz` checks; see the [module docs](self).
#[derive(Clone, Default)]
pub struct Health {
    spool: Option<(Arc<Spool>, SpoolLimits)>,
    dedup: Option<Arc<dyn DedupStore>>,
    destinations: Vec<(String, Arc<dyn Destination>)>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("spool", &self.spool.is_some())
            .field("dedup", &self.dedup.is_some())
            .field(
                "destinations",
                &self.destinations.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// All checks passed.
    pub ready: bool,
    /// Each check, `config` first.
    pub checks: Vec<Check>,
}

impl Health {
    /// Only the `config` check: ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Check that `spool` is writable under `limits`.
    pub fn spool(mut self, spool: Arc<Spool>, limits: SpoolLimits) -> Self {
        self.spool = Some((spool, limits));
        self
    }

    /// Check that `store` answers.
    pub fn dedup(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = Some(store);
        self
    }

    /// Check that the destination `name` is reachable.
    pub fn destination(mut self, name: impl Into<String>, to: Arc<dyn Destination>) -> Self {
        self.destinations.push((name.into(), to));
        self
    }

    /// Run every check (concurrently).
    pub async fn check(&self) -> Report {
        let mut checks = vec![Check {
            name: "config".into(),
            ok: true,
            error: None,
        }];
        if let Some((spool, limits)) = &self.spool {
            checks.push(verdict("spool".into(), spool.writable(limits)));
        }
        if let Some(store) = &self.dedup {
            let result = store.ready().await.map_err(|e| e.to_string());
            checks.push(verdict("dedup".into(), result));
        }
        let destinations = join_all(self.destinations.iter().map(|(name, to)| async move {
            verdict(format!("destination:{name}"), to.ready().await)
        }))
        .await;
        checks.extend(destinations);
        Report {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }

    /// The `/readyz` answer: 200 or 503, with the report as JSON.
    pub async fn readyz(&self) -> Response<Full<Bytes>> {
        let report = self.check().await;
        let status = if report.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json(status, &serde_json::to_vec(&report).unwrap_or_default())
    }
}

/// The `/healthz` answer: 200 `{"status":"up"}`.
pub fn healthz() -> Response<Full<Bytes>> {
    json(StatusCode::OK, br#"{"status":"up"}"#)
}

fn verdict(name: String, result: Result<(), String>) -> Check {
    match result {
        Ok(()) => Check {
            name,
            ok: true,
            error: None,
        },
        Err(error) => Check {
            name,
            ok: false,
            error: Some(error),
        },
    }
}

fn json(status: StatusCode, body: &[u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Outcome;
    use crate::spool::StoredEvent;
    use futures_util::future::BoxFuture;

    struct Down;

    impl Destination for Down {
        fn deliver<'a>(&'a self, _event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
            Box::pin(async {
                Outcome::Retry {
                    status: None,
                    error: "down".into(),
                    after: None,
                }
            })
        }

        fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(async { Err("broker unreachable".to_owned()) })
        }
    }

    #[tokio::test]
    async fn one_failed_check_makes_it_unready_and_says_which() {
        let health = Health::new().destination("queue", Arc::new(Down));
        let report = health.check().await;
        assert!(!report.ready);
        assert_eq!(report.checks[1].name, "destination:queue");
        assert_eq!(
            report.checks[1].error.as_deref(),
            Some("broker unreachable")
        );
        assert_eq!(
            health.readyz().await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn a_spool_on_a_disk_below_its_reserve_is_not_ready() {
        let dir = std::env::temp_dir().join(format!("hookgate-health-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let ok = Health::new().spool(Arc::clone(&spool), SpoolLimits::default());
        assert!(ok.check().await.ready);
        let starved = SpoolLimits {
            min_free_bytes: u64::MAX,
            ..SpoolLimits::default()
        };
        let report = Health::new()
            .spool(Arc::clone(&spool), starved)
            .check()
            .await;
        assert!(!report.ready);
        assert!(
            report.checks[1].error.as_deref().unwrap().contains("free"),
            "{report:?}"
        );
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

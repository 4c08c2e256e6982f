//! Health: `/healthz` says the process is up, `/readyz` whether it can take events now.
//!
//! A load balancer or orchestrator probes these. `/healthz` answers 200 whenever the process
//! answers at all. `/readyz` answers 200 only when every check passes, and 503 otherwise, with a
//! JSON body naming each check and, for a failed one, why:
//!
//! - `config`: the configuration was loaded (always true once serving; a bad one refuses to
//!   start);
//! - `spool`: the embedded store is writable: its last write did not fail and its disk has the
//!   free space the limits keep (`Spool::writable`);
//! - `dedup`: the dedup store answers (Redis is pinged);
//! - `destination:<name>`: each broker a route needs is reachable (NATS connected, Redis pinged).
//!   HTTP upstreams are not checked: their outages are what the spool rides out.
//!
//! Each check is a [`Readiness`]. `dedup` is defined here; the spool's check
//! (`spool::SpoolReadiness`) and the destinations' (`delivery::DestinationReadiness`) live with
//! what they check, so this module knows neither, and the application registers them in the
//! order above.
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
use futures_util::future::{BoxFuture, join_all};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::dedup::DedupStore;

/// One thing `/readyz` checks: the `spool`, the `dedup` store, a `destination:<name>`.
///
/// Each part implements it where it lives (the spool's and the destinations' checks come with
/// them); the application registers them with [`Health::with`].
pub trait Readiness: Send + Sync + 'static {
    /// The check's name in the report.
    fn name(&self) -> &str;

    /// Can it take events now? The error says what is wrong, without credentials.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// What `/readyz` checks; see the [module docs](self).
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<Arc<dyn Readiness>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field(
                "checks",
                &self.checks.iter().map(|c| c.name()).collect::<Vec<_>>(),
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

    /// Check `readiness` too, after the checks registered before it.
    pub fn with(mut self, readiness: impl Readiness) -> Self {
        self.checks.push(Arc::new(readiness));
        self
    }

    /// Check that `store` answers (as `dedup`).
    pub fn dedup(self, store: Arc<dyn DedupStore>) -> Self {
        self.with(DedupReadiness(store))
    }

    /// Run every check (concurrently).
    pub async fn check(&self) -> Report {
        let mut checks = vec![Check {
            name: "config".into(),
            ok: true,
            error: None,
        }];
        let verdicts = join_all(
            self.checks
                .iter()
                .map(|c| async move { verdict(c.name().to_owned(), c.check().await) }),
        )
        .await;
        checks.extend(verdicts);
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

/// The `dedup` check: the store answers (Redis is pinged; in-process stores always do).
struct DedupReadiness(Arc<dyn DedupStore>);

impl Readiness for DedupReadiness {
    fn name(&self) -> &str {
        "dedup"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ready().await.map_err(|e| e.to_string()) })
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

    struct Down;

    impl Readiness for Down {
        fn name(&self) -> &str {
            "destination:queue"
        }

        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(async { Err("broker unreachable".to_owned()) })
        }
    }

    #[tokio::test]
    async fn one_failed_check_makes_it_unready_and_says_which() {
        let health = Health::new().with(Down);
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
}

//! [`DestinationReadiness`]: a destination's `/readyz` check.
//!
//! It lives with the destinations so that [`health`](crate::health) needs no delivery: the
//! application registers one per destination with [`Health::with`](crate::health::Health::with).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::Destination;
use crate::health::Readiness;

/// The `destination:<name>` check: [`Destination::ready`] (brokers are asked; HTTP upstreams and
/// the log always are ready, since the spool rides out their outages).
#[derive(Clone)]
pub struct DestinationReadiness {
    // `destination:<name>`, made once: the report names the check on every probe.
    name: String,
    destination: Arc<dyn Destination>,
}

impl std::fmt::Debug for DestinationReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationReadiness")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DestinationReadiness {
    /// Check that the destination `name` is reachable.
    pub fn new(name: &str, destination: Arc<dyn Destination>) -> Self {
        Self {
            name: format!("destination:{name}"),
            destination,
        }
    }
}

impl Readiness for DestinationReadiness {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        self.destination.ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Outcome;
    use crate::health::Health;
    use crate::spool::StoredEvent;
    use http::StatusCode;

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
    async fn an_unreachable_broker_makes_it_unready_and_says_which() {
        let health = Health::new().with(DestinationReadiness::new("queue", Arc::new(Down)));
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

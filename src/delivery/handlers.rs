//! The handlers destination: a [`Router`]'s in-process handlers, run from the spool.
//!
//! In library use with the spool on, an event is persisted and answered 202 first, and the
//! handlers run afterwards through the same delivery machinery as an HTTP upstream: a handler
//! that fails ([`HandlerError::Failed`], or past the router's timeout) is retried with backoff;
//! one that refuses the event ([`HandlerError::Rejected`]) or is a stub
//! ([`HandlerError::NotImplemented`]) makes it a dead letter, to be replayed once fixed.
//!
//! Events handed to handlers from the spool were verified before they were stored; they carry
//! no [`Verified`](crate::event::Verified) proof, which exists only on the request path.

use futures_util::future::BoxFuture;

use super::{Destination, Outcome};
use crate::route::{HandlerError, Router};
use crate::spool::StoredEvent;

/// Runs a [`Router`]'s handlers; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RouterDestination {
    router: Router,
}

impl RouterDestination {
    /// Deliver to `router`'s handlers.
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }
}

impl Destination for RouterDestination {
    fn deliver<'a>(&'a self, stored: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let event = match stored.to_event() {
                Ok(event) => event,
                Err(e) => {
                    return Outcome::Permanent {
                        status: None,
                        error: format!("stored body is not JSON: {e}"),
                    };
                }
            };
            match self.router.dispatch(event).await {
                Ok(()) => Outcome::Delivered { status: None },
                Err(error @ HandlerError::Failed(_)) => Outcome::Retry {
                    after: None,
                    status: None,
                    error: error.to_string(),
                },
                Err(error) => Outcome::Permanent {
                    status: None,
                    error: error.to_string(),
                },
            }
        })
    }
}

use std::sync::Arc;

use tower::Layer;

use super::{Authenticate, Scheme};

/// Applies [`Authenticate`] to a service; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct AuthenticateLayer {
    scheme: Arc<Scheme>,
}

impl AuthenticateLayer {
    /// Verify requests with `scheme`.
    pub fn new(scheme: Scheme) -> Self {
        Self {
            scheme: Arc::new(scheme),
        }
    }

    /// Verify requests with a shared `scheme`.
    pub fn from_shared(scheme: Arc<Scheme>) -> Self {
        Self { scheme }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate::new(inner, Arc::clone(&self.scheme))
    }
}

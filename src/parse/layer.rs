//! [`ParseLayer`]: the tower `Layer` that wraps a service in [`Parse`](super::Parse), with the
//! source's event shape.

use std::sync::Arc;

use tower::Layer;

use super::Parse;
use super::shape::EventShape;

/// Applies [`Parse`] to a service; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct ParseLayer {
    source: Arc<str>,
    shape: Arc<EventShape>,
    allow_unverified: bool,
}

impl ParseLayer {
    /// Build events for the source named `source`, whose events look like `shape`.
    pub fn new(source: impl Into<Arc<str>>, shape: EventShape) -> Self {
        Self::from_shared(source.into(), Arc::new(shape))
    }

    /// Like [`new`](Self::new), sharing an existing shape.
    pub fn from_shared(source: Arc<str>, shape: Arc<EventShape>) -> Self {
        Self {
            source,
            shape,
            allow_unverified: false,
        }
    }

    /// Accept requests that no [`Authenticate`](crate::auth::Authenticate) stage verified. Only for
    /// deployments that establish authenticity another way.
    pub fn allow_unverified(mut self) -> Self {
        self.allow_unverified = true;
        self
    }
}

impl<S> Layer<S> for ParseLayer {
    type Service = Parse<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Parse::new(
            inner,
            Arc::clone(&self.source),
            Arc::clone(&self.shape),
            self.allow_unverified,
        )
    }
}

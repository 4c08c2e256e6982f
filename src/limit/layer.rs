//! [`BodyLimitLayer`]: the tower `Layer` that wraps a service in [`BodyLimit`](super::BodyLimit).

use tower::Layer;

use super::BodyLimit;

/// Applies [`BodyLimit`] to a service; see the [module docs](super).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    max: usize,
}

impl BodyLimitLayer {
    /// Refuse bodies over `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimit::new(inner, self.max)
    }
}

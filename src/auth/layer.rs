//! [`AuthenticateLayer`]: the tower `Layer` that wraps a service in
//! [`Authenticate`](super::Authenticate), with the source's scheme, replay cache and
//! decompression settings.

use std::sync::Arc;

use tower::Layer;

use super::{Authenticate, Decompress, ReplayGuard, Scheme};

/// Applies [`Authenticate`] to a service; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct AuthenticateLayer {
    scheme: Arc<Scheme>,
    decompress: Option<Decompress>,
    replay: ReplayGuard,
}

impl AuthenticateLayer {
    /// Verify requests with `scheme`.
    pub fn new(scheme: Scheme) -> Self {
        Self::from_shared(Arc::new(scheme))
    }

    /// Verify requests with a shared `scheme`.
    pub fn from_shared(scheme: Arc<Scheme>) -> Self {
        Self {
            scheme,
            decompress: None,
            replay: ReplayGuard::default(),
        }
    }

    /// Share `guard` as the replay cache (by default each layer has its own, shared by the
    /// services it builds).
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay = guard;
        self
    }

    /// Accept `gzip` and `deflate` bodies, inflated to at most the cap and verified on the
    /// inflated bytes; without it they are refused with 415. See [`decode`](super::decode).
    pub fn decompress(mut self, decompress: Decompress) -> Self {
        self.decompress = Some(decompress);
        self
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let service =
            Authenticate::new(inner, Arc::clone(&self.scheme)).replay_guard(self.replay.clone());
        match self.decompress {
            Some(decompress) => service.decompress(decompress),
            None => service,
        }
    }
}

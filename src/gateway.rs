//! Gateway: one listener, many sources, each mounted at its own path.
//!
//! [`Gateway`] answers 404 for a path where no source is mounted and 405 (with `Allow: POST`) for
//! any method but POST on a source's path; everything else goes to that source's pipeline. Paths
//! match exactly: no prefix matching, no decoding of `%2F` or `..`.
//!
//! With [`health`](Gateway::health), `GET /healthz` and `GET /readyz` are answered too (see
//! [`crate::health`]), unless a source is mounted at one of those paths.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::health::Health;
use crate::rejection::Rejection;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body every mounted service is converted to.
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;

type Mounted<B> = BoxCloneSyncService<Request<B>, Response<GatewayBody>, Infallible>;

/// Routes requests to sources by path; see the [module docs](self).
pub struct Gateway<B> {
    mounts: Arc<HashMap<String, Mounted<B>>>,
    health: Option<Arc<Health>>,
}

impl<B> Clone for Gateway<B> {
    fn clone(&self) -> Self {
        Self {
            mounts: Arc::clone(&self.mounts),
            health: self.health.clone(),
        }
    }
}

impl<B: Send + 'static> Gateway<B> {
    /// A gateway with nothing mounted.
    pub fn new() -> Self {
        Self {
            mounts: Arc::new(HashMap::new()),
            health: None,
        }
    }

    /// Answer `GET /healthz` and `GET /readyz` with these checks.
    pub fn health(mut self, health: Health) -> Self {
        self.health = Some(Arc::new(health));
        self
    }

    /// Serve `service` at exactly `path`. A later mount at the same path replaces the earlier.
    pub fn mount<S, ResBody>(mut self, path: impl Into<String>, service: S) -> Self
    where
        S: Service<Request<B>, Response = Response<ResBody>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        ResBody: Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        let boxed =
            BoxCloneSyncService::new(service.map_response(|r: Response<ResBody>| {
                r.map(|b| b.map_err(Into::into).boxed_unsync())
            }));
        Arc::make_mut(&mut self.mounts).insert(path.into(), boxed);
        self
    }

    /// The mounted paths.
    pub fn paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = self.mounts.keys().map(String::as_str).collect();
        paths.sort_unstable();
        paths
    }
}

impl<B: Send + 'static> Default for Gateway<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B> fmt::Debug for Gateway<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("paths", &self.mounts.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn boxed(response: Response<Full<Bytes>>) -> Response<GatewayBody> {
    response.map(|b| b.map_err(|never| match never {}).boxed_unsync())
}

fn reject(rejection: Rejection) -> Response<GatewayBody> {
    rejection
        .into_response::<Full<Bytes>>()
        .map(|b| b.map_err(|never| match never {}).boxed_unsync())
}

impl<B: Send + 'static> Service<Request<B>> for Gateway<B> {
    type Response = Response<GatewayBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Mounted services are readied per call, below.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let Some(service) = self.mounts.get(req.uri().path()) else {
            if let Some(health) = &self.health {
                let probe = matches!(*req.method(), Method::GET | Method::HEAD);
                match req.uri().path() {
                    "/healthz" if probe => {
                        return Box::pin(async { Ok(boxed(crate::health::healthz())) });
                    }
                    "/readyz" if probe => {
                        let health = Arc::clone(health);
                        return Box::pin(async move { Ok(boxed(health.readyz().await)) });
                    }
                    _ => {}
                }
            }
            return Box::pin(async { Ok(reject(Rejection::UnknownSource)) });
        };
        if req.method() != Method::POST {
            return Box::pin(async { Ok(reject(Rejection::MethodNotAllowed)) });
        }
        let service = service.clone();
        Box::pin(service.oneshot(req))
    }
}

//! Gateway: one listener, many sources, each mounted at its own path.
//!
//! [`Gateway`] answers 404 for a path where no source is mounted and 405 (with `Allow: POST`) for
//! any method but POST on a source's path; everything else goes to that source's pipeline. A
//! source whose sender checks the endpoint with a GET (Okta, Dropbox) is mounted
//! [answering GET](Mounts::insert_answering_get) too (`Allow: GET, POST`). Paths
//! match exactly: no prefix matching, no decoding of `%2F` or `..`.
//!
//! With [`health`](Gateway::health), `GET /healthz` and `GET /readyz` are answered too (see
//! [`crate::health`]), unless a source is mounted at one of those paths.
//!
//! The mount table can change while the gateway serves: [`Gateway::mounts`] is a handle that
//! mounts and unmounts at runtime (what the sources API does). Each request reads the table once,
//! without a lock; a change replaces the table, so a request in flight finishes on the service it
//! started with.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
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

/// A mounted service, and whether GET reaches it (a sender's GET endpoint check).
struct Mounted<B> {
    service: BoxCloneSyncService<Request<B>, Response<GatewayBody>, Infallible>,
    get: bool,
}

impl<B> Clone for Mounted<B> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            get: self.get,
        }
    }
}

/// Routes requests to sources by path; see the [module docs](self).
///
/// Clones share one mount table.
pub struct Gateway<B> {
    mounts: Mounts<B>,
    health: Option<Arc<Health>>,
}

impl<B> Clone for Gateway<B> {
    fn clone(&self) -> Self {
        Self {
            mounts: self.mounts.clone(),
            health: self.health.clone(),
        }
    }
}

/// A handle on a [`Gateway`]'s mount table, to change it while the gateway serves.
pub struct Mounts<B> {
    table: Arc<ArcSwap<HashMap<String, Mounted<B>>>>,
}

impl<B> Clone for Mounts<B> {
    fn clone(&self) -> Self {
        Self {
            table: Arc::clone(&self.table),
        }
    }
}

impl<B> fmt::Debug for Mounts<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mounts")
            .field("paths", &self.paths())
            .finish()
    }
}

impl<B: Send + 'static> Mounts<B> {
    /// Serve `service` at exactly `path` (POST only), replacing what was there.
    pub fn insert<S, ResBody>(&self, path: impl Into<String>, service: S)
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
        self.insert_methods(path.into(), service, false);
    }

    /// Serve `service` at exactly `path` for GET as well as POST (for a sender that checks the
    /// endpoint with a GET; the service answers that check), replacing what was there.
    pub fn insert_answering_get<S, ResBody>(&self, path: impl Into<String>, service: S)
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
        self.insert_methods(path.into(), service, true);
    }

    fn insert_methods<S, ResBody>(&self, path: String, service: S, get: bool)
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
        let mounted = Mounted {
            service: boxed,
            get,
        };
        self.table.rcu(|table| {
            let mut table = HashMap::clone(table);
            table.insert(path.clone(), mounted.clone());
            table
        });
    }

    /// Stop serving `path`; whether something was mounted there.
    pub fn remove(&self, path: &str) -> bool {
        let before = self.table.rcu(|table| {
            let mut table = HashMap::clone(table);
            table.remove(path);
            table
        });
        before.contains_key(path)
    }
}

impl<B> Mounts<B> {
    /// The mounted paths, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.table.load().keys().cloned().collect();
        paths.sort_unstable();
        paths
    }

    /// Whether something is mounted at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.table.load().contains_key(path)
    }
}

impl<B: Send + 'static> Gateway<B> {
    /// A gateway with nothing mounted.
    pub fn new() -> Self {
        Self {
            mounts: Mounts {
                table: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            },
            health: None,
        }
    }

    /// The handle that changes what is mounted while the gateway serves.
    pub fn mounts(&self) -> Mounts<B> {
        self.mounts.clone()
    }

    /// Answer `GET /healthz` and `GET /readyz` with these checks.
    pub fn health(mut self, health: Health) -> Self {
        self.health = Some(Arc::new(health));
        self
    }

    /// Serve `service` at exactly `path`. A later mount at the same path replaces the earlier.
    pub fn mount<S, ResBody>(self, path: impl Into<String>, service: S) -> Self
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
        self.mounts.insert(path, service);
        self
    }

    /// Serve `service` at exactly `path` for GET as well as POST: for a source whose sender
    /// checks the endpoint with a GET ([`Handshake::answers_get`](crate::handshake::Handshake::answers_get)).
    pub fn mount_answering_get<S, ResBody>(self, path: impl Into<String>, service: S) -> Self
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
        self.mounts.insert_answering_get(path, service);
        self
    }

    /// The mounted paths, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.mounts.paths()
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
            .field("paths", &self.mounts.paths())
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
        let table = self.mounts.table.load();
        let Some(mounted) = table.get(req.uri().path()) else {
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
        let get = mounted.get;
        if req.method() != Method::POST && !(get && req.method() == Method::GET) {
            return Box::pin(async move {
                let mut response = reject(Rejection::MethodNotAllowed);
                if get {
                    response.headers_mut().insert(
                        http::header::ALLOW,
                        http::HeaderValue::from_static("GET, POST"),
                    );
                }
                Ok(response)
            });
        }
        let service = mounted.service.clone();
        Box::pin(service.oneshot(req))
    }
}

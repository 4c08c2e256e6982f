//! Parse: turn verified bytes into an [`Event`].
//!
//! The [`Parse`] service parses the body that [`Authenticate`](crate::auth::Authenticate) verified,
//! once, answers 400 if it is not JSON, reads the event type and id where the source's
//! [`EventShape`] says they are (422 if there is no type), and puts the [`Event`] in the request's
//! extensions for the stages after it. The body passed on is the same bytes.
//!
//! A request that did not come through `Authenticate` is refused with 500 (`misconfigured`): an
//! unverified event must not look like a verified one. Call [`ParseLayer::allow_unverified`] when
//! authenticity is established some other way (mutual TLS, a private network).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::parse::ParseLayer;
//! use hookgate::profile::Profile;
//! use hookgate::Event;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(ParseLayer::new("homa", Profile::Homa.shape()).allow_unverified())
//!     .service(service_fn(|req: Request<Full<Bytes>>| async move {
//!         let event = req.extensions().get::<Event>().unwrap();
//!         assert_eq!(event.kind().as_str(), "ticket.closed");
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let body = r#"{"event":"ticket.closed","timestamp":"2024-01-15T11:00:00Z","data":{"ticket_id":1}}"#;
//! let req = Request::post("/").body(Full::new(Bytes::from(body))).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
//!
//! let broken = Request::post("/").body(Full::new(Bytes::from("{"))).unwrap();
//! assert_eq!(svc.oneshot(broken).await.unwrap().status(), StatusCode::BAD_REQUEST);
//! # }
//! ```

mod layer;
pub mod shape;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::Service;

pub use self::layer::ParseLayer;
use self::shape::EventShape;
use crate::body::{ResponseBody, buffer_request};
use crate::event::{Event, Verified};
use crate::future::take_ready;
use crate::observe;
use crate::rejection::Rejection;

/// Response future of [`Parse`].
pub type ResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send + 'static>>;

/// Parses verified bytes into an [`Event`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Parse<S> {
    inner: S,
    source: Arc<str>,
    shape: Arc<EventShape>,
    allow_unverified: bool,
}

impl<S> Parse<S> {
    /// Wrap `inner`, building events for `source` with `shape`.
    pub fn new(inner: S, source: Arc<str>, shape: Arc<EventShape>, allow_unverified: bool) -> Self {
        Self {
            inner,
            source,
            shape,
            allow_unverified,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwrap the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Build the event from bytes; the part of [`Parse`] that needs no I/O.
pub fn event_from_bytes(
    source: &Arc<str>,
    shape: &EventShape,
    headers: &HeaderMap,
    bytes: Bytes,
    verified: Option<Verified>,
) -> Result<Event, Rejection> {
    let tree = match form_payload(shape, headers, &bytes)? {
        Some(json) => crate::tree::parse(json.as_bytes()),
        None => crate::tree::parse(&bytes),
    }
    .map_err(|e| Rejection::MalformedJson(e.to_string()))?;
    let kind = shape.kind_in(headers, &tree)?;
    let id = shape.id_in(headers, &tree, &bytes);
    let mut kept = HeaderMap::new();
    for name in &shape.keep_headers {
        for value in headers.get_all(name) {
            kept.append(name.clone(), value.clone());
        }
    }
    Ok(Event::from_tree(Arc::clone(source), id, kind, bytes, tree)
        .with_headers(kept)
        .with_verified(verified))
}

/// The JSON in a form-encoded body's `shape.form_field`, for sources that take form bodies;
/// `None` for a body to parse as JSON as it is.
fn form_payload(
    shape: &EventShape,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Option<String>, Rejection> {
    let Some(field) = &shape.form_field else {
        return Ok(None);
    };
    let is_form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok(None);
    }
    let mut values = form_urlencoded::parse(bytes)
        .filter(|(k, _)| k == field.as_str())
        .map(|(_, v)| v.into_owned());
    match (values.next(), values.next()) {
        (Some(json), None) => Ok(Some(json)),
        (None, _) => Err(Rejection::MalformedJson(format!(
            "the form body has no `{field}` field"
        ))),
        (Some(_), Some(_)) => Err(Rejection::MalformedJson(format!(
            "the form body has more than one `{field}` field"
        ))),
    }
}

impl<S, B, ResBody> Service<Request<B>> for Parse<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let source = Arc::clone(&self.source);
        let shape = Arc::clone(&self.shape);
        let allow_unverified = self.allow_unverified;
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let verified = parts.extensions.get::<Verified>().cloned();
            let bytes = match &verified {
                // What is parsed is exactly what was verified.
                Some(v) => v.raw().clone(),
                None if allow_unverified => match buffer_request(&parts.extensions, body).await {
                    Ok(bytes) => bytes,
                    Err(rejection) => return Ok(rejection.into_response()),
                },
                None => {
                    tracing::error!(
                        source = %source,
                        "Parse received a request that no Authenticate stage verified"
                    );
                    return Ok(Rejection::Misconfigured.into_response());
                }
            };
            let started = Instant::now();
            let parsed = event_from_bytes(&source, &shape, &parts.headers, bytes.clone(), verified);
            observe::stage(observe::Stage::Parse, started);
            match parsed {
                Ok(event) => {
                    observe::record_event(event.id().as_str(), event.kind().as_str());
                    parts.extensions.insert(event);
                    let req = Request::from_parts(parts, Full::new(bytes));
                    inner.call(req).await.map(|r| r.map(ResponseBody::inner))
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

//! Route: hand each event to the handlers registered for its type.
//!
//! A [`Router`] maps event-type patterns to async handlers. A pattern is an exact name
//! (`DEVICE_OFFLINE`) or a glob where `*` matches any run of characters and `?` one character
//! (`ALERT_*`, `job.*`, `*`). Every route whose pattern matches gets the event, concurrently
//! (fan-out), and the answer is:
//!
//! * **202** when every handler succeeded (also when no route matched: the event is acknowledged
//!   and dropped, which is logged at debug level);
//! * **501** when a handler said [`HandlerError::NotImplemented`] and none failed;
//! * **503** with `Retry-After` when a handler failed or ran past the timeout: the event was not
//!   accepted, and the [`Dedup`](crate::dedup::Dedup) stage releases its claim so the sender's
//!   retry is processed.
//!
//! A handler is any `async fn(T) -> Result<(), E>` where `T` implements [`FromEvent`] (an
//! [`Event`], or a [`Typed`](crate::Typed) body) and `E` converts into [`HandlerError`] (any
//! `std::error::Error`); the [`handler`](crate::handler) module defines that seam.
//!
//! # Example
//!
//! ```
//! use hookgate::{Event, Router};
//!
//! let router = Router::new()
//!     .on("ALERT_*", |event: Event| async move {
//!         println!("alert {} from {}", event.id(), event.source());
//!         Ok::<_, std::convert::Infallible>(())
//!     })
//!     .on("DEVICE_OFFLINE", |_event: Event| async { Ok::<_, std::io::Error>(()) });
//! assert_eq!(router.len(), 2);
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, join_all};
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

use crate::answer::{self, DEFAULT_RETRY_AFTER};
use crate::event::Event;
use crate::glob;
use crate::rejection::Rejection;

pub mod filter;

pub use self::filter::Filter;

// Old paths, kept for code written against them.

/// The event-type glob matcher, under its old name: generated crates call it. Use
/// [`crate::glob::matches`].
#[doc(hidden)]
pub use crate::glob::matches as glob_match;
/// The handler seam, under its old paths. Use [`crate::handler`].
#[doc(hidden)]
pub use crate::handler::{DEFAULT_HANDLER_TIMEOUT, FromEvent, Handler, HandlerError};

type BoxHandler = Arc<dyn Fn(Event) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

#[derive(Clone)]
struct Route {
    pattern: String,
    // Empty for nearly every route: checked per event only when it is not.
    filter: Filter,
    handler: BoxHandler,
}

/// Dispatches events to handlers by type; see the [module docs](self).
///
/// The innermost service of a pipeline: it takes the [`Event`] from the request's extensions.
#[derive(Clone)]
pub struct Router {
    inner: Arc<RouterInner>,
}

#[derive(Clone, Default)]
struct RouterInner {
    routes: Vec<Route>,
    // The routes by type: exact names looked up, globs tried; what either finds is a route to
    // run unless its filter says otherwise.
    exact: HashMap<String, Vec<usize>>,
    globs: Vec<usize>,
    timeout: Option<Duration>,
    retry_after: Option<Duration>,
}

impl Router {
    /// An empty router: every event is acknowledged and dropped.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(RouterInner::default()),
        }
    }

    fn inner_mut(&mut self) -> &mut RouterInner {
        // Cheap even when shared: routes hold their handlers behind Arcs.
        Arc::make_mut(&mut self.inner)
    }

    /// Send events whose type matches `pattern` to `handler`.
    pub fn on<H, T>(mut self, pattern: impl Into<String>, handler: H) -> Self
    where
        H: Handler<T>,
    {
        let handler = Arc::new(handler);
        let boxed: BoxHandler = Arc::new(move |event| handler.call(event));
        self.inner_mut()
            .push(pattern.into(), Filter::default(), boxed);
        self
    }

    /// Send events whose type matches `pattern` and for which `filter` holds (every condition
    /// on the body and headers; see [`filter`]) to `handler`.
    ///
    /// ```
    /// use hookgate::route::filter::{Condition, ConditionSpec, Filter};
    /// use hookgate::{Event, Router};
    ///
    /// let critical = Condition::parse(&ConditionSpec {
    ///     pointer: Some("/severity".into()),
    ///     equals: Some("CRITICAL".into()),
    ///     ..ConditionSpec::default()
    /// })
    /// .unwrap();
    /// let router = Router::new().on_filtered(
    ///     "CONDITION*",
    ///     Filter::new(vec![critical]),
    ///     |_event: Event| async { Ok::<_, std::convert::Infallible>(()) },
    /// );
    /// assert_eq!(router.matching("CONDITION"), ["CONDITION*"], "by type; the filter is per event");
    /// ```
    pub fn on_filtered<H, T>(
        mut self,
        pattern: impl Into<String>,
        filter: Filter,
        handler: H,
    ) -> Self
    where
        H: Handler<T>,
    {
        let handler = Arc::new(handler);
        let boxed: BoxHandler = Arc::new(move |event| handler.call(event));
        self.inner_mut().push(pattern.into(), filter, boxed);
        self
    }

    /// Send events to a handler taking [`Typed<T>`](crate::Typed): it is registered for the event
    /// types `T` declares ([`TypedEvent::EVENT_TYPES`](crate::typed::TypedEvent::EVENT_TYPES)).
    pub fn typed<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<crate::typed::Typed<T>>,
        T: crate::typed::TypedEvent,
    {
        let handler = Arc::new(handler);
        for pattern in T::EVENT_TYPES {
            let handler = Arc::clone(&handler);
            let boxed: BoxHandler = Arc::new(move |event| handler.call(event));
            self.inner_mut()
                .push((*pattern).to_owned(), Filter::default(), boxed);
        }
        self
    }

    /// How long the handlers of one event may run in all (default 30 s). Past it the event is
    /// not accepted (503).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner_mut().timeout = Some(timeout);
        self
    }

    /// What `Retry-After` tells the sender on 503 (default 5 s).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.inner_mut().retry_after = Some(after);
        self
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.inner.routes.len()
    }

    /// True when no route is registered.
    pub fn is_empty(&self) -> bool {
        self.inner.routes.is_empty()
    }

    /// Every route's pattern, in registration order (repeated patterns once).
    pub fn patterns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for route in &self.inner.routes {
            if !out.contains(&route.pattern.as_str()) {
                out.push(&route.pattern);
            }
        }
        out
    }

    /// Patterns of the routes that match `kind`, in registration order (by type alone: a
    /// route's [`Filter`] is checked on each event).
    pub fn matching(&self, kind: &str) -> Vec<&str> {
        self.inner
            .matches(kind)
            .iter()
            .map(|&i| self.inner.routes[i].pattern.as_str())
            .collect()
    }

    /// Run the handlers for `event` and decide the answer.
    pub async fn dispatch(&self, event: Event) -> Result<(), HandlerError> {
        let inner = &self.inner;
        let matched = inner.filtered(inner.matches(event.kind().as_str()), &event);
        if matched.is_empty() {
            tracing::debug!(kind = %event.kind(), "no route for this event; acknowledged");
            return Ok(());
        }
        let timeout = inner.timeout.unwrap_or(DEFAULT_HANDLER_TIMEOUT);
        let timed_out =
            || HandlerError::Failed(format!("handlers did not finish within {timeout:?}").into());
        if let [only] = matched[..] {
            // The common case: one handler, called without a join.
            let call = (inner.routes[only].handler)(event);
            return tokio::time::timeout(timeout, call)
                .await
                .unwrap_or_else(|_| Err(timed_out()));
        }
        let calls = matched
            .iter()
            .map(|&i| (inner.routes[i].handler)(event.clone()));
        let results = match tokio::time::timeout(timeout, join_all(calls)).await {
            Ok(results) => results,
            Err(_) => return Err(timed_out()),
        };
        let mut outcome = Ok(());
        for result in results {
            match (result, &outcome) {
                (Ok(()), _) => {}
                (Err(e @ HandlerError::Failed(_)), _) => {
                    outcome = Err(e);
                    break;
                }
                (Err(e), Ok(())) => outcome = Err(e),
                (Err(_), Err(_)) => {}
            }
        }
        outcome
    }
}

impl RouterInner {
    fn push(&mut self, pattern: String, filter: Filter, handler: BoxHandler) {
        let index = self.routes.len();
        if pattern.contains(['*', '?']) {
            self.globs.push(index);
        } else {
            self.exact.entry(pattern.clone()).or_default().push(index);
        }
        self.routes.push(Route {
            pattern,
            filter,
            handler,
        });
    }

    /// Of the routes `by_type` found, those whose filter holds for `event`. Borrowed as it
    /// came (nothing allocated) while every one holds, which an empty filter (a route without
    /// conditions) does at the cost of one length check.
    fn filtered<'a>(&self, by_type: Cow<'a, [usize]>, event: &Event) -> Cow<'a, [usize]> {
        let holds = |i: usize| self.routes[i].filter.holds(event);
        let Some(first_out) = by_type.iter().position(|&i| !holds(i)) else {
            return by_type;
        };
        let mut kept = by_type[..first_out].to_vec();
        kept.extend(
            by_type[first_out + 1..]
                .iter()
                .copied()
                .filter(|&i| holds(i)),
        );
        Cow::Owned(kept)
    }

    /// The routes for `kind`, in the order they were added. Borrowed when no glob matches.
    fn matches(&self, kind: &str) -> Cow<'_, [usize]> {
        let exact = self.exact.get(kind).map_or(&[][..], Vec::as_slice);
        let mut globs = self
            .globs
            .iter()
            .copied()
            .filter(|&i| glob::matches(&self.routes[i].pattern, kind))
            .peekable();
        if globs.peek().is_none() {
            return Cow::Borrowed(exact);
        }
        let mut found = exact.to_vec();
        found.extend(globs);
        found.sort_unstable();
        Cow::Owned(found)
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns: Vec<&str> = self
            .inner
            .routes
            .iter()
            .map(|r| r.pattern.as_str())
            .collect();
        f.debug_struct("Router").field("routes", &patterns).finish()
    }
}

/// Response future of [`Router`].
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static>>;

impl<B> Service<Request<B>> for Router
where
    B: Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let router = self.clone();
        let event = req.extensions_mut().remove::<Event>();
        Box::pin(async move {
            let Some(event) = event else {
                return Ok(Rejection::Misconfigured.into_response());
            };
            let (id, kind) = (event.id().clone(), event.kind().clone());
            let event_source = Arc::clone(event.source_arc());
            let retry_after = router.inner.retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            Ok(match router.dispatch(event).await {
                Ok(()) => answer::accepted(&id, &kind),
                Err(HandlerError::NotImplemented) => Rejection::NotImplemented.into_response(),
                Err(HandlerError::Rejected(rejection)) => rejection.into_response(),
                Err(HandlerError::Failed(error)) => {
                    tracing::warn!(
                        source = event_source.as_ref(),
                        %id,
                        %kind,
                        %error,
                        "handler failed; event not accepted"
                    );
                    Rejection::NotAccepted(retry_after).into_response()
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(kind: &str) -> Event {
        Event::new(
            "s",
            crate::EventId::new("1"),
            crate::EventKind::new(kind),
            Bytes::new(),
            serde_json::json!({}),
        )
    }

    #[tokio::test]
    async fn exact_and_glob_routes_both_receive_the_event() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, b) = (Arc::clone(&hits), Arc::clone(&hits));
        let router = Router::new()
            .on("ALERT_TRIGGERED", move |_e: Event| {
                let a = Arc::clone(&a);
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(())
                }
            })
            .on("ALERT_*", move |_e: Event| {
                let b = Arc::clone(&b);
                async move {
                    b.fetch_add(10, Ordering::SeqCst);
                    Ok::<_, Infallible>(())
                }
            });
        router.dispatch(event("ALERT_TRIGGERED")).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 11);
        router.dispatch(event("ALERT_RESET")).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 21);
        router.dispatch(event("DEVICE_OFFLINE")).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 21);
    }

    #[tokio::test]
    async fn failure_wins_over_not_implemented() {
        let router = Router::new()
            .on("*", |_e: Event| async {
                Err::<(), _>(HandlerError::NotImplemented)
            })
            .on("*", |_e: Event| async {
                Err::<(), _>(std::io::Error::other("down"))
            });
        assert!(matches!(
            router.dispatch(event("x")).await,
            Err(HandlerError::Failed(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_handler_times_out() {
        let router = Router::new()
            .timeout(Duration::from_secs(1))
            .on("*", |_e: Event| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, Infallible>(())
            });
        assert!(matches!(
            router.dispatch(event("x")).await,
            Err(HandlerError::Failed(_))
        ));
    }

    #[tokio::test]
    async fn a_filtered_route_gets_only_the_events_its_conditions_hold_for() {
        let hits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (all, major) = (Arc::clone(&hits), Arc::clone(&hits));
        let spec: filter::ConditionSpec =
            serde_json::from_value(serde_json::json!({"pointer": "/severity", "equals": "MAJOR"}))
                .unwrap();
        let router = Router::new()
            .on("ALERT_*", move |e: Event| {
                let all = Arc::clone(&all);
                async move {
                    all.lock().unwrap().push(format!("all {}", e.id()));
                    Ok::<_, Infallible>(())
                }
            })
            .on_filtered(
                "ALERT_*",
                Filter::parse(&[spec]).unwrap(),
                move |e: Event| {
                    let major = Arc::clone(&major);
                    async move {
                        major.lock().unwrap().push(format!("major {}", e.id()));
                        Ok::<_, Infallible>(())
                    }
                },
            );
        let alert = |id: &str, body: serde_json::Value| {
            Event::new(
                "s",
                crate::EventId::new(id),
                crate::EventKind::new("ALERT_RAISED"),
                Bytes::from(body.to_string()),
                body,
            )
        };
        router
            .dispatch(alert("1", serde_json::json!({"severity": "MAJOR"})))
            .await
            .unwrap();
        router
            .dispatch(alert("2", serde_json::json!({"severity": "MINOR"})))
            .await
            .unwrap();
        router
            .dispatch(alert("3", serde_json::json!({})))
            .await
            .unwrap();
        let mut seen = hits.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, ["all 1", "all 2", "all 3", "major 1"]);
        // By type, both still match: the filter is per event.
        assert_eq!(router.matching("ALERT_RAISED"), ["ALERT_*", "ALERT_*"]);
    }

    #[test]
    fn filtering_keeps_route_order_and_borrows_while_every_route_holds() {
        let ok = |_e: Event| async { Ok::<_, Infallible>(()) };
        let when = |json: serde_json::Value| {
            Filter::parse(&[serde_json::from_value(json).unwrap()]).unwrap()
        };
        let router = Router::new()
            .on_filtered(
                "k",
                when(serde_json::json!({"pointer": "/a", "equals": 1})),
                ok,
            )
            .on("k", ok)
            .on_filtered(
                "k",
                when(serde_json::json!({"pointer": "/b", "exists": true})),
                ok,
            );
        // Exact names: the lookup by type borrows its list, and so does filtering when it can.
        let routed = |body: serde_json::Value| {
            let event = Event::new(
                "s",
                crate::EventId::new("1"),
                crate::EventKind::new("k"),
                Bytes::from(body.to_string()),
                body,
            );
            let inner = &router.inner;
            match inner.filtered(inner.matches("k"), &event) {
                Cow::Borrowed(all) => (all.to_vec(), "borrowed"),
                Cow::Owned(some) => (some, "owned"),
            }
        };
        assert_eq!(
            routed(serde_json::json!({"a": 1, "b": 0})),
            (vec![0, 1, 2], "borrowed")
        );
        assert_eq!(
            routed(serde_json::json!({"a": 2, "b": 0})),
            (vec![1, 2], "owned")
        );
        assert_eq!(routed(serde_json::json!({"a": 1})), (vec![0, 1], "owned"));
        assert_eq!(routed(serde_json::json!({})), (vec![1], "owned"));
    }

    #[test]
    fn matching_lists_patterns_in_order() {
        let ok = |_e: Event| async { Ok::<_, Infallible>(()) };
        let router = Router::new()
            .on("job.*", ok)
            .on("*", ok)
            .on("job.failed", ok);
        assert_eq!(
            router.matching("job.failed"),
            vec!["job.*", "*", "job.failed"]
        );
        assert_eq!(router.matching("device.created"), vec!["*"]);
    }
}

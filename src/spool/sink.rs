//! The spool sink: the innermost service of a durable pipeline.
//!
//! Instead of running handlers before answering, it writes the event, one pending delivery per
//! destination whose route matches the event (its type, and its content when the route has a
//! [`Filter`]), and the event's dedup record in **one**
//! atomic, fsync'd commit, and answers 202 only after that commit. Delivery happens afterwards
//! (the sink wakes the deliverer through [`Spool::wake_deliverer`]). If the commit fails (disk full, I/O error), the answer is 503 with
//! `Retry-After`: the event was not accepted and the sender will retry.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

use super::dedup::DedupRecord;
use super::{
    Fanout, Fullness, OnDead, Order, Spool, SpoolError, SpoolLimits, StoredEvent, StoredMismatch,
};
use crate::answer;
use crate::dedup::{DedupKey, Remembered};
use crate::event::Event;
use crate::glob;
use crate::parse::shape::{IdPart, IdPlace, first_place};
use crate::rejection::Rejection;
use crate::route::Filter;

/// One route of a durable pipeline: events whose type matches `pattern`, and for which `filter`
/// holds, go to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRoute {
    /// Exact event type or glob.
    pub pattern: String,
    /// Destination name (as the deliverer knows it).
    pub destination: String,
    /// Conditions on the event's body and headers (`when`); empty: the type decides alone.
    pub filter: Filter,
    /// Deliveries with the same key go to the destination one at a time, in acceptance order.
    pub order: Option<OrderBy>,
}

/// A route's `order_by`: where an event's ordering key is, and what a dead letter does to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Places the key is read from, tried in order, read as event ids are (`"/pointer"`,
    /// `"header:Name"` of a kept header, or a composite).
    pub places: Vec<IdPlace>,
    /// What a dead letter does to the deliveries of its key behind it.
    pub on_dead: OnDead,
}

impl OrderBy {
    /// The headers its places read (each must be one the source keeps).
    pub fn headers(&self) -> impl Iterator<Item = &http::HeaderName> {
        self.places.iter().flat_map(|place| {
            let parts: &[IdPart] = match place {
                IdPlace::Single(part) => std::slice::from_ref(part),
                IdPlace::Composite(parts) => parts,
                IdPlace::Delivery => &[],
            };
            parts.iter().filter_map(|part| match part {
                IdPart::Header(name) => Some(name),
                IdPart::Pointer(_) => None,
            })
        })
    }

    /// The order of `event` under this `order_by`, or `None` when it has no key (it is then
    /// delivered in no particular order).
    pub fn order_of(&self, event: &Event) -> Option<Order> {
        first_place(&self.places, event.headers(), event.tree())
            .map(|key| Order::new(key.as_str(), self.on_dead))
    }
}

impl SpoolRoute {
    /// Events whose type matches `pattern` go to `destination`, in no particular order.
    pub fn new(pattern: impl Into<String>, destination: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            destination: destination.into(),
            filter: Filter::default(),
            order: None,
        }
    }

    /// ... and only those for which `filter` holds.
    pub fn when(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Whether this route takes `event`: its type matches, then its filter holds.
    pub fn matches(&self, event: &Event) -> bool {
        glob::matches(&self.pattern, event.kind().as_str())
            && (self.filter.is_empty() || self.filter.holds(event))
    }

    /// The pending deliveries `routes` give `event`: one per destination it goes to
    /// ([`destinations`](Self::destinations)), each with its ordering key when the route that
    /// took it first orders.
    pub fn fanout(routes: &[SpoolRoute], event: &Event) -> Vec<Fanout> {
        let mut out: Vec<Fanout> = Vec::new();
        for route in routes {
            if !out.iter().any(|f| f.destination == route.destination) && route.matches(event) {
                out.push(Fanout {
                    destination: route.destination.clone(),
                    order: route.order.as_ref().and_then(|o| o.order_of(event)),
                });
            }
        }
        out
    }

    /// The destinations `routes` send `event` to, each once, in route order: the one place
    /// that says where an event goes (the sink's fan-out, a source's dry run).
    pub fn destinations<'a>(routes: &'a [SpoolRoute], event: &Event) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for route in routes {
            if !out.contains(&route.destination.as_str()) && route.matches(event) {
                out.push(&route.destination);
            }
        }
        out
    }
}

/// Persists events before answering; see the [module docs](self).
#[derive(Clone)]
pub struct SpoolSink {
    spool: Arc<Spool>,
    routes: Arc<[SpoolRoute]>,
    dedup_ttl: Duration,
    retry_after: Duration,
    limits: SpoolLimits,
}

impl std::fmt::Debug for SpoolSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolSink")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl SpoolSink {
    /// A sink writing to `spool`, whose deliverer is woken after each accepted event
    /// ([`Spool::wake_deliverer`]). Accepted ids are remembered for `dedup_ttl`.
    pub fn new(
        spool: Arc<Spool>,
        routes: Vec<SpoolRoute>,
        dedup_ttl: Duration,
        retry_after: Duration,
    ) -> Self {
        Self {
            spool,
            routes: routes.into(),
            dedup_ttl,
            retry_after,
            limits: SpoolLimits::default(),
        }
    }

    /// Refuse new events (503 with `Retry-After`) while the spool holds `limits` or more.
    pub fn limits(mut self, limits: SpoolLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl<B: Send + 'static> Service<Request<B>> for SpoolSink {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let sink = self.clone();
        let event = req.extensions_mut().remove::<Event>();
        Box::pin(async move {
            let Some(event) = event else {
                return Ok(Rejection::Misconfigured.into_response());
            };
            let destinations = SpoolRoute::fanout(&sink.routes, &event);
            // Every event is written (the dedup record at least); only events that will be
            // delivered add to what is pending.
            let full = if destinations.is_empty() {
                sink.spool.disk_low(&sink.limits)
            } else {
                sink.spool.fullness(&sink.limits)
            };
            match full {
                Some(Fullness::Pending) => {
                    tracing::warn!(
                        source = event.source(),
                        "spool full; refusing new events until deliveries drain"
                    );
                    return Ok(Rejection::SpoolFull(sink.retry_after).into_response());
                }
                Some(Fullness::Disk { free }) => {
                    tracing::warn!(
                        source = event.source(),
                        free,
                        min_free = sink.limits.min_free_bytes,
                        "spool disk low; refusing new events until space returns"
                    );
                    return Ok(Rejection::SpoolFull(sink.retry_after).into_response());
                }
                None => {}
            }
            let record = StoredEvent::from_event(&event);
            let dedup =
                DedupRecord::remember(DedupKey::new(event.source(), event.id()), sink.dedup_ttl)
                    .put_op();
            let mismatches: Vec<StoredMismatch> = event
                .mismatches()
                .iter()
                .map(StoredMismatch::from)
                .collect();
            let accepted = sink
                .spool
                .accept_with_mismatches(&record, &mismatches, &destinations, vec![dedup])
                .await;
            match accepted {
                Ok(_) => {
                    sink.spool.wake_deliverer();
                    let mut accepted = answer::accepted(event.id(), event.kind());
                    // The dedup record went to disk with the event: the dedup stage's store
                    // need not write it again if it keeps this spool's table.
                    accepted
                        .extensions_mut()
                        .insert(Remembered::in_table(Arc::as_ptr(&sink.spool)));
                    Ok(accepted)
                }
                Err(error @ SpoolError::DiskFull { .. }) => {
                    tracing::warn!(%error, source = event.source(), id = %event.id(), "cannot spool the event; not accepted");
                    Ok(Rejection::SpoolFull(sink.retry_after).into_response())
                }
                Err(error) => {
                    tracing::error!(%error, source = event.source(), id = %event.id(), "cannot spool the event; not accepted");
                    Ok(Rejection::Unavailable(sink.retry_after).into_response())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;
    use crate::event::{EventId, EventKind};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The `error` code of a JSON error answer.
    async fn error_code(response: Response<Full<Bytes>>) -> Option<String> {
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        Some(body["error"].as_str()?.to_owned())
    }

    #[tokio::test]
    async fn a_full_spool_refuses_new_events_with_503() {
        let dir = std::env::temp_dir().join(format!("hookgate-sink-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let routes = vec![SpoolRoute::new("*", "up")];
        let limits = SpoolLimits {
            max_pending: 2,
            max_bytes: u64::MAX,
            min_free_bytes: 0,
        };
        let sink = SpoolSink::new(
            Arc::clone(&spool),
            routes,
            Duration::from_secs(60),
            Duration::from_secs(7),
        )
        .limits(limits);
        let request = |id: &str| {
            let event = Event::new(
                "s",
                EventId::new(id),
                EventKind::new("k"),
                Bytes::from_static(b"{}"),
                serde_json::json!({}),
            );
            let mut req = Request::post("/").body(()).unwrap();
            req.extensions_mut().insert(event);
            req
        };
        for id in ["1", "2"] {
            assert_eq!(
                sink.clone().oneshot(request(id)).await.unwrap().status(),
                http::StatusCode::ACCEPTED
            );
        }
        let full = sink.clone().oneshot(request("3")).await.unwrap();
        assert_eq!(full.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(full.headers()[http::header::RETRY_AFTER], "7");
        assert_eq!(error_code(full).await.as_deref(), Some("spool_full"));
        // A delivery drains: room again.
        let due = spool.due(now_ms(), 1).unwrap();
        spool.delivered(&due[0], &due[0].delivery).await.unwrap();
        assert_eq!(
            sink.oneshot(request("3")).await.unwrap().status(),
            http::StatusCode::ACCEPTED
        );
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn too_little_free_disk_refuses_every_event_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("hookgate-sink-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        // More free space wanted than any disk has: the spool counts as full, even for an event
        // with no destination (its dedup record would still be written).
        let limits = SpoolLimits {
            min_free_bytes: u64::MAX,
            ..SpoolLimits::default()
        };
        let sink = SpoolSink::new(
            Arc::clone(&spool),
            Vec::new(),
            Duration::from_secs(60),
            Duration::from_secs(3),
        )
        .limits(limits);
        let event = Event::new(
            "s",
            EventId::new("disk-1"),
            EventKind::new("k"),
            Bytes::from_static(b"{}"),
            serde_json::json!({}),
        );
        let mut req = Request::post("/").body(()).unwrap();
        req.extensions_mut().insert(event);
        let full = sink.oneshot(req).await.unwrap();
        assert_eq!(full.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(full.headers()[http::header::RETRY_AFTER], "3");
        assert_eq!(error_code(full).await.as_deref(), Some("spool_full"));
        assert_eq!(spool.events().count(), 0);
        assert_eq!(spool.commits(), 0);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn routes_with_conditions_fan_out_only_where_every_condition_holds() {
        let dir = std::env::temp_dir().join(format!("hookgate-sink-filter-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let when = |conditions: serde_json::Value| {
            let specs: Vec<crate::route::filter::ConditionSpec> =
                serde_json::from_value(conditions).unwrap();
            Filter::parse(&specs).unwrap()
        };
        let routes = vec![
            SpoolRoute::new("ticket.*", "urgent").when(when(serde_json::json!([
                {"pointer": "/data/priority", "one_of": ["high", "urgent"]},
            ]))),
            SpoolRoute::new("ticket.*", "big").when(when(serde_json::json!([
                {"pointer": "/data/ticket_id", "gte": 100},
                {"pointer": "/data/status", "exists": true},
            ]))),
            SpoolRoute::new("*", "all"),
        ];
        let sink = SpoolSink::new(
            Arc::clone(&spool),
            routes,
            Duration::from_secs(60),
            Duration::from_secs(5),
        );
        let mut expected = Vec::new();
        for (id, data, destinations) in [
            (
                "1",
                serde_json::json!({"priority": "high", "ticket_id": 7}),
                vec!["all", "urgent"],
            ),
            (
                "2",
                serde_json::json!({"priority": "low", "ticket_id": 700, "status": "open"}),
                vec!["all", "big"],
            ),
            (
                "3",
                serde_json::json!({"priority": "low", "ticket_id": 700}),
                vec!["all"],
            ),
        ] {
            let body = serde_json::json!({"event": "ticket.created", "data": data});
            let raw = Bytes::from(body.to_string());
            let tree = crate::tree::parse(&raw).unwrap();
            let event = Event::from_tree(
                Arc::from("homa"),
                EventId::new(id),
                EventKind::new("ticket.created"),
                raw,
                tree,
            );
            let mut req = Request::post("/").body(()).unwrap();
            req.extensions_mut().insert(event);
            let response = sink.clone().oneshot(req).await.unwrap();
            assert_eq!(response.status(), http::StatusCode::ACCEPTED);
            for destination in destinations {
                expected.push((id.to_owned(), destination.to_owned()));
            }
        }
        let mut found: Vec<(String, String)> = spool
            .due(now_ms(), 100)
            .unwrap()
            .iter()
            .map(|d| {
                let id = spool.get(d.seq).unwrap().unwrap().id;
                (id, d.destination.clone())
            })
            .collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn accepted_event_is_on_disk_with_a_pending_delivery_per_matching_route() {
        let dir = std::env::temp_dir().join(format!("hookgate-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir).unwrap());
        let routes = vec![
            SpoolRoute::new("ticket.*", "log"),
            SpoolRoute::new("*", "upstream"),
            SpoolRoute::new("job.*", "jobs"),
        ];
        let sink = SpoolSink::new(
            Arc::clone(&spool),
            routes,
            Duration::from_secs(60),
            Duration::from_secs(5),
        );
        let event = Event::new(
            "homa",
            EventId::new("7"),
            EventKind::new("ticket.created"),
            Bytes::from_static(b"{\"event\":\"ticket.created\"}"),
            serde_json::json!({"event": "ticket.created"}),
        );
        let mut req = Request::post("/").body(()).unwrap();
        req.extensions_mut().insert(event);
        let response = sink.oneshot(req).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::ACCEPTED);
        let due = spool.due(now_ms(), 10).unwrap();
        let mut destinations: Vec<_> = due.iter().map(|d| d.destination.as_str()).collect();
        destinations.sort_unstable();
        assert_eq!(destinations, ["log", "upstream"]);
        assert_eq!(
            spool.get(due[0].seq).unwrap().unwrap().body,
            b"{\"event\":\"ticket.created\"}"
        );
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

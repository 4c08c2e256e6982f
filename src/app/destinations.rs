//! A route's destinations: checking what `to` names (log, HTTP(S), NATS JetStream, Redis stream)
//! and building the destination it names.

use super::*;

/// A route's `order_by`, checked: where the key is, and what a dead letter does.
pub(super) fn check_order(
    i: usize,
    route: &RouteConfig,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<crate::spool::sink::OrderBy> {
    use crate::parse::shape::IdPlace;
    let label = format!("route #{}", i + 1);
    let Some(order_by) = &route.order_by else {
        if route.on_dead.is_some() {
            problems.push(format!(
                "{label}: `on_dead` applies to ordered routes only (set `order_by`)"
            ));
        }
        return None;
    };
    if !config.spool.enabled {
        problems.push(format!(
            "{label}: `order_by` needs the spool (deliveries are ordered after the answer);              enable [spool] or remove it"
        ));
    }
    let mut places = Vec::new();
    for place in order_by.places() {
        match place.place() {
            Ok(IdPlace::Delivery) => problems.push(format!(
                "{label}: order_by: \"delivery\" is a random id per delivery, not a key"
            )),
            Ok(place) => places.push(place),
            Err(e) => problems.push(format!("{label}: order_by: {e}")),
        }
    }
    if places.is_empty() {
        problems.push(format!(
            "{label}: order_by lists no place (\"/pointer\" or \"header:Name\")"
        ));
        return None;
    }
    Some(crate::spool::sink::OrderBy {
        places,
        on_dead: route.on_dead.unwrap_or_default(),
    })
}

/// A route's destination controls, checked; `None` when it sets none (or they are wrong).
pub(super) fn control_settings(
    i: usize,
    route: &RouteConfig,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<crate::delivery::ControlSettings> {
    use crate::delivery::controls::default_burst;
    if !route.has_controls() {
        return None;
    }
    let label = format!("route #{}", i + 1);
    if !config.spool.enabled {
        problems.push(format!(
            "{label}: max_in_flight, rate, paused and circuit need the spool (they hold back \
             deliveries made after the answer); enable [spool] or remove them"
        ));
        return None;
    }
    let before = problems.len();
    if route.max_in_flight == Some(0) {
        problems.push(format!(
            "{label}: max_in_flight must be at least 1 (use `paused = true` to send nothing)"
        ));
    }
    if route.burst.is_some() && route.rate.is_none() {
        problems.push(format!("{label}: `burst` needs a `rate`"));
    }
    let rate = route.rate.and_then(|per_second| {
        let burst = route.burst.unwrap_or_else(|| default_burst(per_second));
        crate::rate::Rate::new(per_second, burst)
            .map_err(|e| problems.push(format!("{label}: rate: {e}")))
            .ok()
    });
    let circuit = route.circuit.and_then(|c| {
        c.settings()
            .map_err(|e| problems.push(format!("{label}: {e}")))
            .ok()
    });
    (problems.len() == before).then_some(crate::delivery::ControlSettings {
        max_in_flight: route.max_in_flight,
        rate,
        paused: route.paused,
        circuit,
    })
}

pub(super) fn check_route(
    i: usize,
    route: &RouteConfig,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn Destination>> {
    let label = format!("route #{}", i + 1);
    if let Some(source) = &route.source {
        if !config.sources.iter().any(|s| &s.name == source) {
            problems.push(format!("{label}: no source is named {source:?}"));
        }
    }
    if route.events.is_empty() {
        problems.push(format!(
            "{label}: `events` is empty; use [\"*\"] for every event"
        ));
    }
    if route.to.is_empty() {
        problems.push(format!("{label}: `to` is required ({DESTINATIONS})"));
        return None;
    }
    let kind = DestinationKind::of(&route.to);
    let mut misplaced = false;
    for (key, set, allowed) in [
        (
            "forward_headers",
            !route.forward_headers.is_empty(),
            &[DestinationKind::Http][..],
        ),
        (
            "sign_secret",
            route.sign_secret.is_some(),
            &[DestinationKind::Http],
        ),
        ("ca_file", route.ca_file.is_some(), &[DestinationKind::Http]),
        ("subject", route.subject.is_some(), &[DestinationKind::Nats]),
        (
            "create_stream",
            route.create_stream,
            &[DestinationKind::Nats],
        ),
        (
            "duplicate_window",
            route.duplicate_window.is_some(),
            &[DestinationKind::Nats],
        ),
        (
            "stream",
            route.stream.is_some(),
            &[DestinationKind::Nats, DestinationKind::Redis],
        ),
        ("maxlen", route.maxlen.is_some(), &[DestinationKind::Redis]),
    ] {
        if set && !allowed.contains(&kind) && kind != DestinationKind::Unknown {
            problems.push(format!(
                "{label}: `{key}` does not apply to {:?} destinations",
                kind.name()
            ));
            misplaced = true;
        }
    }
    match kind {
        DestinationKind::Log => {
            return (!misplaced).then(|| Arc::new(LogDestination) as Arc<dyn Destination>);
        }
        DestinationKind::Nats => return nats_destination(&label, route, config, problems),
        DestinationKind::Redis => return redis_destination(&label, route, config, problems),
        DestinationKind::Unknown => {
            problems.push(format!(
                "{label}: unknown destination {:?} ({DESTINATIONS})",
                route.to
            ));
            return None;
        }
        DestinationKind::Http if misplaced => return None,
        DestinationKind::Http => {}
    }
    let mut names = Vec::new();
    for name in &route.forward_headers {
        match HeaderName::try_from(name.as_str()) {
            Ok(h)
                if h == http::header::AUTHORIZATION
                    || h == http::header::PROXY_AUTHORIZATION
                    || h == http::header::COOKIE =>
            {
                problems.push(format!(
                    "{label}: forward_headers: {h} carries credentials and is never forwarded"
                ));
            }
            Ok(h) => names.push(h),
            Err(_) => problems.push(format!(
                "{label}: forward_headers: {name:?} is not a header name"
            )),
        }
    }
    let destination = http_destination(
        &label,
        &route.to,
        route.ca_file.as_deref(),
        route.sign_secret.as_deref(),
        config.delivery.timeout,
        problems,
    )?;
    Some(Arc::new(destination.forward_headers(names)))
}

/// An HTTP(S) destination at `to`, trusting `ca_file` if given and signing with the secret
/// `sign_secret` refers to if given: a route's, or an alert's. `None` (with the problems
/// pushed) when something is wrong.
pub(super) fn http_destination(
    label: &str,
    to: &str,
    ca_file: Option<&std::path::Path>,
    sign_secret: Option<&str>,
    timeout: std::time::Duration,
    problems: &mut Vec<String>,
) -> Option<HttpDestination> {
    let uri = match to.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() && matches!(uri.scheme_str(), Some("http" | "https")) => {
            uri
        }
        _ => {
            problems.push(format!("{label}: {to:?} is not a valid URL"));
            return None;
        }
    };
    let before = problems.len();
    let ca = ca_file.and_then(|path| match std::fs::read(path) {
        Ok(pem) => Some(pem),
        Err(e) => {
            problems.push(format!("{label}: ca_file {}: {e}", path.display()));
            None
        }
    });
    let client = match crate::client::build(ca.as_deref()) {
        Ok(client) => Some(client),
        Err(e) => {
            problems.push(format!("{label}: {e}"));
            None
        }
    };
    let signing = sign_secret.and_then(|text| {
        match secret::SecretRef::parse(text, 0).and_then(|r| r.resolve()) {
            Ok(secret) => Some(secret),
            Err(e) => {
                problems.push(format!("{label}: sign_secret: {e}"));
                None
            }
        }
    });
    if problems.len() > before {
        return None;
    }
    let mut destination = HttpDestination::with_client(uri, timeout, client?);
    if let Some(secret) = &signing {
        destination = destination.sign_with(secret);
    }
    Some(destination)
}

/// The `[[alert]]` endpoints, checked.
pub(super) fn alert_targets(
    config: &Config,
    problems: &mut Vec<String>,
) -> Vec<crate::delivery::alerts::AlertTarget> {
    use crate::delivery::alerts::{AlertTarget, GROUPS};
    let mut targets = Vec::new();
    for (i, alert) in config.alerts.iter().enumerate() {
        let label = format!("alert #{}", i + 1);
        let groups: std::collections::HashSet<String> = match &alert.on {
            None => GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            Some(on) => {
                for group in on {
                    if !GROUPS.contains(&group.as_str()) {
                        problems.push(format!(
                            "{label}: on: {group:?} is not one of {}",
                            GROUPS.join(", ")
                        ));
                    }
                }
                on.iter().cloned().collect()
            }
        };
        if let Some(destination) = http_destination(
            &label,
            &alert.url,
            alert.ca_file.as_deref(),
            alert.secret.as_deref(),
            config.delivery.timeout,
            problems,
        ) {
            targets.push(AlertTarget {
                destination,
                groups,
            });
        }
    }
    let thresholds = &config.alerting;
    if !(thresholds.spool_fill > 0.0 && thresholds.spool_fill <= 1.0) {
        problems.push(format!(
            "alerting.spool_fill must be above 0 and at most 1, not {}",
            thresholds.spool_fill
        ));
    }
    if thresholds.refusals_per_minute == 0 {
        problems.push("alerting.refusals_per_minute must be at least 1".into());
    }
    targets
}

/// What kind of destination a route's `to` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DestinationKind {
    Log,
    Http,
    Nats,
    Redis,
    Unknown,
}

impl DestinationKind {
    fn of(to: &str) -> Self {
        if to == "log" {
            Self::Log
        } else if to.starts_with("http://") || to.starts_with("https://") {
            Self::Http
        } else if to.starts_with("nats://") {
            Self::Nats
        } else if to.starts_with("redis://") {
            Self::Redis
        } else {
            Self::Unknown
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Http => "http",
            Self::Nats => "nats",
            Self::Redis => "redis",
            Self::Unknown => "unknown",
        }
    }
}

pub(super) fn nats_destination(
    label: &str,
    route: &RouteConfig,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn Destination>> {
    let subject = route
        .subject
        .as_deref()
        .unwrap_or(crate::delivery::nats::DEFAULT_SUBJECT);
    let mut destination = match crate::delivery::nats::NatsDestination::new(
        &route.to,
        subject,
        config.delivery.timeout,
    ) {
        Ok(destination) => destination,
        Err(e) => {
            problems.push(format!("{label}: {e}"));
            return None;
        }
    };
    match (&route.stream, route.create_stream) {
        (Some(_), true) if destination.stream_subject() == ">" => {
            problems.push(format!(
                "{label}: the subject template starts with a placeholder, so a created stream \
                 would capture every subject on the server; start it with a fixed token \
                 (webhooks.{{source}}.{{event}}) or create the stream yourself"
            ));
            return None;
        }
        (Some(stream), create) => {
            let window = route.duplicate_window.unwrap_or(Duration::from_secs(120));
            destination = destination.stream(stream, create, window);
        }
        (None, true) => {
            problems.push(format!("{label}: create_stream needs `stream` (its name)"));
            return None;
        }
        (None, false) => {}
    }
    Some(Arc::new(destination))
}

pub(super) fn redis_destination(
    label: &str,
    route: &RouteConfig,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn Destination>> {
    let stream = route
        .stream
        .as_deref()
        .unwrap_or(crate::delivery::redis_stream::DEFAULT_STREAM);
    match crate::delivery::redis_stream::RedisStreamDestination::new(
        &route.to,
        stream,
        config.delivery.timeout,
    ) {
        Ok(destination) => Some(Arc::new(destination.maxlen(route.maxlen))),
        Err(e) => {
            problems.push(format!("{label}: {e}"));
            None
        }
    }
}

/// A handler that delivers synchronously, for pipelines without a spool: 2xx only after the
/// destination has the event.
pub(super) fn deliver_now(
    destination: Arc<dyn Destination>,
) -> impl Fn(Event) -> futures_util::future::BoxFuture<'static, Result<(), HandlerError>>
+ Send
+ Sync
+ 'static {
    move |event: Event| {
        let destination = Arc::clone(&destination);
        Box::pin(async move {
            let record = StoredEvent::from_event(&event);
            match destination.deliver(&record).await {
                Outcome::Delivered { .. } => Ok(()),
                Outcome::Retry { error, .. } | Outcome::Permanent { error, .. } => {
                    Err(HandlerError::failed(error))
                }
            }
        })
    }
}

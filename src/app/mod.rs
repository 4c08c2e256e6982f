//! Build a running gateway from a [`Config`], and the embedded default that needs none.
//!
//! [`build`] turns a configuration into a [`Gateway`] with one [`Pipeline`] per source, checking
//! everything that needs more than the text: profiles exist, every secret resolves and is long
//! enough, headers and pointers are well-formed, routes name real sources and destinations. All
//! problems are collected into one [`ConfigError`]; `hookgate check` prints them and `hookgate
//! serve` refuses to start (fail closed).
//!
//! [`embedded_config`] is what `hookgate serve` runs with no configuration: every seed profile at
//! `/hooks/<profile>`, one random secret generated once into the data directory, and every event
//! printed as a JSON line.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use http_body::Body;

use crate::auth::{Secret, secret};
use crate::config::{Config, ConfigError, RouteConfig, SourceConfig};
use crate::dedup::{DedupStore, MemoryStore};
use crate::delivery::{
    ControlSettings, Controls, Deliverer, Destination, DestinationReadiness, HttpDestination,
    LogDestination, Outcome, RedisStore,
};
use crate::event::Event;
use crate::gateway::Gateway;
use crate::health::Health;
use crate::pipeline::Pipeline;
use crate::profile::Profile;
use crate::route::filter::headers_not_kept;
use crate::route::{Filter, HandlerError, Router};
use crate::server::ServerConfig;
use crate::source::Source;
use crate::spool::{
    DurableStore, Spool, SpoolLimits, SpoolReadiness, SpoolRoute, SpoolSink, StoredEvent,
};

use crate::config::resolve_source;
#[doc(hidden)]
pub use crate::config::source_from_config;

mod destinations;
mod embedded;

use self::destinations::{alert_targets, check_order, check_route, control_settings, deliver_now};
pub use self::embedded::{default_secret_path, embedded_config, ensure_default_secret};

/// What a route's `to` may be.
pub const DESTINATIONS: &str =
    "`log`, an http:// or https:// URL, a nats:// URL (JetStream) or a redis:// URL (a stream)";

/// A gateway built from a configuration, ready to serve.
pub struct App<B> {
    /// The service to serve.
    pub gateway: Gateway<B>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Connection settings.
    pub server: ServerConfig,
    /// What is mounted where, for the start-up banner and `hookgate check`.
    pub mounts: Vec<Mount>,
    /// Things that work but are probably not what was meant.
    pub warnings: Vec<String>,
    /// Delivers spooled events onward; run it beside the server (spool enabled only).
    pub deliverer: Option<Arc<Deliverer>>,
    /// Sends alerts and watches the spool and the sources; run it beside the server
    /// (`[[alert]]` configured only).
    pub alerts: Option<crate::delivery::alerts::AlertsTask>,
    /// The admin API and where it listens (`[admin] listen` set and the spool on).
    pub admin: Option<(SocketAddr, axum::Router)>,
}

/// One mounted source, as reported at start-up (secrets only by fingerprint).
#[derive(Debug, Clone)]
pub struct Mount {
    /// Source name.
    pub name: String,
    /// Profile name.
    pub profile: String,
    /// Mount path.
    pub path: String,
    /// Fingerprints of the secrets, in order.
    pub secret_fingerprints: Vec<String>,
    /// Route patterns and destinations.
    pub routes: Vec<String>,
}

/// Build the gateway described by `config`; every problem is reported at once.
///
/// With `spool` (the opened `[spool]`), every event is persisted before its 202 and delivered
/// afterwards, and dedup state survives restarts; without it (`hookgate check`, or the spool
/// disabled), routes run before the answer.
pub fn build<B>(
    config: &Config,
    origin: &str,
    spool: Option<Arc<Spool>>,
) -> Result<App<B>, ConfigError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut problems: Vec<String> = config
        .unknown_keys
        .iter()
        .map(|key| format!("unknown key `{key}`"))
        .collect();
    let mut warnings = Vec::new();

    let listen = config
        .server
        .listen
        .parse::<SocketAddr>()
        .map_err(|_| {
            problems.push(format!(
                "server.listen: {:?} is not an address like 127.0.0.1:8080",
                config.server.listen
            ));
        })
        .ok();
    if config.dedup.in_flight_ttl <= config.server.handler_timeout {
        problems.push(
            "dedup.in_flight_ttl must be longer than server.handler_timeout, or a retry could be \
             processed while the first delivery is still running"
                .into(),
        );
    }
    if config.sources.is_empty() {
        problems.push("no [[source]] is configured".into());
    }

    let store: Arc<dyn DedupStore> = match (&config.dedup.store, &spool) {
        (Some(url), _) if !url.starts_with("redis://") => {
            problems.push(format!(
                "dedup.store: {url:?} is not supported (a redis:// URL, or leave it out)"
            ));
            Arc::new(MemoryStore::new())
        }
        (Some(url), _) => {
            match RedisStore::new(url, config.dedup.ttl, config.dedup.in_flight_ttl) {
                Ok(store) => Arc::new(store),
                Err(e) => {
                    problems.push(format!("dedup.store: {e}"));
                    Arc::new(MemoryStore::new())
                }
            }
        }
        (None, Some(spool)) => Arc::new(DurableStore::new(
            Arc::clone(spool),
            config.dedup.ttl,
            config.dedup.in_flight_ttl,
        )),
        (None, None) => Arc::new(MemoryStore::with_limits(
            config.dedup.ttl,
            config.dedup.in_flight_ttl,
            config.dedup.max_entries,
        )),
    };

    // Each route's conditions, checked once for every source it applies to.
    let filters: Vec<Filter> = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            Filter::parse(&route.when).unwrap_or_else(|errors| {
                for error in errors {
                    problems.push(format!("route #{}: {error}", i + 1));
                }
                Filter::default()
            })
        })
        .collect();
    let mut destinations: HashMap<String, Arc<dyn Destination>> = HashMap::new();
    let mut controls: HashMap<String, ControlSettings> = HashMap::new();
    let mut orders = Vec::with_capacity(config.routes.len());
    for (i, route) in config.routes.iter().enumerate() {
        orders.push(check_order(i, route, config, &mut problems));
        if let Some(settings) = control_settings(i, route, config, &mut problems) {
            controls
                .entry(route.destination_name().to_owned())
                .or_insert(settings);
        }
        let name = route.destination_name();
        let first = config.routes.iter().find(|r| r.destination_name() == name);
        if first.is_some_and(|f| f.destination_settings() != route.destination_settings()) {
            problems.push(format!(
                "route #{}: destination {name:?} is configured differently by an earlier route; \
                 one destination has one setting (give routes that differ their own `name`)",
                i + 1,
            ));
        }
        if destinations.contains_key(name) {
            continue;
        }
        if let Some(destination) = check_route(i, route, config, &mut problems) {
            destinations.insert(name.to_owned(), destination);
        }
    }
    // With the sources API on, `log` is always a destination its routes may name.
    if config.admin.listen.is_some() {
        destinations
            .entry("log".to_owned())
            .or_insert_with(|| Arc::new(LogDestination) as Arc<dyn Destination>);
    }
    // Every destination can be paused at runtime, whether or not its route sets a control.
    for name in destinations.keys() {
        controls.entry(name.clone()).or_default();
    }
    let limits = SpoolLimits {
        max_pending: config.spool.max_pending,
        max_bytes: config.spool.max_bytes,
        min_free_bytes: config.spool.min_free_bytes,
    };
    let targets = alert_targets(config, &mut problems);
    let (alerts, alerts_task) = if targets.is_empty() {
        (None, None)
    } else {
        let (alerts, task) = crate::delivery::alerts::Alerts::new(
            targets,
            spool.clone(),
            limits,
            crate::delivery::alerts::Thresholds {
                spool_fill: config.alerting.spool_fill,
                refusals_per_minute: config.alerting.refusals_per_minute,
            },
        );
        (Some(alerts), Some(task))
    };
    let deliverer = match &spool {
        Some(spool) => match Controls::new(controls).stored_in(Arc::clone(spool)) {
            Ok(controls) => {
                let controls = match &alerts {
                    Some(alerts) => controls.alerting(Arc::clone(alerts)),
                    None => controls,
                };
                let mut deliverer = Deliverer::new(
                    Arc::clone(spool),
                    destinations.clone(),
                    config.delivery.policy(),
                )
                .with_controls(Arc::new(controls));
                if let Some(alerts) = &alerts {
                    deliverer = deliverer.with_alerts(Arc::clone(alerts));
                }
                Some(Arc::new(deliverer))
            }
            Err(e) => {
                problems.push(format!(
                    "the stored destination controls cannot be read: {e}"
                ));
                None
            }
        },
        None => None,
    };

    let mounter = Mounter {
        spool: spool.clone(),
        store: Arc::clone(&store),
        destinations: destinations.clone(),
        limits,
        max_body_bytes: config.server.max_body_bytes,
        retry_after: config.server.retry_after,
        handler_timeout: config.server.handler_timeout,
        dedup_ttl: config.dedup.ttl,
    };
    let gateway = Gateway::new();
    let mut configured = Vec::new();
    let mut mounts = Vec::new();
    let mut paths = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for (i, sc) in config.sources.iter().enumerate() {
        let label = if sc.name.is_empty() {
            format!("source #{}", i + 1)
        } else {
            format!("source {:?}", sc.name)
        };
        if sc.name.is_empty() {
            problems.push(format!("{label}: `name` is required"));
        } else if !names.insert(sc.name.clone()) {
            problems.push(format!("{label}: the name is used twice"));
        }
        let path = sc.mount_path();
        if !path.starts_with('/') {
            problems.push(format!("{label}: path {path:?} must start with /"));
        } else if !paths.insert(path.clone()) {
            problems.push(format!("{label}: path {path:?} is used twice"));
        }
        let before = problems.len();
        if sc.decompress.is_some_and(|d| d.max_bytes == 0) {
            problems.push(format!(
                "{label}: decompress.max_bytes must be above 0 (leave [source.decompress] out to refuse compressed bodies)"
            ));
        }
        if let Some(Err(error)) = sc.ingest.map(|ingest| ingest.limits()) {
            problems.push(format!("{label}: ingest: {error}"));
        }
        let source = resolve_source(sc, &label, &mut problems);
        let routes: Vec<(usize, &RouteConfig)> = config
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.source.as_deref().is_none_or(|s| s == sc.name))
            .collect();
        if routes.is_empty() {
            warnings.push(format!(
                "{label} has no route: its events are acknowledged and dropped"
            ));
        }
        let suggested =
            Profile::from_name(&sc.profile).and_then(|profile| profile.suggested_order_by());
        if let Some((pointer, events)) = suggested {
            for (i, route) in config.routes.iter().enumerate() {
                let applies = route.source.as_deref().is_none_or(|s| s == sc.name);
                let covers = route
                    .events
                    .iter()
                    .any(|pattern| crate::glob::matches(pattern, events));
                if applies && covers && route.order_by.is_none() && route.to != "log" {
                    warnings.push(format!(
                        "route #{}: {label} sends condition events whose order matters ({events}, \
                         then its RESET); order_by = \"{pointer}\" keeps each condition's \
                         deliveries in order",
                        i + 1
                    ));
                }
            }
        }
        let (Some((source, secrets)), true) = (source, problems.len() == before) else {
            continue;
        };
        let kept = &source.shape().keep_headers;
        for &(i, route) in &routes {
            for (j, header) in headers_not_kept(&route.when, kept) {
                problems.push(format!(
                    "route #{}: condition #{} of `when`: {label} does not keep header {header}, \
                     so none of its events carries one (add it to its keep_headers; credential \
                     headers are never kept)",
                    i + 1,
                    j + 1
                ));
            }
        }
        for &(i, _) in &routes {
            let Some(order) = &orders[i] else { continue };
            for header in order.headers().filter(|h| !kept.contains(h)) {
                problems.push(format!(
                    "route #{}: order_by: {label} does not keep header {header}, so none of its \
                     events carries one (add it to its keep_headers)",
                    i + 1
                ));
            }
        }
        let mut described = Vec::new();
        for &(i, route) in &routes {
            let when = match filters[i].conditions().len() {
                0 => String::new(),
                1 => " (1 condition)".to_owned(),
                n => format!(" ({n} conditions)"),
            };
            for pattern in &route.events {
                described.push(format!("{pattern} -> {}{when}", route.destination_name()));
            }
        }
        let spool_routes: Vec<SpoolRoute> = routes
            .iter()
            .flat_map(|&(i, r)| {
                let (filter, order) = (&filters[i], &orders[i]);
                r.events.iter().map(move |pattern| SpoolRoute {
                    order: order.clone(),
                    ..SpoolRoute::new(pattern.clone(), r.destination_name()).when(filter.clone())
                })
            })
            .collect();
        mounter.mount(&gateway.mounts(), &path, source.clone(), sc, &spool_routes);
        configured.push(crate::catalog::Configured {
            config: sc.clone(),
            source,
            secrets: secrets.clone(),
            routes: spool_routes,
        });
        mounts.push(Mount {
            name: sc.name.clone(),
            profile: sc.profile.clone(),
            path,
            secret_fingerprints: secrets.iter().map(Secret::fingerprint).collect(),
            routes: described,
        });
    }

    // What /readyz checks, on the webhook listener and the admin listener alike.
    let mut health = Health::new();
    if let Some(spool) = &spool {
        health = health.with(SpoolReadiness::new(Arc::clone(spool), limits));
    }
    if config.dedup.store.is_some() {
        health = health.dedup(Arc::clone(&store));
    }
    let mut names: Vec<&String> = destinations.keys().collect();
    names.sort();
    for name in names {
        health = health.with(DestinationReadiness::new(
            name,
            Arc::clone(&destinations[name]),
        ));
    }
    let gateway = gateway.health(health.clone());
    let managed = Managed {
        target: Arc::new(GatewayMounts {
            mounts: gateway.mounts(),
            mounter,
        }),
        configured,
    };
    let admin = admin_for(
        config,
        spool.as_ref(),
        deliverer.as_ref(),
        &destinations,
        health,
        managed,
        &mut problems,
    );

    match (listen, problems.is_empty()) {
        (Some(listen), true) => Ok(App {
            gateway,
            listen,
            server: ServerConfig {
                header_read_timeout: config.server.header_read_timeout,
                max_headers: config.server.max_headers,
                shutdown_grace: config.server.shutdown_grace,
            },
            mounts,
            warnings,
            deliverer,
            alerts: alerts_task,
            admin,
        }),
        _ => Err(ConfigError {
            origin: origin.to_owned(),
            problems,
        }),
    }
}

/// What the sources API starts from: where it mounts, and the configuration file's sources.
struct Managed {
    target: Arc<dyn crate::catalog::Mountable>,
    configured: Vec<crate::catalog::Configured>,
}

/// The gateway's mount table with what building a pipeline needs: where the sources API mounts.
struct GatewayMounts<B> {
    mounts: crate::gateway::Mounts<B>,
    mounter: Mounter,
}

impl<B> crate::catalog::Mountable for GatewayMounts<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn mount(&self, path: &str, source: Source, sc: &SourceConfig, routes: &[SpoolRoute]) {
        self.mounter.mount(&self.mounts, path, source, sc, routes);
    }

    fn disable(&self, path: &str) {
        self.mounts.insert(
            path,
            tower::service_fn(|_req: http::Request<B>| async {
                Ok::<_, std::convert::Infallible>(
                    crate::rejection::Rejection::SourceDisabled
                        .into_response::<http_body_util::Full<bytes::Bytes>>(),
                )
            }),
        );
    }

    fn unmount(&self, path: &str) {
        self.mounts.remove(path);
    }

    fn has_destination(&self, name: &str) -> bool {
        self.mounter.has_destination(name)
    }

    fn pipeline(&self, source: Source, sc: &SourceConfig) -> Pipeline {
        self.mounter.pipeline(source, sc)
    }
}

/// What mounting a source's pipeline needs, kept so that sources can be mounted while the
/// gateway serves (the sources API).
#[derive(Clone)]
pub(crate) struct Mounter {
    spool: Option<Arc<Spool>>,
    store: Arc<dyn DedupStore>,
    destinations: HashMap<String, Arc<dyn Destination>>,
    limits: SpoolLimits,
    max_body_bytes: usize,
    retry_after: Duration,
    handler_timeout: Duration,
    dedup_ttl: Duration,
}

impl Mounter {
    /// Mount `source` (configured by `sc`) at `path`, its events going to `routes`.
    pub(crate) fn mount<B>(
        &self,
        mounts: &crate::gateway::Mounts<B>,
        path: &str,
        source: Source,
        sc: &SourceConfig,
        routes: &[SpoolRoute],
    ) where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let get = source.handshake_kind().is_some_and(|h| h.answers_get());
        let pipeline = self.pipeline(source, sc);
        match &self.spool {
            Some(spool) => {
                let sink = SpoolSink::new(
                    Arc::clone(spool),
                    routes.to_vec(),
                    self.dedup_ttl,
                    self.retry_after,
                )
                .limits(self.limits);
                insert(mounts, path, pipeline.service(sink), get);
            }
            None => {
                let mut router = Router::new()
                    .timeout(self.handler_timeout)
                    .retry_after(self.retry_after);
                for route in routes {
                    let Some(destination) = self.destinations.get(&route.destination) else {
                        continue;
                    };
                    router = router.on_filtered(
                        route.pattern.clone(),
                        route.filter.clone(),
                        deliver_now(Arc::clone(destination)),
                    );
                }
                insert(mounts, path, pipeline.service(router), get);
            }
        }
    }

    /// The pipeline `source` (configured by `sc`) is mounted with.
    pub(crate) fn pipeline(&self, source: Source, sc: &SourceConfig) -> Pipeline {
        let mut pipeline = Pipeline::new(source)
            .max_body_bytes(sc.max_body_bytes.unwrap_or(self.max_body_bytes))
            .dedup_shared(Arc::clone(&self.store))
            .retry_after(self.retry_after);
        if let Some(decompress) = sc.decompress {
            pipeline = pipeline.decompress(crate::auth::Decompress::up_to(decompress.max_bytes));
        }
        // Checked with the rest of the configuration; a source whose limits do not make sense
        // is never mounted.
        if let Some(Ok(limits)) = sc.ingest.map(|ingest| ingest.limits()) {
            pipeline = pipeline.ingest_limits(limits);
        }
        pipeline
    }

    /// Whether a destination of this name exists.
    pub(crate) fn has_destination(&self, name: &str) -> bool {
        self.destinations.contains_key(name)
    }
}

/// Mount `service` at `path`, answering GET too when its source's sender checks with one.
fn insert<B, S, ResBody>(mounts: &crate::gateway::Mounts<B>, path: &str, service: S, get: bool)
where
    B: Send + 'static,
    S: tower::Service<
            http::Request<B>,
            Response = http::Response<ResBody>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    ResBody: Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if get {
        mounts.insert_answering_get(path, service);
    } else {
        mounts.insert(path, service);
    }
}

/// The admin API `[admin]` describes, if it is on.
fn admin_for(
    config: &Config,
    spool: Option<&Arc<Spool>>,
    deliverer: Option<&Arc<Deliverer>>,
    destinations: &HashMap<String, Arc<dyn Destination>>,
    health: Health,
    managed: Managed,
    problems: &mut Vec<String>,
) -> Option<(SocketAddr, axum::Router)> {
    let section = &config.admin;
    let Some(listen) = &section.listen else {
        if section.token.is_some() {
            problems.push("admin.token is set but admin.listen is not: the API is off".into());
        }
        return None;
    };
    let addr = match listen.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(format!(
                "admin.listen: {listen:?} is not an address like 127.0.0.1:9091"
            ));
            None
        }
    };
    if addr.is_some_and(|a| !a.ip().is_loopback()) && !section.allow_remote {
        problems.push(format!(
            "admin.listen: {listen} is not a loopback address; set admin.allow_remote = true \
             if that is meant (and put TLS in front of it)"
        ));
    }
    if config.server.listen == *listen && addr.is_some_and(|a| a.port() != 0) {
        problems.push("admin.listen must differ from server.listen".into());
    }
    let token = match &section.token {
        None => {
            problems.push(
                "admin.token is required when admin.listen is set (env:NAME or file:PATH, at \
                 least 16 bytes)"
                    .into(),
            );
            None
        }
        Some(text) => match secret::SecretRef::parse(text, 0).and_then(|r| r.resolve()) {
            Ok(token) => Some(token),
            Err(e) => {
                problems.push(format!("admin.token: {e}"));
                None
            }
        },
    };
    let Some(spool) = spool else {
        if config.spool.enabled {
            // `hookgate check`: the spool is not opened, the rest is checked.
            return None;
        }
        problems
            .push("the admin API works on the spool: enable [spool] or unset admin.listen".into());
        return None;
    };
    let mut names: Vec<String> = destinations.keys().cloned().collect();
    names.sort();
    let mut tenants = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, tenant) in section.tenants.iter().enumerate() {
        let label = format!("admin.tenant #{}", i + 1);
        if tenant.name.is_empty() || !seen.insert(tenant.name.clone()) {
            problems.push(format!("{label}: a unique `name` is required"));
            continue;
        }
        match secret::SecretRef::parse(&tenant.token, 0).and_then(|r| r.resolve()) {
            Ok(token) => tenants.push((tenant.name.clone(), token)),
            Err(e) => problems.push(format!("{label} ({}): token: {e}", tenant.name)),
        }
    }
    let registry = Arc::new(crate::catalog::Registry::new(
        Arc::clone(spool),
        managed.target,
        managed.configured,
    ));
    match registry.load() {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            sources = n,
            "mounted the sources managed through the admin API"
        ),
        Err(e) => problems.push(format!("the stored sources cannot be read: {e}")),
    }
    let ops = crate::admin::Ops::new(Arc::clone(spool), deliverer.cloned(), names)
        .with_registry(registry);
    let mut tokens = crate::admin::Tokens::global(token?);
    for (name, token) in tenants {
        tokens = tokens.tenant(name, token);
    }
    Some((
        addr?,
        crate::admin::router_with(ops, &tokens).merge(crate::admin::probes(health)),
    ))
}

#[cfg(test)]
mod tests;

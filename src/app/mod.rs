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
    Deliverer, Destination, DestinationReadiness, HttpDestination, LogDestination, Outcome,
    RedisStore,
};
use crate::event::Event;
use crate::gateway::Gateway;
use crate::health::Health;
use crate::pipeline::Pipeline;
use crate::route::HandlerError;
use crate::route::Router;
use crate::server::ServerConfig;
use crate::profile::Profile;
use crate::source::Source;
use crate::spool::{
    DurableStore, Spool, SpoolLimits, SpoolReadiness, SpoolRoute, SpoolSink, StoredEvent,
};

use crate::config::resolve_source;
#[doc(hidden)]
pub use crate::config::source_from_config;

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

    let mut destinations: HashMap<String, Arc<dyn Destination>> = HashMap::new();
    for (i, route) in config.routes.iter().enumerate() {
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
    let deliverer = spool.as_ref().map(|spool| {
        Arc::new(Deliverer::new(
            Arc::clone(spool),
            destinations.clone(),
            config.delivery.policy(),
        ))
    });

    let limits = SpoolLimits {
        max_pending: config.spool.max_pending,
        max_bytes: config.spool.max_bytes,
        min_free_bytes: config.spool.min_free_bytes,
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
        let source = resolve_source(sc, &label, &mut problems);
        let routes: Vec<&RouteConfig> = config
            .routes
            .iter()
            .filter(|r| r.source.as_deref().is_none_or(|s| s == sc.name))
            .collect();
        if routes.is_empty() {
            warnings.push(format!(
                "{label} has no route: its events are acknowledged and dropped"
            ));
        }
        let (Some((source, secrets)), true) = (source, problems.len() == before) else {
            continue;
        };
        let mut described = Vec::new();
        for route in &routes {
            for pattern in &route.events {
                described.push(format!("{pattern} -> {}", route.destination_name()));
            }
        }
        let spool_routes: Vec<SpoolRoute> = routes
            .iter()
            .flat_map(|r| {
                r.events.iter().map(|pattern| SpoolRoute {
                    pattern: pattern.clone(),
                    destination: r.destination_name().to_owned(),
                })
            })
            .collect();
        configured.push((sc.clone(), source.clone(), secrets.clone()));
        mounter.mount(&gateway.mounts(), &path, source, sc, &spool_routes);
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
    configured: Vec<(SourceConfig, Source, Vec<Secret>)>,
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
                    router = router.on(route.pattern.clone(), deliver_now(Arc::clone(destination)));
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

fn check_route(
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
    let uri = match route.to.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() => uri,
        _ => {
            problems.push(format!("{label}: {:?} is not a valid URL", route.to));
            return None;
        }
    };
    let before = problems.len();
    let ca = route
        .ca_file
        .as_ref()
        .and_then(|path| match std::fs::read(path) {
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
    let signing = route.sign_secret.as_ref().and_then(|text| {
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
    let mut destination =
        HttpDestination::with_client(uri, config.delivery.timeout, client?).forward_headers(names);
    if let Some(secret) = &signing {
        destination = destination.sign_with(secret);
    }
    Some(Arc::new(destination))
}

/// What kind of destination a route's `to` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DestinationKind {
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

fn nats_destination(
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

fn redis_destination(
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
fn deliver_now(
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

/// The secret file of the embedded default inside `data_dir`.
pub fn default_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret")
}

/// Read the embedded default's secret, creating it (32 random bytes, hex) on first use.
pub fn ensure_default_secret(data_dir: &Path) -> std::io::Result<(PathBuf, String)> {
    let path = default_secret_path(data_dir);
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        write_private(&path, hex::encode(bytes).as_bytes())?;
    }
    let text = std::fs::read_to_string(&path)?;
    Ok((path, text.trim_end().to_owned()))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The configuration `hookgate serve` runs without a file: every seed profile mounted at
/// `/hooks/<profile>` with the data directory's secret, every event logged as a JSON line.
pub fn embedded_config(data_dir: &Path, listen: Option<&str>) -> std::io::Result<(Config, String)> {
    let (secret_path, secret) = ensure_default_secret(data_dir)?;
    let secret_path = std::path::absolute(&secret_path)?;
    let mut config = Config::default();
    config.server.data_dir = data_dir.to_path_buf();
    if let Some(listen) = listen {
        config.server.listen = listen.to_owned();
    }
    config.sources = Profile::SEEDS
        .iter()
        .map(|p| SourceConfig {
            name: p.name().to_owned(),
            profile: p.name().to_owned(),
            path: Some(format!("/hooks/{}", p.name())),
            secrets: vec![secret::SecretEntry::Ref(format!(
                "file:{}",
                secret_path.display()
            ))],
            ..SourceConfig::default()
        })
        .collect();
    config.routes = vec![RouteConfig {
        to: "log".into(),
        ..RouteConfig::default()
    }];
    Ok((config, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;

    fn build_text(text: &str) -> Result<App<Full<Bytes>>, ConfigError> {
        build(&Config::from_toml(text, "t.toml")?, "t.toml", None)
    }

    #[test]
    fn every_problem_is_listed() {
        let err = build_text(
            r#"
            [[source]]
            name = "a"
            profile = "ninjaone"
            secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
            [[source]]
            name = "b"
            profile = "zapier"
            secrets = ["file:/nonexistent/hookgate/secret"]
            decompress = { max_bytes = 0 }
            [[route]]
            source = "c"
            to = "kafka://somewhere"
        "#,
        )
        .err()
        .unwrap();
        let all = err.problems.join("\n");
        assert!(all.contains("HOOKGATE_APP_TEST_UNSET"), "{all}");
        assert!(all.contains("unknown profile \"zapier\""), "{all}");
        assert!(all.contains("/nonexistent/hookgate/secret"), "{all}");
        assert!(all.contains("no source is named \"c\""), "{all}");
        assert!(
            all.contains("decompress.max_bytes must be above 0"),
            "{all}"
        );
        assert!(
            all.contains("unknown destination \"kafka://somewhere\""),
            "{all}"
        );
    }

    #[test]
    fn the_admin_api_is_off_by_default_and_needs_a_token_and_loopback() {
        let secret =
            std::env::temp_dir().join(format!("hookgate-admin-test-{}", std::process::id()));
        std::fs::write(&secret, "an-admin-test-secret-0123").unwrap();
        let secret = format!("file:{}", secret.display());
        let source =
            format!("[[source]]\nname = \"a\"\nprofile = \"homa\"\nsecrets = [\"{secret}\"]\n");
        let app = build_text(&source).unwrap();
        assert!(
            app.admin.is_none(),
            "the admin API must be off unless configured"
        );

        let problems = |admin: &str| {
            build_text(&format!("{source}\n[admin]\n{admin}"))
                .err()
                .map(|e| e.problems.join("\n"))
                .unwrap_or_default()
        };
        let remote = problems(&format!("listen = \"0.0.0.0:9091\"\ntoken = \"{secret}\""));
        assert!(remote.contains("not a loopback address"), "{remote}");
        let tokenless = problems("listen = \"127.0.0.1:9091\"");
        assert!(tokenless.contains("admin.token is required"), "{tokenless}");
        let allowed = problems(&format!(
            "listen = \"0.0.0.0:9091\"\ntoken = \"{secret}\"\nallow_remote = true"
        ));
        assert!(allowed.is_empty(), "{allowed}");
    }

    #[test]
    fn route_options_are_checked() {
        let err = build_text(
            r#"
            [[source]]
            name = "a"
            profile = "homa"
            secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
            keep_headers = ["x-homa-signature", "x-request-id"]
            [[route]]
            to = "log"
            forward_headers = ["x-request-id"]
            [[route]]
            to = "https://example.com/hook"
            forward_headers = ["Authorization", "bad header"]
            sign_secret = "env:HOOKGATE_APP_TEST_UNSET_SIGN"
            ca_file = "/nonexistent/ca.pem"
            [[route]]
            to = "https://example.com/hook"
        "#,
        )
        .err()
        .unwrap();
        let all = err.problems.join("\n");
        for expected in [
            "`forward_headers` does not apply to \"log\" destinations",
            "authorization carries credentials and is never forwarded",
            "\"bad header\" is not a header name",
            "HOOKGATE_APP_TEST_UNSET_SIGN",
            "ca_file /nonexistent/ca.pem",
            "one destination has one setting",
        ] {
            assert!(all.contains(expected), "{expected:?} in {all}");
        }
    }

    #[test]
    fn broker_routes_and_the_dedup_store_are_checked() {
        let err = build_text(
            r#"
            [dedup]
            store = "memcached://127.0.0.1"
            [[source]]
            name = "a"
            profile = "homa"
            secrets = ["env:HOOKGATE_APP_TEST_UNSET"]
            [[route]]
            to = "http://127.0.0.1:9/hook"
            subject = "x.{event}"
            [[route]]
            to = "nats://127.0.0.1:4222"
            create_stream = true
            [[route]]
            to = "nats://127.0.0.1:4223"
            subject = "{source}.{event}"
            stream = "ALL"
            create_stream = true
            [[route]]
            to = "nats://127.0.0.1:4224"
            subject = "x.{nope}"
            [[route]]
            to = "redis://127.0.0.1:6379"
            stream = "s.{source}"
            maxlen = 10
            subject = "x"
        "#,
        )
        .err()
        .unwrap();
        let all = err.problems.join("\n");
        for expected in [
            "dedup.store: \"memcached://127.0.0.1\" is not supported",
            "`subject` does not apply to \"http\" destinations",
            "create_stream needs `stream`",
            "would capture every subject on the server",
            "nope",
            "`subject` does not apply to \"redis\" destinations",
        ] {
            assert!(all.contains(expected), "{expected:?} in {all}");
        }
    }

    #[test]
    fn embedded_default_builds() {
        let dir = std::env::temp_dir().join(format!("hookgate-app-{}", std::process::id()));
        let (config, secret) = embedded_config(&dir, Some("127.0.0.1:0")).unwrap();
        assert_eq!(secret.len(), 64);
        let app: App<Full<Bytes>> = build(&config, "embedded", None).unwrap();
        assert_eq!(app.mounts.len(), 5);
        let (_, again) = ensure_default_secret(&dir).unwrap();
        assert_eq!(secret, again, "the secret is generated once");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

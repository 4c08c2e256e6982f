//! The admin API: query the delivery log, replay events, retry dead letters, purge.
//!
//! It is **off by default** and listens on its own address (`[admin] listen`, loopback unless
//! `allow_remote = true`), never on the webhook listener, so senders cannot reach it. Every
//! request needs `Authorization: Bearer <token>`; the token is compared in constant time (both
//! sides hashed first) and a missing or wrong one gets 401. A tenant's token ([`Tokens`]) sees
//! only its tenant's sources and their events: anything else is 404. Answers are built from stored
//! event records, which never hold credentials, and never include configured secrets.
//!
//! | Method and path | What it does |
//! |---|---|
//! | `GET /events?<filter>` | events, newest first, `limit` per page, `next` is the cursor for `before` |
//! | `GET /events/{seq}` | one event: headers, body, every delivery with its attempts |
//! | `POST /events/{seq}/replay[?to=<destination>]` | deliver it again |
//! | `POST /events/{seq}/retry` | retry its dead letters |
//! | `POST /events/replay?<filter>[&to=<destination>]` | replay every matching event |
//! | `POST /events/purge?<filter>` | remove matching settled events (pending ones are kept) |
//! | `GET /dead?<filter>` | events with dead letters |
//! | `POST /dead/retry?<filter>` | retry the matching dead letters |
//! | `GET /ui`, `GET /ui/events/{seq}` | the event inbox: HTML pages with replay and retry buttons; sign in at `/ui/login` with the token |
//! | `GET /` | redirects to the inbox, `/ui` (**no token**: a browser pointed at the admin address lands there) |
//! | `GET /metrics` | every metric, Prometheus text format ([`crate::observe`]) |
//! | `POST /sources`, `GET /sources`, `GET`/`PATCH`/`DELETE /sources/{id}` | sources managed at runtime ([`crate::catalog`]) |
//! | `POST /sources/{id}/secrets`, `PATCH`/`DELETE /sources/{id}/secrets/{fingerprint}` | rotate and retire secrets |
//! | `POST /sources/{id}/test` | a signed sample through the source's stages, each stage's verdict |
//! | `GET /events/available?source=NAME` | the event types the source's spec knows |
//! | `GET /healthz`, `GET /readyz` | liveness and readiness ([`crate::health`]), from [`probes`]: **no token** |
//!
//! A filter is any of `source`, `type` (exact or glob), `id`, `status` (pending, retrying,
//! delivered, dead, unrouted), `destination`, `since`, `until` (RFC 3339 or an age like `2h`)
//! and `before` (sequence number); see [`Query`]. Bulk replay and purge refuse an empty filter
//! unless `all=true`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, StatusCode};
//! use hookgate::admin::{self, Ops};
//! use hookgate::spool::Spool;
//! use hookgate::Secret;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = std::env::temp_dir().join(format!("hookgate-doc-admin-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let spool = Arc::new(Spool::open(&dir).unwrap());
//! let token = Secret::new(b"an-admin-token-of-32-characters!".to_vec(), "example").unwrap();
//! let api = admin::router(Ops::new(spool, None, vec![]), &token);
//!
//! let anonymous = Request::get("/events").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(api.clone().oneshot(anonymous).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//!
//! let authorized = Request::get("/events")
//!     .header("authorization", "Bearer an-admin-token-of-32-characters!")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(api.oneshot(authorized).await.unwrap().status(), StatusCode::OK);
//! # let _ = std::fs::remove_dir_all(&dir);
//! # }
//! ```

mod catalog;
mod ops;
mod ui;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query as QueryParams, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use self::ops::{DEFAULT_LIMIT, MAX_LIMIT, OpError, Ops, Query};
use crate::auth::Secret;
use crate::catalog::Scope;
use crate::delivery::controls::Overrides;
use crate::health::Health;
use crate::observe;

/// A JSON error answer: `{"error": code, "message": text}`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "message": message.into() })),
    )
        .into_response()
}

impl IntoResponse for OpError {
    fn into_response(self) -> Response {
        if let Self::Spool(e) = &self {
            tracing::error!(error = %e, "admin operation failed");
        }
        error(self.status(), self.code(), self.to_string())
    }
}

type Answer = Result<Json<Value>, OpError>;

fn answer(result: Result<Value, OpError>) -> Answer {
    result.map(Json)
}

fn params<T>(query: Result<QueryParams<T>, QueryRejection>) -> Result<T, OpError> {
    query
        .map(|QueryParams(q)| q)
        .map_err(|e| OpError::BadRequest(e.body_text()))
}

/// `?to=` of a single-event replay.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReplayTo {
    to: Option<String>,
}

fn seq_of(text: &str) -> Result<u64, OpError> {
    text.parse()
        .map_err(|_| OpError::BadRequest(format!("{text:?} is not an event sequence number")))
}

/// The query with the caller's scope applied.
fn scoped(
    ops: &Ops,
    scope: &Scope,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Result<Query, OpError> {
    let mut query = params(query)?;
    query.only = ops.visible_sources(scope);
    Ok(query)
}

/// The event `seq`, if the caller's scope sees it (404 otherwise, as if it did not exist).
fn visible(ops: &Ops, scope: &Scope, seq: &str) -> Result<u64, OpError> {
    let seq = seq_of(seq)?;
    ops.check_visible(seq, ops.visible_sources(scope).as_deref())?;
    Ok(seq)
}

async fn list(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.list(&scoped(&ops, &scope, query)?))
}

async fn dead(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.dead(&scoped(&ops, &scope, query)?))
}

async fn show(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(seq): Path<String>,
) -> Answer {
    answer(ops.show(visible(&ops, &scope, &seq)?))
}

async fn replay_one(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(seq): Path<String>,
    to: Result<QueryParams<ReplayTo>, QueryRejection>,
) -> Answer {
    let to: ReplayTo = params(to)?;
    answer(
        ops.replay(visible(&ops, &scope, &seq)?, to.to.as_deref())
            .await,
    )
}

async fn retry_one(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(seq): Path<String>,
) -> Answer {
    answer(ops.retry(visible(&ops, &scope, &seq)?).await)
}

async fn replay_matching(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    let query = scoped(&ops, &scope, query)?;
    let to = query.to.clone();
    answer(ops.replay_matching(&query, to.as_deref()).await)
}

async fn retry_matching(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.retry_matching(&scoped(&ops, &scope, query)?).await)
}

async fn purge(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.purge(&scoped(&ops, &scope, query)?).await)
}

async fn destinations(State(ops): State<Ops>) -> Answer {
    answer(ops.destinations_view())
}

async fn destination(State(ops): State<Ops>, Path(name): Path<String>) -> Answer {
    answer(ops.destination(&name))
}

async fn change_destination(
    State(ops): State<Ops>,
    Path(name): Path<String>,
    body: Result<Json<Overrides>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let Json(change) = body.map_err(|e| OpError::BadRequest(e.body_text()))?;
    answer(ops.change_destination(&name, change).await)
}

async fn pause(State(ops): State<Ops>, Path(name): Path<String>) -> Answer {
    let change = Overrides {
        paused: Some(true),
        ..Overrides::default()
    };
    answer(ops.change_destination(&name, change).await)
}

async fn resume(State(ops): State<Ops>, Path(name): Path<String>) -> Answer {
    let change = Overrides {
        paused: Some(false),
        ..Overrides::default()
    };
    answer(ops.change_destination(&name, change).await)
}

async fn reset_destination(State(ops): State<Ops>, Path(name): Path<String>) -> Answer {
    answer(ops.reset_destination(&name).await)
}

async fn blocked(State(ops): State<Ops>) -> Answer {
    Ok(Json(ops.blocked()))
}

/// `?destination=&key=` of a blocked key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyOf {
    destination: String,
    key: String,
}

async fn release_key(
    State(ops): State<Ops>,
    query: Result<QueryParams<KeyOf>, QueryRejection>,
) -> Answer {
    let which: KeyOf = params(query)?;
    answer(ops.release_key(&which.destination, &which.key).await)
}

/// `GET /metrics`: every metric in the Prometheus text format, the spool's gauges read now.
async fn metrics(State(ops): State<Ops>) -> Response {
    let spool = ops.spool();
    let lanes = spool.lanes();
    let blocked = spool.blocked();
    for lane in &lanes {
        metrics::gauge!(observe::WAITING, "destination" => lane.destination.clone())
            .set(lane.waiting as f64);
    }
    for name in ops.destinations() {
        let keys = blocked.iter().filter(|b| &b.destination == name).count();
        metrics::gauge!(observe::BLOCKED_KEYS, "destination" => name.clone()).set(keys as f64);
        if !lanes.iter().any(|l| &l.destination == name) {
            metrics::gauge!(observe::WAITING, "destination" => name.clone()).set(0.0);
        }
    }
    metrics::gauge!(observe::SPOOL_PENDING).set(spool.pending_len() as f64);
    metrics::gauge!(observe::SPOOL_FREE_BYTES).set(spool.free_bytes() as f64);
    match spool.oldest_pending_age() {
        Ok(age) => {
            metrics::gauge!(observe::SPOOL_OLDEST_AGE).set(age.unwrap_or_default().as_secs_f64())
        }
        Err(error) => tracing::warn!(%error, "cannot read the oldest pending delivery"),
    }
    match crate::metrics::render_prometheus() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no_metrics",
            "no Prometheus recorder is installed (hookgate::metrics::install_prometheus)",
        ),
    }
}

/// `/healthz` and `/readyz` over `health`, without the token: orchestrators probe them. Merge
/// them into the [`router`].
pub fn probes(health: Health) -> Router {
    let health = std::sync::Arc::new(health);
    Router::new()
        .route("/healthz", get(|| async { crate::health::healthz() }))
        .route(
            "/readyz",
            get(
                |State(health): State<std::sync::Arc<Health>>| async move { health.readyz().await },
            ),
        )
        .with_state(health)
}

/// The admin tokens: the global one, and each tenant's.
#[derive(Debug, Clone)]
pub struct Tokens {
    global: Secret,
    tenants: Vec<(String, Secret)>,
}

impl Tokens {
    /// Only the global token.
    pub fn global(token: Secret) -> Self {
        Self {
            global: token,
            tenants: Vec::new(),
        }
    }

    /// Also `token` for `tenant`: it sees and changes only that tenant's sources and events.
    pub fn tenant(mut self, tenant: impl Into<String>, token: Secret) -> Self {
        self.tenants.push((tenant.into(), token));
        self
    }
}

/// What requests are compared against: the SHA-256 of each token, and the inbox's session
/// cookie value (a digest of the global token under another label, so the cookie never holds
/// it).
#[derive(Clone)]
pub(crate) struct Auth {
    token: [u8; 32],
    tenants: std::sync::Arc<[(String, [u8; 32])]>,
    session: String,
}

impl Auth {
    fn new(tokens: &Tokens) -> Self {
        let mut session = Sha256::new();
        session.update(b"hookgate inbox session\0");
        session.update(tokens.global.expose());
        Self {
            token: Sha256::digest(tokens.global.expose()).into(),
            tenants: tokens
                .tenants
                .iter()
                .map(|(name, token)| (name.clone(), Sha256::digest(token.expose()).into()))
                .collect(),
            session: hex::encode(session.finalize()),
        }
    }

    /// Is `presented` the global admin token? (Constant time: both sides are hashed first.)
    pub(crate) fn token_matches(&self, presented: &str) -> bool {
        matches!(self.scope_of(presented), Some(Scope::Global))
    }

    /// Whose token `presented` is. Every token is compared, in constant time, whichever matches.
    fn scope_of(&self, presented: &str) -> Option<Scope> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut scope = bool::from(digest.ct_eq(&self.token)).then_some(Scope::Global);
        for (tenant, expected) in self.tenants.iter() {
            let matches = bool::from(digest.ct_eq(expected));
            if matches && scope.is_none() {
                scope = Some(Scope::Tenant(tenant.clone()));
            }
        }
        scope
    }

    /// The session cookie's value.
    pub(crate) fn session(&self) -> &str {
        &self.session
    }

    fn session_matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.session.as_bytes()))
    }
}

async fn authorize(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| auth.scope_of(token.trim()));
    let cookie = bearer.is_none()
        && ui::session_cookie(req.headers()).is_some_and(|value| auth.session_matches(value));
    if cookie && req.method() == http::Method::POST && !ui::same_origin(req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "a form post from another origin is refused",
        );
    }
    let scope = bearer.or(cookie.then_some(Scope::Global));
    let path = req.uri().path();
    if scope.is_none() && path.starts_with("/ui") && req.method() == http::Method::GET {
        return axum::response::Redirect::to("/ui/login").into_response();
    }
    let Some(scope) = scope else {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs Authorization: Bearer <admin token>",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hookgate-admin\""),
        );
        return response;
    };
    // The inbox, the metrics and the destinations cover every tenant: the global token only.
    if scope != Scope::Global
        && (path.starts_with("/ui")
            || path == "/metrics"
            || path.starts_with("/destinations")
            || path.starts_with("/blocked"))
    {
        return error(
            StatusCode::FORBIDDEN,
            "global_token_needed",
            "this endpoint covers every tenant and needs the global admin token",
        );
    }
    req.extensions_mut().insert(scope);
    next.run(req).await
}

/// The admin API and the event inbox over `ops`, protected by `token`; see the
/// [module docs](self).
pub fn router(ops: Ops, token: &Secret) -> Router {
    router_with(ops, &Tokens::global(token.clone()))
}

/// The admin API over `ops` with a global token and tenants' tokens; see the
/// [module docs](self).
pub fn router_with(ops: Ops, tokens: &Tokens) -> Router {
    let auth = Auth::new(tokens);
    // A browser pointed at the admin address lands in the inbox (which sends it on to sign in
    // when it has no session): no token needed to be told where to go.
    let login = Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/ui") }))
        .route("/ui/login", get(ui::login_page).post(ui::login))
        .with_state(auth.clone());
    Router::new()
        .route("/ui", get(ui::inbox))
        .route("/ui/events/{seq}", get(ui::event))
        .route("/ui/events/{seq}/replay", post(ui::replay))
        .route("/ui/events/{seq}/retry", post(ui::retry))
        .route("/ui/logout", post(ui::logout))
        .route("/ui/destinations", get(ui::destinations))
        .route("/ui/destinations/{name}/{action}", post(ui::set_paused))
        .route("/ui/blocked/release", post(ui::release))
        .route("/sources", get(catalog::list).post(catalog::create))
        .route(
            "/sources/{id}",
            get(catalog::show)
                .patch(catalog::update)
                .delete(catalog::remove),
        )
        .route("/sources/{id}/secrets", post(catalog::add_secret))
        .route(
            "/sources/{id}/secrets/{fingerprint}",
            patch(catalog::retire_secret).delete(catalog::remove_secret),
        )
        .route("/sources/{id}/test", post(catalog::test))
        .route("/events/available", get(catalog::available))
        .route("/events", get(list))
        .route("/events/replay", post(replay_matching))
        .route("/events/purge", post(purge))
        .route("/events/{seq}", get(show))
        .route("/events/{seq}/replay", post(replay_one))
        .route("/events/{seq}/retry", post(retry_one))
        .route("/dead", get(dead))
        .route("/dead/retry", post(retry_matching))
        .route("/metrics", get(metrics))
        .route("/destinations", get(destinations))
        .route(
            "/destinations/{name}",
            get(destination).patch(change_destination),
        )
        .route("/destinations/{name}/pause", post(pause))
        .route("/destinations/{name}/resume", post(resume))
        .route("/destinations/{name}/reset", post(reset_destination))
        .route("/blocked", get(blocked))
        .route("/blocked/release", post(release_key))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint") })
        .with_state(ops)
        .layer(middleware::from_fn_with_state(auth, authorize))
        .merge(login)
}

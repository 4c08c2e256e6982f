//! The admin API: query the delivery log, replay events, retry dead letters, purge.
//!
//! It is **off by default** and listens on its own address (`[admin] listen`, loopback unless
//! `allow_remote = true`), never on the webhook listener, so senders cannot reach it. Every
//! request needs `Authorization: Bearer <token>`; the token is compared in constant time (both
//! sides hashed first) and a missing or wrong one gets 401. Answers are built from stored
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

mod ops;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query as QueryParams, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use self::ops::{DEFAULT_LIMIT, MAX_LIMIT, OpError, Ops, Query};
use crate::auth::Secret;

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

async fn list(State(ops): State<Ops>, query: Result<QueryParams<Query>, QueryRejection>) -> Answer {
    answer(ops.list(&params(query)?))
}

async fn dead(State(ops): State<Ops>, query: Result<QueryParams<Query>, QueryRejection>) -> Answer {
    answer(ops.dead(&params(query)?))
}

async fn show(State(ops): State<Ops>, Path(seq): Path<String>) -> Answer {
    answer(ops.show(seq_of(&seq)?))
}

async fn replay_one(
    State(ops): State<Ops>,
    Path(seq): Path<String>,
    to: Result<QueryParams<ReplayTo>, QueryRejection>,
) -> Answer {
    let to: ReplayTo = params(to)?;
    answer(ops.replay(seq_of(&seq)?, to.to.as_deref()).await)
}

async fn retry_one(State(ops): State<Ops>, Path(seq): Path<String>) -> Answer {
    answer(ops.retry(seq_of(&seq)?).await)
}

async fn replay_matching(
    State(ops): State<Ops>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    let query = params(query)?;
    let to = query.to.clone();
    answer(ops.replay_matching(&query, to.as_deref()).await)
}

async fn retry_matching(
    State(ops): State<Ops>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.retry_matching(&params(query)?).await)
}

async fn purge(
    State(ops): State<Ops>,
    query: Result<QueryParams<Query>, QueryRejection>,
) -> Answer {
    answer(ops.purge(&params(query)?).await)
}

/// The SHA-256 of the expected token: what requests are compared against.
#[derive(Clone)]
struct TokenDigest([u8; 32]);

async fn authorize(State(expected): State<TokenDigest>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = presented.is_some_and(|token| {
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        bool::from(digest.ct_eq(&expected.0))
    });
    if !ok {
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
    }
    next.run(req).await
}

/// The admin API over `ops`, protected by `token`; see the [module docs](self).
pub fn router(ops: Ops, token: &Secret) -> Router {
    let digest = TokenDigest(Sha256::digest(token.expose()).into());
    Router::new()
        .route("/events", get(list))
        .route("/events/replay", post(replay_matching))
        .route("/events/purge", post(purge))
        .route("/events/{seq}", get(show))
        .route("/events/{seq}/replay", post(replay_one))
        .route("/events/{seq}/retry", post(retry_one))
        .route("/dead", get(dead))
        .route("/dead/retry", post(retry_matching))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint") })
        .with_state(ops)
        .layer(middleware::from_fn_with_state(digest, authorize))
}

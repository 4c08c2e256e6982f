//! The sources API: `/sources` and `/events/available` ([`crate::catalog`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ops, error};
use crate::catalog::{
    CreateSource, DryRunRequest, Registry, Scope, SecretRequest, SourceError, UpdateSource,
};

impl IntoResponse for SourceError {
    fn into_response(self) -> Response {
        if let Self::Storage(e) = &self {
            tracing::error!(error = %e, "sources operation failed");
        }
        let status = self.status();
        let code = self.code();
        match self {
            Self::Invalid(problems) => (
                status,
                Json(json!({
                    "error": code,
                    "message": "the source is not valid",
                    "problems": problems,
                })),
            )
                .into_response(),
            other => error(status, code, other.to_string()),
        }
    }
}

/// Why a sources request failed.
pub(super) enum Failure {
    /// The operation refused.
    Source(SourceError),
    /// The request does not parse (400).
    Bad(String),
    /// No registry: the sources API is off (404).
    Off,
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Self {
        Self::Source(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Source(e) => e.into_response(),
            Self::Bad(message) => error(StatusCode::BAD_REQUEST, "bad_request", message),
            Self::Off => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "the sources API is not on (it needs the spool)",
            ),
        }
    }
}

type Answer = Result<Response, Failure>;

fn registry(ops: &Ops) -> Result<&Registry, Failure> {
    ops.registry().map(|r| &**r).ok_or(Failure::Off)
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, Failure> {
    payload
        .map(|Json(t)| t)
        .map_err(|e| Failure::Bad(e.body_text()))
}

fn ok(status: StatusCode, value: Value) -> Answer {
    Ok((status, Json(value)).into_response())
}

/// A view with a secret shown this once.
fn with_secret(mut view: Value, secret: Option<String>) -> Value {
    if let (Some(secret), Some(object)) = (secret, view.as_object_mut()) {
        object.insert("secret".into(), Value::from(secret));
        object.insert(
            "secret_note".into(),
            Value::from(
                "shown once: give it to the sender now; only its fingerprint is kept visible",
            ),
        );
    }
    view
}

pub(super) async fn list(State(ops): State<Ops>, Extension(scope): Extension<Scope>) -> Answer {
    ok(
        StatusCode::OK,
        json!({ "sources": registry(&ops)?.list(&scope) }),
    )
}

pub(super) async fn create(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    payload: Result<Json<CreateSource>, JsonRejection>,
) -> Answer {
    let request = body(payload)?;
    let (view, secret) = registry(&ops)?.create(&scope, request).await?;
    ok(StatusCode::CREATED, with_secret(view, secret))
}

pub(super) async fn show(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> Answer {
    let view = registry(&ops)?.get(&scope, &id)?;
    ok(StatusCode::OK, view)
}

pub(super) async fn update(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    payload: Result<Json<UpdateSource>, JsonRejection>,
) -> Answer {
    let request = body(payload)?;
    let view = registry(&ops)?.update(&scope, &id, request).await?;
    ok(StatusCode::OK, view)
}

pub(super) async fn remove(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> Answer {
    registry(&ops)?.delete(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn add_secret(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    payload: Result<Json<SecretRequest>, JsonRejection>,
) -> Answer {
    let request = body(payload)?;
    let (view, secret) = registry(&ops)?.add_secret(&scope, &id, request).await?;
    ok(StatusCode::CREATED, with_secret(view, secret))
}

/// `PATCH /sources/{id}/secrets/{fingerprint}`: `{"not_after": "<RFC 3339>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Retire {
    not_after: String,
}

pub(super) async fn retire_secret(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path((id, fingerprint)): Path<(String, String)>,
    payload: Result<Json<Retire>, JsonRejection>,
) -> Answer {
    let request = body(payload)?;
    let at = humantime::parse_rfc3339_weak(&request.not_after).map_err(|_| {
        Failure::Bad(format!(
            "not_after {:?} is not an RFC 3339 time",
            request.not_after
        ))
    })?;
    let view = registry(&ops)?
        .retire_secret(&scope, &id, &fingerprint, Some(at))
        .await?;
    ok(StatusCode::OK, view)
}

pub(super) async fn remove_secret(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path((id, fingerprint)): Path<(String, String)>,
) -> Answer {
    let view = registry(&ops)?
        .retire_secret(&scope, &id, &fingerprint, None)
        .await?;
    ok(StatusCode::OK, view)
}

pub(super) async fn test(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    payload: Result<Json<DryRunRequest>, JsonRejection>,
) -> Answer {
    // An empty body is a test with the defaults.
    let request = match payload {
        Err(JsonRejection::MissingJsonContentType(_)) => DryRunRequest::default(),
        other => body(other)?,
    };
    let report = registry(&ops)?.dry_run(&scope, &id, request).await?;
    ok(
        StatusCode::OK,
        serde_json::to_value(report).unwrap_or(Value::Null),
    )
}

/// `GET /events/available?source=NAME`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Available {
    source: String,
}

pub(super) async fn available(
    State(ops): State<Ops>,
    Extension(scope): Extension<Scope>,
    query: Result<QueryParams<Available>, QueryRejection>,
) -> Answer {
    let QueryParams(query) = query.map_err(|e| {
        Failure::Bad(format!(
            "{} (GET /events/available?source=NAME)",
            e.body_text()
        ))
    })?;
    let answer = registry(&ops)?.available(&scope, &query.source)?;
    ok(StatusCode::OK, answer)
}

//! The answers that are not rejections: 202 accepted and 200 duplicate.
//!
//! ```json
//! {"status": "accepted", "id": "12938", "type": "CONDITION.TRIGGERED"}
//! {"status": "duplicate", "id": "12938"}
//! ```

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::event::{EventId, EventKind};

#[derive(Serialize)]
struct Answer<'a> {
    status: &'a str,
    id: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

fn json<B: From<Full<Bytes>>>(status: StatusCode, answer: &Answer<'_>) -> Response<B> {
    let bytes = serde_json::to_vec(answer).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(B::from(Full::new(Bytes::from(bytes))));
    *response.status_mut() = status;
    let code = if answer.status == "accepted" {
        "accepted"
    } else {
        "duplicate"
    };
    response
        .extensions_mut()
        .insert(crate::observe::Outcome::new(code));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// 202: the event was handed off (its handlers succeeded, or it is durably stored).
pub fn accepted<B: From<Full<Bytes>>>(id: &EventId, kind: &EventKind) -> Response<B> {
    json(
        StatusCode::ACCEPTED,
        &Answer {
            status: "accepted",
            id: id.as_str(),
            kind: Some(kind.as_str()),
        },
    )
}

/// 200: the event was already processed; nothing was done this time.
pub fn duplicate<B: From<Full<Bytes>>>(id: &EventId) -> Response<B> {
    json(
        StatusCode::OK,
        &Answer {
            status: "duplicate",
            id: id.as_str(),
            kind: None,
        },
    )
}

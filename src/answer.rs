//! The answers that are not rejections: 202 accepted and 200 duplicate.
//!
//! ```json
//! {"status": "accepted", "id": "12938", "type": "CONDITION.TRIGGERED"}
//! {"status": "duplicate", "id": "12938"}
//! ```
//!
//! Each success answer also leaves an [`Answered`] in the response's extensions, saying which
//! event it was about: the stages before it read it there. The replay cache of
//! [`Authenticate`](crate::auth::Authenticate) remembers it, so that a byte-identical copy of the
//! request gets the same `200 duplicate` the dedup stage would give.

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::event::{EventId, EventKind};

/// What a sender is told to wait before retrying a 409 (claim in flight) or a 503 (not accepted),
/// unless configured otherwise: the dedup stage, the router and the spool all answer with it.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What a 2xx answer was about, left in its response's extensions by the stage that answered.
///
/// A stage in front of the answer (the replay cache) reads it to tell a later copy of the same
/// request what the first one got. An answer from a service of your own carries none: the replay
/// cache then answers a copy `200 {"status":"duplicate"}` with no id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answered {
    /// The event with this id is accepted, now or before: a copy is a duplicate of it.
    Event(EventId),
    /// A sender's endpoint check ([`crate::handshake`]), answered without storing anything: a
    /// copy is answered again, the same way.
    Handshake,
}

#[derive(Serialize)]
struct Answer<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

fn json<B: From<Full<Bytes>>>(
    status: StatusCode,
    answer: &Answer<'_>,
    answered: Option<&EventId>,
) -> Response<B> {
    let bytes = serde_json::to_vec(answer).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(B::from(Full::new(Bytes::from(bytes))));
    *response.status_mut() = status;
    let code = if answer.status == "accepted" {
        "accepted"
    } else {
        "duplicate"
    };
    let extensions = response.extensions_mut();
    extensions.insert(crate::observe::AnswerCode::new(code));
    if let Some(id) = answered {
        extensions.insert(Answered::Event(id.clone()));
    }
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
            id: Some(id.as_str()),
            kind: Some(kind.as_str()),
        },
        Some(id),
    )
}

/// 200: the event was already processed; nothing was done this time.
pub fn duplicate<B: From<Full<Bytes>>>(id: &EventId) -> Response<B> {
    json(
        StatusCode::OK,
        &Answer {
            status: "duplicate",
            id: Some(id.as_str()),
            kind: None,
        },
        Some(id),
    )
}

/// 200: this exact request was already answered with a 2xx that named no event (a service of
/// your own behind [`Authenticate`](crate::auth::Authenticate)); nothing was done this time.
pub fn duplicate_unnamed<B: From<Full<Bytes>>>() -> Response<B> {
    json(
        StatusCode::OK,
        &Answer {
            status: "duplicate",
            id: None,
            kind: None,
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_answers_name_their_event_in_the_extensions() {
        let id = EventId::new("evt_1");
        let kind = EventKind::new("thing.happened");
        for response in [
            accepted::<Full<Bytes>>(&id, &kind),
            duplicate::<Full<Bytes>>(&id),
        ] {
            assert_eq!(
                response.extensions().get::<Answered>(),
                Some(&Answered::Event(id.clone()))
            );
        }
        let unnamed: Response<Full<Bytes>> = duplicate_unnamed();
        assert_eq!(unnamed.status(), StatusCode::OK);
        assert!(unnamed.extensions().get::<Answered>().is_none());
    }
}

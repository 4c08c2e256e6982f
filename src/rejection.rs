//! Every early answer hookgate gives, in one place.
//!
//! A stage that refuses a request does not return an error: it answers with a [`Rejection`], which
//! becomes an HTTP response with a specific status and a small JSON body:
//!
//! ```json
//! {"error": "invalid_signature", "message": "the signature does not match the body"}
//! ```
//!
//! The `error` code is stable and meant for machines; the message is for people. No rejection ever
//! carries the expected signature, a secret, or any part of the request body.
//!
//! Keeping the error answers as responses (the tower-http way) is what lets every hookgate layer
//! mount in axum, whose services must be infallible.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

/// One problem found in an event's body, reported in a 422 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON pointer to the offending value (`""` for the whole document).
    pub instance_path: String,
    /// What was expected there.
    pub message: String,
}

macro_rules! rejections {
    ($( $(#[$doc:meta])* $variant:ident => ($status:ident, $code:literal, $message:literal) ),+ $(,)?) => {
        /// Why a request was refused. Each variant maps to one status and one stable code.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Rejection {
            $( $(#[$doc])* $variant, )+
            /// 400: the body is not valid JSON (position of the error, never its content).
            MalformedJson(String),
            /// 422: the event type could not be found at the profile's place.
            MissingEventType(String),
            /// 422: the event does not fit the sender's schema.
            InvalidEvent(Vec<Problem>),
            /// 409: the same event is being processed right now; retry later.
            InFlight(Duration),
            /// 503: the event was not accepted (handler failed or timed out); retry later.
            NotAccepted(Duration),
            /// 503: a store hookgate needs is unreachable; retry later.
            Unavailable(Duration),
            /// 503: the spool is at its limit (pending deliveries or free disk space); retry later.
            SpoolFull(Duration),
            /// 429: the source is past its ingest limit ([`crate::rate`]); retry after this long.
            RateLimited(Duration),
        }

        impl Rejection {
            /// The HTTP status of this rejection.
            pub fn status(&self) -> StatusCode {
                match self {
                    $( Self::$variant => StatusCode::$status, )+
                    Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
                    Self::MissingEventType(_) | Self::InvalidEvent(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    Self::InFlight(_) => StatusCode::CONFLICT,
                    Self::NotAccepted(_) | Self::Unavailable(_) | Self::SpoolFull(_) => StatusCode::SERVICE_UNAVAILABLE,
                    Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                }
            }

            /// The stable machine-readable code in the JSON body.
            pub fn code(&self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                    Self::MalformedJson(_) => "malformed_json",
                    Self::MissingEventType(_) => "missing_event_type",
                    Self::InvalidEvent(_) => "invalid_event",
                    Self::InFlight(_) => "in_flight",
                    Self::NotAccepted(_) => "not_accepted",
                    Self::Unavailable(_) => "unavailable",
                    Self::SpoolFull(_) => "spool_full",
                    Self::RateLimited(_) => "rate_limited",
                }
            }

            /// The message for people in the JSON body (never a secret or a body).
            pub fn message(&self) -> String {
                match self {
                    $( Self::$variant => $message.to_owned(), )+
                    Self::MalformedJson(detail) => format!("the body is not valid JSON: {detail}"),
                    Self::MissingEventType(place) => format!("no event type found at {place}"),
                    Self::InvalidEvent(_) => "the event does not match the sender's schema".to_owned(),
                    Self::InFlight(_) => "the same event is being processed; retry later".to_owned(),
                    Self::NotAccepted(_) => "the event was not accepted; retry later".to_owned(),
                    Self::Unavailable(_) => "a store hookgate depends on is unavailable; retry later".to_owned(),
                    Self::SpoolFull(_) => "the spool is at its limit (pending deliveries or free disk space); retry later".to_owned(),
                    Self::RateLimited(_) => "this source is sending faster than its limit; retry later".to_owned(),
                }
            }
        }
    };
}

rejections! {
    /// 413: the body is larger than the configured cap.
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large", "the body is larger than this endpoint accepts"),
    /// 400: the body could not be read to its end (the client went away or sent broken framing).
    BodyRead => (BAD_REQUEST, "body_read_failed", "the body could not be read"),
    /// 415: the body is compressed in a way this endpoint does not accept (any coding, unless
    /// decompression is on; then anything but one of gzip or deflate).
    UnsupportedEncoding => (UNSUPPORTED_MEDIA_TYPE, "unsupported_content_encoding", "this endpoint does not accept the body's content encoding"),
    /// 413: the body inflates to more than the decompression cap.
    DecompressedTooLarge => (PAYLOAD_TOO_LARGE, "decompressed_too_large", "the body inflates to more than this endpoint accepts"),
    /// 400: the body is not valid in its declared content encoding.
    MalformedEncoding => (BAD_REQUEST, "malformed_encoding", "the body is not valid in its content encoding"),
    /// 401: the request carries no signature where one is required.
    MissingSignature => (UNAUTHORIZED, "missing_signature", "the request is not signed"),
    /// 401: the signature is present but cannot be decoded.
    MalformedSignature => (UNAUTHORIZED, "malformed_signature", "the signature is not in the expected format"),
    /// 401: the signature header appears more than once.
    RepeatedSignature => (UNAUTHORIZED, "repeated_signature", "the signature header must appear exactly once"),
    /// 401: the signature does not match the body under any current secret.
    InvalidSignature => (UNAUTHORIZED, "invalid_signature", "the signature does not match the body"),
    /// 401: the request carries no token where one is required.
    MissingToken => (UNAUTHORIZED, "missing_token", "the request carries no credentials"),
    /// 401: the token does not match any current secret.
    InvalidToken => (UNAUTHORIZED, "invalid_token", "the credentials are not valid"),
    /// 401: the signature covers a timestamp that the request does not carry.
    MissingTimestamp => (UNAUTHORIZED, "missing_timestamp", "the request carries no signed timestamp"),
    /// 401: the signed timestamp is not in the sender's format.
    MalformedTimestamp => (UNAUTHORIZED, "malformed_timestamp", "the signed timestamp is not in the expected format"),
    /// 401: the signature covers an id that the request does not carry (or carries twice).
    MissingId => (UNAUTHORIZED, "missing_id", "the request carries no single id for the signature to cover"),
    /// 401: the signature is valid, but its timestamp is further from now than the tolerance.
    StaleTimestamp => (UNAUTHORIZED, "stale_timestamp", "the signed timestamp is outside the accepted window"),
    /// 401: the source has no usable secret, so it refuses everything (fail closed).
    NoSecret => (UNAUTHORIZED, "no_usable_secret", "this endpoint has no usable secret and refuses all requests"),
    /// 403: the source at this path is disabled (by its owner, through the admin API).
    SourceDisabled => (FORBIDDEN, "source_disabled", "this webhook source is disabled"),
    /// 404: no source is mounted at this path.
    UnknownSource => (NOT_FOUND, "unknown_source", "no webhook source is mounted at this path"),
    /// 405: webhook endpoints accept POST only.
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed", "webhook endpoints accept POST only"),
    /// 400: a sender's unsigned endpoint check (Okta, Dropbox, Microsoft Graph) carries no
    /// challenge to answer.
    MissingChallenge => (BAD_REQUEST, "missing_challenge", "the endpoint check carries no challenge"),
    /// 400: the endpoint check's challenge is repeated, too long, or has characters no sender
    /// uses; it is not echoed.
    InvalidChallenge => (BAD_REQUEST, "invalid_challenge", "the endpoint check's challenge is not one this endpoint echoes"),
    /// 501: the handler for this event type is not implemented yet.
    NotImplemented => (NOT_IMPLEMENTED, "not_implemented", "the handler for this event is not implemented"),
    /// 500: the pipeline is assembled wrongly (for example a stage without the one it needs before it).
    Misconfigured => (INTERNAL_SERVER_ERROR, "misconfigured", "the receiver is misconfigured"),
}

/// The largest body of a 422 answer, in bytes: the problems that would take it past this are
/// left out, and counted in its `omitted` field.
pub const MAX_PROBLEMS_BODY: usize = 4096;

/// Room kept for the count of problems left out (in the message and in `omitted`).
const OMITTED_ROOM: usize = 96;

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Vec<&'a Problem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted: Option<usize>,
}

/// The problems that fit in a 422 body beside `base` bytes, in order, and how many do not.
fn fitting(problems: &[Problem], base: usize) -> (Vec<&Problem>, usize) {
    let mut used = base + OMITTED_ROOM;
    let mut listed = Vec::new();
    for problem in problems {
        // Plain strings always serialize; were one not to, it would be left out, not panic.
        let size = serde_json::to_vec(problem).map_or(usize::MAX, |b| b.len() + 1);
        if used.saturating_add(size) <= MAX_PROBLEMS_BODY {
            used += size;
            listed.push(problem);
        }
    }
    let omitted = problems.len() - listed.len();
    (listed, omitted)
}

impl Rejection {
    /// How long the sender should wait before retrying, for the statuses that invite a retry.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::InFlight(d)
            | Self::NotAccepted(d)
            | Self::Unavailable(d)
            | Self::SpoolFull(d)
            | Self::RateLimited(d) => Some(*d),
            _ => None,
        }
    }

    /// Turn the rejection into a response with any body type that can hold a [`Full`] body.
    pub fn into_response<B>(self) -> Response<B>
    where
        B: From<Full<Bytes>>,
    {
        let missing;
        let mut message = self.message();
        let mut omitted = None;
        let details = match &self {
            Self::InvalidEvent(problems) => {
                let base = self.code().len() + message.len() + 48;
                let (listed, left_out) = fitting(problems, base);
                if left_out > 0 {
                    message.push_str(&format!("; {left_out} more not listed"));
                    omitted = Some(left_out);
                }
                Some(listed)
            }
            Self::MissingEventType(place) => {
                missing = [Problem {
                    instance_path: place.trim_matches('"').to_owned(),
                    message: "the event type is required here".to_owned(),
                }];
                Some(missing.iter().collect())
            }
            _ => None,
        };
        let body = Body {
            error: self.code(),
            message,
            details,
            omitted,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        tracing::trace!(status = %self.status(), code = self.code(), "rejected");
        let mut response = Response::new(B::from(Full::new(Bytes::from(bytes))));
        *response.status_mut() = self.status();
        response
            .extensions_mut()
            .insert(crate::observe::AnswerCode::new(self.code()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        if self == Self::MethodNotAllowed {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(rejection: Rejection) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response: Response<Full<Bytes>> = rejection.into_response();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn invalid_signature_is_401_with_code_and_no_hint() {
        let (status, headers, json) = body_json(Rejection::InvalidSignature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(json["error"], "invalid_signature");
        assert!(json.get("details").is_none());
    }

    #[tokio::test]
    async fn in_flight_carries_retry_after() {
        let (status, headers, _) = body_json(Rejection::InFlight(Duration::from_secs(2))).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(headers[header::RETRY_AFTER], "2");
    }

    #[tokio::test]
    async fn invalid_event_lists_problems() {
        let problems = vec![Problem {
            instance_path: "/data/severity".into(),
            message: "\"LOUD\" is not one of the allowed values".into(),
        }];
        let (status, _, json) = body_json(Rejection::InvalidEvent(problems)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json["details"][0]["instance_path"], "/data/severity");
    }

    #[tokio::test]
    async fn invalid_event_stays_under_4_kib_and_counts_what_it_leaves_out() {
        let problem = |i: usize| Problem {
            instance_path: format!("/items/{i}/offline"),
            message: "\"no\" is not of type \"boolean\"".into(),
        };
        for count in [1, 10, 100, 10_000] {
            let problems: Vec<Problem> = (0..count).map(problem).collect();
            let response: Response<Full<Bytes>> = Rejection::InvalidEvent(problems).into_response();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert!(
                bytes.len() < MAX_PROBLEMS_BODY,
                "{count}: {} bytes",
                bytes.len()
            );
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let listed = json["details"].as_array().unwrap().len();
            assert!(listed >= 1, "{json}");
            assert_eq!(json["details"][0]["instance_path"], "/items/0/offline");
            if listed == count {
                assert!(json.get("omitted").is_none(), "{json}");
            } else {
                assert_eq!(json["omitted"], count - listed, "{json}");
                let message = json["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("{} more", count - listed)),
                    "{json}"
                );
            }
        }
        // One problem too big for the body is left out and counted; the next one still fits.
        let huge = Problem {
            instance_path: format!("/{}", "k".repeat(5000)),
            message: "too big".into(),
        };
        let (_, _, json) = body_json(Rejection::InvalidEvent(vec![huge, problem(1)])).await;
        assert_eq!(json["omitted"], 1);
        assert_eq!(json["details"][0]["instance_path"], "/items/1/offline");
    }

    #[tokio::test]
    async fn method_not_allowed_names_post() {
        let (status, headers, _) = body_json(Rejection::MethodNotAllowed).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "POST");
    }
}

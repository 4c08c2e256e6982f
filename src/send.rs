//! Send a signed event the way a sender would: what `hookgate send` does, and what the tests use.
//!
//! [`signed_request`] builds the POST a genuine sender would make for a [`Source`]: the body, the
//! signature header (or token header, or token query parameter) computed with the source's first
//! secret, and `Content-Type: application/json`. [`post`] sends any request over HTTP or HTTPS.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};

use std::time::SystemTime;

use crate::auth::SignError;
use crate::source::Source;

/// Why a request could not be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The URL does not parse or has no host.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// Only `http://` and `https://` URLs can be sent to.
    #[error("only http:// and https:// URLs are supported")]
    UnsupportedScheme,
    /// The source has no secret to sign with (or only public keys, which cannot sign).
    #[error("the source has no secret to sign with (an Ed25519 public key cannot sign)")]
    CannotSign,
    /// Connecting or exchanging the request failed.
    #[error("request failed: {0}")]
    Http(String),
}

/// A response, read to its end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

/// Build the request a genuine sender would make to `url` for `source`, carrying `body`, signed
/// now: every header the source's scheme reads (signature, timestamp, id) or its query token.
pub fn signed_request(
    source: &Source,
    url: &str,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, SendError> {
    let uri: Uri = url.parse().map_err(|_| SendError::InvalidUrl(url.into()))?;
    let (mut head, ()) = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(())
        .map_err(|_| SendError::InvalidUrl(url.into()))?
        .into_parts();
    source
        .scheme()
        .sign_into(&mut head, &body, SystemTime::now())
        .map_err(|e| match e {
            SignError::NoKey => SendError::CannotSign,
            other => SendError::InvalidUrl(other.to_string()),
        })?;
    Ok(Request::from_parts(head, Full::new(body)))
}

/// Send `request` over HTTP or HTTPS (public roots) and read the whole answer.
pub async fn post(request: Request<Full<Bytes>>) -> Result<Reply, SendError> {
    match request.uri().scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(SendError::UnsupportedScheme),
        None => return Err(SendError::InvalidUrl(request.uri().to_string())),
    }
    let client = crate::client::build(None).map_err(|e| SendError::Http(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| SendError::Http(crate::client::error_chain(&e)))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| SendError::Http(crate::client::error_chain(&e)))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

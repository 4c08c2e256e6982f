//! Sign an event the way a sender would: what `hookgate send` does, and what the tests use.
//!
//! [`signed_request`] builds the POST a genuine sender would make for a [`Source`]: the body, the
//! signature header (or token header, or token query parameter) computed with the source's first
//! secret, and `Content-Type: application/json`. It only builds the request, so this module
//! needs no HTTP client: `client::post` sends it over HTTP or HTTPS.

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Full;

use std::time::SystemTime;

use crate::auth::SignError;
use crate::source::Source;

/// Why a signed request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The URL does not parse or has no host.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// The source has no secret to sign with (or only public keys, which cannot sign).
    #[error("the source has no secret to sign with (an Ed25519 public key cannot sign)")]
    CannotSign,
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

//! The HTTP upstream destination: POST the exact received bytes onward.
//!
//! The body is forwarded byte for byte with the original `Content-Type`, plus metadata headers:
//! `X-Hookgate-Source`, `X-Hookgate-Event-Id` (so the upstream can deduplicate: delivery is at
//! least once), `X-Hookgate-Event-Type`, and `X-Hookgate-Verified-At` (also sent as
//! `X-Hookgate-Received-At`: the signature is verified as the request arrives). A 2xx means delivered; 408,
//! 429 and 5xx are retried (honouring `Retry-After`, in seconds or as an HTTP date); any other 4xx is permanent.
//! `http://` and `https://` upstreams are supported (see [`crate::client`] for TLS).
//!
//! Two options: an allow-list of the sender's request headers to pass on (never credentials:
//! the source does not keep those), and re-signing with the upstream's own secret in the
//! Standard Webhooks way: `webhook-id`, `webhook-timestamp`, and `webhook-signature: v1,<base64
//! HMAC-SHA256 of "{id}.{timestamp}.{body}">`, fed to the MAC piece by piece. A `whsec_` secret
//! is base64-decoded, as Standard Webhooks secrets are; any other secret is used as it is.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderValue, Request, Uri, header};
use http_body_util::Full;
use sha2::Sha256;

use super::{Destination, Outcome};
use crate::auth::Secret;
use crate::client::{ClientError, HttpClient};
use crate::spool::StoredEvent;

/// POSTs events to an upstream URL; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct HttpDestination {
    url: Uri,
    timeout: Duration,
    client: HttpClient,
    forward_headers: Vec<http::HeaderName>,
    signing_key: Option<Arc<zeroize::Zeroizing<Vec<u8>>>>,
}

impl HttpDestination {
    /// Deliver to `url` (`http://` or `https://`, public roots), giving each attempt `timeout`.
    pub fn new(url: Uri, timeout: Duration) -> Result<Self, ClientError> {
        Ok(Self::with_client(url, timeout, crate::client::build(None)?))
    }

    /// Deliver to `url` with `client`: share one client (and its connection pool) between
    /// destinations, or trust a private CA ([`crate::client::build`]).
    pub fn with_client(url: Uri, timeout: Duration, client: HttpClient) -> Self {
        Self {
            url,
            timeout,
            client,
            forward_headers: Vec::new(),
            signing_key: None,
        }
    }

    /// Pass these request headers on, when the event has them.
    pub fn forward_headers(mut self, names: Vec<http::HeaderName>) -> Self {
        self.forward_headers = names;
        self
    }

    /// Re-sign every delivery with the upstream's `secret`, Standard Webhooks style.
    pub fn sign_with(mut self, secret: &Secret) -> Self {
        let raw = secret.expose();
        let key = match raw.strip_prefix(b"whsec_") {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_else(|_| raw.to_vec()),
            None => raw.to_vec(),
        };
        self.signing_key = Some(Arc::new(zeroize::Zeroizing::new(key)));
        self
    }

    fn signature(&self, key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        Some(format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        ))
    }

    fn request(&self, event: &StoredEvent) -> Result<Request<Full<Bytes>>, http::Error> {
        let received = std::time::UNIX_EPOCH + Duration::from_millis(event.received_at_ms);
        // The signature is verified as the request is received: one time, under both names.
        let at = humantime::format_rfc3339_millis(received).to_string();
        let mut builder = Request::post(self.url.clone())
            .header("x-hookgate-source", &event.source)
            .header("x-hookgate-event-id", &event.id)
            .header("x-hookgate-event-type", &event.kind)
            .header("x-hookgate-received-at", &at)
            .header("x-hookgate-verified-at", &at);
        if let Some(content_type) = &event.content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in &event.headers {
            if self
                .forward_headers
                .iter()
                .any(|allowed| allowed.as_str() == name)
            {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        if let Some(key) = &self.signing_key {
            let timestamp = crate::clock::now_ms() / 1000;
            if let Some(signature) = self.signature(key, &event.id, timestamp, &event.body) {
                builder = builder
                    .header("webhook-id", &event.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature);
            }
        }
        builder.body(Full::new(Bytes::from(event.body.clone())))
    }
}

/// `Retry-After` in seconds or as an HTTP date, capped at a day.
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    let after = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(after.min(Duration::from_secs(24 * 3600)))
}

impl Destination for HttpDestination {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let request = match self.request(event) {
                Ok(request) => request,
                Err(e) => {
                    return Outcome::Permanent {
                        status: None,
                        error: format!("cannot build the request: {e}"),
                    };
                }
            };
            let response =
                match tokio::time::timeout(self.timeout, self.client.request(request)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(e)) => {
                        return Outcome::Retry {
                            after: None,
                            status: None,
                            error: format!("request failed: {}", crate::client::error_chain(&e)),
                        };
                    }
                    Err(_) => {
                        return Outcome::Retry {
                            after: None,
                            status: None,
                            error: format!("no answer within {:?}", self.timeout),
                        };
                    }
                };
            let status = response.status();
            let code = status.as_u16();
            if status.is_success() {
                Outcome::Delivered { status: Some(code) }
            } else if code == 408 || code == 429 || status.is_server_error() {
                Outcome::Retry {
                    after: retry_after(response.headers().get(header::RETRY_AFTER)),
                    status: Some(code),
                    error: format!("upstream answered {status}"),
                }
            } else {
                Outcome::Permanent {
                    status: Some(code),
                    error: format!("upstream answered {status}"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date_and_is_capped() {
        let value = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(retry_after(Some(&value("7"))), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(Some(&value("999999"))),
            Some(Duration::from_secs(24 * 3600))
        );
        let in_a_minute =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(60));
        let after = retry_after(Some(&value(&in_a_minute))).unwrap();
        assert!(after > Duration::from_secs(55) && after <= Duration::from_secs(60));
        let past = retry_after(Some(&value("Sun, 06 Nov 1994 08:49:37 GMT")));
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(retry_after(Some(&value("soon"))), None);
        assert_eq!(retry_after(None), None);
    }
}

//! The HTTP upstream destination: POST the exact received bytes onward.
//!
//! The body is forwarded byte for byte with the original `Content-Type`, plus metadata headers:
//! `X-Hookgate-Source`, `X-Hookgate-Event-Id` (so the upstream can deduplicate: delivery is at
//! least once), `X-Hookgate-Event-Type` and `X-Hookgate-Received-At`. A 2xx means delivered; 408,
//! 429 and 5xx are retried (honouring `Retry-After` in seconds); any other 4xx is permanent.
//! Only `http://` upstreams are supported for now.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Destination, Outcome};
use crate::spool::StoredEvent;

/// POSTs events to an upstream URL; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct HttpDestination {
    url: Uri,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpDestination {
    /// Deliver to `url`, giving each attempt `timeout`.
    pub fn new(url: Uri, timeout: Duration) -> Self {
        Self {
            url,
            timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn request(&self, event: &StoredEvent) -> Result<Request<Full<Bytes>>, http::Error> {
        let received = std::time::UNIX_EPOCH + Duration::from_millis(event.received_at_ms);
        let mut builder = Request::post(self.url.clone())
            .header("x-hookgate-source", &event.source)
            .header("x-hookgate-event-id", &event.id)
            .header("x-hookgate-event-type", &event.kind)
            .header(
                "x-hookgate-received-at",
                humantime::format_rfc3339_millis(received).to_string(),
            );
        if let Some(content_type) = &event.content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Full::new(Bytes::from(event.body.clone())))
    }
}

fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(24 * 3600)))
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
                            error: format!("request failed: {e}"),
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
                Outcome::Delivered
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

//! The CLI's one client of a running gateway's admin API.
//!
//! `hookgate events` (against a running gateway) and `hookgate sources` both speak to the admin
//! API; this is the one place that resolves the bearer token, builds the request and reads the
//! answer: its JSON, or what it refused and why, with the problems it listed.

use anyhow::{Context, bail};
use bytes::Bytes;
use hookgate::SecretRef;
use http_body_util::Full;
use serde_json::Value;

/// A running gateway's admin API, with the token to call it with.
pub struct AdminClient {
    /// The base URL, without a trailing `/`.
    base: String,
    /// `Bearer <token>`, resolved once.
    bearer: String,
}

impl AdminClient {
    /// A client of the admin API at `base`, with the token that `token` (`env:NAME` or
    /// `file:PATH`) refers to; `which` names where that reference came from, for the error.
    pub fn new(base: &str, token: &str, which: &str) -> anyhow::Result<Self> {
        let token = SecretRef::parse(token, 0)
            .and_then(|r| r.resolve())
            .with_context(|| which.to_owned())?;
        let token =
            String::from_utf8(token.expose().to_vec()).context("the admin token is not UTF-8")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            bearer: format!("Bearer {token}"),
        })
    }

    /// `method path` (`path` may carry a query, see [`with_query`]), with `body` as JSON when
    /// given: the answer's JSON, or an error saying what the API refused.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::AUTHORIZATION, &self.bearer);
        let bytes = match body {
            Some(body) => {
                request = request.header(http::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(&body)?)
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .with_context(|| format!("invalid admin URL {url:?}"))?;
        let reply = hookgate::client::post(request)
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        answer_of(&reply)
    }
}

/// `path?k=v&...`, the pairs form-encoded (`path` alone when there are none).
pub fn with_query<K: AsRef<str>, V: AsRef<str>>(path: &str, query: &[(K, V)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        encoded.append_pair(k.as_ref(), v.as_ref());
    }
    format!("{path}?{}", encoded.finish())
}

/// The admin API's JSON answer, or an error saying what it refused and why (with the problems
/// it listed, if any).
fn answer_of(reply: &hookgate::client::Reply) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if !reply.status.is_success() {
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        let problems: String = value
            .get("problems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| format!("\n  - {p}"))
            .collect();
        bail!(
            "the admin API answered {}: {message}{problems}",
            reply.status
        );
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_form_encoded_after_the_path() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(with_query("/events", &none), "/events");
        assert_eq!(
            with_query("/events", &[("type", "ALERT_*"), ("since", "2h ago")]),
            "/events?type=ALERT_*&since=2h+ago"
        );
    }
}

//! Register hookgate with NinjaOne: the Public API calls behind `hookgate ninjaone`.
//!
//! NinjaOne (NinjaRMM) keeps one Activity webhook per API client. It is set with
//! `PUT /v2/webhook` and removed with `DELETE /v2/webhook`; both need a system administrator's
//! API client (anything else gets 403). The calls carry a bearer token from the OAuth2
//! client-credentials exchange (`POST /ws/oauth/token`).
//!
//! NinjaOne signs nothing: its only way to authenticate callbacks is custom headers it sends
//! with each one. [`Registration::for_source`] therefore takes the header a `ninjarmm` source
//! checks (`Authorization: Bearer <token>` by default) with the source's current token, so what
//! NinjaOne sends is exactly what the source accepts. The body follows the shape in NinjaOne's
//! API spec:
//!
//! ```json
//! {"url": "https://hooks.example.com/hooks/ninjarmm",
//!  "activities": {"CONDITION": ["*"]},
//!  "expand": ["device"],
//!  "headers": [{"name": "Authorization", "value": "Bearer ..."}]}
//! ```
//!
//! `status` reads the registration back with `GET /v2/webhook`, as NinjaOne's own CLI does.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Scheme, Secret, TokenLocation};
use crate::client::HttpClient;
use crate::source::Source;

/// NinjaOne's regional hosts, by the short names NinjaOne uses.
pub const REGIONS: [(&str, &str); 5] = [
    ("us", "https://app.ninjarmm.com"),
    ("us2", "https://us2.ninjarmm.com"),
    ("eu", "https://eu.ninjarmm.com"),
    ("ca", "https://ca.ninjarmm.com"),
    ("oc", "https://oc.ninjarmm.com"),
];

/// The OAuth2 scopes asked for: `management` covers the webhook calls.
pub const DEFAULT_SCOPE: &str = "monitoring management";

/// What `expand` may name.
pub const EXPANDABLE: [&str; 3] = ["device", "organization", "location"];

/// Why a NinjaOne call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NinjaOneError {
    /// 403: the API client is not a system administrator's.
    #[error(
        "NinjaOne refused ({status}): registering a webhook needs a system administrator's credentials"
    )]
    Forbidden {
        /// The status NinjaOne answered.
        status: StatusCode,
    },
    /// 400/401 from the token endpoint, or 401 from the API: the client id or secret is wrong.
    #[error("NinjaOne did not accept the client credentials ({status}): {message}")]
    Credentials {
        /// The status NinjaOne answered.
        status: StatusCode,
        /// What it said (its `error_description` or `error`, when it gave one).
        message: String,
    },
    /// Any other answer.
    #[error("NinjaOne answered {status} to {what}: {message}")]
    Status {
        /// Which call.
        what: &'static str,
        /// The status.
        status: StatusCode,
        /// The start of the body.
        message: String,
    },
    /// The request could not be made (connection, TLS, timeout).
    #[error("cannot reach NinjaOne at {base}: {message}")]
    Unreachable {
        /// The host.
        base: String,
        /// Why.
        message: String,
    },
    /// The answer is not what the API documents.
    #[error("NinjaOne's answer to {what} is not what its API documents: {message}")]
    BadResponse {
        /// Which call.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The registration cannot be built from the source.
    #[error("{0}")]
    Source(String),
}

/// What `PUT /v2/webhook` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// Where NinjaOne posts.
    pub url: String,
    /// Activity types to their status codes (`*` for all): `{"CONDITION": ["*"]}`.
    pub activities: BTreeMap<String, Vec<String>>,
    /// What to embed in each activity: `device`, `organization`, `location`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<String>,
    /// Headers NinjaOne sends with every callback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<CustomHeader>,
    /// Only these organizations' activities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization_ids: Vec<u64>,
}

/// One custom header: `{"name": ..., "value": ...}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHeader {
    /// Header name.
    pub name: String,
    /// Header value (the source's token: never printed).
    pub value: String,
}

impl std::fmt::Debug for CustomHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomHeader")
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .finish()
    }
}

impl Registration {
    /// The registration that makes NinjaOne post to `source`, mounted at `path`, reached at
    /// `public_url` (the gateway's base URL; a URL with a path other than `/` is taken as the
    /// full callback URL). `activities` are `TYPE=STATUS[,STATUS]` or `TYPE=*` (or `TYPE`
    /// alone for every status).
    pub fn for_source(
        source: &Source,
        path: &str,
        public_url: &str,
        activities: &[String],
        expand: &[String],
        organizations: &[u64],
    ) -> Result<Self, NinjaOneError> {
        let bad = |m: String| Err(NinjaOneError::Source(m));
        let base: Uri = match public_url.parse() {
            Ok(uri) => uri,
            Err(_) => return bad(format!("--public-url {public_url:?} is not a URL")),
        };
        if !matches!(base.scheme_str(), Some("https" | "http")) || base.host().is_none() {
            return bad(format!(
                "--public-url {public_url:?} must be an https:// (or http://) URL"
            ));
        }
        let mut url = match base.path() {
            "" | "/" => format!("{}{path}", public_url.trim_end_matches('/')),
            _ => public_url.to_owned(),
        };
        let Scheme::Token(token) = source.scheme().as_ref() else {
            return bad(format!(
                "source {} is not a token source: NinjaOne sends no signature, only the custom \
                 headers registered with it; use a ninjarmm source",
                source.name()
            ));
        };
        let mut headers = Vec::new();
        match token.location() {
            TokenLocation::Header { name, .. } => {
                let (_, value) = token.sign().ok_or_else(|| {
                    NinjaOneError::Source(format!(
                        "source {} has no valid token to register",
                        source.name()
                    ))
                })?;
                let value = value.to_str().map_err(|_| {
                    NinjaOneError::Source("the token is not a printable header value".into())
                })?;
                headers.push(CustomHeader {
                    name: canonical(name.as_str()),
                    value: value.to_owned(),
                });
            }
            TokenLocation::Query { .. } => {
                let (param, value) = token.query_pair().ok_or_else(|| {
                    NinjaOneError::Source(format!(
                        "source {} has no valid token to register",
                        source.name()
                    ))
                })?;
                let pair: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair(&param, &value)
                    .finish();
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&pair);
            }
            TokenLocation::ClientState => {
                return bad(format!(
                    "source {} reads its token from the body (Microsoft Graph); NinjaOne sends                      it in a header or the query string",
                    source.name()
                ));
            }
        }
        if activities.is_empty() {
            return bad("name at least one --activities TYPE=* (e.g. CONDITION=*)".into());
        }
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for text in activities {
            let (kind, statuses) = text.split_once('=').unwrap_or((text, "*"));
            let kind = kind.trim();
            if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return bad(format!(
                    "--activities {text:?}: the activity type is upper case (CONDITION=*)"
                ));
            }
            let entry = map.entry(kind.to_owned()).or_default();
            for status in statuses.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !entry.iter().any(|s| s == status) {
                    entry.push(status.to_owned());
                }
            }
        }
        for item in expand {
            if !EXPANDABLE.contains(&item.as_str()) {
                return bad(format!(
                    "--expand {item:?}: NinjaOne expands {}",
                    EXPANDABLE.join(", ")
                ));
            }
        }
        Ok(Self {
            url,
            activities: map,
            expand: expand.to_vec(),
            headers,
            organization_ids: organizations.to_vec(),
        })
    }
}

impl Registration {
    /// The callback URL without its query (which may hold the source's token): for printing.
    pub fn url_without_query(&self) -> &str {
        self.url.split('?').next().unwrap_or(&self.url)
    }
}

/// `authorization` -> `Authorization`, for the header name NinjaOne shows its users.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A NinjaOne Public API client for the webhook calls.
#[derive(Debug, Clone)]
pub struct NinjaOneApi {
    base: String,
    client_id: String,
    client_secret: Secret,
    scope: String,
    client: HttpClient,
    timeout: Duration,
}

/// What `GET /v2/webhook` said.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// A webhook is registered; its configuration (custom header values masked).
    Registered(Value),
    /// None is.
    NotRegistered,
}

impl NinjaOneApi {
    /// A client for `base` (a region name from [`REGIONS`] or a URL) with the API client's id and
    /// secret.
    pub fn new(
        base: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, NinjaOneError> {
        let base = match REGIONS.iter().find(|(name, _)| *name == base) {
            Some((_, url)) => (*url).to_owned(),
            None if base.starts_with("https://") || base.starts_with("http://") => {
                base.trim_end_matches('/').to_owned()
            }
            None => {
                return Err(NinjaOneError::Source(format!(
                    "NinjaOne region {base:?} is neither one of {} nor a URL",
                    REGIONS.map(|(n, _)| n).join(", ")
                )));
            }
        };
        let client = crate::client::build(None).map_err(|e| NinjaOneError::Unreachable {
            base: base.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            base,
            client_id: client_id.into(),
            client_secret,
            scope: DEFAULT_SCOPE.to_owned(),
            client,
            timeout: Duration::from_secs(30),
        })
    }

    /// Ask for these OAuth2 scopes instead of [`DEFAULT_SCOPE`].
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), NinjaOneError> {
        let unreachable = |message: String| NinjaOneError::Unreachable {
            base: self.base.clone(),
            message,
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(token) = authorization {
            let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| unreachable("the access token is not a header value".into()))?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(crate::client::error_chain(&e)))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(crate::client::error_chain(&e)))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
    }

    /// The OAuth2 client-credentials exchange: an access token.
    pub async fn token(&self) -> Result<String, NinjaOneError> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair(
                "client_secret",
                &String::from_utf8_lossy(self.client_secret.expose()),
            )
            .append_pair("scope", &self.scope)
            .finish();
        let (status, body) = self
            .call(
                Method::POST,
                "/ws/oauth/token",
                Some("application/x-www-form-urlencoded"),
                None,
                form.into_bytes(),
            )
            .await?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = json
                .get("error_description")
                .or_else(|| json.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
                .to_owned();
            return Err(match status {
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
                    NinjaOneError::Credentials { status, message }
                }
                StatusCode::FORBIDDEN => NinjaOneError::Forbidden { status },
                _ => NinjaOneError::Status {
                    what: "the token exchange",
                    status,
                    message,
                },
            });
        }
        json.get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or(NinjaOneError::BadResponse {
                what: "the token exchange",
                message: "no access_token".into(),
            })
    }

    fn refusal(what: &'static str, status: StatusCode, body: &[u8]) -> NinjaOneError {
        match status {
            StatusCode::FORBIDDEN => NinjaOneError::Forbidden { status },
            StatusCode::UNAUTHORIZED => NinjaOneError::Credentials {
                status,
                message: "the access token was refused".into(),
            },
            _ => NinjaOneError::Status {
                what,
                status,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            },
        }
    }

    /// `PUT /v2/webhook`: register (or replace) the webhook. NinjaOne answers 204.
    pub async fn register(&self, registration: &Registration) -> Result<(), NinjaOneError> {
        let token = self.token().await?;
        let body = serde_json::to_vec(registration).map_err(|e| NinjaOneError::BadResponse {
            what: "the registration",
            message: e.to_string(),
        })?;
        let (status, answer) = self
            .call(
                Method::PUT,
                "/v2/webhook",
                Some("application/json"),
                Some(&token),
                body,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::refusal("PUT /v2/webhook", status, &answer))
        }
    }

    /// `DELETE /v2/webhook`: disable the webhook.
    pub async fn disable(&self) -> Result<(), NinjaOneError> {
        let token = self.token().await?;
        let (status, answer) = self
            .call(
                Method::DELETE,
                "/v2/webhook",
                None,
                Some(&token),
                Vec::new(),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::refusal("DELETE /v2/webhook", status, &answer))
        }
    }

    /// `GET /v2/webhook`: what is registered, with custom header values masked.
    pub async fn status(&self) -> Result<Status, NinjaOneError> {
        let token = self.token().await?;
        let (status, answer) = self
            .call(Method::GET, "/v2/webhook", None, Some(&token), Vec::new())
            .await?;
        match status {
            StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok(Status::NotRegistered),
            s if s.is_success() => {
                let mut json: Value =
                    serde_json::from_slice(&answer).map_err(|e| NinjaOneError::BadResponse {
                        what: "GET /v2/webhook",
                        message: e.to_string(),
                    })?;
                if let Some(headers) = json.get_mut("headers").and_then(Value::as_array_mut) {
                    for h in headers {
                        if let Some(value) = h.get_mut("value") {
                            *value = Value::from("[redacted]");
                        }
                    }
                }
                Ok(Status::Registered(json))
            }
            _ => Err(Self::refusal("GET /v2/webhook", status, &answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn source() -> Source {
        Source::from_profile(
            "ninjarmm",
            Profile::NinjaRmm,
            &[Secret::new(b"a-token-of-at-least-16-bytes".to_vec(), "t").unwrap()],
        )
    }

    #[test]
    fn the_registration_carries_the_token_the_source_checks() {
        let r = Registration::for_source(
            &source(),
            "/hooks/ninjarmm",
            "https://hooks.example.com/",
            &[
                "CONDITION=*".into(),
                "SYSTEM=NODE_CREATED,NODE_DELETED".into(),
            ],
            &["device".into()],
            &[],
        )
        .unwrap();
        assert_eq!(r.url, "https://hooks.example.com/hooks/ninjarmm");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({
                "url": "https://hooks.example.com/hooks/ninjarmm",
                "activities": {"CONDITION": ["*"], "SYSTEM": ["NODE_CREATED", "NODE_DELETED"]},
                "expand": ["device"],
                "headers": [{"name": "Authorization", "value": "Bearer a-token-of-at-least-16-bytes"}],
            })
        );
        assert!(!format!("{r:?}").contains("a-token-of"));
    }

    #[test]
    fn what_ninjaone_cannot_do_is_refused_before_any_call() {
        let signed = Source::from_profile(
            "ninjaone",
            Profile::NinjaOne,
            &[Secret::new(b"a-token-of-at-least-16-bytes".to_vec(), "t").unwrap()],
        );
        let args = |activities: &[&str], expand: &[&str], url: &str, s: &Source| {
            Registration::for_source(
                s,
                "/hooks/x",
                url,
                &activities.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                &expand.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                &[],
            )
            .unwrap_err()
            .to_string()
        };
        let s = source();
        assert!(args(&["CONDITION=*"], &[], "https://h", &signed).contains("not a token source"));
        assert!(args(&[], &[], "https://h", &s).contains("--activities"));
        assert!(args(&["condition=*"], &[], "https://h", &s).contains("upper case"));
        assert!(args(&["CONDITION=*"], &["devices"], "https://h", &s).contains("expands"));
        assert!(args(&["CONDITION=*"], &[], "ftp://h", &s).contains("https://"));
    }

    #[test]
    fn regions_resolve_and_unknown_ones_are_named() {
        let secret = || Secret::new(b"client-secret-0123456789".to_vec(), "t").unwrap();
        assert_eq!(
            NinjaOneApi::new("eu", "id", secret()).unwrap().base(),
            "https://eu.ninjarmm.com"
        );
        assert_eq!(
            NinjaOneApi::new("http://127.0.0.1:9/", "id", secret())
                .unwrap()
                .base(),
            "http://127.0.0.1:9"
        );
        let error = NinjaOneApi::new("mars", "id", secret()).unwrap_err();
        assert!(error.to_string().contains("us, us2, eu, ca, oc"), "{error}");
    }
}

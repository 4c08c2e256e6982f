//! Static tokens: a shared secret sent as is in a header or the query string.
//!
//! NinjaRMM's Activity webhooks are not signed. At registration the customer gives NinjaRMM custom
//! headers to send with every callback (typically `Authorization: Bearer <token>`), or puts a token in
//! the URL. This scheme checks that token.
//!
//! Okta's event hooks send the secret the admin typed in as the whole `Authorization` value.
//! Microsoft Graph's change notifications carry it in the body: each notification's
//! `clientState` ([`TokenLocation::ClientState`]); the body is read for it, nothing else, and
//! every notification of a batch must carry it.
//!
//! Both sides are hashed with SHA-256 before the constant-time comparison, so the comparison takes
//! the same time whatever the presented token's length or content.

use std::fmt;
use std::time::SystemTime;

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::secret::Secret;
use super::signature::{SignError, append_query, strip_prefix_ignore_case};
use crate::rejection::Rejection;

/// Where the token travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLocation {
    /// In a header, after an optional prefix such as `"Bearer "` (matched in any case).
    Header {
        /// Header name.
        name: HeaderName,
        /// Text before the token, e.g. `"Bearer "`; empty for none.
        prefix: String,
    },
    /// In a query-string parameter.
    Query {
        /// Parameter name.
        param: String,
    },
    /// Microsoft Graph's: the `clientState` of every notification in the JSON body's `value`
    /// array (each must match; a body without one is refused).
    ClientState,
}

/// The part of a Microsoft Graph notification batch that authenticates it. Unknown fields are
/// skipped; a repeated field fails (parsers could disagree on which copy counts).
#[derive(serde::Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    value: Vec<Notification<'a>>,
}

#[derive(serde::Deserialize)]
struct Notification<'a> {
    #[serde(rename = "clientState", borrow, default)]
    client_state: Option<std::borrow::Cow<'a, str>>,
}

/// A static token compared in constant time against every current secret.
#[derive(Clone)]
pub struct TokenScheme {
    location: TokenLocation,
    digests: Vec<([u8; 32], Option<SystemTime>)>,
    secrets: Vec<Secret>,
}

impl TokenScheme {
    /// A scheme reading the token at `location`, accepted if it equals any of `secrets`.
    /// An empty `secrets` list makes the scheme refuse every request.
    pub fn new(location: TokenLocation, secrets: &[Secret]) -> Self {
        Self {
            location,
            digests: secrets
                .iter()
                .map(|s| (Sha256::digest(s.expose()).into(), s.expires_at()))
                .collect(),
            secrets: secrets.to_vec(),
        }
    }

    /// How many secrets it accepts.
    pub fn secret_count(&self) -> usize {
        self.digests.len()
    }

    /// Where the token is read from.
    pub fn location(&self) -> &TokenLocation {
        &self.location
    }

    /// Check the token in the request (head and exact body) with the secrets valid at `now`.
    /// Returns the index of the matching secret.
    pub fn verify_request(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        body: &[u8],
        now: SystemTime,
    ) -> Result<usize, Rejection> {
        if !matches!(self.location, TokenLocation::ClientState) {
            return self.verify(headers, uri, now);
        }
        self.any_valid(now)?;
        let batch: Batch<'_> = serde_json::from_slice(body).map_err(|_| Rejection::MissingToken)?;
        let mut index = None;
        let mut matched = Choice::from(1);
        for notification in &batch.value {
            let state = notification
                .client_state
                .as_deref()
                .ok_or(Rejection::MissingToken)?;
            match self.matching(Sha256::digest(state.as_bytes()).into(), now) {
                Some(i) => {
                    index.get_or_insert(i);
                }
                None => matched = Choice::from(0),
            }
        }
        match index {
            Some(i) if bool::from(matched) => Ok(i),
            // An empty batch authenticates nothing.
            None if batch.value.is_empty() => Err(Rejection::MissingToken),
            _ => Err(Rejection::InvalidToken),
        }
    }

    fn any_valid(&self, now: SystemTime) -> Result<(), Rejection> {
        if self
            .digests
            .iter()
            .any(|(_, end)| end.is_none_or(|end| now < end))
        {
            Ok(())
        } else {
            Err(Rejection::NoSecret)
        }
    }

    /// The index of the secret valid at `now` whose digest is `digest`, compared with every one
    /// in constant time.
    fn matching(&self, digest: [u8; 32], now: SystemTime) -> Option<usize> {
        let valid = |not_after: &Option<SystemTime>| not_after.is_none_or(|end| now < end);
        let mut matched = Choice::from(0);
        let mut index = None;
        for (i, (expected, _)) in self
            .digests
            .iter()
            .enumerate()
            .filter(|(_, (_, end))| valid(end))
        {
            let eq = expected.ct_eq(&digest);
            // Which key matched is not secret (it is logged as a rotation aid); that the token
            // matched at all is what the constant-time comparison protects.
            if index.is_none() && bool::from(eq) {
                index = Some(i);
            }
            matched |= eq;
        }
        index.filter(|_| bool::from(matched))
    }

    /// Check the token in the request's head with the secrets valid at `now`. Returns the index
    /// of the matching secret. A body token ([`TokenLocation::ClientState`]) is not in the head:
    /// see [`verify_request`](Self::verify_request).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        now: SystemTime,
    ) -> Result<usize, Rejection> {
        self.any_valid(now)?;
        let digest: [u8; 32] = match &self.location {
            TokenLocation::Header { name, prefix } => {
                let mut values = headers.get_all(name).iter();
                let value = values.next().ok_or(Rejection::MissingToken)?;
                if values.next().is_some() {
                    return Err(Rejection::RepeatedSignature);
                }
                let text = value.as_bytes().trim_ascii();
                let token = strip_prefix_ignore_case(text, prefix.as_bytes())
                    .map(<[u8]>::trim_ascii)
                    .or(prefix.is_empty().then_some(text))
                    .ok_or(Rejection::InvalidToken)?;
                Sha256::digest(token).into()
            }
            TokenLocation::Query { param } => {
                let query = uri.query().ok_or(Rejection::MissingToken)?;
                let mut found = form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == param)
                    .map(|(_, v)| v);
                let token = found.next().ok_or(Rejection::MissingToken)?;
                if found.next().is_some() {
                    return Err(Rejection::RepeatedSignature);
                }
                Sha256::digest(token.as_bytes()).into()
            }
            TokenLocation::ClientState => return Err(Rejection::MissingToken),
        };
        self.matching(digest, now).ok_or(Rejection::InvalidToken)
    }

    /// The first secret valid now.
    fn current(&self) -> Option<&Secret> {
        let now = SystemTime::now();
        self.secrets.iter().find(|s| s.valid_at(now))
    }

    /// Add the token the way a sender configured with the first valid secret would.
    pub fn sign_into(&self, head: &mut Parts) -> Result<(), SignError> {
        if let Some((name, value)) = self.sign() {
            head.headers.insert(name, value);
            return Ok(());
        }
        let (param, value) = self.query_pair().ok_or(SignError::NoKey)?;
        append_query(head, &param, &value)
    }

    /// The header a sender configured with the first secret would send, for header tokens.
    pub fn sign(&self) -> Option<(HeaderName, HeaderValue)> {
        let secret = self.current()?;
        match &self.location {
            TokenLocation::Header { name, prefix } => {
                let mut value = prefix.as_bytes().to_vec();
                value.extend_from_slice(secret.expose());
                let mut value = HeaderValue::from_bytes(&value).ok()?;
                value.set_sensitive(true);
                Some((name.clone(), value))
            }
            TokenLocation::Query { .. } | TokenLocation::ClientState => None,
        }
    }

    /// The query pair a sender configured with the first secret would add, for query tokens.
    pub fn query_pair(&self) -> Option<(String, String)> {
        let secret = self.current()?;
        match &self.location {
            TokenLocation::Query { param } => Some((
                param.clone(),
                String::from_utf8_lossy(secret.expose()).into_owned(),
            )),
            TokenLocation::Header { .. } | TokenLocation::ClientState => None,
        }
    }
}

impl fmt::Debug for TokenScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenScheme")
            .field("location", &self.location)
            .field("keys", &self.digests.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TokenScheme {
        fn verify_now(&self, headers: &HeaderMap, uri: &Uri) -> Result<usize, Rejection> {
            self.verify(headers, uri, SystemTime::now())
        }
    }

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter()
            .map(|s| Secret::new(s.as_bytes().to_vec(), "test").unwrap())
            .collect()
    }

    fn bearer(list: &[&str]) -> TokenScheme {
        TokenScheme::new(
            TokenLocation::Header {
                name: http::header::AUTHORIZATION,
                prefix: "Bearer ".into(),
            },
            &secrets(list),
        )
    }

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn bearer_token_is_accepted_in_any_case_of_the_prefix() {
        let s = bearer(&["token-0123456789abc"]);
        let uri = Uri::from_static("/");
        assert_eq!(
            s.verify_now(&auth("Bearer token-0123456789abc"), &uri),
            Ok(0)
        );
        assert_eq!(
            s.verify_now(&auth("bearer token-0123456789abc"), &uri),
            Ok(0)
        );
    }

    #[test]
    fn wrong_or_missing_token_is_refused() {
        let s = bearer(&["token-0123456789abc"]);
        let uri = Uri::from_static("/");
        assert_eq!(
            s.verify_now(&auth("Bearer token-0123456789abd"), &uri),
            Err(Rejection::InvalidToken)
        );
        assert_eq!(
            s.verify_now(&auth("token-0123456789abc"), &uri),
            Err(Rejection::InvalidToken)
        );
        assert_eq!(
            s.verify_now(&HeaderMap::new(), &uri),
            Err(Rejection::MissingToken)
        );
    }

    #[test]
    fn second_secret_is_accepted_during_rotation() {
        let s = bearer(&["new-token-0123456789", "old-token-0123456789"]);
        let uri = Uri::from_static("/");
        assert_eq!(
            s.verify_now(&auth("Bearer old-token-0123456789"), &uri),
            Ok(1)
        );
    }

    #[test]
    fn query_token_is_read_and_decoded() {
        let s = TokenScheme::new(
            TokenLocation::Query {
                param: "token".into(),
            },
            &secrets(&["tok en+0123456789abc"]),
        );
        let ok = Uri::from_static("/hooks/x?a=1&token=tok%20en%2B0123456789abc");
        assert_eq!(s.verify_now(&HeaderMap::new(), &ok), Ok(0));
        let twice = Uri::from_static("/hooks/x?token=a&token=b");
        assert_eq!(
            s.verify_now(&HeaderMap::new(), &twice),
            Err(Rejection::RepeatedSignature)
        );
        let none = Uri::from_static("/hooks/x?a=1");
        assert_eq!(
            s.verify_now(&HeaderMap::new(), &none),
            Err(Rejection::MissingToken)
        );
    }
}

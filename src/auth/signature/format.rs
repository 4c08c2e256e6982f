//! [`SignatureFormat`]: a description of how a sender signs its requests, in data.
//!
//! Every preset (Standard Webhooks, GitHub, Stripe, Slack, Shopify, the seed senders) is one value
//! of this type, and so is a `profile = "generic"` source described in configuration: there is one
//! verification engine, and a preset is only a format someone already wrote down.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

/// The hash function under the HMAC, or Ed25519 for asymmetric signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (legacy senders only).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
    /// Ed25519 signatures, verified with the sender's public key (Standard Webhooks `v1a`).
    Ed25519,
}

impl Algorithm {
    /// Length of the signature in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 | Self::Ed25519 => 64,
        }
    }

    /// The label some senders write before a hex signature made with this algorithm (`sha256=`,
    /// GitHub's way); `None` for Ed25519.
    pub fn hex_label(self) -> Option<&'static str> {
        match self {
            Self::Sha1 => Some("sha1="),
            Self::Sha256 => Some("sha256="),
            Self::Sha512 => Some("sha512="),
            Self::Ed25519 => None,
        }
    }

    /// `"hmac"` or `"ed25519"`: the scheme's name in logs and on [`Verified`](crate::event::Verified).
    pub fn scheme_name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            _ => "hmac",
        }
    }
}

/// How the signature bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, upper or lower case (written lower case when signing).
    Hex,
    /// Standard base64, padding optional.
    Base64,
    /// URL-safe base64, padding optional.
    Base64url,
}

/// How a secret's text becomes key bytes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyEncoding {
    /// The secret's bytes are the key (GitHub, Stripe, Slack, Shopify, the seed senders).
    #[default]
    Raw,
    /// The secret is base64, after an optional `whsec_` (HMAC) or `whpk_` (Ed25519 public key)
    /// prefix (Standard Webhooks, Svix).
    Base64,
}

/// How a timestamp is written.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Whole seconds since the Unix epoch (Standard Webhooks, Stripe, Slack).
    #[default]
    Unix,
    /// Milliseconds since the Unix epoch.
    UnixMs,
    /// RFC 3339 (`2026-11-24T10:00:00Z`).
    Rfc3339,
}

/// Where a value is read from a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// A header (`header:Webhook-Id`).
    Header(HeaderName),
    /// A query-string parameter (`query:sig`).
    Query(String),
    /// An item of the signature value itself, after this prefix (`signature:t=`, Stripe's
    /// `t=1492774577,v1=...`). Only for timestamps and ids, and only with a separator.
    SignatureItem(String),
}

/// Why a place, template or format is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A place is not `header:NAME`, `query:NAME` or `signature:PREFIX`.
    #[error("{0:?} is not header:NAME, query:NAME or signature:PREFIX")]
    Place(String),
    /// A template names an unknown part or has an unclosed brace.
    #[error(
        "content template {0:?}: use {{body}}, {{id}}, {{timestamp}}, {{method}}, {{url}}, and {{{{ }}}} for braces"
    )]
    Template(String),
    /// The format is inconsistent.
    #[error("{0}")]
    Inconsistent(String),
}

impl Place {
    /// Parse `header:NAME`, `query:NAME` or `signature:PREFIX`.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let bad = || FormatError::Place(text.to_owned());
        if let Some(name) = text.strip_prefix("header:") {
            HeaderName::try_from(name.trim())
                .map(Self::Header)
                .map_err(|_| bad())
        } else if let Some(name) = text.strip_prefix("query:").filter(|n| !n.is_empty()) {
            Ok(Self::Query(name.to_owned()))
        } else if let Some(prefix) = text.strip_prefix("signature:").filter(|p| !p.is_empty()) {
            Ok(Self::SignatureItem(prefix.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// A header place, from a name known to be valid.
    pub fn header(name: &'static str) -> Self {
        Self::Header(HeaderName::from_static(name))
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(h) => write!(f, "header:{h}"),
            Self::Query(q) => write!(f, "query:{q}"),
            Self::SignatureItem(p) => write!(f, "signature:{p}"),
        }
    }
}

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// Literal bytes (`v0:`, `.`).
    Literal(Box<[u8]>),
    /// The exact body bytes.
    Body,
    /// The id, as presented.
    Id,
    /// The timestamp, as presented (the text, not a re-formatting of it).
    Timestamp,
    /// The request method (`POST`).
    Method,
    /// The URL the sender called: the source's public URL followed by the request's path and
    /// query.
    Url,
}

/// What the signature covers: a template over `{id}`, `{timestamp}`, `{body}`, `{method}` and
/// `{url}`, such as Standard Webhooks' `{id}.{timestamp}.{body}` or Slack's
/// `v0:{timestamp}:{body}`. `{{` and `}}` stand for literal braces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// The body alone, the common case.
    pub fn body() -> Self {
        Self {
            text: "{body}".into(),
            parts: vec![Part::Body],
        }
    }

    /// Parse a template.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let bad = || FormatError::Template(text.to_owned());
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                literal.push(b'{');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                literal.push(b'}');
                rest = after;
            } else if c == '{' {
                let end = rest.find('}').ok_or_else(bad)?;
                let part = match &rest[1..end] {
                    "body" => Part::Body,
                    "id" => Part::Id,
                    "timestamp" => Part::Timestamp,
                    "method" => Part::Method,
                    "url" => Part::Url,
                    _ => return Err(bad()),
                };
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal).into()));
                }
                parts.push(part);
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err(bad());
            } else {
                let mut buf = [0u8; 4];
                literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.into()));
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template's pieces in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template is exactly `{body}`.
    pub fn is_body_only(&self) -> bool {
        self.parts == [Part::Body]
    }

    /// Whether the template uses `part`.
    pub fn uses(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The default timestamp tolerance: five minutes either way, as Standard Webhooks, Stripe and
/// Slack recommend.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How a sender signs its requests; see the [module docs](self).
///
/// ```
/// use hookgate::auth::signature::{Encoding, Place, SignatureFormat, Template};
///
/// // Stripe: `Stripe-Signature: t=1492774577,v1=<hex>,v1=<hex>` over "{t}.{body}".
/// let stripe = SignatureFormat {
///     separator: Some(",".into()),
///     prefix: "v1=".into(),
///     content: Template::parse("{timestamp}.{body}").unwrap(),
///     timestamp: vec![Place::parse("signature:t=").unwrap()],
///     ..SignatureFormat::hmac(Place::header("stripe-signature"))
/// };
/// assert!(stripe.problems().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignatureFormat {
    /// Where the signature is: the first of these places that is present (several for senders
    /// that renamed their headers: `webhook-signature`, then `svix-signature`).
    pub signature: Vec<Place>,
    /// Text before each signature (`sha256=`, `v0=`, `v1,`, `v1=`). Without a separator it is
    /// optional on input (senders document it and then omit it); with one, it picks out the
    /// items that are signatures of this kind, and the others are ignored.
    pub prefix: String,
    /// Several signatures in one value, separated by this (`" "` for Standard Webhooks, `","`
    /// for Stripe); every one is tried against every valid secret.
    pub separator: Option<String>,
    /// How each signature is written.
    pub encoding: Encoding,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// What is signed.
    pub content: Template,
    /// Where the timestamp is (first present wins); empty for senders that sign none. With a
    /// timestamp, requests outside `tolerance` are refused and each signed request is processed
    /// once within it (a copy is answered as a duplicate).
    pub timestamp: Vec<Place>,
    /// How the timestamp is written.
    pub timestamp_format: TimeFormat,
    /// Where the id that `{id}` stands for is (first present wins).
    pub id: Vec<Place>,
    /// How far a signed timestamp may be from the receipt time, either way.
    pub tolerance: Duration,
    /// How a secret's text becomes key bytes.
    pub key_encoding: KeyEncoding,
    /// The public base URL (`https://hooks.example.com`) that `{url}` starts with.
    pub public_url: Option<String>,
}

impl SignatureFormat {
    /// An HMAC-SHA256 signature in hex at `place`, over the body alone, with no prefix.
    pub fn hmac(place: Place) -> Self {
        Self {
            signature: vec![place],
            prefix: String::new(),
            separator: None,
            encoding: Encoding::Hex,
            algorithm: Algorithm::Sha256,
            content: Template::body(),
            timestamp: Vec::new(),
            timestamp_format: TimeFormat::Unix,
            id: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
            key_encoding: KeyEncoding::Raw,
            public_url: None,
        }
    }

    /// Whether requests carry a signed timestamp (and so get a tolerance and a replay cache).
    pub fn is_timestamped(&self) -> bool {
        !self.timestamp.is_empty()
    }

    /// Everything inconsistent in the format, one sentence each; empty when it is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut say = |p: &str| problems.push(p.to_owned());
        if self.signature.is_empty() {
            say("no place is given for the signature (header or query)");
        }
        if self
            .signature
            .iter()
            .any(|p| matches!(p, Place::SignatureItem(_)))
        {
            say("the signature cannot be read from itself: use header:NAME or query:NAME");
        }
        if self.separator.as_deref() == Some("") {
            say("the separator is empty");
        }
        if self.separator.is_some() && self.prefix.is_empty() {
            say(
                "with a separator, a prefix is needed to tell signatures from the other items (v1=, v1,)",
            );
        }
        let items = self
            .timestamp
            .iter()
            .chain(&self.id)
            .any(|p| matches!(p, Place::SignatureItem(_)));
        if items && self.separator.is_none() {
            say("signature:PREFIX places need a separator between the signature's items");
        }
        if self.content.uses(&Part::Timestamp) && self.timestamp.is_empty() {
            say("the content uses {timestamp}, but no place is given for the timestamp");
        }
        if !self.timestamp.is_empty() && !self.content.uses(&Part::Timestamp) {
            say(
                "a timestamp that the signature does not cover proves nothing: add {timestamp} to the content",
            );
        }
        if self.content.uses(&Part::Id) && self.id.is_empty() {
            say("the content uses {id}, but no place is given for the id");
        }
        if self.content.uses(&Part::Url) && self.public_url.is_none() {
            say("the content uses {url}: set public_url to the URL the sender calls");
        }
        if !self.content.uses(&Part::Body) {
            say("the content does not cover {body}: anyone could change the event");
        }
        if self.tolerance.is_zero() && self.is_timestamped() {
            say("the tolerance is zero: every request would be refused");
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_into_parts() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.parts(),
            [
                Part::Literal((*b"v0:").into()),
                Part::Timestamp,
                Part::Literal((*b":").into()),
                Part::Body
            ]
        );
        assert!(Template::parse("{body}").unwrap().is_body_only());
        let braces = Template::parse("{{{id}}}.{body}").unwrap();
        assert_eq!(braces.parts()[0], Part::Literal((*b"{").into()));
        assert_eq!(braces.parts()[2], Part::Literal((*b"}.").into()));
        for bad in ["{bdy}", "{body", "body}", "{}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn places_parse_and_print() {
        for text in ["header:webhook-id", "query:sig", "signature:t="] {
            assert_eq!(Place::parse(text).unwrap().to_string(), text);
        }
        for bad in ["webhook-id", "header:bad header", "query:", "signature:"] {
            assert!(Place::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inconsistent_formats_are_explained() {
        let mut f = SignatureFormat::hmac(Place::header("x-sig"));
        assert!(f.problems().is_empty());
        f.content = Template::parse("{timestamp}.{body}").unwrap();
        assert_eq!(f.problems().len(), 1, "{:?}", f.problems());
        f.timestamp = vec![Place::parse("signature:t=").unwrap()];
        assert_eq!(f.problems().len(), 1, "{:?}", f.problems());
        f.separator = Some(",".into());
        assert_eq!(f.problems().len(), 1, "{:?}", f.problems());
        f.prefix = "v1=".into();
        assert!(f.problems().is_empty(), "{:?}", f.problems());
        f.content = Template::parse("{timestamp}").unwrap();
        assert_eq!(f.problems().len(), 1, "{:?}", f.problems());
    }
}

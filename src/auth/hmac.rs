//! HMAC signatures over the raw body, carried in one header.
//!
//! Covers the seed senders (`X-Ninja-Signature: sha256=<hex>`, `X-Webhook-Signature: <hex>`) and the
//! generic profile: any header, an optional prefix, hex (either case) or base64, SHA-1/256/512.
//!
//! The MAC is computed over the exact received bytes with each current secret; the comparison with
//! the presented signature is constant time ([`subtle`]) and does not stop at the first match, so the
//! time taken says nothing about which secret or how many bytes matched.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::{Choice, ConstantTimeEq};

use super::secret::Secret;
use crate::rejection::Rejection;

/// The hash function under the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (legacy senders only).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// Length of the MAC in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// How the signature bytes are written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, upper or lower case (written lower case when signing).
    Hex,
    /// Standard base64, padding optional.
    Base64,
    /// URL-safe base64, padding optional.
    Base64url,
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const BASE64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const BASE64URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

impl Encoding {
    /// Decode `text` into `out`, which must be filled exactly.
    fn decode_exact(self, text: &[u8], out: &mut [u8]) -> Result<(), ()> {
        match self {
            Self::Hex => hex::decode_to_slice(text, out).map_err(|_| ()),
            Self::Base64 | Self::Base64url => {
                let engine = if self == Self::Base64 {
                    &BASE64
                } else {
                    &BASE64URL
                };
                // base64 needs room for its 3-byte groups; 66 covers SHA-512's 64 bytes.
                let mut buf = [0u8; 66];
                match engine.decode_slice(text, &mut buf) {
                    Ok(n) if n == out.len() => {
                        out.copy_from_slice(&buf[..n]);
                        Ok(())
                    }
                    _ => Err(()),
                }
            }
        }
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::Hex => hex::encode(bytes),
            Self::Base64 => BASE64.encode(bytes),
            Self::Base64url => BASE64URL.encode(bytes),
        }
    }
}

/// A secret with its HMAC key schedule done once, at start-up.
#[derive(Clone)]
enum KeyedMac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl KeyedMac {
    /// HMAC accepts keys of any length, so this returns `None` only if the crate's contract
    /// changes; the caller then fails closed by leaving the key out.
    fn new(algorithm: Algorithm, key: &[u8]) -> Option<Self> {
        Some(match algorithm {
            Algorithm::Sha1 => Self::Sha1(Hmac::new_from_slice(key).ok()?),
            Algorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(key).ok()?),
            Algorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(key).ok()?),
        })
    }

    /// MAC of `body` into `out` (which is the algorithm's output length).
    fn compute(&self, body: &[u8], out: &mut [u8]) {
        fn run<M: Mac + Clone>(mac: &M, body: &[u8], out: &mut [u8]) {
            let mut mac = mac.clone();
            mac.update(body);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        match self {
            Self::Sha1(m) => run(m, body, out),
            Self::Sha256(m) => run(m, body, out),
            Self::Sha512(m) => run(m, body, out),
        }
    }
}

/// HMAC over the raw body in one header: `<prefix><encoded MAC>`.
#[derive(Clone)]
pub struct HmacScheme {
    header: HeaderName,
    prefix: String,
    encoding: Encoding,
    algorithm: Algorithm,
    keys: Vec<KeyedMac>,
}

impl HmacScheme {
    /// A scheme reading `header`, with an optional `prefix` (`"sha256="`), the given encoding and
    /// algorithm, verified against every secret in `secrets` (rotation: any one matches).
    ///
    /// An empty `secrets` list makes the scheme refuse every request.
    pub fn new(
        header: HeaderName,
        prefix: impl Into<String>,
        encoding: Encoding,
        algorithm: Algorithm,
        secrets: &[Secret],
    ) -> Self {
        Self {
            header,
            prefix: prefix.into(),
            encoding,
            algorithm,
            keys: secrets
                .iter()
                .filter_map(|s| KeyedMac::new(algorithm, s.expose()))
                .collect(),
        }
    }

    /// How many secrets it verifies against.
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// The header the signature is read from.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The prefix written before the signature (optional on input).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How the signature is encoded.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The HMAC hash function.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Check the signature in `headers` against `body`. Returns the index of the matching secret.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<usize, Rejection> {
        if self.keys.is_empty() {
            return Err(Rejection::NoSecret);
        }
        let mut values = headers.get_all(&self.header).iter();
        let value = values.next().ok_or(Rejection::MissingSignature)?;
        if values.next().is_some() {
            return Err(Rejection::RepeatedSignature);
        }
        let text = value.as_bytes().trim_ascii();
        // The prefix is optional: some senders document it and then omit it.
        let text = strip_prefix_ignore_case(text, self.prefix.as_bytes()).unwrap_or(text);

        let len = self.algorithm.output_len();
        let mut presented = [0u8; 64];
        self.encoding
            .decode_exact(text, &mut presented[..len])
            .map_err(|()| Rejection::MalformedSignature)?;

        let mut computed = [0u8; 64];
        let mut matched = Choice::from(0);
        let mut index = 0usize;
        for (i, key) in self.keys.iter().enumerate() {
            key.compute(body, &mut computed[..len]);
            let eq = computed[..len].ct_eq(&presented[..len]);
            // Record the first matching index without branching on the comparison.
            let first = eq & !matched;
            index = usize::conditional_select(&index, &i, first);
            matched |= eq;
        }
        if bool::from(matched) {
            Ok(index)
        } else {
            Err(Rejection::InvalidSignature)
        }
    }

    /// Sign `body` with the first secret, the way the sender would: `(header, "<prefix><MAC>")`.
    pub fn sign(&self, body: &[u8]) -> Option<(HeaderName, HeaderValue)> {
        let key = self.keys.first()?;
        let len = self.algorithm.output_len();
        let mut mac = [0u8; 64];
        key.compute(body, &mut mac[..len]);
        let text = format!("{}{}", self.prefix, self.encoding.encode(&mac[..len]));
        let value = HeaderValue::from_str(&text).ok()?;
        Some((self.header.clone(), value))
    }
}

/// `subtle::ConditionallySelectable` is not implemented for `usize`; select through `u64`.
trait SelectUsize {
    fn conditional_select(a: &usize, b: &usize, choice: Choice) -> usize;
}

impl SelectUsize for usize {
    fn conditional_select(a: &usize, b: &usize, choice: Choice) -> usize {
        use subtle::ConditionallySelectable;
        u64::conditional_select(&(*a as u64), &(*b as u64), choice) as usize
    }
}

pub(crate) fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix.is_empty() || text.len() < prefix.len() {
        return None;
    }
    let (head, rest) = text.split_at(prefix.len());
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

impl fmt::Debug for HmacScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacScheme")
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .field("encoding", &self.encoding)
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.as_bytes().to_vec(), "test").unwrap()
    }

    fn scheme(secrets: &[&str]) -> HmacScheme {
        let secrets: Vec<_> = secrets.iter().map(|s| secret(s)).collect();
        HmacScheme::new(
            HeaderName::from_static("x-ninja-signature"),
            "sha256=",
            Encoding::Hex,
            Algorithm::Sha256,
            &secrets,
        )
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ninja-signature", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn signed_body_verifies() {
        let s = scheme(&["0123456789abcdef"]);
        let (_, value) = s.sign(b"{\"a\":1}").unwrap();
        assert_eq!(
            s.verify(&headers(value.to_str().unwrap()), b"{\"a\":1}"),
            Ok(0)
        );
    }

    #[test]
    fn uppercase_hex_and_missing_prefix_verify() {
        let s = scheme(&["0123456789abcdef"]);
        let (_, value) = s.sign(b"body").unwrap();
        let hex = value.to_str().unwrap().trim_start_matches("sha256=");
        assert_eq!(s.verify(&headers(&hex.to_uppercase()), b"body"), Ok(0));
        assert_eq!(s.verify(&headers(&format!("SHA256={hex}")), b"body"), Ok(0));
    }

    #[test]
    fn tampered_body_is_invalid_signature() {
        let s = scheme(&["0123456789abcdef"]);
        let (_, value) = s.sign(b"body").unwrap();
        assert_eq!(
            s.verify(&headers(value.to_str().unwrap()), b"bodz"),
            Err(Rejection::InvalidSignature)
        );
    }

    #[test]
    fn rotated_secret_reports_its_index() {
        let old = scheme(&["old-secret-0123456"]);
        let both = scheme(&["new-secret-0123456", "old-secret-0123456"]);
        let (_, value) = old.sign(b"body").unwrap();
        assert_eq!(
            both.verify(&headers(value.to_str().unwrap()), b"body"),
            Ok(1)
        );
    }

    #[test]
    fn missing_repeated_and_malformed_are_distinct() {
        let s = scheme(&["0123456789abcdef"]);
        assert_eq!(
            s.verify(&HeaderMap::new(), b"x"),
            Err(Rejection::MissingSignature)
        );
        let mut h = headers("sha256=00");
        h.append("x-ninja-signature", HeaderValue::from_static("sha256=11"));
        assert_eq!(s.verify(&h, b"x"), Err(Rejection::RepeatedSignature));
        assert_eq!(
            s.verify(&headers("sha256=zz"), b"x"),
            Err(Rejection::MalformedSignature)
        );
        assert_eq!(
            s.verify(&headers("sha256=abcd"), b"x"),
            Err(Rejection::MalformedSignature)
        );
    }

    #[test]
    fn no_secret_refuses_everything() {
        let s = scheme(&[]);
        assert_eq!(
            s.verify(&headers("sha256=00"), b"x"),
            Err(Rejection::NoSecret)
        );
        assert!(s.sign(b"x").is_none());
    }

    #[test]
    fn base64_and_sha512_round_trip() {
        let secrets = [secret("0123456789abcdef")];
        for encoding in [Encoding::Base64, Encoding::Base64url, Encoding::Hex] {
            for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                let s = HmacScheme::new(
                    HeaderName::from_static("x-sig"),
                    "",
                    encoding,
                    algorithm,
                    &secrets,
                );
                let (name, value) = s.sign(b"payload").unwrap();
                let mut h = HeaderMap::new();
                h.insert(name, value);
                assert_eq!(
                    s.verify(&h, b"payload"),
                    Ok(0),
                    "{encoding:?} {algorithm:?}"
                );
                assert_eq!(
                    s.verify(&h, b"payloaD"),
                    Err(Rejection::InvalidSignature),
                    "{encoding:?} {algorithm:?}"
                );
            }
        }
    }
}

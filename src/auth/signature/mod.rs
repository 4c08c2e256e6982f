//! Signatures: one engine for every signed-webhook scheme.
//!
//! A [`SignatureScheme`] is a [`SignatureFormat`] (where the signature, timestamp and id are, how
//! the signature is written, what it covers) with the source's secrets turned into keys. The seed
//! senders, the presets (Standard Webhooks and Svix, GitHub, Stripe, Slack, Shopify) and any
//! `generic` source described in configuration all run through it.
//!
//! Verification, on the exact received bytes:
//!
//! 1. keys whose secret is past its `not_after` are left out; with none left, every request is
//!    refused (`no_usable_secret`);
//! 2. the signature value is read (missing or repeated: refused), split on the separator, and
//!    every item with the format's prefix is decoded (at most [`MAX_SIGNATURES`]);
//! 3. the timestamp and id are read where the format says;
//! 4. the signed content is fed to the MAC piece by piece (no copy of the body, no UTF-8), once
//!    per valid key, and compared in constant time ([`subtle`]) with **every** presented
//!    signature: the comparison does not stop at the first match, so the time taken says nothing
//!    about which secret or signature matched. Ed25519 signatures are checked with
//!    `verify_strict` (no malleable signatures, no weak keys) against every valid public key;
//! 5. a signed timestamp further than the tolerance from the receipt time, either way, is
//!    refused (`stale_timestamp`). A valid, fresh request yields a [`Verdict`] whose
//!    [`ReplayKey`] lets the [`Authenticate`](crate::auth::Authenticate) stage process each
//!    (id, signature) once within the window and answer a copy as a duplicate.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::Request;
//! use hookgate::auth::signature::SignatureScheme;
//! use hookgate::rejection::Rejection;
//! use hookgate::profile::Profile;
//! use hookgate::Secret;
//!
//! let secret = Secret::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec(), "example").unwrap();
//! let scheme = SignatureScheme::new(Profile::StandardWebhooks.format().unwrap(), &[secret]).unwrap();
//!
//! let now = SystemTime::now();
//! let (mut head, ()) = Request::post("/hooks/sw").body(()).unwrap().into_parts();
//! scheme.sign_into(&mut head, b"{\"type\":\"ping\"}", now).unwrap();
//! assert!(scheme.verify(&head, b"{\"type\":\"ping\"}", now).is_ok());
//!
//! // Ten minutes later the same request is stale.
//! let later = now + Duration::from_secs(600);
//! assert_eq!(scheme.verify(&head, b"{\"type\":\"ping\"}", later).unwrap_err(), Rejection::StaleTimestamp);
//! ```

pub mod format;
mod key;
mod wire;

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Uri};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

pub use self::format::{
    Algorithm, DEFAULT_TOLERANCE, Encoding, FormatError, KeyEncoding, Part, Place, SignatureFormat,
    Template, TimeFormat,
};
pub use self::key::KeyError;
use self::key::{Key, Material};
pub use self::wire::skew;
use self::wire::{Pieces, find, format_time, fresh_id, parse_time, set, split};
pub(crate) use self::wire::{append_query, strip_prefix_ignore_case};
use super::replay::ReplayKey;
use super::secret::Secret;
use crate::rejection::Rejection;

/// The most signatures read from one request; more is refused as malformed. Senders send one,
/// or two or three while they rotate keys.
pub const MAX_SIGNATURES: usize = 8;

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// Which of the source's secrets matched (0 = the first listed).
    pub key_index: usize,
    /// The signed timestamp, for timestamped schemes.
    pub signed_at: Option<SystemTime>,
    /// What identifies this exact signed request within the window, for timestamped schemes.
    pub replay: Option<ReplayKey>,
}

impl Verdict {
    /// A verdict for schemes without a timestamp.
    pub fn untimed(key_index: usize) -> Self {
        Self {
            key_index,
            signed_at: None,
            replay: None,
        }
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// No valid secret to sign with, or only public keys (Ed25519 needs the sender's private key).
    #[error("no secret to sign with (Ed25519 public keys only verify)")]
    NoKey,
    /// A header or URL could not hold the value.
    #[error("the signed request cannot be built: {0}")]
    Request(String),
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
                // base64 decodes in 3-byte groups; 66 bytes hold a 64-byte signature.
                let mut buf = [0u8; 66];
                if text.len() > 90 {
                    return Err(());
                }
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

/// A [`SignatureFormat`] with its keys; see the [module docs](self).
#[derive(Clone)]
pub struct SignatureScheme {
    format: SignatureFormat,
    keys: Vec<Key>,
}

/// What a place held.
enum Found<'a> {
    Absent,
    One(Cow<'a, [u8]>),
    Repeated,
}

impl SignatureScheme {
    /// A scheme for `format` with `secrets` (any one matches; each until its `not_after`).
    /// Fails if the format is inconsistent or a secret is not a key for it. An empty `secrets`
    /// list gives a scheme that refuses every request.
    pub fn new(format: SignatureFormat, secrets: &[Secret]) -> Result<Self, Vec<String>> {
        let mut problems = format.problems();
        let mut keys = Vec::new();
        for (index, secret) in secrets.iter().enumerate() {
            match Key::new(secret, index, format.algorithm, format.key_encoding) {
                Ok(key) => keys.push(key),
                Err(e) => problems.push(e.to_string()),
            }
        }
        if problems.is_empty() {
            Ok(Self { format, keys })
        } else {
            Err(problems)
        }
    }

    /// Like [`new`](Self::new), but a secret that is not a key for the format is left out
    /// (fail closed) instead of failing, and the format is not checked: for formats known to be
    /// consistent, such as the presets.
    pub fn lenient(format: SignatureFormat, secrets: &[Secret]) -> Self {
        let keys = secrets
            .iter()
            .enumerate()
            .filter_map(|(index, secret)| {
                Key::new(secret, index, format.algorithm, format.key_encoding).ok()
            })
            .collect();
        Self { format, keys }
    }

    /// The format this scheme verifies.
    pub fn format(&self) -> &SignatureFormat {
        &self.format
    }

    /// `"hmac"` or `"ed25519"`.
    pub fn name(&self) -> &'static str {
        self.format.algorithm.scheme_name()
    }

    /// How many secrets it was given (valid now or not).
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// How many secrets are valid at `now`.
    pub fn valid_secret_count(&self, now: SystemTime) -> usize {
        self.keys.iter().filter(|k| k.valid_at(now)).count()
    }

    /// The headers the signature may be in.
    pub fn headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.format.signature.iter().filter_map(|p| match p {
            Place::Header(h) => Some(h),
            _ => None,
        })
    }

    /// Verify a request at `now` (the receipt time): the signature, then the timestamp window.
    pub fn verify(&self, head: &Parts, body: &[u8], now: SystemTime) -> Result<Verdict, Rejection> {
        let verdict = self.check(head, body, now)?;
        if let Some(at) = verdict.signed_at {
            if skew(at, now).0 > self.format.tolerance {
                return Err(Rejection::StaleTimestamp);
            }
        }
        Ok(verdict)
    }

    /// Verify the signature alone, with the keys valid at `now`, whatever the timestamp says
    /// ([`verify`](Self::verify) adds the window). For diagnosis.
    pub fn check(&self, head: &Parts, body: &[u8], now: SystemTime) -> Result<Verdict, Rejection> {
        if !self.keys.iter().any(|k| k.valid_at(now)) {
            return Err(Rejection::NoSecret);
        }
        let format = &self.format;
        let value = match find(&format.signature, head, None, None) {
            Found::Absent => return Err(Rejection::MissingSignature),
            Found::Repeated => return Err(Rejection::RepeatedSignature),
            Found::One(v) => v,
        };
        let value = value.trim_ascii();

        let len = format.algorithm.output_len();
        let mut presented = [[0u8; 64]; MAX_SIGNATURES];
        let mut count = 0usize;
        match format.separator.as_deref() {
            None => {
                // The prefix is optional: some senders document it and then omit it.
                let mut text =
                    strip_prefix_ignore_case(value, format.prefix.as_bytes()).unwrap_or(value);
                // And senders that share a header disagree about the algorithm's label
                // (webnet writes `sha256=`, Homa does not): a bare hex format takes it too. It
                // cannot be mistaken for hex, so nothing that verified before reads otherwise.
                if let (true, Encoding::Hex, Some(label)) = (
                    format.prefix.is_empty(),
                    format.encoding,
                    format.algorithm.hex_label(),
                ) {
                    text = strip_prefix_ignore_case(text, label.as_bytes()).unwrap_or(text);
                }
                format
                    .encoding
                    .decode_exact(text, &mut presented[0][..len])
                    .map_err(|()| Rejection::MalformedSignature)?;
                count = 1;
            }
            Some(separator) => {
                for item in split(value, separator.as_bytes()) {
                    let Some(text) =
                        strip_prefix_ignore_case(item.trim_ascii(), format.prefix.as_bytes())
                    else {
                        continue; // another kind of item (t=, v0=, v1a,)
                    };
                    if count == MAX_SIGNATURES {
                        return Err(Rejection::MalformedSignature);
                    }
                    if format
                        .encoding
                        .decode_exact(text.trim_ascii(), &mut presented[count][..len])
                        .is_ok()
                    {
                        count += 1;
                    }
                }
                if count == 0 {
                    return Err(Rejection::MalformedSignature);
                }
            }
        }
        let presented = &presented[..count];

        let separator = format.separator.as_deref();
        let timestamp = if format.is_timestamped() {
            match find(&format.timestamp, head, Some(value), separator) {
                Found::Absent => return Err(Rejection::MissingTimestamp),
                Found::Repeated => return Err(Rejection::MalformedTimestamp),
                Found::One(t) => Some(t),
            }
        } else {
            None
        };
        let signed_at = match &timestamp {
            Some(text) => Some(
                parse_time(text.trim_ascii(), format.timestamp_format)
                    .ok_or(Rejection::MalformedTimestamp)?,
            ),
            None => None,
        };
        let id = match find(&format.id, head, Some(value), separator) {
            Found::One(id) => Some(id),
            Found::Repeated => return Err(Rejection::MissingId),
            Found::Absent if format.content.uses(&Part::Id) => return Err(Rejection::MissingId),
            Found::Absent => None,
        };
        let pieces = self.pieces(head, body, id.as_deref(), timestamp.as_deref());

        let mut matched = Choice::from(0);
        let mut key_index = 0u64;
        let mut which = 0u64;
        match format.algorithm {
            Algorithm::Ed25519 => {
                // Public-key checks hide nothing secret: no constant-time dance is needed.
                let message = self.content_of(&pieces);
                'keys: for key in self.keys.iter().filter(|k| k.valid_at(now)) {
                    let Material::Ed25519(public) = &key.material else {
                        continue;
                    };
                    for (i, sig) in presented.iter().enumerate() {
                        let signature = ed25519_dalek::Signature::from_bytes(sig);
                        if public.verify_strict(&message, &signature).is_ok() {
                            matched = Choice::from(1);
                            key_index = key.index as u64;
                            which = i as u64;
                            break 'keys;
                        }
                    }
                }
            }
            _ => {
                let mut computed = [0u8; 64];
                for key in self.keys.iter().filter(|k| k.valid_at(now)) {
                    let Material::Mac(mac) = &key.material else {
                        continue;
                    };
                    mac.compute(
                        |sink| pieces.feed(format.content.parts(), sink),
                        &mut computed[..len],
                    );
                    for (i, sig) in presented.iter().enumerate() {
                        let eq = computed[..len].ct_eq(&sig[..len]);
                        // Record the first match without branching on the comparison.
                        let first = eq & !matched;
                        key_index.conditional_assign(&(key.index as u64), first);
                        which.conditional_assign(&(i as u64), first);
                        matched |= eq;
                    }
                }
            }
        }
        if !bool::from(matched) {
            return Err(Rejection::InvalidSignature);
        }
        let replay = signed_at.map(|at| {
            let mut digest = Sha256::new();
            digest.update(pieces.id);
            digest.update([0]);
            digest.update(pieces.timestamp);
            digest.update([0]);
            digest.update(&presented[which as usize][..len]);
            ReplayKey::new(digest.finalize().into(), at + format.tolerance)
        });
        Ok(Verdict {
            key_index: key_index as usize,
            signed_at,
            replay,
        })
    }

    /// The exact bytes the signature of `head` and `body` covers (for an Ed25519 signer, or to
    /// debug a sender). Fails like [`check`](Self::check) when a part it needs is missing.
    pub fn content(&self, head: &Parts, body: &[u8]) -> Result<Vec<u8>, Rejection> {
        let format = &self.format;
        let value = match find(&format.signature, head, None, None) {
            Found::One(v) => Some(v),
            _ => None,
        };
        let separator = format.separator.as_deref();
        let timestamp = match find(&format.timestamp, head, value.as_deref(), separator) {
            Found::One(t) => Some(t),
            _ if format.content.uses(&Part::Timestamp) => return Err(Rejection::MissingTimestamp),
            _ => None,
        };
        let id = match find(&format.id, head, value.as_deref(), separator) {
            Found::One(id) => Some(id),
            _ if format.content.uses(&Part::Id) => return Err(Rejection::MissingId),
            _ => None,
        };
        Ok(self.content_of(&self.pieces(head, body, id.as_deref(), timestamp.as_deref())))
    }

    /// What the template's parts stand for in this request.
    fn pieces<'a>(
        &'a self,
        head: &'a Parts,
        body: &'a [u8],
        id: Option<&'a [u8]>,
        timestamp: Option<&'a [u8]>,
    ) -> Pieces<'a> {
        Pieces {
            head,
            body,
            id: id.unwrap_or_default(),
            timestamp: timestamp.map(<[u8]>::trim_ascii).unwrap_or_default(),
            public_url: self.format.public_url.as_deref().unwrap_or_default(),
            signature_param: self.signature_param(),
        }
    }

    fn signature_param(&self) -> Option<&str> {
        self.format.signature.iter().find_map(|p| match p {
            Place::Query(param) => Some(param.as_str()),
            _ => None,
        })
    }

    fn content_of(&self, pieces: &Pieces<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(pieces.body.len() + 64);
        pieces.feed(self.format.content.parts(), &mut |piece| {
            out.extend_from_slice(piece)
        });
        out
    }

    /// Sign a request the way the sender would, with the first secret valid at `now`: set the
    /// timestamp (`now`) and an id (a fresh `msg_...` unless the request has one) where the
    /// format reads them, and the signature. HMAC only.
    pub fn sign_into(
        &self,
        head: &mut Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignError> {
        let format = &self.format;
        let Some(mac) =
            self.keys
                .iter()
                .filter(|k| k.valid_at(now))
                .find_map(|k| match &k.material {
                    Material::Mac(mac) => Some(mac),
                    Material::Ed25519(_) => None,
                })
        else {
            return Err(SignError::NoKey);
        };
        let mut items: Vec<String> = Vec::new();
        let mut timestamp = String::new();
        if let Some(place) = format.timestamp.first() {
            timestamp = format_time(now, format.timestamp_format);
            match place {
                Place::SignatureItem(prefix) => items.push(format!("{prefix}{timestamp}")),
                other => set(head, other, &timestamp)?,
            }
        }
        let needs_id = format.content.uses(&Part::Id) || format.is_timestamped();
        let mut id = match find(&format.id, head, None, None) {
            Found::One(id) => String::from_utf8_lossy(&id).into_owned(),
            _ => String::new(),
        };
        if id.is_empty() && needs_id {
            if let Some(place) = format.id.first() {
                id = fresh_id();
                match place {
                    Place::SignatureItem(prefix) => items.push(format!("{prefix}{id}")),
                    other => set(head, other, &id)?,
                }
            }
        }
        let len = format.algorithm.output_len();
        let mut tag = [0u8; 64];
        let pieces = self.pieces(head, body, Some(id.as_bytes()), Some(timestamp.as_bytes()));
        mac.compute(
            |sink| pieces.feed(format.content.parts(), sink),
            &mut tag[..len],
        );
        items.push(format!(
            "{}{}",
            format.prefix,
            format.encoding.encode(&tag[..len])
        ));
        let value = items.join(format.separator.as_deref().unwrap_or(""));
        match format.signature.first() {
            Some(place) => set(head, place, &value),
            None => Err(SignError::Request("no place for the signature".into())),
        }
    }

    /// The HMAC of `message` under the secret at `key_index` (as [`Verdict::key_index`] and
    /// [`Verified`](crate::event::Verified) report it), for answers a sender checks with its
    /// own copy of the secret (Zoom's `encryptedToken`). `None` for Ed25519 or an unknown index.
    pub fn mac_with(&self, key_index: usize, message: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.iter().find(|k| k.index == key_index)?;
        let Material::Mac(mac) = &key.material else {
            return None;
        };
        let mut out = vec![0u8; self.format.algorithm.output_len()];
        mac.compute(|sink| sink(message), &mut out);
        Some(out)
    }

    /// The signature header a sender would attach to `body`, for formats that sign the body alone
    /// into a header (no timestamp, no id); `None` otherwise or without an HMAC secret. See
    /// [`sign_into`](Self::sign_into) for the rest.
    pub fn sign(&self, body: &[u8]) -> Option<(HeaderName, HeaderValue)> {
        let format = &self.format;
        let Some(Place::Header(name)) = format.signature.first() else {
            return None;
        };
        if !format.content.is_body_only() || format.is_timestamped() {
            return None;
        }
        let (mut head, ()) = http::Request::new(()).into_parts();
        self.sign_into(&mut head, body, SystemTime::now()).ok()?;
        let value = head.headers.remove(name)?;
        Some((name.clone(), value))
    }
}

impl fmt::Debug for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureScheme")
            .field("format", &self.format)
            .field("keys", &self.keys)
            .finish()
    }
}

#[cfg(test)]
mod tests;

//! Keys: a secret turned into what verifies a signature, once, at start-up.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use hmac::{Hmac, KeyInit, Mac};
use zeroize::Zeroizing;

use super::format::{Algorithm, KeyEncoding};
use crate::auth::secret::{MIN_SECRET_BYTES, Secret};

/// Why a secret cannot be a key for a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret is not base64 (after `whsec_`/`whpk_`), as the format says it is.
    #[error("secret {origin} is not base64 (after an optional whsec_ or whpk_ prefix)")]
    NotBase64 {
        /// Where the secret came from.
        origin: String,
    },
    /// A base64 key decodes to fewer than [`MIN_SECRET_BYTES`] bytes.
    #[error("secret {origin} decodes to {len} bytes; at least {MIN_SECRET_BYTES} are required")]
    TooShort {
        /// Where the secret came from.
        origin: String,
        /// Its decoded length.
        len: usize,
    },
    /// A Standard Webhooks public key (`whpk_`) given for an HMAC format, or an HMAC secret
    /// (`whsec_`) for an Ed25519 one: a public key as an HMAC secret would let anyone sign.
    #[error("secret {origin} is a {found} key, but the format needs {needed}")]
    WrongKind {
        /// Where the secret came from.
        origin: String,
        /// What the secret's prefix says it is.
        found: &'static str,
        /// What the format needs.
        needed: &'static str,
    },
    /// The key is not a valid Ed25519 public key.
    #[error("secret {origin} is not a 32-byte Ed25519 public key")]
    NotEd25519 {
        /// Where the secret came from.
        origin: String,
    },
}

/// An HMAC key with its key schedule done once.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl KeyedMac {
    fn new(algorithm: Algorithm, key: &[u8]) -> Option<Self> {
        Some(match algorithm {
            Algorithm::Sha1 => Self::Sha1(Hmac::new_from_slice(key).ok()?),
            Algorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(key).ok()?),
            Algorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(key).ok()?),
            Algorithm::Ed25519 => return None,
        })
    }

    /// The MAC of the pieces fed to `feed`, into `out` (the algorithm's output length).
    pub(crate) fn compute(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8])), out: &mut [u8]) {
        fn run<M: Mac + Clone>(mac: &M, feed: impl FnOnce(&mut dyn FnMut(&[u8])), out: &mut [u8]) {
            let mut mac = mac.clone();
            feed(&mut |piece| mac.update(piece));
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        match self {
            Self::Sha1(m) => run(m, feed, out),
            Self::Sha256(m) => run(m, feed, out),
            Self::Sha512(m) => run(m, feed, out),
        }
    }
}

/// What checks a signature.
#[derive(Clone)]
pub(crate) enum Material {
    Mac(KeyedMac),
    Ed25519(VerifyingKey),
}

/// One secret, ready to verify: its material, its position in the source's list, and when it
/// stops being valid.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) material: Material,
    /// Position in the configured list (what [`Verdict::key_index`](super::Verdict) reports).
    pub(crate) index: usize,
    pub(crate) not_after: Option<SystemTime>,
    pub(crate) fingerprint: String,
}

impl Key {
    /// Build the key for `algorithm` from `secret`, decoded as `encoding` says.
    pub(crate) fn new(
        secret: &Secret,
        index: usize,
        algorithm: Algorithm,
        encoding: KeyEncoding,
    ) -> Result<Self, KeyError> {
        let origin = || secret.origin().to_owned();
        let text = secret.expose();
        let ed25519 = algorithm == Algorithm::Ed25519;
        if (ed25519 && text.starts_with(b"whsec_")) || (!ed25519 && text.starts_with(b"whpk_")) {
            let (found, needed) = if ed25519 {
                ("whsec_ (HMAC)", "an Ed25519 public key (whpk_)")
            } else {
                ("whpk_ (Ed25519 public)", "an HMAC secret")
            };
            return Err(KeyError::WrongKind {
                origin: origin(),
                found,
                needed,
            });
        }
        let bytes: Zeroizing<Vec<u8>> = match encoding {
            KeyEncoding::Raw => Zeroizing::new(secret.expose().to_vec()),
            KeyEncoding::Base64 => {
                let text = secret.expose();
                let text = text
                    .strip_prefix(b"whsec_")
                    .or_else(|| text.strip_prefix(b"whpk_"))
                    .unwrap_or(text);
                Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|_| KeyError::NotBase64 { origin: origin() })?,
                )
            }
        };
        let material = match algorithm {
            Algorithm::Ed25519 => {
                let raw: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::NotEd25519 { origin: origin() })?;
                let key = VerifyingKey::from_bytes(&raw)
                    .map_err(|_| KeyError::NotEd25519 { origin: origin() })?;
                // A weak (small-order) key would accept forged signatures.
                if key.is_weak() {
                    return Err(KeyError::NotEd25519 { origin: origin() });
                }
                Material::Ed25519(key)
            }
            _ => {
                // Raw secrets were held to their minimum when loaded; a base64 one is checked
                // here, once decoded.
                if matches!(encoding, KeyEncoding::Base64) && bytes.len() < MIN_SECRET_BYTES {
                    return Err(KeyError::TooShort {
                        origin: origin(),
                        len: bytes.len(),
                    });
                }
                // HMAC takes keys of any length; `None` only if that contract changed.
                Material::Mac(KeyedMac::new(algorithm, &bytes).ok_or(KeyError::TooShort {
                    origin: origin(),
                    len: 0,
                })?)
            }
        };
        Ok(Self {
            material,
            index,
            not_after: secret.expires_at(),
            fingerprint: secret.fingerprint(),
        })
    }

    /// Whether the key may be used at `now`.
    pub(crate) fn valid_at(&self, now: SystemTime) -> bool {
        self.not_after.is_none_or(|end| now < end)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("index", &self.index)
            .field("fingerprint", &self.fingerprint)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

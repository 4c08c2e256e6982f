//! Secrets: where they come from, how they are kept, and how several of them rotate.
//!
//! A secret is never written in a config file. The config holds a *reference*: `env:NAME` reads an
//! environment variable, `file:PATH` reads a file (a trailing newline is dropped). A secret shorter
//! than [`MIN_SECRET_BYTES`] is refused, because a short HMAC key or bearer token can be guessed.
//!
//! [`Secret`] zeroes its bytes when dropped and prints as `[redacted]` with a short fingerprint, so
//! neither `Debug` output nor a log line can leak it.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The shortest secret hookgate accepts by default, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// The shortest secret hookgate accepts at all, even for a source configured with a lower
/// `min_secret_bytes` (a sender whose secret cannot be made longer).
pub const ABSOLUTE_MIN_SECRET_BYTES: usize = 8;

/// Why a secret could not be loaded. Messages name the reference, never the secret's value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// The reference is neither `env:NAME` nor `file:PATH`.
    #[error(
        "secret reference #{index} is neither env:NAME nor file:PATH (inline secrets are not accepted)"
    )]
    NotAReference {
        /// Position of the reference in its list, from 1.
        index: usize,
    },
    /// The environment variable is not set (or not UTF-8).
    #[error("secret {reference}: the environment variable is not set")]
    MissingEnv {
        /// The reference as written.
        reference: String,
    },
    /// The file could not be read.
    #[error("secret {reference}: cannot read the file: {reason}")]
    Unreadable {
        /// The reference as written.
        reference: String,
        /// The I/O error.
        reason: String,
    },
    /// The secret is shorter than the minimum ([`MIN_SECRET_BYTES`] unless lowered).
    #[error("secret {reference} is {len} bytes long; at least {min} are required")]
    TooShort {
        /// The reference as written.
        reference: String,
        /// Its length in bytes.
        len: usize,
        /// The minimum it was held to.
        min: usize,
    },
    /// The source lists no secret at all.
    #[error("no secret is configured; a source without a secret would accept forgeries")]
    Empty,
    /// A `not_after` is not an RFC 3339 time.
    #[error("secret #{index}: not_after {text:?} is not an RFC 3339 time (2026-12-01T00:00:00Z)")]
    BadExpiry {
        /// Position of the entry in its list, from 1.
        index: usize,
        /// The text as written.
        text: String,
    },
}

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`
    Env(String),
    /// `file:PATH`
    File(PathBuf),
}

impl SecretRef {
    /// Parse `env:NAME` or `file:PATH`. `index` (from 1) is only used in the error message, which
    /// never repeats the text: it may be an inline secret written by mistake.
    pub fn parse(text: &str, index: usize) -> Result<Self, SecretError> {
        if let Some(name) = text.strip_prefix("env:").filter(|n| !n.is_empty()) {
            Ok(Self::Env(name.to_owned()))
        } else if let Some(path) = text.strip_prefix("file:").filter(|p| !p.is_empty()) {
            Ok(Self::File(PathBuf::from(path)))
        } else {
            Err(SecretError::NotAReference { index })
        }
    }

    /// Read the secret and check its length against [`MIN_SECRET_BYTES`].
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        self.resolve_with_minimum(MIN_SECRET_BYTES)
    }

    /// Read the secret and check its length against `min` (never below
    /// [`ABSOLUTE_MIN_SECRET_BYTES`]).
    pub fn resolve_with_minimum(&self, min: usize) -> Result<Secret, SecretError> {
        let reference = self.to_string();
        let bytes = match self {
            Self::Env(name) => std::env::var(name)
                .map_err(|_| SecretError::MissingEnv {
                    reference: reference.clone(),
                })?
                .into_bytes(),
            Self::File(path) => {
                let mut bytes = std::fs::read(path).map_err(|e| SecretError::Unreadable {
                    reference: reference.clone(),
                    reason: e.to_string(),
                })?;
                while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    bytes.pop();
                }
                bytes
            }
        };
        Secret::with_minimum(bytes, reference, min)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// A shared secret (HMAC key, token, or a sender's public key), zeroed on drop, redacted in
/// `Debug`, valid until its optional `not_after`.
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    origin: String,
    not_after: Option<SystemTime>,
}

impl Secret {
    /// Wrap secret bytes; `origin` says where they came from (for messages; never the value).
    /// Refuses secrets shorter than [`MIN_SECRET_BYTES`].
    pub fn new(bytes: impl Into<Vec<u8>>, origin: impl Into<String>) -> Result<Self, SecretError> {
        Self::with_minimum(bytes, origin, MIN_SECRET_BYTES)
    }

    /// Like [`new`](Self::new), with another minimum length: for a sender whose secret is
    /// shorter and cannot be changed. Never below [`ABSOLUTE_MIN_SECRET_BYTES`].
    pub fn with_minimum(
        bytes: impl Into<Vec<u8>>,
        origin: impl Into<String>,
        min: usize,
    ) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        let origin = origin.into();
        let min = min.max(ABSOLUTE_MIN_SECRET_BYTES);
        if bytes.len() < min {
            return Err(SecretError::TooShort {
                reference: origin,
                len: bytes.len(),
                min,
            });
        }
        Ok(Self {
            bytes,
            origin,
            not_after: None,
        })
    }

    /// Stop accepting this secret at `at` (rotation: the old secret expires on schedule).
    pub fn not_after(mut self, at: SystemTime) -> Self {
        self.not_after = Some(at);
        self
    }

    /// When the secret stops being accepted, if ever.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.not_after
    }

    /// Whether the secret is accepted at `now`.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        self.not_after.is_none_or(|end| now < end)
    }

    /// The secret's bytes. Keep them out of logs.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the secret came from (`env:NAME`, `file:PATH`, ...).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A short, non-reversible fingerprint to tell secrets apart in logs and APIs: the first 8
    /// bytes of SHA-256 over the secret, in hex.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.expose());
        hex::encode(&digest[..8])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Secret([redacted], origin: {}, fingerprint: {}",
            self.origin,
            self.fingerprint()
        )?;
        if let Some(at) = self.not_after {
            write!(f, ", not_after: {}", humantime::format_rfc3339_seconds(at))?;
        }
        f.write_str(")")
    }
}

/// One entry of a source's `secrets` list: a reference, or a reference with the time it stops
/// being accepted.
///
/// ```toml
/// secrets = ["env:NEW_SECRET", { ref = "env:OLD_SECRET", not_after = "2026-12-01T00:00:00Z" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum SecretEntry {
    /// `env:NAME` or `file:PATH`.
    Ref(String),
    /// A reference valid until `not_after` (RFC 3339).
    Expiring {
        /// `env:NAME` or `file:PATH`.
        #[serde(rename = "ref")]
        reference: String,
        /// When the secret stops being accepted (RFC 3339, e.g. `2026-12-01T00:00:00Z`).
        not_after: String,
    },
}

impl SecretEntry {
    /// The reference.
    pub fn reference(&self) -> &str {
        match self {
            Self::Ref(r) | Self::Expiring { reference: r, .. } => r,
        }
    }
}

impl From<&str> for SecretEntry {
    fn from(reference: &str) -> Self {
        Self::Ref(reference.to_owned())
    }
}

/// Load every entry in `refs` (each at least `min` bytes long), collecting every problem rather
/// than stopping at the first.
pub fn resolve_all(refs: &[SecretEntry], min: usize) -> Result<Vec<Secret>, Vec<SecretError>> {
    if refs.is_empty() {
        return Err(vec![SecretError::Empty]);
    }
    let mut secrets = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in refs.iter().enumerate() {
        let loaded =
            SecretRef::parse(entry.reference(), i + 1).and_then(|r| r.resolve_with_minimum(min));
        let loaded = match (loaded, entry) {
            (Ok(secret), SecretEntry::Expiring { not_after, .. }) => {
                match humantime::parse_rfc3339_weak(not_after) {
                    Ok(at) => Ok(secret.not_after(at)),
                    Err(_) => Err(SecretError::BadExpiry {
                        index: i + 1,
                        text: not_after.clone(),
                    }),
                }
            }
            (other, _) => other,
        };
        match loaded {
            Ok(secret) => secrets.push(secret),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(secrets)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new(b"a-very-secret-value".to_vec(), "env:X").unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("a-very-secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert!(shown.contains(&secret.fingerprint()));
    }

    #[test]
    fn short_secret_is_refused() {
        let err = Secret::new(b"short".to_vec(), "env:X").unwrap_err();
        assert_eq!(
            err,
            SecretError::TooShort {
                reference: "env:X".into(),
                len: 5,
                min: MIN_SECRET_BYTES,
            }
        );
    }

    #[test]
    fn inline_secret_is_refused_without_echoing_it() {
        let err = SecretRef::parse("my-inline-secret-123", 2).unwrap_err();
        assert!(!err.to_string().contains("my-inline-secret-123"));
        assert_eq!(err, SecretError::NotAReference { index: 2 });
    }

    #[test]
    fn file_secret_drops_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("hookgate-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        std::fs::write(&path, b"0123456789abcdef0123\n").unwrap();
        let secret = SecretRef::File(path).resolve().unwrap();
        assert_eq!(secret.expose(), b"0123456789abcdef0123");
    }

    #[test]
    fn missing_env_is_named() {
        let err = SecretRef::parse("env:HOOKGATE_TEST_SURELY_UNSET", 1)
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("HOOKGATE_TEST_SURELY_UNSET"));
    }

    #[test]
    fn empty_list_is_refused() {
        assert_eq!(
            resolve_all(&[], MIN_SECRET_BYTES).unwrap_err(),
            vec![SecretError::Empty]
        );
    }
}

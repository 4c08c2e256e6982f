//! Diagnose: say why a captured request verifies or not, offline.
//!
//! When a sender's events start failing at 3 a.m., "401 invalid signature" is where debugging
//! begins. [`diagnose`] takes a captured request (headers and the exact body bytes) and a
//! [`Source`], runs the same verification the gateway runs, and when it fails, finds out which
//! of the usual causes it is:
//!
//! - [`Diagnosis::WrongHeader`]: the credential is in a header this source does not read (another
//!   sender's header, or a proxy renamed it);
//! - [`Diagnosis::Reserialized`]: the body is not the bytes the sender signed, but the same JSON
//!   written differently (pretty-printed, minified, keys reordered), which is what a framework
//!   that parses and re-dumps the body before verifying does; the signature matches that other
//!   form;
//! - [`Diagnosis::WrongSecret`]: the signature is well-formed but matches under none of the
//!   source's secrets, and no re-serialization of the body explains it: the secret is wrong (or
//!   rotated), or the body was altered;
//! - [`Diagnosis::Stale`]: the signature is valid, but its signed timestamp (Standard Webhooks,
//!   Stripe, Slack: against the source's own tolerance) or the event's own timestamp is further
//!   from now than the tolerance: a replay of a captured request, a sender retrying very late, or
//!   a clock that is off;
//! - [`Diagnosis::MissingPart`]: the signature covers a timestamp or id the request lacks.
//!
//! The expected signature is never part of a diagnosis, nor are secrets: only their fingerprints.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderMap;
//! use hookgate::diagnose::{diagnose, Diagnosis};
//! use hookgate::profile::Profile;
//! use hookgate::{Secret, Source};
//!
//! let secret = Secret::new(b"0123456789abcdef".to_vec(), "example").unwrap();
//! let source = Source::from_profile("homa", Profile::Homa, &[secret]);
//! let body = br#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":1}}"#;
//! let (name, value) = source.scheme().sign(body).unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert(name, value);
//!
//! // Verified, but the event is months old: stale.
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
//! let verdict = diagnose(&source, &headers, body, now, Duration::from_secs(300));
//! assert!(matches!(verdict, Diagnosis::Stale { .. }));
//! ```

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use crate::auth::Scheme;
use crate::rejection::Rejection;
use crate::source::Source;

/// Why a captured request verifies or not; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnosis {
    /// It verifies, and its timestamp (if it has one) is within the tolerance.
    Verified {
        /// Which secret matched (0 is the first).
        key_index: usize,
    },
    /// It verifies, but the event's timestamp is older (or further in the future) than the
    /// tolerance.
    Stale {
        /// Which secret matched.
        key_index: usize,
        /// How far the timestamp is from now.
        skew: Duration,
        /// Whether it is in the future.
        future: bool,
        /// The tolerance it exceeds.
        tolerance: Duration,
    },
    /// The header this source reads is missing; these other credential-like headers are present.
    WrongHeader {
        /// The header the source reads.
        expected: String,
        /// Headers that look like credentials, present instead.
        found: Vec<String>,
    },
    /// No credential at all.
    Missing {
        /// The header (or query parameter) the source reads.
        expected: String,
    },
    /// The credential header is there but cannot be decoded (prefix, encoding, length).
    Malformed {
        /// The header.
        header: String,
    },
    /// The signature covers a part (timestamp, id) that the request does not carry, or carries
    /// in a form the source cannot read.
    MissingPart {
        /// What is missing: `timestamp` or `id`.
        part: &'static str,
        /// Whether it is there but unreadable (rather than absent).
        malformed: bool,
    },
    /// The credential header appears more than once.
    Repeated {
        /// The header.
        header: String,
    },
    /// The signature matches a different serialization of the same JSON, not these bytes.
    Reserialized {
        /// Which form matched: `minified`, `pretty`, `compact`, `with a trailing newline`, ...
        form: &'static str,
    },
    /// The signature matches under none of the secrets, and no re-serialization explains it.
    WrongSecret {
        /// How many secrets were tried.
        tried: usize,
    },
    /// The source has no usable secret: it refuses everything.
    NoSecret,
}

impl Diagnosis {
    /// Whether the request verifies (fresh or stale).
    pub fn verified(&self) -> bool {
        matches!(self, Self::Verified { .. } | Self::Stale { .. })
    }

    /// One paragraph for a person: what is wrong and what to do about it.
    pub fn explain(&self) -> String {
        match self {
            Self::Verified { key_index } => {
                format!(
                    "verified: the signature matches the body under secret #{}",
                    key_index + 1
                )
            }
            Self::Stale {
                key_index,
                skew,
                future,
                tolerance,
            } => format!(
                "stale: the signature matches (secret #{}), but the event's timestamp is {} {} \
                 now, past the {} tolerance. A replay of a captured request, a sender retrying \
                 very late, or a clock that is off.",
                key_index + 1,
                humantime::format_duration(Duration::from_secs(skew.as_secs())),
                if *future { "ahead of" } else { "behind" },
                humantime::format_duration(*tolerance),
            ),
            Self::WrongHeader { expected, found } => format!(
                "wrong header: this source reads `{expected}`, which is missing; the request \
                 carries {} instead. Check the source's profile (another sender's?) or a proxy \
                 renaming headers.",
                found
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Missing { expected } => format!(
                "missing: the request carries no `{expected}`: it is not signed for this source"
            ),
            Self::Malformed { header } => format!(
                "malformed: `{header}` is there but is not in the format this source expects \
                 (prefix, encoding or length)"
            ),
            Self::MissingPart { part, malformed } => format!(
                "{}: the signature covers the request's {part}, which is {}. Check the \
                 source's profile, or a proxy that drops headers.",
                if *malformed { "malformed" } else { "missing" },
                if *malformed {
                    "not in the format this source reads"
                } else {
                    "not there"
                }
            ),
            Self::Repeated { header } => format!(
                "repeated: `{header}` appears more than once; hookgate refuses that, whichever \
                 copy is valid"
            ),
            Self::Reserialized { form } => format!(
                "re-serialized body: the signature matches the {form} form of this JSON, not \
                 these bytes. Something between the sender and you parsed the body and wrote it \
                 again; verify the exact bytes received, before any JSON parsing."
            ),
            Self::WrongSecret { tried } => format!(
                "wrong secret: the signature is well-formed but matches under none of the \
                 {tried} secret(s) tried, and no re-serialization of the body explains it. The \
                 secret is wrong or was rotated, or the body was altered."
            ),
            Self::NoSecret => {
                "no usable secret: this source refuses every request until it has one".to_owned()
            }
        }
    }
}

/// Diagnose a captured request to `source`: `headers` and the exact `body` bytes, at `now`,
/// with a `tolerance` for the event's own timestamp (signed timestamps are held to the source's).
pub fn diagnose(
    source: &Source,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Diagnosis {
    let scheme = source.scheme();
    let (mut head, ()) = http::Request::post("/")
        .body(())
        .unwrap_or_default()
        .into_parts();
    head.headers = headers.clone();
    let expected = match scheme.credential_header() {
        Some(name) => name.as_str().to_owned(),
        None => "(query parameter)".to_owned(),
    };
    match scheme.check(&head, body, now) {
        Ok(verdict) => match (verdict.signed_at, scheme.tolerance()) {
            (Some(at), Some(window)) => within(verdict.key_index, at, now, window),
            _ => freshness(source, body, verdict.key_index, now, tolerance),
        },
        Err(Rejection::MissingSignature | Rejection::MissingToken) => {
            let found = credential_like(headers, &expected);
            if found.is_empty() {
                Diagnosis::Missing { expected }
            } else {
                Diagnosis::WrongHeader { expected, found }
            }
        }
        Err(Rejection::MalformedSignature) => Diagnosis::Malformed { header: expected },
        Err(Rejection::RepeatedSignature) => Diagnosis::Repeated { header: expected },
        Err(Rejection::MissingTimestamp) => Diagnosis::MissingPart {
            part: "timestamp",
            malformed: false,
        },
        Err(Rejection::MalformedTimestamp) => Diagnosis::MissingPart {
            part: "timestamp",
            malformed: true,
        },
        Err(Rejection::MissingId) => Diagnosis::MissingPart {
            part: "id",
            malformed: false,
        },
        Err(Rejection::NoSecret) => Diagnosis::NoSecret,
        Err(_) => match reserialized(scheme, &head, body, now) {
            Some(form) => Diagnosis::Reserialized { form },
            None => Diagnosis::WrongSecret {
                tried: scheme.secret_count(),
            },
        },
    }
}

/// Headers other than `expected` whose names say they carry a credential.
fn credential_like(headers: &HeaderMap, expected: &str) -> Vec<String> {
    let mut found: Vec<String> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| *name != expected)
        .filter(|name| {
            [
                "signature",
                "hmac",
                "token",
                "authorization",
                "webhook-secret",
            ]
            .iter()
            .any(|word| name.contains(word))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The first other serialization of `body`'s JSON that the signature matches.
fn reserialized(
    scheme: &Scheme,
    head: &http::request::Parts,
    body: &[u8],
    now: SystemTime,
) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let minified = minify(body);
    let mut forms: Vec<(&'static str, Vec<u8>)> = vec![
        ("minified", minified.clone()),
        (
            "minified, with a trailing newline",
            [&minified[..], b"\n"].concat(),
        ),
    ];
    if let Ok(compact) = serde_json::to_vec(&value) {
        forms.push(("compact (serde_json)", compact));
    }
    if let Ok(pretty) = serde_json::to_vec_pretty(&value) {
        forms.push((
            "pretty-printed, with a trailing newline",
            [&pretty[..], b"\n"].concat(),
        ));
        forms.push(("pretty-printed", pretty));
    }
    match body.strip_suffix(b"\n") {
        Some(trimmed) => forms.push(("same, without the trailing newline", trimmed.to_vec())),
        None => forms.push(("same, with a trailing newline", [body, b"\n"].concat())),
    }
    forms
        .into_iter()
        .filter(|(_, bytes)| bytes != body)
        .find(|(_, bytes)| scheme.check(head, bytes, now).is_ok())
        .map(|(form, _)| form)
}

/// `body` without the whitespace outside strings (JSON's own minified form, key order kept).
fn minify(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// Verified: is the event's own timestamp within `tolerance` of `now`?
fn freshness(
    source: &Source,
    body: &[u8],
    key_index: usize,
    now: SystemTime,
    tolerance: Duration,
) -> Diagnosis {
    let at = source.shape().timestamp.as_deref().and_then(|pointer| {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        timestamp(value.pointer(pointer)?)
    });
    match at {
        Some(at) => within(key_index, at, now, tolerance),
        None => Diagnosis::Verified { key_index },
    }
}

/// Verified: is `at` within `tolerance` of `now`?
fn within(key_index: usize, at: SystemTime, now: SystemTime, tolerance: Duration) -> Diagnosis {
    let (skew, future) = crate::auth::signature::skew(at, now);
    if skew > tolerance {
        Diagnosis::Stale {
            key_index,
            skew,
            future,
            tolerance,
        }
    } else {
        Diagnosis::Verified { key_index }
    }
}

/// An RFC 3339 string, or seconds (or milliseconds, when that large) since the epoch.
fn timestamp(value: &serde_json::Value) -> Option<SystemTime> {
    match value {
        serde_json::Value::String(text) => humantime::parse_rfc3339_weak(text).ok(),
        serde_json::Value::Number(n) => {
            let n = n.as_f64()?;
            if !n.is_finite() || n < 0.0 {
                return None;
            }
            let secs = if n > 1e12 { n / 1000.0 } else { n };
            Some(SystemTime::UNIX_EPOCH + Duration::try_from_secs_f64(secs).ok()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;
    use crate::profile::Profile;
    use http::HeaderValue;

    const NOW: u64 = 1_790_000_000;

    fn homa(secret: &[u8]) -> Source {
        Source::from_profile(
            "homa",
            Profile::Homa,
            &[Secret::new(secret.to_vec(), "t").unwrap()],
        )
    }

    fn body(at: u64) -> Vec<u8> {
        let at = humantime::format_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(at));
        format!(r#"{{"event":"ticket.created","timestamp":"{at}","data":{{"ticket_id":1}}}}"#)
            .into_bytes()
    }

    fn signed(source: &Source, body: &[u8]) -> HeaderMap {
        let (name, value) = source.scheme().sign(body).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(name, value);
        headers
    }

    fn run(source: &Source, headers: &HeaderMap, body: &[u8]) -> Diagnosis {
        diagnose(
            source,
            headers,
            body,
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn the_four_usual_causes_are_told_apart() {
        let source = homa(b"the-right-secret-0123456789");
        let fresh = body(NOW - 10);
        let headers = signed(&source, &fresh);
        assert_eq!(
            run(&source, &headers, &fresh),
            Diagnosis::Verified { key_index: 0 }
        );

        // Wrong secret.
        let other = homa(b"some-other-secret-0123456789");
        assert!(matches!(
            run(&other, &headers, &fresh),
            Diagnosis::WrongSecret { .. }
        ));

        // Wrong header: the signature arrived under another name.
        let mut renamed = HeaderMap::new();
        renamed.insert(
            "x-hub-signature-256",
            headers.values().next().unwrap().clone(),
        );
        assert_eq!(
            run(&source, &renamed, &fresh),
            Diagnosis::WrongHeader {
                expected: source.scheme().credential_header().unwrap().to_string(),
                found: vec!["x-hub-signature-256".into()],
            }
        );

        // Re-serialized: the bytes we have are a pretty form (key order kept) of what was
        // signed, as a framework that parses and re-dumps the body would write them.
        let at = humantime::format_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW - 10));
        let pretty = format!(
            "{{\n  \"event\": \"ticket.created\",\n  \"timestamp\": \"{at}\",\n  \"data\": {{\n    \"ticket_id\": 1\n  }}\n}}"
        );
        let verdict = run(&source, &headers, pretty.as_bytes());
        assert_eq!(verdict, Diagnosis::Reserialized { form: "minified" });
        assert!(verdict.explain().starts_with("re-serialized body"));

        // Stale: valid, but from an hour ago.
        let old = body(NOW - 3600);
        let verdict = run(&source, &signed(&source, &old), &old);
        assert!(
            matches!(verdict, Diagnosis::Stale { skew, future: false, .. } if skew.as_secs() == 3600),
            "{verdict:?}"
        );
        assert!(
            verdict.explain().contains("1h behind now"),
            "{}",
            verdict.explain()
        );
    }

    #[test]
    fn explanations_never_show_a_signature_or_a_secret() {
        let source = homa(b"the-right-secret-0123456789");
        let fresh = body(NOW);
        let headers = signed(&source, &fresh);
        let signature = headers
            .values()
            .next()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let other = homa(b"some-other-secret-0123456789");
        let tampered = [&fresh[..], b" "].concat();
        for verdict in [
            run(&other, &headers, &fresh),
            run(&source, &headers, &tampered),
            run(&source, &HeaderMap::new(), &fresh),
        ] {
            let text = verdict.explain();
            assert!(
                !text.contains(&signature) && !text.contains("the-right-secret"),
                "{text}"
            );
        }
        let mut twice = headers.clone();
        twice.append(
            headers.keys().next().unwrap().clone(),
            HeaderValue::from_static("sha256=00"),
        );
        assert!(matches!(
            run(&source, &twice, &fresh),
            Diagnosis::Repeated { .. }
        ));
    }

    #[test]
    fn signed_timestamps_are_held_to_the_source_tolerance_and_missing_ones_named() {
        let secret = Secret::new(b"stripe-signing-secret-0123".to_vec(), "t").unwrap();
        let source = Source::from_profile("stripe", Profile::Stripe, &[secret]);
        let body = br#"{"id":"evt_1","type":"customer.created"}"#;
        let signed_at = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW - 600);
        let (mut head, ()) = http::Request::post("/").body(()).unwrap().into_parts();
        source
            .scheme()
            .sign_into(&mut head, body, signed_at)
            .unwrap();
        // Ten minutes old: stale against Stripe's 5 minutes, whatever tolerance is passed for
        // body timestamps.
        let verdict = diagnose(
            &source,
            &head.headers,
            body,
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
            Duration::from_secs(3600),
        );
        assert!(
            matches!(verdict, Diagnosis::Stale { skew, tolerance, .. }
                if skew.as_secs() == 600 && tolerance.as_secs() == 300),
            "{verdict:?}"
        );
        // The Stripe-Signature without its t= item.
        let value = head.headers["stripe-signature"].to_str().unwrap();
        let without_t = value
            .split(',')
            .filter(|i| !i.starts_with("t="))
            .collect::<Vec<_>>();
        let mut headers = head.headers.clone();
        headers.insert(
            "stripe-signature",
            HeaderValue::from_str(&without_t.join(",")).unwrap(),
        );
        let verdict = run(&source, &headers, body);
        assert_eq!(
            verdict,
            Diagnosis::MissingPart {
                part: "timestamp",
                malformed: false
            }
        );
        assert!(
            verdict
                .explain()
                .starts_with("missing: the signature covers the request's timestamp")
        );
    }

    #[test]
    fn minify_keeps_strings_whole() {
        assert_eq!(
            minify(
                br#"{ "a" : "x y\" z" ,
 "b": [1, 2] }"#
            ),
            br#"{"a":"x y\" z","b":[1,2]}"#
        );
    }
}

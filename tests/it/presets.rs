//! The presets beyond the seeds (Standard Webhooks and Svix, GitHub, Stripe, Slack, Shopify)
//! against the senders' published example vectors; every one-bit mutation of those vectors
//! refused; the generic scheme, described in TOML to mimic each preset, giving the same verdicts;
//! and every preset through `hookgate serve`. The Standard Webhooks receiver suite is in
//! `receiver_suite.rs`.
//!
//! Every vector below is published by the sender or its official SDK; each names where. Their
//! timestamps are years old, so they are verified at a clock set to their own time.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use hookgate::auth::signature::{Place, SignatureFormat};
use hookgate::auth::{Scheme, SecretEntry};
use hookgate::config::source_from_config;
use hookgate::config::{Config, SourceConfig};
use hookgate::profile::Profile;
use hookgate::{Rejection, Secret, Source};
use http::request::Parts;
use http::{HeaderValue, Request};

use crate::receiver_suite::{V1_SECRETS, public_key};

mod published;

use self::published::*;

pub(crate) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn head(headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::post("/hooks/p");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-presets-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A source for `profile` (or a generic one with the `[source.auth]` table `auth`), built through
/// the configuration path with its secrets in files.
fn configured(profile: &str, auth: Option<&str>, secrets: &[&str], tag: &str) -> Source {
    let dir = dir(tag);
    let mut text = format!("[[source]]\nname = \"{tag}\"\nprofile = \"{profile}\"\nsecrets = [");
    for (i, secret) in secrets.iter().enumerate() {
        let path = dir.join(format!("secret-{i}"));
        std::fs::write(&path, secret).unwrap();
        text.push_str(&format!("\"file:{}\",", path.display()));
    }
    text.push_str("]\n");
    if secrets
        .iter()
        .any(|s| s.len() < hookgate::auth::MIN_SECRET_BYTES)
    {
        text.push_str("min_secret_bytes = 8\n");
    }
    if let Some(auth) = auth {
        text.push_str("[source.auth]\n");
        text.push_str(auth);
    }
    let config = Config::from_toml(&text, tag).unwrap();
    assert!(config.unknown_keys.is_empty(), "{:?}", config.unknown_keys);
    let source = source_from_config(&config.sources[0]).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    source
}

/// `[source.auth]` of a generic source that describes `profile` by hand.
pub(crate) fn generic_description(profile: Profile, ed25519: bool) -> &'static str {
    match (profile, ed25519) {
        (Profile::StandardWebhooks, false) => {
            r#"
            header = ["webhook-signature", "svix-signature"]
            separator = " "
            prefix = "v1,"
            encoding = "base64"
            algorithm = "sha256"
            content = "{id}.{timestamp}.{body}"
            id = ["header:webhook-id", "header:svix-id"]
            timestamp = ["header:webhook-timestamp", "header:svix-timestamp"]
            tolerance = "5m"
            key = "base64"
            "#
        }
        (Profile::StandardWebhooks, true) => {
            r#"
            header = ["webhook-signature", "svix-signature"]
            separator = " "
            prefix = "v1a,"
            encoding = "base64"
            algorithm = "ed25519"
            content = "{id}.{timestamp}.{body}"
            id = ["header:webhook-id", "header:svix-id"]
            timestamp = ["header:webhook-timestamp", "header:svix-timestamp"]
            key = "base64"
            "#
        }
        (Profile::GitHub, _) => {
            r#"
            header = "X-Hub-Signature-256"
            prefix = "sha256="
            encoding = "hex"
            algorithm = "sha256"
            "#
        }
        (Profile::Stripe, _) => {
            r#"
            header = "Stripe-Signature"
            separator = ","
            prefix = "v1="
            encoding = "hex"
            content = "{timestamp}.{body}"
            timestamp = "signature:t="
            timestamp_format = "unix"
            "#
        }
        (Profile::Slack, _) => {
            r#"
            header = "X-Slack-Signature"
            prefix = "v0="
            content = "v0:{timestamp}:{body}"
            timestamp = "header:X-Slack-Request-Timestamp"
            "#
        }
        (Profile::Shopify, _) => {
            r#"
            header = "X-Shopify-Hmac-Sha256"
            encoding = "base64"
            "#
        }
        (other, _) => panic!("no description for {other:?}"),
    }
}

/// A request and what must be said of it.
struct Case {
    what: String,
    head: Parts,
    body: Vec<u8>,
}

/// The vector itself, then every one-bit mutation of it: each bit of the body, of each signature
/// (decoded, flipped, encoded again), and of the id and timestamp it covers.
fn cases(v: &Published, scheme: &Scheme) -> Vec<Case> {
    let original = head(v.headers);
    let mut cases = vec![Case {
        what: "as published".into(),
        head: original.clone(),
        body: v.body.to_vec(),
    }];
    for i in 0..v.body.len() * 8 {
        let mut body = v.body.to_vec();
        body[i / 8] ^= 1 << (i % 8);
        cases.push(Case {
            what: format!("body bit {i}"),
            head: original.clone(),
            body,
        });
    }
    let Scheme::Signature(s) = scheme else {
        panic!("{}: not a signature scheme", v.name)
    };
    let format = s.format();
    // The signatures of this scheme's kind in the signature header.
    let name = s
        .headers()
        .find(|h| original.headers.contains_key(*h))
        .unwrap()
        .clone();
    let value = original.headers[&name].to_str().unwrap().to_owned();
    let separator = format.separator.clone();
    let items: Vec<String> = match &separator {
        Some(sep) => value.split(sep.as_str()).map(str::to_owned).collect(),
        None => vec![value.clone()],
    };
    for (index, item) in items.iter().enumerate() {
        let Some(encoded) = item.strip_prefix(format.prefix.as_str()) else {
            continue;
        };
        // Only the genuine signatures: a published decoy stays a decoy whatever its bits.
        let mut alone = original.clone();
        alone
            .headers
            .insert(&name, HeaderValue::from_str(item).unwrap());
        if scheme
            .check(&alone, v.body, UNIX_EPOCH + Duration::from_secs(v.at))
            .is_err()
        {
            continue;
        }
        let decoded = match format.encoding {
            hookgate::auth::Encoding::Hex => hex::decode(encoded).unwrap(),
            _ => B64.decode(encoded).unwrap(),
        };
        if decoded.len() != format.algorithm.output_len() {
            continue; // a published decoy of the wrong length: never a signature
        }
        for bit in 0..decoded.len() * 8 {
            let mut flipped = decoded.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let reencoded = match format.encoding {
                hookgate::auth::Encoding::Hex => hex::encode(&flipped),
                _ => B64.encode(&flipped),
            };
            let mut changed = items.clone();
            changed[index] = format!("{}{reencoded}", format.prefix);
            let mut h = original.clone();
            let joined = changed.join(separator.as_deref().unwrap_or(""));
            h.headers
                .insert(&name, HeaderValue::from_str(&joined).unwrap());
            cases.push(Case {
                what: format!("signature #{index} bit {bit}"),
                head: h,
                body: v.body.to_vec(),
            });
        }
    }
    // The id and timestamp headers the signature covers.
    let covered: Vec<Place> = format.id.iter().chain(&format.timestamp).cloned().collect();
    for place in covered {
        let Place::Header(h) = place else { continue };
        let Some(text) = original.headers.get(&h) else {
            continue;
        };
        for bit in 0..text.len() * 8 {
            let mut bytes = text.as_bytes().to_vec();
            bytes[bit / 8] ^= 1 << (bit % 8);
            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                continue; // not a header value: it cannot be sent
            };
            if value.as_bytes().trim_ascii() == text.as_bytes() {
                continue; // only surrounding blanks changed: the same value
            }
            let mut changed = original.clone();
            changed.headers.insert(&h, value);
            cases.push(Case {
                what: format!("{h} bit {bit}"),
                head: changed,
                body: v.body.to_vec(),
            });
        }
    }
    cases
}

/// A verdict as comparable text: `ok #<secret index>` or the rejection's code.
fn verdict(scheme: &Scheme, case: &Case, now: SystemTime) -> String {
    match scheme.verify(&case.head, &case.body, now) {
        Ok(v) => format!("ok #{}", v.key_index),
        Err(rejection) => rejection.code().to_owned(),
    }
}

#[test]
fn published_vectors_pass_and_every_one_bit_mutation_fails() {
    // The v1a public key is the one the published seed gives.
    let seed: [u8; 32] = B64.decode(SW_V1A_SEED).unwrap().try_into().unwrap();
    let public = SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(
        SW_V1A_PUBLIC,
        format!("whpk_{}", B64.encode(public.as_bytes()))
    );

    let vectors = published();
    for profile in Profile::PRESETS {
        assert!(
            vectors.iter().any(|v| v.profile == profile),
            "no vector for {profile:?}"
        );
    }
    let mut mutations = 0;
    for (i, v) in vectors.iter().enumerate() {
        let source = configured(v.profile.name(), None, &[v.secret], &format!("pub{i}"));
        let scheme = source.scheme();
        let now = at(v.at);
        let all = cases(v, scheme);
        assert_eq!(
            verdict(scheme, &all[0], now),
            "ok #0",
            "{} ({})",
            v.name,
            v.source
        );
        for case in &all[1..] {
            let said = verdict(scheme, case, now);
            assert!(
                !said.starts_with("ok"),
                "{}: {} verified ({})",
                v.name,
                case.what,
                v.source
            );
        }
        mutations += all.len() - 1;
    }
    assert!(mutations > 10_000, "{mutations}");
}

#[test]
fn published_negative_vectors_are_refused() {
    let sw = configured(
        "standard-webhooks",
        None,
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "neg",
    );
    let now = at(1_614_265_330);
    for (signature, expected) in [
        // standard-webhooks python test_invalid_signature_raises_error (last character E -> A).
        (
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
            Rejection::InvalidSignature,
        ),
        // The Rust libraries' test_no_verify.
        (
            "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
            Rejection::InvalidSignature,
        ),
        // A version hookgate does not know, only.
        (
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            Rejection::MalformedSignature,
        ),
    ] {
        let h = head(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", signature),
        ]);
        assert_eq!(
            sw.scheme()
                .verify(&h, br#"{"test": 2432232314}"#, now)
                .unwrap_err(),
            expected,
            "{signature}"
        );
    }
    // The Go library's asymmetric test: a v1a signature of the wrong length.
    let v1a = configured("standard-webhooks", None, &[SW_V1A_PUBLIC], "neg-v1a");
    let h = head(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ),
    ]);
    assert_eq!(
        v1a.scheme()
            .verify(&h, br#"{"test": 2432232314}"#, now)
            .unwrap_err(),
        Rejection::MalformedSignature
    );
}

#[test]
fn short_secrets_need_an_explicit_minimum() {
    // The published test secrets ("mysecret", "development", "webhook_secret",
    // "test_secret_key") are refused by default: a short key can be guessed.
    let dir = dir("short");
    let path = dir.join("secret");
    std::fs::write(&path, "webhook_secret").unwrap();
    let text = |extra: &str| {
        format!(
            "[[source]]\nname = \"s\"\nprofile = \"stripe\"\nsecrets = [\"file:{}\"]\n{extra}",
            path.display()
        )
    };
    let load = |extra: &str| {
        let config = Config::from_toml(&text(extra), "t").unwrap();
        source_from_config(&config.sources[0]).map_err(|e| e.to_string())
    };
    let error = load("").unwrap_err();
    assert!(error.contains("is 14 bytes long; at least 16"), "{error}");
    assert!(load("min_secret_bytes = 14\n").is_ok());
    let error = load("min_secret_bytes = 4\n").unwrap_err();
    assert!(error.contains("below the floor of 8"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_generic_source_described_like_a_preset_gives_the_same_verdicts() {
    let vectors = published();
    for (i, v) in vectors.iter().enumerate() {
        let ed25519 = v.secret.starts_with("whpk_");
        let preset = configured(v.profile.name(), None, &[v.secret], &format!("pre{i}"));
        let generic = configured(
            "generic",
            Some(generic_description(v.profile, ed25519)),
            &[v.secret],
            &format!("gen{i}"),
        );
        // Also: the description is the preset's format, key for key.
        if let (Scheme::Signature(a), Scheme::Signature(b)) =
            (preset.scheme().as_ref(), generic.scheme().as_ref())
        {
            let mut expected: SignatureFormat = a.format().clone();
            let mut described: SignatureFormat = b.format().clone();
            // Header names are written in any case; both parse to the same lower-case names.
            expected.signature.sort_by_key(|p| p.to_string());
            described.signature.sort_by_key(|p| p.to_string());
            assert_eq!(expected, described, "{}", v.name);
        }
        // Verdicts on the vector, every mutation, and the vector at a clock past its window.
        for now in [at(v.at), at(v.at + 301), at(v.at - 301)] {
            for case in cases(v, preset.scheme()) {
                assert_eq!(
                    verdict(preset.scheme(), &case, now),
                    verdict(generic.scheme(), &case, now),
                    "{}: {}",
                    v.name,
                    case.what
                );
            }
        }
    }
}

#[test]
fn a_public_key_is_never_an_hmac_secret() {
    // Were it accepted as a v1 secret, anyone holding the public key could sign.
    let key = SigningKey::from_bytes(&[3; 32]);
    let format = Profile::StandardWebhooks.format().unwrap();
    let secret = Secret::new(public_key(&key).into_bytes(), "t").unwrap();
    assert!(hookgate::auth::SignatureScheme::new(format, std::slice::from_ref(&secret)).is_err());
    // Mixing the two kinds in one standard-webhooks source is refused at load.
    let hmac = Secret::new(V1_SECRETS[0].as_bytes().to_vec(), "t").unwrap();
    assert!(
        Profile::StandardWebhooks
            .try_scheme(&[hmac, secret])
            .is_err()
    );
}

#[test]
fn generic_descriptions_that_cannot_work_are_refused_with_reasons() {
    let dir = dir("bad");
    let path = dir.join("secret");
    std::fs::write(&path, "a-raw-secret-0123456789").unwrap();
    for (auth, expected) in [
        (
            "content = \"{timestamp}.{body}\"\n",
            "no place is given for the timestamp",
        ),
        (
            "timestamp = \"header:X-Ts\"\n",
            "add {timestamp} to the content",
        ),
        (
            "content = \"{timestamp}\"\ntimestamp = \"header:X-Ts\"\n",
            "does not cover {body}",
        ),
        ("content = \"{url}{body}\"\n", "public_url"),
        (
            "timestamp = \"signature:t=\"\ncontent = \"{timestamp}.{body}\"\n",
            "need a separator",
        ),
        ("content = \"{bdy}\"\n", "content template"),
        ("tolerance = \"1m\"\n", "tolerance applies only"),
        ("id = \"webhook-id\"\n", "header:NAME"),
    ] {
        let text = format!(
            "[[source]]\nname = \"g\"\nprofile = \"generic\"\nsecrets = [\"file:{}\"]\n[source.auth]\n{auth}",
            path.display()
        );
        let config = Config::from_toml(&text, "t").unwrap();
        let error = source_from_config(&config.sources[0])
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{auth}: {error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_past_their_not_after_are_refused_at_load_when_none_is_left() {
    let dir = dir("expiry");
    let path = dir.join("secret");
    std::fs::write(&path, "a-raw-secret-0123456789").unwrap();
    let sc = |not_after: &str| SourceConfig {
        name: "s".into(),
        profile: "github".into(),
        secrets: vec![SecretEntry::Expiring {
            reference: format!("file:{}", path.display()),
            not_after: not_after.into(),
        }],
        ..SourceConfig::default()
    };
    let error = source_from_config(&sc("2020-01-01T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("every secret is past its not_after"),
        "{error}"
    );
    assert!(source_from_config(&sc("2999-01-01T00:00:00Z")).is_ok());
    let error = source_from_config(&sc("next tuesday"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("not an RFC 3339 time"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

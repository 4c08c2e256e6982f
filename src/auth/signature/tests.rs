use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer, SigningKey};
use http::Request;

use super::*;
use crate::profile::Profile;

fn secret(text: &str) -> Secret {
    Secret::new(text.as_bytes().to_vec(), "test").unwrap()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn head(headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::post("/hooks/x?a=1");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn scheme(profile: Profile, secrets: &[&str]) -> SignatureScheme {
    let secrets: Vec<Secret> = secrets.iter().map(|s| secret(s)).collect();
    SignatureScheme::new(profile.format_for(&secrets).unwrap(), &secrets).unwrap()
}

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn every_preset_verifies_what_it_signs_and_nothing_else() {
    let now = at(1_790_000_000);
    for profile in Profile::SEEDS.into_iter().chain(Profile::PRESETS) {
        let Some(format) = profile.format() else {
            continue;
        };
        let key = if format.key_encoding == KeyEncoding::Base64 {
            SW_SECRET
        } else {
            "a-raw-secret-0123456789"
        };
        let s = scheme(profile, &[key]);
        let mut h = head(&[]);
        s.sign_into(&mut h, b"{\"a\":1}", now).unwrap();
        assert_eq!(
            s.verify(&h, b"{\"a\":1}", now).map(|v| v.key_index),
            Ok(0),
            "{profile:?}"
        );
        assert_eq!(
            s.verify(&h, b"{\"a\":2}", now),
            Err(Rejection::InvalidSignature),
            "{profile:?}"
        );
        let verdict = s.verify(&h, b"{\"a\":1}", now).unwrap();
        assert_eq!(
            verdict.signed_at.is_some(),
            format.is_timestamped(),
            "{profile:?}"
        );
        assert_eq!(
            verdict.replay.is_some(),
            format.is_timestamped(),
            "{profile:?}"
        );
    }
}

#[test]
fn every_signature_is_tried_against_every_valid_secret() {
    let now = at(1_790_000_000);
    let old = scheme(
        Profile::StandardWebhooks,
        &["whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5"],
    );
    let new = scheme(Profile::StandardWebhooks, &[SW_SECRET]);
    let both = scheme(
        Profile::StandardWebhooks,
        &[SW_SECRET, "whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5"],
    );
    let body = b"{}";
    let mut by_old = head(&[("webhook-id", "msg_1")]);
    old.sign_into(&mut by_old, body, now).unwrap();
    let mut by_new = head(&[("webhook-id", "msg_1")]);
    new.sign_into(&mut by_new, body, now).unwrap();
    let old_sig = by_old.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let new_sig = by_new.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    // The sender signs with both during its rotation: either order, any position.
    for value in [
        format!("{old_sig} {new_sig}"),
        format!("{new_sig} {old_sig}"),
        format!("v2,abc {old_sig}"),
        format!("v1a,{} {new_sig}", "A".repeat(88)),
    ] {
        let mut h = by_old.clone();
        h.headers
            .insert("webhook-signature", value.parse().unwrap());
        assert!(both.verify(&h, body, now).is_ok(), "{value}");
        assert!(
            new.verify(&h, body, now).is_ok() || !value.contains(&new_sig),
            "{value}"
        );
    }
    assert_eq!(both.verify(&by_old, body, now).unwrap().key_index, 1);
    // Only other kinds of signature: malformed for this scheme.
    let mut h = by_old.clone();
    h.headers
        .insert("webhook-signature", "v2,abc t=1".parse().unwrap());
    assert_eq!(
        both.verify(&h, body, now),
        Err(Rejection::MalformedSignature)
    );
    // Too many signatures.
    let many = [old_sig.as_str(); MAX_SIGNATURES + 1].join(" ");
    h.headers.insert("webhook-signature", many.parse().unwrap());
    assert_eq!(
        both.verify(&h, body, now),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn an_expired_secret_stops_working_on_schedule() {
    let body = b"{}";
    let old = secret("old-secret-0123456789").not_after(at(1_000));
    let new = secret("new-secret-0123456789");
    let format = Profile::Homa.format().unwrap();
    let signer = SignatureScheme::new(format.clone(), std::slice::from_ref(&old)).unwrap();
    let both = SignatureScheme::new(format.clone(), &[new, old.clone()]).unwrap();
    let mut h = head(&[]);
    signer.sign_into(&mut h, body, at(999)).unwrap();
    assert_eq!(both.verify(&h, body, at(999)).map(|v| v.key_index), Ok(1));
    assert_eq!(
        both.verify(&h, body, at(1_000)),
        Err(Rejection::InvalidSignature)
    );
    // A source whose only secret expired refuses everything.
    let only_old = SignatureScheme::new(format, &[old]).unwrap();
    assert_eq!(
        only_old.verify(&h, body, at(1_000)),
        Err(Rejection::NoSecret)
    );
    assert_eq!(only_old.valid_secret_count(at(1_000)), 0);
}

#[test]
fn the_timestamp_window_holds_both_ways() {
    let s = scheme(Profile::Stripe, &["whsec_stripe-secret-0123"]);
    let body = b"{\"id\":\"evt_1\"}";
    let mut h = head(&[]);
    s.sign_into(&mut h, body, at(10_000)).unwrap();
    for (now, ok) in [
        (10_000, true),
        (10_300, true),
        (10_301, false),
        (9_700, true),
        (9_699, false),
    ] {
        let verdict = s.verify(&h, body, at(now));
        assert_eq!(verdict.is_ok(), ok, "{now}: {verdict:?}");
        if !ok {
            assert_eq!(verdict, Err(Rejection::StaleTimestamp));
            // The signature itself is fine.
            assert!(s.check(&h, body, at(now)).is_ok());
        }
    }
}

#[test]
fn missing_and_malformed_parts_are_told_apart() {
    let s = scheme(Profile::StandardWebhooks, &[SW_SECRET]);
    let now = at(1_614_265_330);
    let full = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ];
    let body = br#"{"test": 2432232314}"#;
    assert!(s.verify(&head(&full), body, now).is_ok());
    let without = |name: &str| {
        head(
            &full
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        s.verify(&without("webhook-id"), body, now),
        Err(Rejection::MissingId)
    );
    assert_eq!(
        s.verify(&without("webhook-timestamp"), body, now),
        Err(Rejection::MissingTimestamp)
    );
    assert_eq!(
        s.verify(&without("webhook-signature"), body, now),
        Err(Rejection::MissingSignature)
    );
    for bad in ["-1614265330", "1614265330.5", "", "16142653300000000"] {
        let mut h = head(&full);
        h.headers.insert("webhook-timestamp", bad.parse().unwrap());
        assert_eq!(
            s.verify(&h, body, now),
            Err(Rejection::MalformedTimestamp),
            "{bad:?}"
        );
    }
    // The svix-* names are read when the webhook-* ones are absent.
    let svix: Vec<(&str, &str)> = [
        ("svix-id", full[0].1),
        ("svix-timestamp", full[1].1),
        ("svix-signature", full[2].1),
    ]
    .to_vec();
    assert!(s.verify(&head(&svix), body, now).is_ok());
}

#[test]
fn ed25519_signatures_verify_with_the_public_key_only() {
    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let public = format!("whpk_{}", BASE64.encode(signing.verifying_key().as_bytes()));
    let s = scheme(Profile::StandardWebhooks, &[&public]);
    assert_eq!(s.name(), "ed25519");
    let now = at(1_790_000_000);
    let body = b"{\"type\":\"ping\"}";
    let h = head(&[("webhook-id", "msg_1"), ("webhook-timestamp", "1790000000")]);
    let content = s.content(&h, body).unwrap();
    assert_eq!(content, b"msg_1.1790000000.{\"type\":\"ping\"}");
    let signature = BASE64.encode(signing.sign(&content).to_bytes());
    let mut signed = h.clone();
    signed.headers.insert(
        "webhook-signature",
        format!("v1,{} v1a,{signature}", "A".repeat(43) + "=")
            .parse()
            .unwrap(),
    );
    assert_eq!(s.verify(&signed, body, now).map(|v| v.key_index), Ok(0));
    assert_eq!(
        s.verify(&signed, b"{\"type\":\"pong\"}", now),
        Err(Rejection::InvalidSignature)
    );
    // A public key cannot sign, and a whsec_ secret is not a public key.
    assert_eq!(
        s.sign_into(&mut h.clone(), body, now),
        Err(SignError::NoKey)
    );
    let format = Profile::StandardWebhooks
        .format_for(&[secret(&public)])
        .unwrap();
    assert!(SignatureScheme::new(format, &[secret(SW_SECRET)]).is_err());
    // ...nor may a public key be an HMAC secret: anyone could sign with it.
    let hmac = Profile::StandardWebhooks.format().unwrap();
    assert!(SignatureScheme::new(hmac, &[secret(&public)]).is_err());
}

#[test]
fn method_and_url_can_be_signed() {
    let format = SignatureFormat {
        content: Template::parse("{method} {url}\n{body}").unwrap(),
        public_url: Some("https://hooks.example.com/".into()),
        encoding: Encoding::Base64url,
        algorithm: Algorithm::Sha512,
        ..SignatureFormat::hmac(Place::Query("sig".into()))
    };
    let s = SignatureScheme::new(format, &[secret("a-raw-secret-0123456789")]).unwrap();
    let now = at(1_790_000_000);
    let mut h = head(&[]);
    s.sign_into(&mut h, b"x", now).unwrap();
    assert!(h.uri.query().unwrap().contains("sig="), "{}", h.uri);
    assert_eq!(s.verify(&h, b"x", now).map(|v| v.key_index), Ok(0));
    let content = s.content(&h, b"x").unwrap();
    assert_eq!(content, b"POST https://hooks.example.com/hooks/x?a=1\nx");
    // Another path is another URL.
    let mut moved = h.clone();
    moved.uri = h
        .uri
        .to_string()
        .replace("/hooks/x", "/hooks/y")
        .parse()
        .unwrap();
    assert_eq!(
        s.verify(&moved, b"x", now),
        Err(Rejection::InvalidSignature)
    );
}

#[test]
fn replay_keys_differ_per_signature_and_id() {
    let s = scheme(Profile::Slack, &["slack-signing-secret-0123"]);
    let now = at(1_790_000_000);
    let mut a = head(&[]);
    s.sign_into(&mut a, b"{\"event_id\":\"1\"}", now).unwrap();
    let mut b = head(&[]);
    s.sign_into(
        &mut b,
        b"{\"event_id\":\"1\"}",
        now + Duration::from_secs(1),
    )
    .unwrap();
    let ka = s
        .verify(&a, b"{\"event_id\":\"1\"}", now)
        .unwrap()
        .replay
        .unwrap();
    let kb = s
        .verify(&b, b"{\"event_id\":\"1\"}", now)
        .unwrap()
        .replay
        .unwrap();
    assert_ne!(ka, kb);
    assert_eq!(ka.until(), now + DEFAULT_TOLERANCE);
}

#[test]
fn sign_gives_a_header_only_for_body_only_formats() {
    assert!(
        scheme(Profile::GitHub, &["a-raw-secret-0123456789"])
            .sign(b"x")
            .is_some()
    );
    assert!(
        scheme(Profile::Slack, &["a-raw-secret-0123456789"])
            .sign(b"x")
            .is_none()
    );
}

#[test]
fn a_bare_hex_format_also_takes_the_algorithm_label() {
    let now = at(1_790_000_000);
    let body = b"{\"event\":\"ticket.created\"}";
    for profile in [Profile::Homa, Profile::OpsCenter, Profile::Generic] {
        let s = scheme(profile, &["a-raw-secret-0123456789"]);
        let (name, bare) = s.sign(body).unwrap();
        let bare = bare.to_str().unwrap();
        assert!(bare.bytes().all(|b| b.is_ascii_hexdigit()), "{profile:?}");
        for value in [
            bare.to_owned(),
            format!("sha256={bare}"),
            format!("SHA256={}", bare.to_uppercase()),
        ] {
            let mut h = head(&[]);
            h.headers.insert(&name, value.parse().unwrap());
            assert!(s.verify(&h, body, now).is_ok(), "{profile:?} {value}");
        }
        // Another algorithm's label is not this one's.
        let mut h = head(&[]);
        h.headers
            .insert(&name, format!("sha1={bare}").parse().unwrap());
        assert_eq!(
            s.verify(&h, body, now).unwrap_err(),
            Rejection::MalformedSignature,
            "{profile:?}"
        );
    }
    // Base64 formats take no label: `sha256=` is not theirs.
    let s = scheme(Profile::Shopify, &["a-raw-secret-0123456789"]);
    let (name, value) = s.sign(body).unwrap();
    let mut h = head(&[]);
    h.headers.insert(
        &name,
        format!("sha256={}", value.to_str().unwrap())
            .parse()
            .unwrap(),
    );
    assert!(s.verify(&h, body, now).is_err());
}

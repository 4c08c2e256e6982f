//! Signature-header parsing: any bytes where a scheme reads its credential, its timestamp or its
//! id, for every scheme (seed senders, presets, every HMAC algorithm and encoding). Nothing may
//! panic, and a fuzzed value must never verify unless it carries the genuine one.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use hookgate::auth::Scheme;
use hookgate::auth::signature::Place;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;

static SCHEMES: OnceLock<Vec<Scheme>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let schemes = SCHEMES.get_or_init(common::schemes);
    let [mode, rest @ ..] = data else {
        return;
    };
    let Ok(value) = HeaderValue::from_bytes(rest) else {
        return;
    };
    let body = br#"{"event":"ticket.created","data":{}}"#;
    for scheme in schemes {
        let mut head = common::signed(scheme, "/hooks/fuzz?token=abc", body);
        // Which header to replace: the signature, or the timestamp or id it covers.
        let (name, covered) = match (mode % 3, scheme) {
            (1, Scheme::Signature(s)) => match s.format().timestamp.first() {
                Some(Place::Header(h)) => (h.clone(), true),
                _ => continue,
            },
            (2, Scheme::Signature(s)) => match s.format().id.first() {
                Some(Place::Header(h)) => (h.clone(), true),
                _ => continue,
            },
            _ => match scheme.credential_header() {
                Some(h) => (h.clone(), false),
                None => {
                    let _ = scheme.verify(&head, body, common::now());
                    continue;
                }
            },
        };
        let real = head.headers.get(&name).cloned();
        head.headers.insert(name, value.clone());
        if scheme.verify(&head, body, common::now()).is_err() {
            continue;
        }
        let real = real.expect("a verified request had the header");
        if covered {
            // The timestamp and id are signed: only the genuine value (blanks aside) passes.
            assert_eq!(
                value.as_bytes().trim_ascii(),
                real.as_bytes(),
                "a fuzzed covered part verified"
            );
        } else {
            assert!(
                common::carries_real_credential(scheme, real.as_bytes(), value.as_bytes()),
                "a fuzzed header verified"
            );
        }
    }
});

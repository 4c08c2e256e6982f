//! Signature-header parsing: any bytes where a scheme reads its credential, for every scheme.
//! Nothing may panic, and a random header must never verify.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use hookgate::auth::Scheme;
use http::{HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;

static SCHEMES: OnceLock<Vec<Scheme>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let schemes = SCHEMES.get_or_init(common::schemes);
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let body = br#"{"event":"ticket.created","data":{}}"#;
    let uri = Uri::from_static("/hooks/fuzz?token=abc");
    for scheme in schemes {
        let Some(name) = scheme.credential_header() else {
            let _ = scheme.verify(&HeaderMap::new(), &uri, body);
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert(name.clone(), value.clone());
        if scheme.verify(&headers, &uri, body).is_ok() {
            // Only the real credential may pass (with whatever whitespace or prefix case).
            assert!(
                common::carries_real_credential(scheme, body, value.as_bytes()),
                "a fuzzed header verified"
            );
        }
    }
});

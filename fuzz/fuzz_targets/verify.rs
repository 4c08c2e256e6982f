//! Every scheme's verify on a fuzzed request: body, credential header (sometimes the real one for
//! the body, then with one bit flipped), URI. A verified request must carry the real credential.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use hookgate::auth::Scheme;
use http::{HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;

static SCHEMES: OnceLock<Vec<Scheme>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let schemes = SCHEMES.get_or_init(common::schemes);
    let [pick, mode, flip, rest @ ..] = data else {
        return;
    };
    let scheme = &schemes[*pick as usize % schemes.len()];
    let (uri_bytes, body) = rest.split_at(rest.len().min(usize::from(*flip % 32)));
    let uri = std::str::from_utf8(uri_bytes)
        .ok()
        .and_then(|q| format!("/hooks/fuzz?{q}").parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/hooks/fuzz"));
    let mut head = common::signed(scheme, &uri.to_string(), body);
    let real = scheme
        .credential_header()
        .and_then(|name| Some((name.clone(), head.headers.get(name)?.clone())));
    if let Some((name, value)) = &real {
        match mode % 3 {
            0 => {}
            1 => {
                let mut bytes = value.as_bytes().to_vec();
                let at = usize::from(*flip) % bytes.len();
                bytes[at] ^= 1 << (flip % 8);
                match HeaderValue::from_bytes(&bytes) {
                    Ok(v) => {
                        head.headers.insert(name.clone(), v);
                    }
                    Err(_) => {
                        head.headers.remove(name);
                    }
                }
            }
            _ => {
                head.headers.append(name.clone(), value.clone());
            }
        }
    }
    let verdict = scheme.verify(&head, body, common::now());
    if verdict.is_ok() {
        if let Some((name, value)) = real {
            let presented = head.headers.get(&name).expect("verified with the header");
            assert!(
                common::carries_real_credential(scheme, value.as_bytes(), presented.as_bytes()),
                "verified with a credential that is not the real one"
            );
        }
    }
});

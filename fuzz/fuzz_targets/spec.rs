//! Spec loading: any text as an OpenAPI document (YAML or JSON). Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hookgate::spec::Spec::from_text(text, "fuzz.yaml");
    }
});

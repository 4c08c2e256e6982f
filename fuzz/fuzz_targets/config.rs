//! Config parsing: any text as `hookgate.toml`. Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hookgate::config::Config::from_toml(text, "fuzz.toml");
    }
});

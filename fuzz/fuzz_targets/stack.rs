//! The whole stack through `oneshot`: the Homa pipeline (body limit, HMAC, parse, validation
//! against the built-in spec, in-memory dedup, a router) on a fuzzed body, signed for real when
//! the first byte is even (so the fuzzer reaches the parser and the validator), with a fuzzed
//! signature otherwise. Any answer but a 5xx is fine; a panic is not.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

static STACK: OnceLock<common::Stack> = OnceLock::new();

fn stack() -> &'static common::Stack {
    STACK.get_or_init(|| common::Stack::new(None))
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, body)) = data.split_first() else {
        return;
    };
    let stack = stack();
    let body = Bytes::copy_from_slice(body);
    let request = if mode % 2 == 0 {
        hookgate::send::signed_request(&stack.source, "http://fuzz/hooks/homa", body)
            .expect("signs")
    } else {
        let mut request = Request::post("http://fuzz/hooks/homa")
            .body(Full::new(body))
            .expect("request");
        let garbage = HeaderValue::from_bytes(&data[..data.len().min(80)]);
        if let Ok(value) = garbage {
            request.headers_mut().insert("x-webhook-signature", value);
        }
        request
    };
    let answer = stack
        .runtime
        .block_on(stack.service.clone().oneshot(request))
        .expect("infallible");
    assert!(
        !answer.status().is_server_error(),
        "5xx for a fuzzed request: {}",
        answer.status()
    );
});

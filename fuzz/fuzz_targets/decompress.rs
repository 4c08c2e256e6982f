//! Opt-in decompression through the whole stack: the Homa pipeline with `gzip`/`deflate` bodies
//! inflated under a 256 KiB cap. The first byte picks the coding and whether the rest is sent
//! as-is (a fuzzed, mostly broken, compressed stream) or compressed here first and signed over
//! its plain bytes (so valid streams reach verification, the parser and the validator). Any
//! answer but a 5xx is fine; a panic is not; a valid stream is never called malformed.
#![no_main]

#[path = "common.rs"]
mod common;

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use hookgate::auth::Decompress;
use http::{HeaderValue, Request, header};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

static STACK: OnceLock<common::Stack> = OnceLock::new();

fn stack() -> &'static common::Stack {
    STACK.get_or_init(|| common::Stack::new(Some(Decompress::up_to(256 * 1024))))
}

fn compress(gzip: bool, data: &[u8]) -> Vec<u8> {
    let level = flate2::Compression::fast();
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, payload)) = data.split_first() else {
        return;
    };
    let stack = stack();
    let gzip = mode & 1 == 0;
    let valid = mode & 2 == 0;
    let (wire, mut request) = if valid {
        let signed = hookgate::send::signed_request(
            &stack.source,
            "http://fuzz/hooks/homa",
            Bytes::copy_from_slice(payload),
        )
        .expect("signs");
        (compress(gzip, payload), signed)
    } else {
        let request = Request::post("http://fuzz/hooks/homa")
            .body(Full::new(Bytes::new()))
            .expect("request");
        (payload.to_vec(), request)
    };
    *request.body_mut() = Full::new(Bytes::from(wire));
    let coding = if gzip { "gzip" } else { "deflate" };
    request
        .headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    request.headers_mut().remove(header::CONTENT_LENGTH);
    let answer = stack
        .runtime
        .block_on(stack.service.clone().oneshot(request))
        .expect("infallible");
    let status = answer.status();
    assert!(
        !status.is_server_error(),
        "5xx for a fuzzed request: {status}"
    );
    if valid && payload.len() <= 256 * 1024 {
        // Compressed here and signed over the plain bytes: never malformed, never forged.
        assert!(
            status != 401,
            "a valid stream signed over its plain bytes got 401"
        );
        let body = stack
            .runtime
            .block_on(http_body_util::BodyExt::collect(answer.into_body()))
            .expect("infallible")
            .to_bytes();
        assert!(
            !body.windows(18).any(|w| w == b"malformed_encoding"),
            "a valid {coding} stream was called malformed"
        );
    }
});

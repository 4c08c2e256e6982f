//! The whole stack through `oneshot`: the Homa pipeline (body limit, HMAC, parse, validation
//! against the built-in spec, in-memory dedup, a router) on a fuzzed body, signed for real when
//! the first byte is even (so the fuzzer reaches the parser and the validator), with a fuzzed
//! signature otherwise. Any answer but a 5xx is fine; a panic is not.
#![no_main]

#[path = "common.rs"]
mod common;

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use hookgate::source::Profile;
use hookgate::{Event, Pipeline, Router, Source};
use http::{HeaderValue, Request};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Stack {
    runtime: tokio::runtime::Runtime,
    source: Source,
    service: hookgate::pipeline::PipelineService<Router>,
}

static STACK: OnceLock<Stack> = OnceLock::new();

fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let spec = Profile::Homa.spec().expect("built in").expect("compiles");
        let source =
            Source::from_profile("homa", Profile::Homa, &common::secrets()).with_spec(spec);
        let router = Router::new().on("*", |_event: Event| async { Ok::<_, Infallible>(()) });
        let service = Pipeline::new(source.clone())
            .max_body_bytes(64 * 1024)
            .service(router);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        Stack {
            runtime,
            source,
            service,
        }
    })
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

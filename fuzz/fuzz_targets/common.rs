//! Shared by the fuzz targets: the schemes under test, with fixed secrets.

use hookgate::Secret;
use hookgate::auth::{Algorithm, Encoding, HmacScheme, Scheme};
use hookgate::source::Profile;
use http::HeaderName;

pub const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef";

pub fn secrets() -> Vec<Secret> {
    vec![
        Secret::new(SECRET.to_vec(), "fuzz").expect("long enough"),
        Secret::new(b"fuzz-rotated-secret-9876543210".to_vec(), "fuzz").expect("long enough"),
    ]
}

/// Every seed sender's scheme, and an HMAC scheme for each algorithm and encoding.
#[allow(dead_code)] // not every target uses it
pub fn schemes() -> Vec<Scheme> {
    let secrets = secrets();
    let mut all: Vec<Scheme> = Profile::SEEDS.iter().map(|p| p.scheme(&secrets)).collect();
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for encoding in [Encoding::Hex, Encoding::Base64, Encoding::Base64url] {
            all.push(Scheme::Hmac(HmacScheme::new(
                HeaderName::from_static("x-signature"),
                "sha256=",
                encoding,
                algorithm,
                &secrets,
            )));
        }
    }
    all
}

/// Whether a header value that `scheme` accepted carries the real credential for `body`: the MAC
/// (hex in any case) or the token, whatever whitespace or prefix case surrounds it. A fuzzed value
/// that verifies without it would be a forgery.
#[allow(dead_code)] // not every target uses it
pub fn carries_real_credential(scheme: &Scheme, body: &[u8], presented: &[u8]) -> bool {
    let Some((_, real)) = scheme.sign(body) else {
        return false;
    };
    let real = String::from_utf8_lossy(real.as_bytes()).into_owned();
    let essential = match scheme {
        Scheme::Hmac(h) => real.strip_prefix(h.prefix()).unwrap_or(&real).to_owned(),
        Scheme::Token(_) => real.rsplit(' ').next().unwrap_or(&real).to_owned(),
        _ => real.clone(),
    };
    String::from_utf8_lossy(presented)
        .to_ascii_lowercase()
        .contains(&essential.to_ascii_lowercase())
}

/// The Homa pipeline (body limit 64 KiB, HMAC, parse, validation against the built-in spec,
/// in-memory dedup, a router accepting everything), with `decompress` if given, on a
/// current-thread runtime: what the whole-stack targets fuzz.
#[allow(dead_code)] // not every target uses it
pub struct Stack {
    pub runtime: tokio::runtime::Runtime,
    pub source: hookgate::Source,
    pub service: hookgate::pipeline::PipelineService<hookgate::Router>,
}

#[allow(dead_code)] // not every target uses it
impl Stack {
    pub fn new(decompress: Option<hookgate::auth::Decompress>) -> Self {
        let spec = Profile::Homa.spec().expect("built in").expect("compiles");
        let source =
            hookgate::Source::from_profile("homa", Profile::Homa, &secrets()).with_spec(spec);
        let router = hookgate::Router::new().on("*", |_event: hookgate::Event| async {
            Ok::<_, std::convert::Infallible>(())
        });
        let mut pipeline = hookgate::Pipeline::new(source.clone()).max_body_bytes(64 * 1024);
        if let Some(decompress) = decompress {
            pipeline = pipeline.decompress(decompress);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        Self {
            runtime,
            source,
            service: pipeline.service(router),
        }
    }
}

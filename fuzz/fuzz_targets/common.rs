//! Shared by the fuzz targets: the schemes under test, with fixed secrets.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate::Secret;
use hookgate::auth::signature::{Place, SignatureFormat, SignatureScheme};
use hookgate::auth::{Algorithm, Encoding, Scheme};
use hookgate::source::Profile;
use http::request::Parts;

pub const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef";

/// The clock the targets sign and verify at (timestamped schemes hold requests to it).
#[allow(dead_code)] // not every target uses it
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

pub fn secrets() -> Vec<Secret> {
    vec![
        Secret::new(SECRET.to_vec(), "fuzz").expect("long enough"),
        Secret::new(b"fuzz-rotated-secret-9876543210".to_vec(), "fuzz").expect("long enough"),
    ]
}

/// Every seed sender's and preset's scheme, and an HMAC scheme for each algorithm and encoding.
#[allow(dead_code)] // not every target uses it
pub fn schemes() -> Vec<Scheme> {
    let secrets = secrets();
    let mut all: Vec<Scheme> = Profile::SEEDS
        .iter()
        .chain(Profile::PRESETS.iter())
        .filter(|p| **p != Profile::StandardWebhooks)
        .map(|p| p.scheme(&secrets))
        .collect();
    // Standard Webhooks secrets are base64 (whsec_).
    let standard = [Secret::new(
        b"whsec_ZnV6ei1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg==".to_vec(),
        "fuzz",
    )
    .expect("long enough")];
    all.push(Profile::StandardWebhooks.scheme(&standard));
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for encoding in [Encoding::Hex, Encoding::Base64, Encoding::Base64url] {
            let format = SignatureFormat {
                prefix: "sha256=".into(),
                encoding,
                algorithm,
                ..SignatureFormat::hmac(Place::header("x-signature"))
            };
            all.push(Scheme::Signature(
                SignatureScheme::new(format, &secrets).expect("a valid format"),
            ));
        }
    }
    all
}

/// A POST to `uri`, signed by `scheme` at [`now`] for `body` (unsigned if it cannot sign).
#[allow(dead_code)] // not every target uses it
pub fn signed(scheme: &Scheme, uri: &str, body: &[u8]) -> Parts {
    let (mut head, ()) = http::Request::post(uri)
        .body(())
        .unwrap_or_default()
        .into_parts();
    let _ = scheme.sign_into(&mut head, body, now());
    head
}

/// The part of a genuine credential value that nothing else can stand in for: the encoded MAC
/// (after the prefix, in the last item) or the token.
#[allow(dead_code)] // not every target uses it
pub fn essential(scheme: &Scheme, real: &str) -> String {
    match scheme {
        Scheme::Signature(s) => {
            let format = s.format();
            let last = match &format.separator {
                Some(sep) => real.rsplit(sep.as_str()).next().unwrap_or(real),
                None => real,
            };
            last.strip_prefix(format.prefix.as_str())
                .unwrap_or(last)
                .to_owned()
        }
        Scheme::Token(_) => real.rsplit(' ').next().unwrap_or(real).to_owned(),
        _ => real.to_owned(),
    }
}

/// Whether a header value that `scheme` accepted carries the real credential whose full value is
/// `real`: the MAC (hex in any case) or the token, whatever whitespace or prefix case surrounds
/// it. A fuzzed value that verifies without it would be a forgery.
#[allow(dead_code)] // not every target uses it
pub fn carries_real_credential(scheme: &Scheme, real: &[u8], presented: &[u8]) -> bool {
    let real = String::from_utf8_lossy(real).into_owned();
    String::from_utf8_lossy(presented)
        .to_ascii_lowercase()
        .contains(&essential(scheme, &real).to_ascii_lowercase())
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

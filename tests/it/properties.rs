//! Property tests of signing and verification: whatever the secret, body, algorithm and encoding,
//! what hookgate signs it verifies, and a change of one bit anywhere in what is checked is refused.

use base64::Engine;
use std::time::SystemTime;

use hookgate::auth::signature::{Place, SignatureFormat, SignatureScheme};
use hookgate::auth::{Algorithm, Encoding, Scheme, TokenLocation, TokenScheme};
use hookgate::profile::Profile;
use hookgate::{Rejection, Secret, Source};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use proptest::prelude::*;

const ALGORITHMS: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];
const ENCODINGS: [Encoding; 3] = [Encoding::Hex, Encoding::Base64, Encoding::Base64url];

fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), hookgate::auth::MIN_SECRET_BYTES..96)
}

/// One HMAC configuration under test: algorithm, encoding, optional prefix, and its secret.
#[derive(Debug, Clone)]
struct Config {
    algorithm: usize,
    encoding: usize,
    prefix: bool,
    key: Vec<u8>,
}

impl Config {
    fn scheme(&self) -> Hmac {
        hmac(
            self.algorithm,
            self.encoding,
            self.prefix,
            &[Secret::new(self.key.clone(), "prop").unwrap()],
        )
    }

    fn encoding(&self) -> Encoding {
        ENCODINGS[self.encoding]
    }
}

fn config() -> impl Strategy<Value = Config> {
    (0..3usize, 0..3usize, any::<bool>(), secret_bytes()).prop_map(
        |(algorithm, encoding, prefix, key)| Config {
            algorithm,
            encoding,
            prefix,
            key,
        },
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

/// An HMAC over the body alone in `X-Signature`, as the seed senders sign.
struct Hmac(SignatureScheme);

impl Hmac {
    fn sign(&self, body: &[u8]) -> Option<(HeaderName, HeaderValue)> {
        self.0.sign(body)
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<usize, Rejection> {
        verify(&Scheme::Signature(self.0.clone()), headers, "/", body)
    }

    fn prefix(&self) -> &str {
        &self.0.format().prefix
    }
}

fn hmac(algorithm: usize, encoding: usize, prefix: bool, secrets: &[Secret]) -> Hmac {
    let format = SignatureFormat {
        prefix: if prefix { "sha256=" } else { "" }.into(),
        encoding: ENCODINGS[encoding],
        algorithm: ALGORITHMS[algorithm],
        ..SignatureFormat::hmac(Place::header("x-signature"))
    };
    Hmac(SignatureScheme::new(format, secrets).unwrap())
}

/// `scheme`'s verdict on a POST to `uri` with `headers` and `body`, now.
fn verify(
    scheme: &Scheme,
    headers: &HeaderMap,
    uri: &str,
    body: &[u8],
) -> Result<usize, Rejection> {
    let (mut head, ()) = Request::post(uri).body(()).unwrap().into_parts();
    head.headers = headers.clone();
    scheme
        .verify(&head, body, SystemTime::now())
        .map(|v| v.key_index)
}

fn headers(pair: (HeaderName, HeaderValue)) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(pair.0, pair.1);
    map
}

fn decode(encoding: Encoding, text: &str) -> Vec<u8> {
    match encoding {
        Encoding::Hex => hex::decode(text).unwrap(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .unwrap(),
        Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .unwrap(),
    }
}

fn encode(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn what_is_signed_verifies_and_one_flipped_body_bit_does_not(
        config in config(),
        body in body(),
        flip in any::<(usize, u8)>(),
    ) {
        let scheme = config.scheme();
        let signed = headers(scheme.sign(&body).unwrap());
        prop_assert_eq!(scheme.verify(&signed, &body), Ok(0));
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.0 % body.len()] ^= 1 << (flip.1 % 8);
            prop_assert_eq!(scheme.verify(&signed, &changed), Err(Rejection::InvalidSignature));
        }
        // One byte more or less is a different body too.
        let mut longer = body.clone();
        longer.push(flip.1);
        prop_assert_eq!(scheme.verify(&signed, &longer), Err(Rejection::InvalidSignature));
    }

    #[test]
    fn one_flipped_bit_of_the_mac_is_refused(
        config in config(),
        body in body(),
        flip in any::<(usize, u8)>(),
    ) {
        // Without the prefix, so the header value is the encoded MAC alone.
        let config = Config { prefix: false, ..config };
        let scheme = config.scheme();
        let (name, value) = scheme.sign(&body).unwrap();
        let mut mac = decode(config.encoding(), value.to_str().unwrap());
        let at = flip.0 % mac.len();
        mac[at] ^= 1 << (flip.1 % 8);
        let forged = HeaderValue::from_str(&encode(config.encoding(), &mac)).unwrap();
        prop_assert_eq!(
            scheme.verify(&headers((name, forged)), &body),
            Err(Rejection::InvalidSignature)
        );
    }

    #[test]
    fn one_flipped_bit_of_the_header_text_is_refused_unless_it_means_the_same_mac(
        config in config(),
        body in body(),
        flip in any::<(usize, u8)>(),
    ) {
        let scheme = config.scheme();
        let (name, value) = scheme.sign(&body).unwrap();
        let mut text = value.as_bytes().to_vec();
        let at = flip.0 % text.len();
        text[at] ^= 1 << (flip.1 % 8);
        let Ok(changed) = HeaderValue::from_bytes(&text) else {
            return Ok(()); // not a header value at all: it never reaches the scheme
        };
        let verdict = scheme.verify(&headers((name, changed)), &body);
        // Only a change that does not change the MAC may pass: hex letters in the other case,
        // or the (optional) prefix in the other case.
        let same = value.as_bytes().eq_ignore_ascii_case(&text)
            && (config.encoding() == Encoding::Hex || at < scheme.prefix().len());
        if same {
            prop_assert_eq!(verdict, Ok(0));
        } else {
            prop_assert!(verdict.is_err(), "{:?} passed", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn every_rotated_secret_verifies_with_its_own_index(
        keys in proptest::collection::vec(secret_bytes(), 1..4),
        body in body(),
        pick in any::<usize>(),
    ) {
        let secrets: Vec<Secret> =
            keys.iter().map(|k| Secret::new(k.clone(), "prop").unwrap()).collect();
        let index = pick % secrets.len();
        let signer = hmac(1, 0, true, &secrets[index..=index]);
        let verifier = hmac(1, 0, true, &secrets);
        let signed = headers(signer.sign(&body).unwrap());
        // The first secret that matches wins (two equal random keys are as good as impossible).
        prop_assert_eq!(verifier.verify(&signed, &body), Ok(index));
    }

    #[test]
    fn a_token_verifies_and_one_flipped_bit_of_it_does_not(
        token in "[A-Za-z0-9._~-]{16,64}",
        flip in any::<(usize, u8)>(),
    ) {
        let scheme = TokenScheme::new(
            TokenLocation::Header {
                name: HeaderName::from_static("authorization"),
                prefix: "Bearer ".into(),
            },
            &[Secret::new(token.clone().into_bytes(), "prop").unwrap()],
        );
        let uri = Uri::from_static("/hooks/x");
        let now = SystemTime::now();
        let good = headers(scheme.sign().unwrap());
        prop_assert_eq!(scheme.verify(&good, &uri, now), Ok(0));
        let mut bytes = token.into_bytes();
        let at = flip.0 % bytes.len();
        bytes[at] ^= 1 << (flip.1 % 8);
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(&bytes);
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let forged = headers((HeaderName::from_static("authorization"), value));
            prop_assert!(scheme.verify(&forged, &uri, now).is_err());
        }
    }

    #[test]
    fn every_profile_verifies_its_own_signature_and_refuses_a_changed_body(
        profile in 0..Profile::SEEDS.len() + Profile::PRESETS.len(),
        key in "[A-Za-z0-9]{16,48}",
        body in body(),
        flip in any::<(usize, u8)>(),
    ) {
        let profile = Profile::SEEDS.into_iter().chain(Profile::PRESETS).nth(profile).unwrap();
        // Standard Webhooks secrets are base64 (whsec_); the others are used as they are.
        let key = if profile == Profile::StandardWebhooks {
            format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&key))
        } else {
            key
        };
        let source = Source::from_profile("p", profile, &[Secret::new(key.into_bytes(), "prop").unwrap()]);
        let scheme: &Scheme = source.scheme();
        let now = SystemTime::now();
        let (mut head, ()) = Request::post("/hooks/p").body(()).unwrap().into_parts();
        scheme.sign_into(&mut head, &body, now).unwrap();
        prop_assert_eq!(scheme.verify(&head, &body, now).map(|v| v.key_index), Ok(0));
        let covers_body = matches!(scheme, Scheme::Signature(_));
        if covers_body && !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.0 % body.len()] ^= 1 << (flip.1 % 8);
            prop_assert_eq!(
                scheme.verify(&head, &changed, now),
                Err(Rejection::InvalidSignature)
            );
        }
    }
}

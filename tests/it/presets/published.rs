//! The senders' published example vectors: each names where it is published (the sender's docs
//! or its official SDK's tests).

use super::*;

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One published vector.
pub(crate) struct Published {
    pub(crate) name: &'static str,
    /// Where it is published.
    pub(crate) source: &'static str,
    pub(crate) profile: Profile,
    /// The secret (for v1a: the public key).
    pub(crate) secret: &'static str,
    pub(crate) headers: &'static [(&'static str, &'static str)],
    pub(crate) body: &'static [u8],
    /// The clock it is checked at: its own timestamp (or any time, when it has none).
    pub(crate) at: u64,
}

/// Standard Webhooks' v1a signing seed, from its Go library's test (base64 of
/// `TESTSIGNINGKEYDONOTUSETHISFORANY`); the public key below is derived from it (and checked).
pub(crate) const SW_V1A_SEED: &str = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
pub(crate) const SW_V1A_PUBLIC: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";

/// stripe-dotnet `src/StripeTests/Resources/event_test_signature.json`: LF line ends, one
/// trailing LF (484 bytes).
pub(crate) const STRIPE_BODY: &str = r#"{
  "id": "evt_123",
  "object": "event",
  "account": "acct_123",
  "api_version": "2017-05-25",
  "created": 1533204620,
  "data": {
    "object": {
      "id": "cus_123",
      "object": "customer",
      "created": 123456789,
      "email": "test@stripe.com",
      "livemode": false,
      "metadata": {}
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_123",
    "idempotency_key": "idempotency-key-123"
  },
  "type": "customer.created"
}
"#;

pub(crate) const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

pub(crate) const OCTOKIT_SPECIAL_BODY: &str = "{\n  \"foo\": \"Foo\\n\\u001B[34mbar: \u{2665}\u{2665}\u{2665}\u{2665}\u{2665}\u{2665}\u{2665}\u{2665}\\nthis-is-lost\\u001B[0m\\u001B[2K\"\n}\n";
pub(crate) const OCTOKIT_ESCAPED_BODY: &str = "{\n  \"foo\": \"\\\\u001b\"\n}\n";

pub(crate) fn published() -> Vec<Published> {
    vec![
        Published {
            name: "standard webhooks v1, the libraries' sign test",
            source: "standard-webhooks libraries/{go,python,javascript,php} sign tests; docs.svix.com/receiving/verifying-payloads/how",
            profile: Profile::StandardWebhooks,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            headers: &[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ],
            body: br#"{"test": 2432232314}"#,
            at: 1_614_265_330,
        },
        Published {
            name: "standard webhooks v1, several signatures (v2 ignored), as the libraries test it",
            source: "standard-webhooks libraries/python/tests/test_webhooks.py (multi-signature header)",
            profile: Profile::StandardWebhooks,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            headers: &[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
                ),
            ],
            body: br#"{"test": 2432232314}"#,
            at: 1_614_265_330,
        },
        Published {
            name: "svix headers, the Rust libraries' sign test",
            source: "standard-webhooks libraries/rust/src/lib.rs test_sign = svix-webhooks rust/src/webhooks.rs test_sign",
            profile: Profile::StandardWebhooks,
            secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            headers: &[
                ("svix-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
                ("svix-timestamp", "1649367553"),
                (
                    "svix-signature",
                    "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
                ),
            ],
            body: br#"{"email":"test@example.com","username":"test_user"}"#,
            at: 1_649_367_553,
        },
        Published {
            name: "svix, the manual verification example",
            source: "docs.svix.com/receiving/verifying-payloads/how-manual (Example signatures)",
            profile: Profile::StandardWebhooks,
            secret: "whsec_plJ3nmyCDGBKInavdOK15jsl",
            headers: &[
                ("svix-id", "msg_loFOjxBNrRLzqYUf"),
                ("svix-timestamp", "1731705121"),
                (
                    "svix-signature",
                    "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
                ),
            ],
            body: br#"{"event_type":"ping","data":{"success":true}}"#,
            at: 1_731_705_121,
        },
        Published {
            name: "standard webhooks v1a (Ed25519)",
            source: "standard-webhooks libraries/go/webhook_asymmetric_test.go TestAsymmetricWebhookSign",
            profile: Profile::StandardWebhooks,
            secret: SW_V1A_PUBLIC,
            headers: &[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==",
                ),
            ],
            body: br#"{"test": 2432232314}"#,
            at: 1_614_265_330,
        },
        Published {
            name: "github, the docs' worked example",
            source: "docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries (Testing the webhook payload validation)",
            profile: Profile::GitHub,
            secret: "It's a Secret to Everybody",
            headers: &[(
                "x-hub-signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            )],
            body: b"Hello, World!",
            at: 1_790_000_000,
        },
        Published {
            name: "github, octokit sign test (compact JSON)",
            source: "octokit/webhooks-methods.js test/sign.test.ts",
            profile: Profile::GitHub,
            secret: "mysecret",
            headers: &[(
                "x-hub-signature-256",
                "sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3",
            )],
            body: br#"{"foo":"bar"}"#,
            at: 1_790_000_000,
        },
        Published {
            name: "github, octokit verify test (pretty JSON, trailing newline)",
            source: "octokit/webhooks-methods.js test/verify.test.ts",
            profile: Profile::GitHub,
            secret: "mysecret",
            headers: &[(
                "x-hub-signature-256",
                "sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
            )],
            body: b"{\n  \"foo\": \"bar\"\n}\n",
            at: 1_790_000_000,
        },
        Published {
            name: "github, octokit non-ASCII and escapes (#71)",
            source: "octokit/webhooks-methods.js test/verify.test.ts (special characters)",
            profile: Profile::GitHub,
            secret: "development",
            headers: &[(
                "x-hub-signature-256",
                "sha256=9dacf9003316b09be07df56d86a2d0d6872e42a1e6c72c3bad9ff915a7c5603e",
            )],
            body: OCTOKIT_SPECIAL_BODY.as_bytes(),
            at: 1_790_000_000,
        },
        Published {
            name: "github, octokit escaped backslash",
            source: "octokit/webhooks-methods.js test/verify.test.ts",
            profile: Profile::GitHub,
            secret: "development",
            headers: &[(
                "x-hub-signature-256",
                "sha256=87316067e2011fae39998b18c46a14d83b3e7c3ffdd88fb2ee5afb7d11288e60",
            )],
            body: OCTOKIT_ESCAPED_BODY.as_bytes(),
            at: 1_790_000_000,
        },
        Published {
            name: "stripe, stripe-dotnet's fixed signature (v0 present and ignored)",
            source: "stripe/stripe-dotnet src/StripeTests/Services/Events/EventUtilityTest.cs",
            profile: Profile::Stripe,
            secret: "webhook_secret",
            headers: &[(
                "stripe-signature",
                "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef",
            )],
            body: STRIPE_BODY.as_bytes(),
            at: 1_533_204_720,
        },
        Published {
            name: "slack, the docs' worked example",
            source: "docs.slack.dev/authentication/verifying-requests-from-slack (slackapi/python-slack-sdk test_signature_verifier.py)",
            profile: Profile::Slack,
            secret: "8f742231b10e8888abcd99yyyzzz85a5",
            headers: &[
                ("x-slack-request-timestamp", "1531420618"),
                (
                    "x-slack-signature",
                    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                ),
            ],
            body: SLACK_BODY,
            at: 1_531_420_618,
        },
        Published {
            name: "shopify, shopify-api's validate test",
            source: "Shopify/shopify-app-js packages/apps/shopify-api/lib/webhooks/__tests__/validate.test.ts",
            profile: Profile::Shopify,
            secret: "test_secret_key",
            headers: &[
                (
                    "x-shopify-hmac-sha256",
                    "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
                ),
                ("x-shopify-topic", "PRODUCTS_CREATE"),
                ("x-shopify-webhook-id", "123456789"),
            ],
            body: br#"{"foo": "bar"}"#,
            at: 1_790_000_000,
        },
    ]
    // Stripe's, Shopify's and octokit's test secrets are shorter than hookgate's default
    // minimum of 16 bytes: their sources lower it (`min_secret_bytes`), as a user must for such
    // a sender; see `short_secrets_need_an_explicit_minimum`.
}

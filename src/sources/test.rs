//! `POST /sources/{id}/test`: a signed sample event through the source's own stages.
//!
//! The sample is the spec's example of the asked event type (or the first), made a new event
//! (timestamp now, fresh id), or the body given. It is signed the way the sender would sign it:
//! with the source's current secret, or with `secret` when given (what the sender is configured
//! with: a wrong one shows up as a failed verification). Then the source's own scheme verifies
//! it, its shape parses it, its spec validates it, and its routes are matched. Nothing is
//! stored, deduplicated or delivered.

use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{SourceError, SourceRecord};
use crate::auth::Secret;
use crate::route::glob::glob_match;
use crate::source::Source;
use crate::spec::SpecValidator;
use crate::validate::{Validator, Verdict};

/// What to test with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The event type whose example to send (default: the spec's first).
    pub event: Option<String>,
    /// A body to send instead of an example (any JSON).
    pub body: Option<Value>,
    /// Sign with this secret instead of the source's own (what the sender has).
    pub secret: Option<String>,
}

/// One stage's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageVerdict {
    /// `sample`, `sign`, `verify`, `parse`, `validate` or `route`.
    pub stage: &'static str,
    /// `ok`, `failed` or `skipped` (an earlier stage failed).
    pub verdict: &'static str,
    /// What it found: the error code and message, the event type and id, the problems, the
    /// destinations.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// Every stage's verdict; `ok` when all passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    /// Whether every stage passed.
    pub ok: bool,
    /// The stages in order.
    pub stages: Vec<StageVerdict>,
}

const STAGES: [&str; 6] = ["sample", "sign", "verify", "parse", "validate", "route"];

struct Report {
    stages: Vec<StageVerdict>,
}

impl Report {
    fn ok(&mut self, stage: &'static str, detail: Value) {
        self.stages.push(StageVerdict {
            stage,
            verdict: "ok",
            detail,
        });
    }

    /// A failed stage; every later one is skipped.
    fn failed(mut self, stage: &'static str, detail: Value) -> TestReport {
        self.stages.push(StageVerdict {
            stage,
            verdict: "failed",
            detail,
        });
        for later in STAGES.iter().skip_while(|s| **s != stage).skip(1) {
            self.stages.push(StageVerdict {
                stage: later,
                verdict: "skipped",
                detail: Value::Null,
            });
        }
        TestReport {
            ok: false,
            stages: self.stages,
        }
    }
}

fn error(code: &str, message: impl Into<String>) -> Value {
    serde_json::json!({"error": code, "message": message.into()})
}

pub(super) fn run(
    record: &SourceRecord,
    source: &Source,
    request: TestRequest,
) -> Result<TestReport, SourceError> {
    let now = SystemTime::now();
    let mut report = Report { stages: Vec::new() };

    // The sample.
    let body = match (&request.body, &request.event) {
        (Some(body), _) => body.clone(),
        (None, wanted) => {
            let examples = source.examples(now);
            let found = match wanted {
                Some(kind) => examples.into_iter().find(|(k, _, _)| k == kind),
                None => examples.into_iter().next(),
            };
            match found {
                Some((_, _, body)) => body,
                None => {
                    let message = match (wanted, source.spec()) {
                        (_, None) => {
                            "the source has no spec to take an example from: pass body".to_owned()
                        }
                        (Some(kind), Some(_)) => format!("its spec has no example of {kind}"),
                        (None, Some(_)) => "its spec has no example: pass body".to_owned(),
                    };
                    return Ok(report.failed("sample", error("no_sample", message)));
                }
            }
        }
    };
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    report.ok("sample", serde_json::json!({"bytes": bytes.len()}));

    // Signed as the sender would.
    let signer = match &request.secret {
        Some(text) => {
            let min = record
                .config
                .min_secret_bytes
                .unwrap_or(crate::auth::MIN_SECRET_BYTES);
            let secret = match Secret::with_minimum(text.as_bytes().to_vec(), "test", min) {
                Ok(secret) => secret,
                Err(e) => return Ok(report.failed("sign", error("bad_secret", e.to_string()))),
            };
            let mut problems = Vec::new();
            let label = format!("source {:?}", record.config.name);
            match crate::config::build_source(
                &record.config_with_names(),
                Some(&[secret]),
                &label,
                &mut problems,
            ) {
                Some(signer) if problems.is_empty() => signer,
                _ => {
                    return Ok(report.failed("sign", error("bad_secret", problems.join("; "))));
                }
            }
        }
        None => source.clone(),
    };
    let (mut head, ()) = http::Request::post(record.path())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(())
        .unwrap_or_default()
        .into_parts();
    if let Err(e) = signer.scheme().sign_into(&mut head, &bytes, now) {
        return Ok(report.failed(
            "sign",
            error(
                "cannot_sign",
                format!("{e}; pass the sender's signature scheme's secret"),
            ),
        ));
    }
    report.ok("sign", Value::Null);

    // The source's own stages.
    match source.scheme().verify(&head, &bytes, now) {
        Ok(verdict) => report.ok("verify", serde_json::json!({"secret": verdict.key_index})),
        Err(rejection) => {
            return Ok(report.failed(
                "verify",
                error(rejection.code(), rejection_text(&rejection)),
            ));
        }
    }
    let event = match crate::parse::event_from_bytes(
        source.name(),
        source.shape(),
        &head.headers,
        bytes,
        None,
    ) {
        Ok(event) => {
            report.ok(
                "parse",
                serde_json::json!({"type": event.kind().as_str(), "id": event.id().as_str()}),
            );
            event
        }
        Err(rejection) => {
            return Ok(report.failed("parse", error(rejection.code(), rejection_text(&rejection))));
        }
    };
    match source.spec() {
        Some(spec) => {
            let validator = SpecValidator::new(spec.clone(), source.unknown_events_policy())
                .mode(source.validation_mode());
            match validator.check(&event) {
                Verdict::Valid => report.ok("validate", Value::Null),
                Verdict::Mismatched(problems) => report.ok(
                    "validate",
                    serde_json::json!({"note": "accepted with mismatches", "mismatches": problems}),
                ),
                Verdict::Invalid(problems) => {
                    return Ok(report.failed(
                        "validate",
                        serde_json::json!({"error": "invalid_event", "details": problems}),
                    ));
                }
            }
        }
        None => report.ok(
            "validate",
            serde_json::json!({"note": "no spec: not validated"}),
        ),
    }
    let kind = event.kind().as_str();
    let mut destinations: Vec<&str> = record
        .routes
        .iter()
        .filter(|r| r.events.iter().any(|p| glob_match(p, kind)))
        .map(|r| r.to.as_str())
        .collect();
    destinations.dedup();
    report.ok(
        "route",
        serde_json::json!({
            "destinations": destinations,
            "note": if destinations.is_empty() { "no route matches: it would be acknowledged and dropped" } else { "not delivered: this is a test" },
        }),
    );
    Ok(TestReport {
        ok: true,
        stages: report.stages,
    })
}

/// A rejection's message, as its JSON answer says it.
fn rejection_text(rejection: &crate::rejection::Rejection) -> String {
    rejection.message()
}

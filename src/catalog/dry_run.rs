//! `POST /sources/{id}/test`: a signed sample event through a dry run of the source's own
//! stages.
//!
//! The sample is the spec's example of the asked event type (or the first), made a new event
//! (timestamp now, fresh id), or the body given. It is signed the way the sender would sign it:
//! with the source's current secret, or with `secret` when given (what the sender is configured
//! with: a wrong one shows up as a failed verification). Then it goes through
//! [`Pipeline::dry_run`]: the very stages the source is mounted with (body cap, decompression,
//! authentication, parse, handshake, validation), with no replay cache and no dedup, and as the
//! innermost service a `DryRunSink` that matches the source's routes the way the spool sink
//! does, and says for every route why it matched or not (its type pattern, each of its
//! conditions with the value found). The report is read from what each stage answered. Nothing
//! is stored, deduplicated or delivered.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt};

use super::{SourceError, SourceRecord};
use crate::answer;
use crate::auth::Secret;
use crate::event::Event;
use crate::pipeline::{DryRunStage, DryRunTrail, Pipeline};
use crate::rejection::Rejection;
use crate::route::filter::Verdict;
use crate::spool::SpoolRoute;

/// What to try a source with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
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
    /// `sample`, `sign`, `verify` (body cap, decompression, authentication), `parse`,
    /// `validate` (handshake, validation) or `route`.
    pub stage: &'static str,
    /// `ok`, `failed` or `skipped` (an earlier stage failed).
    pub verdict: &'static str,
    /// What it found: the error code and message, the event type and id, the problems, the
    /// destinations and every route's verdict (`routes`).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// Every stage's verdict; `ok` when all passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunReport {
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
    fn failed(mut self, stage: &'static str, detail: Value) -> DryRunReport {
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
        DryRunReport {
            ok: false,
            stages: self.stages,
        }
    }

    /// Every stage passed.
    fn passed(self) -> DryRunReport {
        DryRunReport {
            ok: true,
            stages: self.stages,
        }
    }
}

fn error(code: &str, message: impl Into<String>) -> Value {
    serde_json::json!({"error": code, "message": message.into()})
}

/// Run `request` against the source of `record` through `pipeline`'s dry run, its events going
/// by `routes`.
pub(super) async fn run(
    record: &SourceRecord,
    pipeline: &Pipeline,
    routes: Vec<SpoolRoute>,
    request: DryRunRequest,
) -> Result<DryRunReport, SourceError> {
    let source = pipeline.source();
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
    let (mut head, ()) = Request::post(record.path())
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
    let service = pipeline.dry_run().layer(DryRunSink::new(routes));
    let response = match service
        .oneshot(Request::from_parts(head, Full::new(bytes)))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let trail = response
        .extensions()
        .get::<DryRunTrail>()
        .cloned()
        .unwrap_or_default();
    let routing = response.extensions().get::<Routing>().cloned();

    if !trail.passed(DryRunStage::Verify) {
        return Ok(report.failed("verify", answered(response).await));
    }
    let key_index = trail.verified().map(|v| v.key_index());
    report.ok("verify", serde_json::json!({ "secret": key_index }));

    let event = match trail.event() {
        Some(event) if trail.passed(DryRunStage::Parse) => event,
        _ => return Ok(report.failed("parse", answered(response).await)),
    };
    report.ok(
        "parse",
        serde_json::json!({"type": event.kind().as_str(), "id": event.id().as_str()}),
    );

    if !trail.passed(DryRunStage::Handshake) {
        // The handshake stage answered: a sender's endpoint check is neither validated nor
        // routed.
        report.ok(
            "validate",
            serde_json::json!({"note": "a sender's endpoint check: answered by the handshake, not validated"}),
        );
        report.ok(
            "route",
            serde_json::json!({
                "destinations": [],
                "note": "a sender's endpoint check is answered, never routed",
                "routes": [],
            }),
        );
        return Ok(report.passed());
    }
    if !trail.passed(DryRunStage::Validate) {
        return Ok(report.failed("validate", answered(response).await));
    }
    match (source.spec(), event.mismatches()) {
        (None, _) => report.ok(
            "validate",
            serde_json::json!({"note": "no spec: not validated"}),
        ),
        (Some(_), []) => report.ok("validate", Value::Null),
        (Some(_), mismatches) => report.ok(
            "validate",
            serde_json::json!({"note": "accepted with mismatches", "mismatches": mismatches}),
        ),
    }

    let Some(Routing {
        destinations,
        routes,
    }) = routing
    else {
        return Ok(report.failed("route", answered(response).await));
    };
    report.ok(
        "route",
        serde_json::json!({
            "destinations": destinations,
            "note": if destinations.is_empty() { "no route matches: it would be acknowledged and dropped" } else { "not delivered: this is a test" },
            "routes": routes,
        }),
    );
    Ok(report.passed())
}

/// What a stage answered, as its JSON body says it (a rejection's code, message and details).
async fn answered<B: Body>(response: Response<B>) -> Value {
    let status = response.status();
    let code = response
        .extensions()
        .get::<crate::observe::AnswerCode>()
        .map_or("unknown", |outcome| outcome.code());
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| error(code, format!("answered {status} with no JSON body")))
}

/// Where an event would go and why, left in the response's extensions by [`DryRunSink`].
#[derive(Debug, Clone)]
struct Routing {
    /// The destinations its routes match, each once ([`SpoolRoute::destinations`]).
    destinations: Vec<String>,
    /// Every route, matched or not, and why.
    routes: Vec<RouteVerdict>,
}

/// One route's verdict on the sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct RouteVerdict {
    /// The route's event-type pattern.
    pattern: String,
    /// Its destination.
    to: String,
    /// Whether the event goes there: the type matches and every condition holds.
    matched: bool,
    /// Whether the type matches the pattern, in words.
    #[serde(rename = "type")]
    kind: String,
    /// Each condition (`when`), held or not and why; left out for a route without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    when: Vec<Verdict>,
}

impl RouteVerdict {
    fn of(route: &SpoolRoute, event: &Event) -> Self {
        let kind = event.kind().as_str();
        let type_matches = crate::glob::matches(&route.pattern, kind);
        let when = route.filter.explain(event);
        Self {
            pattern: route.pattern.clone(),
            to: route.destination.clone(),
            // The sink's own answer, so that the two can never disagree.
            matched: route.matches(event),
            kind: format!(
                "{kind:?} {} {:?}",
                if type_matches {
                    "matches"
                } else {
                    "does not match"
                },
                route.pattern
            ),
            when,
        }
    }
}

/// The innermost service of a dry run: it stores nothing, and answers 202 as the spool sink
/// would, with the destinations the event matches ([`SpoolRoute::destinations`], the spool
/// sink's own matching) and every route's verdict.
#[derive(Debug, Clone)]
struct DryRunSink {
    routes: Arc<[SpoolRoute]>,
}

impl DryRunSink {
    fn new(routes: Vec<SpoolRoute>) -> Self {
        Self {
            routes: routes.into(),
        }
    }
}

impl<B> Service<Request<B>> for DryRunSink {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let response = match req.extensions().get::<Event>() {
            Some(event) => {
                let destinations = SpoolRoute::destinations(&self.routes, event)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                let routes = self
                    .routes
                    .iter()
                    .map(|route| RouteVerdict::of(route, event))
                    .collect();
                let mut response = answer::accepted(event.id(), event.kind());
                response.extensions_mut().insert(Routing {
                    destinations,
                    routes,
                });
                response
            }
            None => Rejection::Misconfigured.into_response(),
        };
        ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;

    fn homa() -> (SourceRecord, Pipeline) {
        let sc = SourceConfig {
            name: "tickets".into(),
            profile: "homa".into(),
            ..SourceConfig::default()
        };
        let secret = Secret::new(vec![7; 32], "test").unwrap();
        let record = SourceRecord::from_config(&sc, std::slice::from_ref(&secret));
        let mut problems = Vec::new();
        let source = crate::config::build_source(&sc, Some(&[secret]), "homa", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        (record, Pipeline::new(source.unwrap()))
    }

    fn verdicts(report: &DryRunReport) -> Vec<(&str, &str)> {
        report.stages.iter().map(|s| (s.stage, s.verdict)).collect()
    }

    #[tokio::test]
    async fn the_example_passes_every_stage_and_can_be_tried_again() {
        let (record, pipeline) = homa();
        for _ in 0..2 {
            let report = run(&record, &pipeline, Vec::new(), DryRunRequest::default())
                .await
                .unwrap();
            assert!(report.ok, "{report:?}");
            assert_eq!(report.stages[2].detail, serde_json::json!({"secret": 0}));
            assert!(report.stages[3].detail["type"].is_string(), "{report:?}");
        }
    }

    #[tokio::test]
    async fn a_refused_body_fails_where_the_stage_answered_and_says_what_it_answered() {
        let (record, pipeline) = homa();
        let request = DryRunRequest {
            body: Some(serde_json::json!({})),
            ..DryRunRequest::default()
        };
        let report = run(&record, &pipeline, Vec::new(), request).await.unwrap();
        assert!(!report.ok);
        let failed = report
            .stages
            .iter()
            .position(|s| s.verdict == "failed")
            .unwrap();
        assert!(matches!(report.stages[failed].stage, "parse" | "validate"));
        assert!(
            report.stages[failed].detail["error"].is_string(),
            "{report:?}"
        );
        assert!(
            report.stages[failed].detail["message"].is_string(),
            "{report:?}"
        );
        assert_eq!(
            verdicts(&report)[..3],
            [("sample", "ok"), ("sign", "ok"), ("verify", "ok")]
        );
        assert!(
            report.stages[failed + 1..]
                .iter()
                .all(|s| s.verdict == "skipped")
        );
    }
}

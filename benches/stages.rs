//! Where the time of one request goes: each stage of the pipeline alone, then the whole stack.
//!
//! Run everything with `cargo bench --bench stages` (about two minutes), or one stage with a
//! filter: `cargo bench --bench stages -- verify` (also `parse`, `validate`, `dedup`, `route`,
//! `stack`). Plots are off; add `-- --plotting-backend plotters` for the HTML report in
//! `target/criterion/report/`. Medians are in `target/criterion/<group>/<bench>/new/estimates.json`.
//!
//! Bodies are Homa `ticket.created` events (the documented example's fields plus a long
//! multi-line `description`, which the spec does not declare and so accepts as an extra field),
//! padded to about 1 KB and 64 KB. Each body is checked once before timing: it verifies, parses,
//! validates, and the whole stack answers it with 202. Groups, each with the 1 KB and 64 KB case:
//!
//! * `verify`: [`Scheme::verify`] on a signed request: Homa's HMAC-SHA256 (hex), and NinjaRMM's
//!   static bearer token as a contrast (it never reads the body).
//! * `parse`: [`hookgate::parse::event_from_bytes`] (`parse/homa`): JSON to the sonic-rs tree the
//!   pipeline reads, the event type, and Homa's composite id (a SHA-256 over the canonical form of
//!   `event`, `timestamp`, `data`); its parts alone, `parse/sonic_rs` and `parse/id` (the id over a
//!   `serde_json::Value`); and `parse/serde_json`, the parse hookgate did before, for comparison.
//! * `validate`: the profile's [`SpecValidator`] on the parsed event (Homa; NinjaRMM and NinjaOne
//!   at 64 KB only, since `benches/validate.rs` covers them at 1 KB).
//! * `dedup`: [`MemoryStore`] claim + commit of a fresh key (a miss) and the claim of a committed
//!   key (a hit), each including the key's derivation; [`DurableStore`] over a [`Spool`] in a temp
//!   directory: a hit, one claim + commit at a time (one fsync each) and 64 concurrent claim +
//!   commit per iteration (sharing the group commit's fsyncs). The dedup key does not depend on the
//!   body, so these are measured once.
//! * `route`: [`Router::dispatch`] of the event to no-op handlers (a few exact and glob routes, two
//!   of which match).
//! * `stack`: `Pipeline::new(source).service(router)` through `tower::ServiceExt::oneshot`, memory
//!   dedup; each request carries a new `ticket_id` (so dedup misses) and is built and signed
//!   outside the timed part.
//! * `observe`: the same 1 KB homa stack without the Observe stage, with it and nothing installed,
//!   and with it as `hookgate serve` runs it (Prometheus recorder, info-level subscriber).

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use hookgate::auth::Scheme;
use hookgate::dedup::{Claimed, DedupKey, DedupStore, MemoryStore};
use hookgate::profile::Profile;
use hookgate::spec::SpecValidator;
use hookgate::spool::{DurableStore, Spool};
use hookgate::validate::Validator;
use hookgate::{Event, EventId, Pipeline, Router, Secret, Source};
use http::{HeaderMap, Request, Uri};
use http_body_util::Full;
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::time::Instant;
use tower::ServiceExt;

const SECRET: &[u8] = b"bench-secret-0123456789abcdef";
const SIZES: [(&str, usize); 2] = [("1KB", 1024), ("64KB", 64 * 1024)];
const URL: &str = "http://bench/hooks/homa";
/// Requests built and signed (untimed) before each timed run of the stack.
const CHUNK: u64 = 64;
const IN_FLIGHT: u64 = 64;

fn secret() -> Secret {
    Secret::new(SECRET.to_vec(), "bench").expect("secret")
}

fn source(profile: Profile) -> Source {
    Source::from_profile(profile.name(), profile, &[secret()])
}

/// Homa `ticket.created` bodies of about `size` bytes, differing only in `ticket_id`.
struct HomaBodies {
    prefix: &'static str,
    suffix: String,
}

impl HomaBodies {
    fn new(size: usize) -> Self {
        let prefix =
            r#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":"#;
        let suffix = |description: &str| {
            format!(
                r#","title":"Login issue on the mobile app","client_id":"c4ae2903-1127-4229-9e20-3225990af447","department_id":5,"channel_id":"web","status":"new","priority":"medium","description":{}}}}}"#,
                serde_json::to_string(description).expect("json")
            )
        };
        // What a customer types: lines of prose, so the string has escapes (\n) to decode.
        let line = "Since this morning's update the app logs me out as soon as I open a ticket; \
                    clearing the cache and reinstalling did not help. Steps and logs below.\n";
        let fixed = prefix.len() + "1000000".len() + suffix("").len();
        let mut description = String::new();
        while fixed + serde_json::to_string(&description).expect("json").len() < size {
            description.push_str(line);
        }
        // Trim to the size (the text is ASCII); each \n costs one extra byte escaped.
        while fixed + serde_json::to_string(&description).expect("json").len() > size {
            description.pop();
        }
        Self {
            prefix,
            suffix: suffix(&description),
        }
    }

    fn body(&self, ticket_id: u64) -> Bytes {
        Bytes::from(format!("{}{ticket_id}{}", self.prefix, self.suffix))
    }
}

/// A 1 KB or 64 KB sample of another profile, padded with an unknown property like
/// `benches/validate.rs` does.
fn padded_sample(profile: Profile, event: &str, size: usize) -> Bytes {
    let mut value = profile
        .sample(Some(event), SystemTime::now())
        .expect("example");
    let len = serde_json::to_vec(&value).expect("json").len();
    if len < size {
        value["note"] = Value::from("x".repeat(size - len - 10));
    }
    Bytes::from(serde_json::to_vec(&value).expect("json"))
}

fn signed_headers(scheme: &Scheme, body: &[u8]) -> HeaderMap {
    let (name, value) = scheme.sign(body).expect("sign");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("value"),
    );
    headers.insert(name, value);
    headers
}

fn parse(source: &Source, headers: &HeaderMap, body: &Bytes) -> Event {
    hookgate::parse::event_from_bytes(source.name(), source.shape(), headers, body.clone(), None)
        .expect("parses")
}

fn validator(source: &Source) -> SpecValidator {
    let spec = source.spec().expect("built-in spec");
    SpecValidator::new(Arc::clone(spec), source.unknown_events_policy())
}

fn router() -> Router {
    let ok = |_event: Event| async { Ok::<_, Infallible>(()) };
    Router::new()
        .on("ticket.created", ok)
        .on("ticket.*", ok)
        .on("ticket.closed", ok)
        .on("*.status_changed", ok)
        .on("webhook.test", ok)
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The answer of a store that answers without waiting (memory, and durable claims).
fn ready<T>(answer: BoxFuture<'_, T>) -> T {
    answer.now_or_never().expect("the store answers at once")
}

fn verify(c: &mut Criterion) {
    let uri: Uri = URL.parse().expect("uri");
    let bodies = SIZES.map(|(label, size)| (label, HomaBodies::new(size).body(1)));
    let mut group = c.benchmark_group("verify");
    // The token first: it never reads the body, so bytes per second would mean nothing. Then
    // HMAC over the body alone (Homa), and over "{id}.{timestamp}.{body}" with a timestamp window
    // (Standard Webhooks): what reading the extra headers and pieces costs.
    let standard = Source::from_profile(
        "sw",
        Profile::StandardWebhooks,
        &[
            Secret::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec(), "bench")
                .expect("secret"),
        ],
    );
    let sources = [
        (Profile::NinjaRmm.name(), source(Profile::NinjaRmm)),
        (Profile::Homa.name(), source(Profile::Homa)),
        (Profile::StandardWebhooks.name(), standard),
    ];
    for (name, source) in &sources {
        let scheme = source.scheme();
        for (label, body) in &bodies {
            let now = std::time::SystemTime::now();
            let (mut head, ()) = http::Request::post(uri.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(())
                .expect("request")
                .into_parts();
            scheme.sign_into(&mut head, body, now).expect("sign");
            assert_eq!(
                scheme.verify(&head, body, now).expect("verifies").key_index,
                0
            );
            if !matches!(**scheme, Scheme::Token(_)) {
                group.throughput(Throughput::Bytes(body.len() as u64));
            }
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter(|| scheme.verify(black_box(&head), black_box(body), now))
            });
        }
    }
    group.finish();
}

fn parse_stage(c: &mut Criterion) {
    let source = source(Profile::Homa);
    let mut group = c.benchmark_group("parse");
    for (label, size) in SIZES {
        let body = HomaBodies::new(size).body(1);
        let headers = signed_headers(source.scheme(), &body);
        assert_eq!(
            parse(&source, &headers, &body).kind().as_str(),
            "ticket.created"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        // The parts: the JSON alone, and the composite id over the parsed value.
        group.bench_function(format!("sonic_rs/{label}"), |b| {
            b.iter(|| sonic_rs::from_slice::<sonic_rs::Value>(black_box(&body)).expect("json"))
        });
        group.bench_function(format!("serde_json/{label}"), |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&body)).expect("json"))
        });
        let json: Value = serde_json::from_slice(&body).expect("json");
        group.bench_function(format!("id/{label}"), |b| {
            b.iter(|| source.shape().id_of(&headers, black_box(&json), &body))
        });
        group.bench_function(format!("homa/{label}"), |b| {
            b.iter(|| {
                hookgate::parse::event_from_bytes(
                    source.name(),
                    source.shape(),
                    black_box(&headers),
                    black_box(body.clone()),
                    None,
                )
            })
        });
    }
    group.finish();
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    let homa = SIZES
        .map(|(label, size)| (Profile::Homa, label, HomaBodies::new(size).body(1)))
        .to_vec();
    // The heaviest schema (a 680-value extensible enum) and an enveloped one, at 64 KB.
    let others = [
        (Profile::NinjaRmm, "CONDITION.TRIGGERED"),
        (Profile::NinjaOne, "ALERT_TRIGGERED"),
    ]
    .map(|(profile, event)| (profile, "64KB", padded_sample(profile, event, 64 * 1024)));
    for (profile, label, body) in homa.into_iter().chain(others) {
        let source = source(profile);
        let validator = validator(&source);
        let event = parse(&source, &signed_headers(source.scheme(), &body), &body);
        assert!(
            source.spec().expect("spec").knows(event.kind().as_str()),
            "{profile:?} {}",
            event.kind()
        );
        assert_eq!(validator.validate(&event), Ok(()), "{profile:?} {label}");
        group.bench_function(format!("{}/{label}", profile.name()), |b| {
            b.iter(|| validator.validate(black_box(&event)))
        });
    }
    group.finish();
}

fn dedup(c: &mut Criterion) {
    let next = AtomicU64::new(0);
    // Homa's ids are SHA-256 hex digests; a fresh one per iteration, made outside the timing.
    let fresh_id = || EventId::new(format!("{:064x}", next.fetch_add(1, Ordering::Relaxed)));
    let mut group = c.benchmark_group("dedup");

    let memory = MemoryStore::new();
    group.bench_function("memory/miss_claim_commit", |b| {
        b.iter_batched(
            fresh_id,
            |id| {
                let key = DedupKey::new("homa", &id);
                let Ok(Claimed::New(claim)) = ready(memory.claim(key)) else {
                    panic!("a fresh key is new");
                };
                ready(memory.commit(&claim)).expect("commit");
            },
            BatchSize::SmallInput,
        )
    });
    let seen = fresh_id();
    let Ok(Claimed::New(claim)) = ready(memory.claim(DedupKey::new("homa", &seen))) else {
        panic!("new");
    };
    ready(memory.commit(&claim)).expect("commit");
    group.bench_function("memory/hit_claim", |b| {
        b.iter(|| {
            let key = DedupKey::new("homa", black_box(&seen));
            let answer = ready(memory.claim(key));
            assert_eq!(answer, Ok(Claimed::Duplicate));
        })
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("hookgate-bench-stages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = Arc::new(Spool::open(&dir).expect("spool"));
    let durable = DurableStore::new(spool, Duration::from_secs(3600), Duration::from_secs(60));
    let claim_commit = |id: EventId| {
        let durable = &durable;
        async move {
            let Ok(Claimed::New(claim)) = durable.claim(DedupKey::new("homa", &id)).await else {
                panic!("a fresh key is new");
            };
            durable.commit(&claim).await.expect("commit");
        }
    };
    let seen = fresh_id();
    runtime.block_on(claim_commit(seen.clone()));
    assert_eq!(
        runtime.block_on(durable.claim(DedupKey::new("homa", &seen))),
        Ok(Claimed::Duplicate)
    );
    group.bench_function("durable/hit_claim", |b| {
        b.iter(|| {
            let key = DedupKey::new("homa", black_box(&seen));
            ready(durable.claim(key))
        })
    });
    group.sample_size(20);
    group.bench_function("durable/miss_claim_commit_1", |b| {
        b.iter_batched(
            fresh_id,
            |id| runtime.block_on(claim_commit(id)),
            BatchSize::SmallInput,
        )
    });
    group.throughput(Throughput::Elements(IN_FLIGHT));
    group.bench_function("durable/miss_claim_commit_64_in_flight", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ids: Vec<EventId> = (0..IN_FLIGHT).map(|_| fresh_id()).collect();
                let start = Instant::now();
                runtime.block_on(join_all(ids.into_iter().map(claim_commit)));
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
    drop(durable);
    let _ = std::fs::remove_dir_all(&dir);
}

fn route(c: &mut Criterion) {
    let runtime = current_thread();
    let source = source(Profile::Homa);
    let router = router();
    assert_eq!(
        router.matching("ticket.created"),
        ["ticket.created", "ticket.*"]
    );
    let mut group = c.benchmark_group("route");
    for (label, size) in SIZES {
        let body = HomaBodies::new(size).body(1);
        let event = parse(&source, &signed_headers(source.scheme(), &body), &body);
        group.bench_function(format!("homa/{label}"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        router.dispatch(black_box(event.clone())).await.expect("ok");
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// Time `iters` requests made by `request` through `service` one after another (built in chunks
/// outside the timed part), each of which must be accepted.
fn accept_all<S, B>(
    runtime: &Runtime,
    service: &S,
    iters: u64,
    mut request: impl FnMut() -> Request<Full<Bytes>>,
) -> Duration
where
    S: tower::Service<Request<Full<Bytes>>, Response = http::Response<B>, Error = Infallible>
        + Clone,
{
    runtime.block_on(async {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(CHUNK);
            left -= n;
            let requests: Vec<_> = (0..n).map(|_| request()).collect();
            let start = Instant::now();
            for req in requests {
                let answer = service.clone().oneshot(req).await.expect("infallible");
                assert_eq!(answer.status(), 202);
            }
            total += start.elapsed();
        }
        total
    })
}

fn stack(c: &mut Criterion) {
    let runtime = current_thread();
    let source = source(Profile::Homa);
    let service = Pipeline::new(source.clone()).service(router());
    let next = AtomicU64::new(1);
    let request = |bodies: &HomaBodies| -> Request<Full<Bytes>> {
        let body = bodies.body(next.fetch_add(1, Ordering::Relaxed));
        hookgate::send::signed_request(&source, URL, body).expect("request")
    };
    let mut group = c.benchmark_group("stack");
    group.sample_size(30);
    for (label, size) in SIZES {
        let bodies = HomaBodies::new(size);
        let len = bodies.body(1).len();
        let (accepted, duplicate) = runtime.block_on(async {
            let body = bodies.body(0);
            let signed = || hookgate::send::signed_request(&source, URL, body.clone());
            let (req, again) = (signed().expect("request"), signed().expect("request"));
            let first = service.clone().oneshot(req).await.expect("infallible");
            let again = service.clone().oneshot(again).await.expect("infallible");
            (first.status(), again.status())
        });
        assert_eq!((accepted.as_u16(), duplicate.as_u16()), (202, 200));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("homa/{label}"), |b| {
            b.iter_custom(|iters| accept_all(&runtime, &service, iters, || request(&bodies)))
        });
    }
    group.finish();
}

/// What the Observe stage (span + metrics per request) costs: the homa stack at 1 KB without it,
/// with it and nothing installed (a library user without a recorder or subscriber), and with it as
/// `hookgate serve` runs it (a Prometheus recorder and an info-level log subscriber, writing to a
/// sink). The last installs process-wide state, so this group runs last.
fn observe(c: &mut Criterion) {
    let runtime = current_thread();
    let source = source(Profile::Homa);
    let observed = Pipeline::new(source.clone()).service(router());
    let bare = Pipeline::new(source.clone()).service(router()).into_inner();
    let next = AtomicU64::new(1);
    let bodies = HomaBodies::new(1024);
    let mut group = c.benchmark_group("observe");
    group.sample_size(30);
    let request = || {
        let body = bodies.body(next.fetch_add(1, Ordering::Relaxed));
        hookgate::send::signed_request(&source, URL, body).expect("request")
    };
    macro_rules! run {
        ($name:expr, $service:expr) => {
            group.bench_function($name, |b| {
                b.iter_custom(|iters| accept_all(&runtime, &$service, iters, request))
            });
        };
    }
    run!("homa_1KB/without_observe", bare);
    run!("homa_1KB/observe_nothing_installed", observed);
    hookgate::metrics::install_prometheus().expect("the only recorder");
    run!("homa_1KB/observe_recorder_only", observed);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .try_init();
    run!("homa_1KB/observe_as_serve_runs_it", observed);
    run!("homa_1KB/without_observe_stages_still_recorded", bare);
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots (and the HTML report) take longer than the measurements on a small machine; ask for
    // them with `-- --plotting-backend plotters`.
    config = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify, parse_stage, validate, dedup, route, stack, observe
}
criterion_main!(benches);

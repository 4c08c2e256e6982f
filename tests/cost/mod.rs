//! What one request costs, stage by stage, in a form both the allocation budget test
//! (`tests/alloc.rs`, a counting allocator) and the instruction probe (`examples/cost_probe.rs`
//! under callgrind, `bench/instructions.sh`) run: the same inputs, the same services.
//!
//! The request is `bench/load.sh`'s: one fixed 1 KB Homa `ticket.created` body, signed once
//! (HMAC-SHA256 hex), with a new `X-Request-Id` per request (the event id, so memory dedup misses
//! and the event is accepted, 202). Each case is prepared for `n` operations first (requests
//! built, events parsed, ids made) and then [`Cost::run`] does only the `n` operations, so a
//! caller that counts around `run` counts the operations and nothing else. Fixed costs of a run
//! (the runtime's first poll, a table's first growth) cancel when two runs of different `n` are
//! subtracted, which is how both callers take a per-operation figure.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::FutureExt;
use hookgate::config::{Config, IdPlaceConfig, SourceConfig};
use hookgate::dedup::{Claimed, DedupKey, DedupStore, MemoryStore};
use hookgate::rate::{IngestLimits, Rate};
use hookgate::route::Filter;
use hookgate::route::filter::ConditionSpec;
use hookgate::spec::SpecValidator;
use hookgate::validate::Validator;
use hookgate::{Event, EventId, Gateway, Pipeline, Router, Source};
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// The shared secret of the cost runs (a test value).
pub const SECRET: &str = "cost-secret-0123456789abcdef";
const URL: &str = "http://cost/hooks/homa";
const ID_HEADER: &str = "x-request-id";

/// One thing measured per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The signature check on the raw bytes (`Scheme::verify`).
    Verify,
    /// The body to the parsed tree, the type and the id (`parse::event_from_bytes`).
    Parse,
    /// The event against the Homa spec (`SpecValidator`).
    Validate,
    /// A memory dedup claim and commit of a new id.
    Dedup,
    /// The event to its no-op handler (`Router::dispatch`).
    Route,
    /// [`Case::Route`] behind a route with two conditions on the body that hold
    /// (`Router::on_filtered`): what a route's `when` costs per event.
    Filtered,
    /// The library pipeline, as `examples/bench_server.rs` serves it: `Gateway` + `Pipeline`
    /// (observe, limit, verify, parse, validate, memory dedup) + a no-op handler.
    Library,
    /// [`Case::Library`] with ingest limits that are never reached (`rate::IngestLimits`): what
    /// a source's limit costs per request.
    Limited,
    /// The stack `hookgate serve` runs in memory mode (`bench/hookgate-memory.toml`), built by
    /// `app::build` from a configuration, with the Prometheus recorder and an info-level
    /// subscriber installed as the binary installs them (so run it last: they stay installed).
    Serve,
}

impl Case {
    /// Every case, stages first.
    pub const ALL: [Case; 9] = [
        Case::Verify,
        Case::Parse,
        Case::Validate,
        Case::Dedup,
        Case::Route,
        Case::Filtered,
        Case::Library,
        Case::Limited,
        Case::Serve,
    ];

    /// The case's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Case::Verify => "verify",
            Case::Parse => "parse",
            Case::Validate => "validate",
            Case::Dedup => "dedup",
            Case::Route => "route",
            Case::Filtered => "filtered",
            Case::Library => "library",
            Case::Limited => "limited",
            Case::Serve => "serve",
        }
    }

    /// The case named `name`.
    pub fn from_name(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Inputs for `n` operations of one case.
pub enum Prepared {
    Heads(Vec<http::request::Parts>),
    Bodies(Vec<(HeaderMap, Bytes)>),
    Events(Vec<Event>),
    Keys(Vec<DedupKey>),
    Requests(Vec<Request<Full<Bytes>>>),
}

/// The services and inputs of the cost runs.
pub struct Cost {
    runtime: Runtime,
    source: Source,
    body: Bytes,
    signature: (HeaderName, HeaderValue),
    validator: SpecValidator,
    store: MemoryStore,
    router: Router,
    filtered: Router,
    library: Gateway<Full<Bytes>>,
    limited: Gateway<Full<Bytes>>,
    serve: Gateway<Full<Bytes>>,
    next: u64,
    _dir: TempDir,
}

impl Cost {
    /// Build every service once.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = TempDir::new();
        let secret_file = dir.0.join("secret");
        std::fs::write(&secret_file, SECRET).expect("secret file");
        let secret_ref = format!("file:{}", secret_file.display());
        let config = SourceConfig {
            name: "homa".into(),
            profile: "homa".into(),
            secrets: vec![hookgate::auth::SecretEntry::Ref(secret_ref.clone())],
            event_id: Some(vec![IdPlaceConfig::Single("header:X-Request-Id".into())]),
            ..SourceConfig::default()
        };
        let source = hookgate::config::source_from_config(&config).expect("source");
        let body = homa_body(1024);
        let signature = source.scheme().sign(&body).expect("homa signs");
        let spec = source.spec().expect("built-in spec");
        let validator = SpecValidator::new(Arc::clone(spec), source.unknown_events_policy());
        let router = Router::new().on("*", |_event: Event| async { Ok::<_, Infallible>(()) });
        let when: Vec<ConditionSpec> = serde_json::from_value(serde_json::json!([
            {"pointer": "/data/priority", "one_of": ["medium", "high", "urgent"]},
            {"pointer": "/data/ticket_id", "gte": 1000},
        ]))
        .expect("conditions");
        let filtered = Router::new().on_filtered(
            "ticket.*",
            Filter::parse(&when).expect("conditions"),
            |_event: Event| async { Ok::<_, Infallible>(()) },
        );
        let library = Gateway::new().mount(
            "/hooks/homa",
            Pipeline::new(source.clone()).service(router.clone()),
        );
        let never = Rate::new(1e9, 1_000_000_000).expect("rate");
        let limited = Gateway::new().mount(
            "/hooks/homa",
            Pipeline::new(source.clone())
                .ingest_limits(IngestLimits::new(never))
                .service(router.clone()),
        );
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/hookgate-memory.toml"),
        )
        .expect("bench/hookgate-memory.toml")
        .replace("env:BENCH_SECRET", &secret_ref)
        .replace(
            "hookgate-bench-data",
            &dir.0.join("data").display().to_string(),
        );
        let config = Config::from_toml(&text, "bench/hookgate-memory.toml").expect("config");
        let serve = {
            let _guard = runtime.enter();
            hookgate::app::build::<Full<Bytes>>(&config, "cost", None)
                .expect("the memory-mode configuration builds")
                .gateway
        };
        Self {
            runtime,
            source,
            body,
            signature,
            validator,
            store: MemoryStore::new(),
            router,
            filtered,
            library,
            limited,
            serve,
            next: 0,
            _dir: dir,
        }
    }

    fn request(&mut self) -> Request<Full<Bytes>> {
        self.next += 1;
        Request::post(URL)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(self.signature.0.clone(), self.signature.1.clone())
            .header(ID_HEADER, format!("cost-{:016}", self.next))
            .body(Full::new(self.body.clone()))
            .expect("request")
    }

    fn event(&mut self) -> Event {
        let (head, _) = self.request().into_parts();
        hookgate::parse::event_from_bytes(
            self.source.name(),
            self.source.shape(),
            &head.headers,
            self.body.clone(),
            None,
        )
        .expect("the body parses")
    }

    /// Inputs for `n` operations of `case`, made outside what [`run`](Self::run) does.
    pub fn prepare(&mut self, case: Case, n: usize) -> Prepared {
        match case {
            Case::Verify => {
                Prepared::Heads((0..n).map(|_| self.request().into_parts().0).collect())
            }
            Case::Parse => Prepared::Bodies(
                (0..n)
                    .map(|_| (self.request().into_parts().0.headers, self.body.clone()))
                    .collect(),
            ),
            Case::Validate | Case::Route | Case::Filtered => {
                Prepared::Events((0..n).map(|_| self.event()).collect())
            }
            Case::Dedup => Prepared::Keys(
                (0..n)
                    .map(|_| {
                        self.next += 1;
                        DedupKey::new("homa", &EventId::new(format!("cost-{:016}", self.next)))
                    })
                    .collect(),
            ),
            Case::Library | Case::Limited => {
                Prepared::Requests((0..n).map(|_| self.request()).collect())
            }
            Case::Serve => {
                as_serve_runs();
                Prepared::Requests((0..n).map(|_| self.request()).collect())
            }
        }
    }

    /// Do the prepared operations of `case`, each checked (a failure panics: a cost run that
    /// refused its requests would measure the wrong thing).
    pub fn run(&self, case: Case, prepared: Prepared) {
        let now = SystemTime::now();
        match (case, prepared) {
            (Case::Verify, Prepared::Heads(heads)) => {
                for head in heads {
                    self.source
                        .scheme()
                        .verify(&head, &self.body, now)
                        .expect("verifies");
                }
            }
            (Case::Parse, Prepared::Bodies(bodies)) => {
                for (headers, body) in bodies {
                    hookgate::parse::event_from_bytes(
                        self.source.name(),
                        self.source.shape(),
                        &headers,
                        body,
                        None,
                    )
                    .expect("parses");
                }
            }
            (Case::Validate, Prepared::Events(events)) => {
                for event in events {
                    assert_eq!(self.validator.validate(&event), Ok(()));
                }
            }
            (Case::Route | Case::Filtered, Prepared::Events(events)) => {
                let router = match case {
                    Case::Route => &self.router,
                    _ => &self.filtered,
                };
                self.runtime.block_on(async {
                    for event in events {
                        router.dispatch(event).await.expect("handled");
                    }
                })
            }
            (Case::Dedup, Prepared::Keys(keys)) => {
                for key in keys {
                    let claimed = self.store.claim(key).now_or_never().expect("at once");
                    let Ok(Claimed::New(claim)) = claimed else {
                        panic!("a new id is new");
                    };
                    self.store
                        .commit(&claim)
                        .now_or_never()
                        .expect("at once")
                        .expect("committed");
                }
            }
            (Case::Library | Case::Limited | Case::Serve, Prepared::Requests(requests)) => {
                let service = match case {
                    Case::Library => &self.library,
                    Case::Limited => &self.limited,
                    _ => &self.serve,
                };
                self.runtime.block_on(async {
                    for request in requests {
                        let answer = service.clone().oneshot(request).await.expect("infallible");
                        assert_eq!(answer.status(), 202);
                    }
                })
            }
            (case, _) => panic!("inputs prepared for another case than {case:?}"),
        }
    }
}

impl Default for Cost {
    fn default() -> Self {
        Self::new()
    }
}

/// Install what `hookgate serve` installs before it serves: the Prometheus recorder (metrics are
/// recorded from then on, by every stack in this process) and an info-level subscriber (writing
/// nowhere: what is measured is making the spans and events, not printing them). Once.
fn as_serve_runs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = hookgate::metrics::install_prometheus();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(std::io::sink)
            .try_init();
    });
}

/// A 1 KB Homa `ticket.created` body (the documented example's fields and a description).
fn homa_body(size: usize) -> Bytes {
    let head = r#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":1000001,"title":"Login issue on the mobile app","client_id":"c4ae2903-1127-4229-9e20-3225990af447","department_id":5,"channel_id":"web","status":"new","priority":"medium","description":""#;
    let tail = "\"}}";
    let line = "Since this morning's update the app logs me out as soon as I open a ticket. ";
    let mut description = String::new();
    while head.len() + description.len() + tail.len() < size {
        description.push_str(line);
    }
    description.truncate(size - head.len() - tail.len());
    Bytes::from(format!("{head}{description}{tail}"))
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "hookgate-cost-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

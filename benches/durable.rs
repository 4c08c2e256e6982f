//! Durable mode (spool: event fsync'd before the 202, group commit) against in-memory mode, in one
//! run: the full pipeline through `tower::ServiceExt::oneshot`, 64 requests in flight per
//! iteration (group commit only pays when requests are concurrent). Report the ratio of the two
//! throughputs. `cargo bench --bench durable`.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::config::{Config, RouteConfig, SourceConfig};
use hookgate::gateway::Gateway;
use hookgate::spool::Spool;
use http_body_util::Full;

fn setup(dir: &std::path::Path, durable: bool) -> (Gateway<Full<Bytes>>, hookgate::Source) {
    std::fs::create_dir_all(dir).expect("dir");
    let secret = dir.join("secret");
    std::fs::write(&secret, "bench-secret-0123456789abcdef").expect("secret");
    let source = SourceConfig {
        name: "homa".into(),
        profile: "homa".into(),
        secrets: vec![hookgate::auth::SecretEntry::Ref(format!(
            "file:{}",
            secret.display()
        ))],
        ..SourceConfig::default()
    };
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.sources = vec![source.clone()];
    // Delivered to an upstream that never answers in time would retry in the background; no
    // route keeps the comparison to accepting: verify, parse, validate, dedup, (persist), 202.
    config.routes = Vec::<RouteConfig>::new();
    let spool = durable.then(|| Arc::new(Spool::open(&config.spool_path()).expect("spool")));
    let app = hookgate::app::build(&config, "bench", spool).expect("config");
    let source = hookgate::config::source_from_config(&source).expect("source");
    (app.gateway, source)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = std::env::temp_dir().join(format!("hookgate-bench-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let counter = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("accept_64_in_flight");
    group.throughput(Throughput::Elements(common::IN_FLIGHT));
    group.measurement_time(Duration::from_secs(8));
    for (name, durable) in [("memory", false), ("durable", true)] {
        let (gateway, source) = {
            let _guard = runtime.enter();
            setup(&base.join(name), durable)
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                common::accept_rounds(&runtime, &gateway, &source, &counter, iters)
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&base);
}

criterion_group!(benches, bench);
criterion_main!(benches);

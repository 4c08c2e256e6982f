//! The cost of scaling out, in one run: the full pipeline with in-memory dedup and no hand-off
//! (the baseline) against Redis dedup plus a JetStream publish acknowledged before the 202 (spool
//! off, so each request pays both round trips), and against Redis dedup with the spool on (the
//! default: the 202 after the fsync'd group commit, the publish afterwards), 64 requests in
//! flight per iteration. Report the ratios of the throughputs. Needs Redis on 127.0.0.1:6379 and NATS with JetStream on
//! 127.0.0.1:4222; `cargo bench --bench scale`.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::config::{Config, RouteConfig, SourceConfig};
use hookgate::gateway::Gateway;
use http_body_util::Full;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Memory,
    RedisJetStream,
    RedisSpool,
}

fn setup(
    dir: &std::path::Path,
    mode: Mode,
    stream: &str,
) -> (
    Gateway<Full<Bytes>>,
    hookgate::Source,
    Option<Arc<hookgate::delivery::Deliverer>>,
) {
    std::fs::create_dir_all(dir).expect("dir");
    let secret = dir.join("secret");
    std::fs::write(&secret, "bench-secret-0123456789abcdef").expect("secret");
    let source = SourceConfig {
        name: format!("homabench{}", std::process::id()),
        profile: "homa".into(),
        path: Some("/hooks/homa".into()),
        secrets: vec![hookgate::auth::SecretEntry::Ref(format!(
            "file:{}",
            secret.display()
        ))],
        ..SourceConfig::default()
    };
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.spool.enabled = mode == Mode::RedisSpool;
    config.sources = vec![source.clone()];
    if mode != Mode::Memory {
        config.dedup.store = Some("redis://127.0.0.1:6379".into());
        config.routes = vec![RouteConfig {
            to: "nats://127.0.0.1:4222".into(),
            subject: Some(format!("{}.{{source}}.{{event}}", stream.to_lowercase())),
            stream: Some(stream.into()),
            create_stream: true,
            ..RouteConfig::default()
        }];
    }
    let spool = (mode == Mode::RedisSpool)
        .then(|| Arc::new(hookgate::spool::Spool::open(&config.spool_path()).expect("spool")));
    let app = hookgate::app::build(&config, "bench", spool).expect("config");
    let source = hookgate::config::source_from_config(&source).expect("source");
    (app.gateway, source, app.deliverer)
}

fn reachable(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(1))
        .is_ok()
}

fn bench(c: &mut Criterion) {
    if !reachable("127.0.0.1:6379") || !reachable("127.0.0.1:4222") {
        eprintln!("SKIPPED: the scale benchmark needs Redis on 6379 and NATS on 4222");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = std::env::temp_dir().join(format!("hookgate-bench-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let stream = format!("HGBENCH{}", std::process::id());
    let counter = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("accept_64_in_flight_scaled");
    group.throughput(Throughput::Elements(common::IN_FLIGHT));
    group.measurement_time(Duration::from_secs(8));
    for (name, mode) in [
        ("memory", Mode::Memory),
        ("redis_dedup+jetstream_ack", Mode::RedisJetStream),
        ("redis_dedup+spool", Mode::RedisSpool),
    ] {
        let (gateway, source, deliverer) = {
            let _guard = runtime.enter();
            setup(&base.join(name), mode, &stream)
        };
        // Durable mode publishes in the background, as `hookgate serve` does.
        let stop = deliverer.map(|d| {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            runtime.spawn(d.run(async move {
                let _ = rx.await;
            }));
            tx
        });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                common::accept_rounds(&runtime, &gateway, &source, &counter, iters)
            })
        });
        drop(stop);
    }
    group.finish();
    runtime.block_on(async {
        if let Ok(client) = async_nats::connect("127.0.0.1:4222").await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(&stream)
                .await;
        }
    });
    let _ = std::fs::remove_dir_all(&base);
}

criterion_group!(benches, bench);
criterion_main!(benches);

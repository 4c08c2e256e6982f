//! What an app that embeds hookgate pays: the core's dependency budget, and every layer feature
//! building on its own.
//!
//! The core (`hookgate` with `default-features = false`) is the stages, the sender profiles and
//! signature engine, typed events, the router and the in-memory dedup. It must stay small enough
//! to embed (at most [`CORE_BUDGET`] crates, itself included, in `cargo tree -e normal`) and must
//! never pull in the gateway's machinery. Each feature above it (storage, delivery, codegen)
//! must build with only what it declares: that is the compiler's half of the layering that
//! `tests/layers.rs` checks module by module.
//!
//! Runs `cargo tree` (offline, from `Cargo.lock`) and `cargo check` in `target/features`, so the
//! suite's own build is not disturbed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The most crates `cargo tree -e normal -p hookgate --no-default-features` may list (issue 19).
const CORE_BUDGET: usize = 80;

/// Crates the core never depends on: storage, brokers, templates, CLI, web framework, TLS,
/// metrics exporters, tracing exporters.
const NEVER_IN_THE_CORE: &[&str] = &[
    "fjall",
    "async-nats",
    "redis",
    "minijinja",
    "clap",
    "axum",
    "rustls",
    "hyper-rustls",
    "metrics-exporter-prometheus",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry-otlp",
    "tracing-subscriber",
    "toml",
];

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// The crates (by name) of `cargo tree -e normal` with `args`.
fn tree(args: &[&str]) -> BTreeSet<String> {
    let output = cargo()
        .args(["tree", "-e", "normal", "--prefix", "none", "--offline"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect()
}

fn names(crates: &BTreeSet<String>) -> BTreeSet<&str> {
    crates.iter().filter_map(|c| c.split(' ').next()).collect()
}

#[test]
fn the_core_stays_within_its_crate_budget_and_never_pulls_in_the_gateway() {
    let core = tree(&["-p", "hookgate", "--no-default-features"]);
    let listing = core.iter().cloned().collect::<Vec<_>>().join("\n");
    assert!(
        core.len() <= CORE_BUDGET,
        "the core depends on {} crates (budget {CORE_BUDGET}):\n{listing}",
        core.len()
    );
    let found: Vec<&str> = NEVER_IN_THE_CORE
        .iter()
        .copied()
        .filter(|name| names(&core).contains(name))
        .collect();
    assert!(found.is_empty(), "the core pulls in {found:?}:\n{listing}");

    // The embedding example (the core with `schema` and `senders`, plus axum) brings none of the
    // gateway's machinery either; axum is the app's own.
    let embedder = tree(&["-p", "hookgate-axum-app"]);
    let found: Vec<&str> = NEVER_IN_THE_CORE
        .iter()
        .copied()
        .filter(|name| *name != "axum" && names(&embedder).contains(name))
        .collect();
    assert!(found.is_empty(), "the embedding example pulls in {found:?}");
}

#[test]
fn every_layer_feature_builds_with_only_what_it_declares() {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/features");
    for features in [
        "",
        "schema,senders,server,decompress",
        "spool",
        "delivery",
        "codegen",
    ] {
        let mut command = cargo();
        command
            .args([
                "check",
                "--lib",
                "--offline",
                "-p",
                "hookgate",
                "--no-default-features",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "-Dwarnings");
        if !features.is_empty() {
            command.args(["--features", features]);
        }
        let output = command.output().expect("cargo check runs");
        assert!(
            output.status.success(),
            "hookgate with features [{features}] does not build on its own:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

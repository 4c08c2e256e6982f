//! What schema validation adds to an event, against parsing the same bytes alone.
//!
//! `cargo bench --bench validate`. Bodies are about 1 KB: a NinjaRMM activity with an expanded
//! device (the heaviest schema: a 680-value extensible enum, nested objects) and a NinjaOne alert
//! padded with extra fields. The ratio to report is (parse + validate) / parse.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use hookgate::profile::Profile;
use serde_json::Value;

fn body(profile: Profile, event: &str, pad_to: usize) -> Vec<u8> {
    let mut value = profile
        .sample(Some(event), SystemTime::now())
        .expect("example");
    // Pad with an unknown property (senders add fields; validation must accept them) to ~1 KB.
    let len = serde_json::to_vec(&value).expect("json").len();
    if len < pad_to {
        value["note"] = Value::from("x".repeat(pad_to - len - 10));
    }
    serde_json::to_vec(&value).expect("json")
}

fn bench(c: &mut Criterion) {
    let cases = [
        (Profile::NinjaRmm, "CONDITION.TRIGGERED"),
        (Profile::NinjaOne, "ALERT_TRIGGERED"),
    ];
    for (profile, event) in cases {
        let spec = profile.spec().expect("built-in").expect("loads");
        let bytes = body(profile, event, 1024);
        let kind = profile
            .shape()
            .kind_of(&serde_json::from_slice(&bytes).expect("json"))
            .expect("kind");
        let mut group = c.benchmark_group(format!("{}_{}B", profile.name(), bytes.len()));
        group.bench_function("parse", |b| {
            b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&bytes)).is_ok()))
        });
        group.bench_function("parse+validate", |b| {
            b.iter(|| {
                let value: Value = serde_json::from_slice(black_box(&bytes)).expect("json");
                black_box(spec.validate(kind.as_str(), &value))
            })
        });
        let value: Value = serde_json::from_slice(&bytes).expect("json");
        group.bench_function("validate", |b| {
            b.iter(|| black_box(spec.validate(kind.as_str(), black_box(&value))))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

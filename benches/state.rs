//! Benchmarks of the state document: export (`GET /_admin/state`, each state-file save) and
//! import (`PUT /_admin/state`, start-up from a state file) of the fixtures' state.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup fails loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn benches(c: &mut Criterion) {
    let state = common::app_state();
    let document = helsesim::state::persist::export(&state, false)
        .unwrap()
        .text()
        .into_bytes();
    eprintln!("state document of the fixtures: {} bytes", document.len());
    let mut group = c.benchmark_group("state");
    group.bench_function("export", |b| {
        b.iter(|| {
            helsesim::state::persist::export(black_box(&state), false)
                .unwrap()
                .text()
        })
    });
    group.bench_function("import", |b| {
        b.iter(|| {
            helsesim::state::persist::import(black_box(&state), black_box(&document)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(state, benches);
criterion_main!(state);

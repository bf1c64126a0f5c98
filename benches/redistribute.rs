//! Phase 4's planning on the master: merging histograms and placing cuts,
//! then resolving a cut inside count 1 from samples (4 workers, 1 M words).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wordfreq::counts::{WordCounts, owner, word_hash};
use wordfreq::histogram::Histogram;
use wordfreq::phase::redistribute::{Plan, SampleSet, samples};

fn redistribute(c: &mut Criterion) {
    let workers = 4;
    let mut tables: Vec<WordCounts> = (0..workers).map(|_| WordCounts::new()).collect();
    for rank in 1..=1_000_000u64 {
        let word = format!("w{rank}");
        tables[owner(word_hash(word.as_bytes()), workers)].add(word.as_bytes(), (500_000 / rank).max(1));
    }
    let histograms: Vec<Histogram> = tables.iter().map(Histogram::of).collect();
    let plan = Plan::new(&histograms);
    let counts = plan.sample_counts();
    let sets: Vec<Vec<SampleSet>> =
        tables.iter().map(|t| samples(t, &counts, plan.stride()).iter().map(SampleSet::from).collect()).collect();

    let mut group = c.benchmark_group("redistribute");
    group.bench_function("plan", |b| b.iter(|| black_box(Plan::new(black_box(&histograms)))));
    group.bench_function("resolve", |b| b.iter(|| black_box(plan.resolve(black_box(&sets)))));
    group.bench_function("worker_samples", |b| {
        b.iter(|| black_box(samples(black_box(&tables[0]), &counts, plan.stride())))
    });
    group.finish();
}

criterion_group!(benches, redistribute);
criterion_main!(benches);

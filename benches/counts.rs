//! The counting table: tokenize-and-count on the sample text (many repeats,
//! 32 K distinct words), and inserting 1 M all-distinct words; then sorting
//! a finished table into result order.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use wordfreq::counts::WordCounts;
use wordfreq::phase::shuffle1::count_words;
use wordfreq::tokenize::Tokenizer;

mod common;

fn counts(c: &mut Criterion) {
    let text = common::sample();
    let mut group = c.benchmark_group("counts");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("sample_text", |b| {
        b.iter(|| {
            let mut table = WordCounts::new();
            count_words(black_box(&text), 0..text.len(), Tokenizer::WhitespaceLower, &mut table)
                .expect("whitespace rules never fail");
            black_box(table.len())
        })
    });

    let distinct = common::distinct_text(1_000_000);
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("distinct_1m", |b| {
        b.iter(|| {
            let mut table = WordCounts::new();
            count_words(&distinct, 0..distinct.len(), Tokenizer::Whitespace, &mut table)
                .expect("whitespace rules never fail");
            black_box(table.len())
        })
    });

    group.bench_function("sort_distinct_1m", |b| {
        b.iter_batched(
            || {
                let mut table = WordCounts::new();
                for word in distinct.split(|&b| b == b'\n').filter(|w| !w.is_empty()) {
                    table.add(word, 1);
                }
                table.into_entries()
            },
            |mut entries| {
                entries.sort();
                black_box(entries.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, counts);
criterion_main!(benches);

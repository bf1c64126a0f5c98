//! The counting table: tokenize-and-count on the sample text (many repeats,
//! 32 K distinct words); inserting 10 K, 1 M and 10 M all-distinct words into
//! one table, and 1 M and 10 M into the table split in parts that `count`'s
//! threads fill together; then sorting a finished table into result order
//! (1 M and 10 M distinct words, and the sample text's table).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use wordfreq::counts::{WordCounts, word_hash};
use wordfreq::entries::Entries;
use wordfreq::phase::shuffle1::count_words;
use wordfreq::shared_counts::SharedCounts;
use wordfreq::tokenize::Tokenizer;

mod common;

/// A label for a number of words: 10k, 1m, 10m.
fn label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}m", n / 1_000_000),
        n => format!("{}k", n / 1_000),
    }
}

fn table_of(text: &[u8], tokenizer: Tokenizer) -> WordCounts {
    let mut table = WordCounts::new();
    count_words(text, 0..text.len(), tokenizer, &mut table).expect("whitespace rules never fail");
    table
}

fn counts(c: &mut Criterion) {
    let text = common::sample();
    let mut group = c.benchmark_group("counts");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("sample_text", |b| {
        b.iter(|| black_box(table_of(black_box(&text), Tokenizer::WhitespaceLower).len()))
    });

    for n in [10_000, 1_000_000, 10_000_000] {
        let distinct = common::distinct_text(n);
        group.throughput(Throughput::Elements(n));
        if n >= 1_000_000 {
            group.sample_size(10);
        }
        group.bench_function(format!("distinct_{}", label(n)), |b| {
            b.iter(|| black_box(table_of(&distinct, Tokenizer::Whitespace).len()))
        });
        if n < 1_000_000 {
            continue;
        }
        // The words cut into 64 pieces, counted by the rayon pool's threads.
        let words: Vec<&[u8]> = distinct.split(|&b| b == b'\n').filter(|w| !w.is_empty()).collect();
        group.bench_function(format!("distinct_{}_shared_{}_threads", label(n), rayon::current_num_threads()), |b| {
            b.iter(|| {
                let shared = SharedCounts::new();
                words.par_chunks(words.len() / 64 + 1).for_each(|chunk| {
                    let mut stager = shared.stager();
                    for word in chunk {
                        stager.push(word_hash(word), word, 1);
                    }
                });
                black_box(shared.len())
            })
        });
        group.bench_function(format!("sort_distinct_{}", label(n)), |b| {
            b.iter_batched(
                || table_of(&distinct, Tokenizer::Whitespace).into_entries(),
                |mut entries: Entries| {
                    entries.sort();
                    black_box(entries.len())
                },
                BatchSize::LargeInput,
            )
        });
    }

    group.sample_size(100);
    let table = table_of(&text, Tokenizer::WhitespaceLower);
    group.throughput(Throughput::Elements(table.len() as u64));
    group.bench_function("sort_sample_text", |b| {
        b.iter_batched(
            || table_of(&text, Tokenizer::WhitespaceLower).into_entries(),
            |mut entries: Entries| {
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

//! The tokenizer alone: bytes per second for each word rule on the sample
//! text, which is ASCII-heavy English (words are handed to a no-op
//! consumer). Issue 11 asks `alnum` for at least half the throughput of
//! `whitespace-lower` here.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wordfreq::tokenize::Tokenizer;

mod common;

fn tokenize(c: &mut Criterion) {
    let text = common::sample();
    let mut group = c.benchmark_group("tokenize");
    group.throughput(Throughput::Bytes(text.len() as u64));
    for tokenizer in [Tokenizer::WhitespaceLower, Tokenizer::Whitespace, Tokenizer::Alnum, Tokenizer::Words] {
        group.bench_function(tokenizer.name(), |b| {
            b.iter(|| {
                let mut words = 0u64;
                let mut heads = 0u64;
                tokenizer
                    .words(black_box(&text), 0..text.len(), |head, word| {
                        words += 1;
                        heads ^= head ^ word.len() as u64;
                    })
                    .expect("the sample text is UTF-8");
                black_box((words, heads))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tokenize);
criterion_main!(benches);

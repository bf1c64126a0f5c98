//! Phase 2, shuffle 1 (map): each worker tokenizes its splits in parallel,
//! combines words locally, and routes every (word, count) to the worker that
//! owns the word by hash. Tables are flushed to the network when they grow
//! past a bound, so memory stays bounded and sending overlaps tokenizing;
//! when combining does not pay (nearly every word distinct), words go
//! straight to their owner. The receiving side is `shuffle::merge` into a
//! `WordCounts`. `count_words` is also the single-process hot loop.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::counts::{WordCounts, hash_with_head, owner};
use crate::error::{Error, Result};
use crate::input::{self, InputFile, Split};
use crate::memory::MemoryLimit;
use crate::phase::Phase;
use crate::phase::shuffle::{Batcher, Sink, check_delivered};
use crate::shared_counts::SharedCounts;
use crate::tokenize::{InvalidUtf8, Tokenizer};
use crate::wire::message::NodeStats;

/// A combining table is routed and emptied when it holds this many bytes.
pub const FLUSH_BYTES: usize = 32 << 20;

/// Master side: checks the barrier; returns the number of words counted.
pub fn master(stats: &[NodeStats]) -> Result<u64> {
    Ok(check_delivered(Phase::Shuffle1, stats)?.1)
}

/// What counting a split watches: the memory limit, and whether the job
/// is being stopped (failed elsewhere, cancelled, interrupted).
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub limit: &'a MemoryLimit,
    pub cancelled: &'a (dyn Fn() -> bool + Sync),
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("limit", self.limit).field("cancelled", &(self.cancelled)()).finish()
    }
}

/// Counts the words that start in `split` into `table`, checking `watch`'s
/// memory limit as the table grows and once at the end. Returns the bytes read.
pub fn count_split(
    files: &[InputFile],
    split: &Split,
    tokenizer: Tokenizer,
    table: &mut WordCounts,
    watch: Watch,
) -> Result<u64> {
    let over = AtomicBool::new(false);
    let stop = || over.load(Ordering::Relaxed) || (watch.cancelled)();
    let mut meter = watch.limit.meter(&over);
    // The table lowercases each distinct word once, not the tokenizer
    // every occurrence (`Tokenizer::without_lowercasing`).
    let (tokenizer, lowercase) = tokenizer.without_lowercasing();
    let mut counter = table.counter(lowercase);
    let read = input::split_words(files, split, tokenizer, &stop, |head, word| {
        let added = counter.add(head, word);
        if added > 0 {
            meter.tick(added, || counter.distinct());
        }
    });
    drop(counter);
    meter.check(|| table.len());
    meter.finish(read)
}

/// Counts the words that start in `split` into `shared` (through a stager
/// of this thread), checking `watch` as `count_split` does.
pub fn stage_split(
    files: &[InputFile],
    split: &Split,
    tokenizer: Tokenizer,
    shared: &SharedCounts,
    watch: Watch,
) -> Result<u64> {
    let over = AtomicBool::new(false);
    let stop = || over.load(Ordering::Relaxed) || (watch.cancelled)();
    let mut meter = watch.limit.meter(&over);
    let mut stager = shared.stager();
    let read = input::split_words(files, split, tokenizer, &stop, |head, word| {
        stager.push(hash_with_head(head, word), word, 1);
        meter.tick(1, || shared.len());
    });
    stager.flush();
    meter.check(|| shared.len());
    meter.finish(read)
}

/// Counts the words that start in `data[range]` into `table`: the hot loop.
/// The table lowercases words once per distinct word, not the tokenizer
/// once per occurrence (`Tokenizer::without_lowercasing`).
pub fn count_words(
    data: &[u8],
    range: Range<usize>,
    tokenizer: Tokenizer,
    table: &mut WordCounts,
) -> Result<(), InvalidUtf8> {
    let (tokenizer, lowercase) = tokenizer.without_lowercasing();
    let mut counter = table.counter(lowercase);
    let counted = tokenizer.words(data, range, |head, word| {
        counter.add(head, word);
    });
    drop(counter);
    table.fold_capitals();
    counted
}

/// Combining stops when, after this many words, a table holds more than half
/// as many distinct words as occurrences: then it saves little traffic and
/// costs a table insert per word, and words go straight to their owner. (It
/// must be reached before a table grows to `FLUSH_BYTES` and is emptied: at
/// 40 to 85 bytes a distinct word, that is after some 400 to 800 K words.)
pub const COMBINE_TRIAL: u64 = 1 << 18;

/// True when a combining table saves too little to be worth its inserts.
pub fn combining_is_poor(table: &WordCounts) -> bool {
    table.total() >= COMBINE_TRIAL && table.len() as u64 * 2 > table.total()
}

/// One fold's state: a combining table, or (once combining stops paying)
/// batches filled straight from the tokenizer.
struct Local {
    table: WordCounts,
    direct: Option<Batcher>,
}

/// The worker's side of shuffle 1: tokenize `splits`, combine, and send each
/// word to `owner(hash, workers)` through `sink`.
pub fn worker(
    files: &[InputFile],
    splits: &[Split],
    tokenizer: Tokenizer,
    workers: usize,
    (limit, cancel): (&MemoryLimit, &AtomicBool),
    sink: &impl Sink,
) -> Result<()> {
    // Once one fold finds combining poor, every fold stops combining.
    let poor_seen = AtomicBool::new(false);
    let cancelled = || cancel.load(Ordering::Relaxed);
    let watch = Watch { limit, cancelled: &cancelled };
    splits
        .par_iter()
        .try_fold(
            || Local { table: WordCounts::new(), direct: None },
            |mut local, split| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                match local.direct.as_mut() {
                    Some(batcher) => send_split(files, split, tokenizer, workers, (batcher, &cancelled), sink)?,
                    None => drop(count_split(files, split, tokenizer, &mut local.table, watch)?),
                }
                sink.progress(split.len());
                let table = &mut local.table;
                if combining_is_poor(table) {
                    poor_seen.store(true, Ordering::Relaxed);
                }
                if local.direct.is_none() && poor_seen.load(Ordering::Relaxed) {
                    // The table is not used again: its memory goes back.
                    route(table, workers, sink)?;
                    *table = WordCounts::new();
                    local.direct = Some(Batcher::new(workers));
                } else if table.heap_bytes() > FLUSH_BYTES {
                    // A fresh table, not a cleared one: a cleared table keeps
                    // its memory, and so would be over the bound at once.
                    route(table, workers, sink)?;
                    *table = WordCounts::new();
                }
                Ok(local)
            },
        )
        .try_for_each(|local| {
            let mut local = local?;
            if let Some(mut batcher) = local.direct {
                batcher.flush(sink)?;
            }
            route(&mut local.table, workers, sink)
        })
}

/// Routes every word of `split` to its owner without combining.
fn send_split(
    files: &[InputFile],
    split: &Split,
    tokenizer: Tokenizer,
    workers: usize,
    (batcher, cancelled): (&mut Batcher, &dyn Fn() -> bool),
    sink: &impl Sink,
) -> Result<()> {
    let mut sent = Ok(());
    input::split_words(files, split, tokenizer, cancelled, |head, word| {
        if sent.is_ok() {
            sent = batcher.push(owner(hash_with_head(head, word), workers), word, 1, sink);
        }
    })?;
    sent
}

/// Routes every word of a combining table to its owner.
fn route(table: &mut WordCounts, workers: usize, sink: &impl Sink) -> Result<()> {
    table.fold_capitals();
    let mut batcher = Batcher::new(workers);
    for (hash, word, count) in table.iter_hashed() {
        batcher.push(owner(hash, workers), word, count, sink)?;
    }
    batcher.flush(sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::word_hash;
    use crate::phase::shuffle::tests::Collect;

    #[test]
    fn every_word_goes_to_its_owner_once_per_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let text = "a b c d e f g h A B C a a a\n".repeat(50);
        std::fs::write(&path, &text).unwrap();
        let file = InputFile::mapped(path.clone(), text.len() as u64);
        let files = vec![file];
        let splits = crate::input::assign(&files, 1, 7).remove(0);
        let sink = Collect::default();
        let limit = MemoryLimit::none();
        worker(&files, &splits, Tokenizer::WhitespaceLower, 3, (&limit, &AtomicBool::new(false)), &sink).unwrap();
        let mut total = WordCounts::new();
        for (dest, batch) in sink.0.into_inner().unwrap() {
            for (word, count) in batch.iter() {
                assert_eq!(owner(word_hash(word), 3), dest);
                total.add(word, count);
            }
        }
        assert_eq!(total.total(), 14 * 50);
        assert_eq!(total.len(), 8);
    }
}

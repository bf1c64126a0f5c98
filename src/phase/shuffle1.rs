//! Phase 2, shuffle 1 (map): each worker tokenizes its splits in parallel,
//! combines words locally, and routes every (word, count) to the worker that
//! owns the word by hash. Tables are flushed to the network when they grow
//! past a bound, so memory stays bounded and sending overlaps tokenizing.
//! The receiving side is `shuffle::merge` into a `WordCounts`.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::counts::{WordCounts, owner};
use crate::error::{Error, Result};
use crate::input::{InputFile, Mapped, Split};
use crate::phase::shuffle::{Partitioner, Sink};
use crate::tokenize::Tokenizer;

/// A combining table is routed and emptied when it holds this many bytes.
pub const FLUSH_BYTES: usize = 32 << 20;

/// A mapped input file.
#[derive(Debug)]
pub struct Source {
    pub file: InputFile,
    pub data: Mapped,
}

/// Counts the words that start in `split` into `table`.
pub fn count_split(sources: &[Source], split: &Split, tokenizer: Tokenizer, table: &mut WordCounts) -> Result<()> {
    let source = &sources[split.file as usize];
    let range = split.start as usize..split.end as usize;
    tokenizer
        .words(&source.data, range, |head, word| table.add_with_head(head, word, 1))
        .map_err(|bad| Error::NotUtf8 { path: source.file.path.clone(), offset: bad.offset as u64 })
}

/// The worker's side of shuffle 1: tokenize `splits`, combine, and send each
/// word to `owner(hash, workers)` through `sink`.
pub fn worker(
    sources: &[Source],
    splits: &[Split],
    tokenizer: Tokenizer,
    workers: usize,
    cancel: &AtomicBool,
    sink: &impl Sink,
) -> Result<()> {
    splits
        .par_iter()
        .try_fold(WordCounts::new, |mut table, split| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Usage("shuffle1 was cancelled".into()));
            }
            count_split(sources, split, tokenizer, &mut table)?;
            sink.progress(split.len());
            if table.heap_bytes() > FLUSH_BYTES {
                route(&table, workers, sink)?;
                table.clear();
            }
            Ok(table)
        })
        .try_for_each(|table| route(&table?, workers, sink))
}

fn route(table: &WordCounts, workers: usize, sink: &impl Sink) -> Result<()> {
    let mut partitioner = Partitioner::new(workers);
    for (hash, word, count) in table.iter_hashed() {
        partitioner.push(owner(hash, workers), word, count, sink)?;
    }
    partitioner.flush(sink)
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
        let file = InputFile { path: path.clone(), len: text.len() as u64 };
        let sources = vec![Source { data: crate::input::map(&file).unwrap(), file: file.clone() }];
        let splits = crate::input::assign(&[file], 1, 7).remove(0);
        let sink = Collect::default();
        worker(&sources, &splits, Tokenizer::WhitespaceLower, 3, &AtomicBool::new(false), &sink).unwrap();
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

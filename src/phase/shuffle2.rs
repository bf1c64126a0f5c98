//! Phase 5, shuffle 2 (range exchange): each worker sends every (word, count)
//! of its table to the worker whose range holds it, by the boundaries chosen
//! in phase 4. The receiving side is `shuffle::merge` into an `Entries` list.

use crate::counts::WordCounts;
use crate::error::Result;
use crate::order::{Cut, range_of};
use crate::phase::shuffle::{Partitioner, Sink};

/// The worker's side of shuffle 2. The caller drops the table afterwards:
/// after this phase each word lives only in its range.
pub fn worker(table: &WordCounts, cuts: &[Cut], sink: &impl Sink) -> Result<()> {
    let mut partitioner = Partitioner::new(cuts.len() + 1);
    for (word, count) in table.iter() {
        partitioner.push(range_of(cuts, word, count), word, count, sink)?;
    }
    partitioner.flush(sink)
}

//! Phase 3, local grouping (reduce). Shuffle 1's merger has already merged
//! every received word into the worker's owned table; this phase reports the
//! table's frequency histogram (count → distinct words) and totals to the
//! master — not the words themselves.

use crate::counts::WordCounts;
use crate::histogram::Histogram;
use crate::wire::message::{self, ArchivedHistogram};

/// Worker side: the histogram message for the owned table.
pub fn report(table: &WordCounts) -> message::Histogram {
    let h = Histogram::of(table);
    let (counts, words) = h.iter().unzip();
    message::Histogram { counts, words }
}

/// Master side: a received histogram, read in place.
pub fn received(msg: &ArchivedHistogram) -> Histogram {
    let mut h = Histogram::new();
    for (count, words) in msg.counts.iter().zip(msg.words.iter()) {
        h.add(count.to_native(), words.to_native());
    }
    h
}

//! Phase 3, local grouping (reduce). Shuffle 1's merger has already merged
//! every received word into the worker's owned table; this phase reports the
//! table's frequency histogram (count → distinct words) and totals to the
//! master — not the words themselves.

use crate::counts::WordCounts;
use crate::error::{Error, Result};
use crate::histogram::Histogram;
use crate::phase::Phase;
use crate::wire::message::{self, ArchivedHistogram, NodeStats};

/// Worker side: the histogram message for the owned table.
pub fn report(table: &WordCounts) -> message::Histogram {
    let h = Histogram::of(table);
    let (counts, words) = h.iter().unzip();
    message::Histogram { counts, words }
}

/// Master side, at the barrier: the histograms must account for every word
/// shuffle 1 delivered and every distinct word the workers hold. Returns the
/// number of distinct words.
pub fn master(histograms: &[Histogram], stats: &[NodeStats], total_words: u64) -> Result<u64> {
    let fail = |detail| Err(Error::Conservation { phase: Phase::LocalCount, detail });
    if histograms.len() != stats.len() {
        return fail(format!("{} of {} workers sent a histogram", histograms.len(), stats.len()));
    }
    let mut merged = Histogram::new();
    histograms.iter().for_each(|h| merged.merge(h));
    let distinct = merged.distinct();
    let held = stats.iter().fold(0u64, |a, s| a.saturating_add(s.distinct));
    if merged.occurrences() != total_words || held != distinct {
        return fail(format!(
            "histograms hold {} words and {distinct} distinct, but shuffle 1 moved {total_words} words and workers hold {held} distinct",
            merged.occurrences()
        ));
    }
    Ok(distinct)
}

/// Master side: a received histogram, read in place.
pub fn received(msg: &ArchivedHistogram) -> Histogram {
    let mut h = Histogram::new();
    for (count, words) in msg.counts.iter().zip(msg.words.iter()) {
        h.add(count.to_native(), words.to_native());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_must_account_for_every_word() {
        let mut h = Histogram::new();
        h.add(2, 3);
        let stats = [NodeStats { distinct: 3, ..NodeStats::default() }];
        assert_eq!(master(&[h.clone()], &stats, 6).unwrap(), 3);
        assert!(master(&[h.clone()], &stats, 7).is_err(), "a word went missing");
        assert!(master(&[], &stats, 6).is_err(), "a histogram went missing");
        let held = [NodeStats { distinct: 4, ..NodeStats::default() }];
        assert!(master(&[h], &held, 6).is_err(), "a distinct word is not in the histogram");
    }
}

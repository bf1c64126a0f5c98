//! Phase 5, shuffle 2 (range exchange): each worker sends every (word, count)
//! of its table to the worker whose range holds it, by the boundaries chosen
//! in phase 4. The receiving side is `shuffle::merge` into an `Entries` list.

use crate::counts::WordCounts;
use crate::error::{Error, Result};
use crate::order::{Cut, range_of};
use crate::phase::Phase;
use crate::phase::shuffle::{Batcher, Sink, check_delivered};
use crate::wire::message::NodeStats;

/// Master side, at the barrier: every distinct word moved once, with all its
/// occurrences, and each rank received exactly the share phase 4 promised.
pub fn master(stats: &[NodeStats], distinct: u64, total_words: u64, shares: &[u64]) -> Result<()> {
    let (records, words) = check_delivered(Phase::Shuffle2, stats)?;
    let received: Vec<u64> = stats.iter().map(|s| s.records_received).collect();
    if records != distinct || words != total_words || received != shares {
        return Err(Error::Conservation {
            phase: Phase::Shuffle2,
            detail: format!(
                "moved {records} records ({words} words), received {received:?}; expected {distinct} ({total_words} words) as {shares:?}"
            ),
        });
    }
    Ok(())
}

/// The worker's side of shuffle 2. The caller drops the table afterwards:
/// after this phase each word lives only in its range.
pub fn worker(table: &WordCounts, cuts: &[Cut], sink: &impl Sink) -> Result<()> {
    let mut batcher = Batcher::new(cuts.len() + 1);
    for (word, count) in table.iter() {
        batcher.push(range_of(cuts, word, count), word, count, sink)?;
    }
    batcher.flush(sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rank_gets_its_promised_share() {
        let node = |sent, received| NodeStats {
            records_sent: sent,
            words_sent: sent,
            records_received: received,
            words_received: received,
            ..NodeStats::default()
        };
        assert!(master(&[node(2, 3), node(3, 2)], 5, 5, &[3, 2]).is_ok());
        assert!(master(&[node(2, 2), node(3, 3)], 5, 5, &[3, 2]).is_err(), "shares swapped");
        assert!(master(&[node(2, 3), node(3, 2)], 6, 5, &[3, 2]).is_err(), "a word went missing");
    }
}

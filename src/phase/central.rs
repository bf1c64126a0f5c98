//! Phases 4 and 5 as the original system ran them (`--redistribute
//! central`), kept to measure what a centralised step costs. In phase 4
//! every worker sends all its (word, count) pairs to the master, which
//! sorts them and splits them into equal ranges; in phase 5 the master
//! sends each worker its range. The result is the same as with the
//! histogram plan (`redistribute`), where only histograms and samples
//! cross the master and ranges move peer to peer; the metrics show the
//! difference (every word crosses the master twice, and the master sorts
//! the whole vocabulary alone).

use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::phase::Phase;
use crate::phase::shuffle::{BATCH_BYTES, Batcher, Sink};
use crate::wire::message::{self, ArchivedEndOfStream, ArchivedWordBatch, EndOfStream, NodeStats, WordBatch};
use crate::wire::{EncodeError, Kind, ProtocolError};

/// How the master balances the ranges of phase 4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Redistribute {
    /// Workers report frequency histograms (and samples); the master
    /// places the range boundaries; ranges move peer to peer.
    #[default]
    Histogram,
    /// The original's plan: all pairs go through the master, which sorts
    /// and splits them and sends each worker its range.
    Central,
}

impl Redistribute {
    /// The plan's code in a job spec.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The plan with this code, if any.
    pub fn from_code(code: u8) -> Option<Redistribute> {
        [Redistribute::Histogram, Redistribute::Central].into_iter().find(|r| r.code() == code)
    }

    /// The name used on the command line and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Redistribute::Histogram => "histogram",
            Redistribute::Central => "central",
        }
    }
}

/// Worker side of phase 4: every pair of the table, in batches, to the
/// master (destination 0 of `sink`).
pub fn send_table(table: &WordCounts, sink: &impl Sink) -> Result<()> {
    let mut batcher = Batcher::new(1);
    for (word, count) in table.iter() {
        batcher.push(0, word, count, sink)?;
    }
    batcher.flush(sink)
}

/// Master side of phase 4: the pairs arriving from every worker.
#[derive(Debug)]
pub struct Gather {
    entries: Entries,
    /// (records, words) received from each worker, and whether it ended.
    got: Vec<(u64, u64)>,
    ended: Vec<bool>,
}

impl Gather {
    pub fn new(workers: usize) -> Gather {
        Gather { entries: Entries::new(), got: vec![(0, 0); workers], ended: vec![false; workers] }
    }

    /// A `WordBatch` payload from worker `rank`.
    pub fn batch(&mut self, rank: usize, payload: &[u8]) -> Result<(), ProtocolError> {
        let batch = message::access::<ArchivedWordBatch>(Kind::WordBatch, payload)?;
        if self.ended[rank] {
            return Err(ProtocolError::Unexpected(Kind::WordBatch));
        }
        let mut words = 0u64;
        for (word, count) in batch.records()? {
            self.entries.push(word, count);
            words = words.saturating_add(count);
        }
        let got = &mut self.got[rank];
        *got = (got.0.saturating_add(batch.len() as u64), got.1.saturating_add(words));
        Ok(())
    }

    /// An `EndOfStream` payload from worker `rank`: what it says it sent
    /// must be what arrived.
    pub fn end(&mut self, rank: usize, payload: &[u8]) -> Result<()> {
        let protocol = |error| Error::Protocol { peer: format!("worker {rank}"), error };
        let end = message::access::<ArchivedEndOfStream>(Kind::EndOfStream, payload).map_err(protocol)?;
        if end.phase != Phase::Redistribute.code() || self.ended[rank] {
            return Err(protocol(ProtocolError::Unexpected(Kind::EndOfStream)));
        }
        let claimed = (end.records.to_native(), end.words.to_native());
        if claimed != self.got[rank] {
            return Err(Error::Conservation {
                phase: Phase::Redistribute,
                detail: format!(
                    "worker {rank} says it sent {claimed:?} (records, words) but {:?} arrived",
                    self.got[rank]
                ),
            });
        }
        self.ended[rank] = true;
        Ok(())
    }

    /// At the barrier: every worker's stream ended, and together they hold
    /// every distinct word once with all its occurrences.
    pub fn check(&self, distinct: u64, total_words: u64) -> Result<()> {
        let (records, words) = (self.entries.len() as u64, self.entries.total());
        if !self.ended.iter().all(|&e| e) || records != distinct || words != total_words {
            return Err(Error::Conservation {
                phase: Phase::Redistribute,
                detail: format!(
                    "the master gathered {records} pairs ({words} words); expected {distinct} ({total_words} words)"
                ),
            });
        }
        Ok(())
    }

    /// Sorts everything into result order and splits it into `workers`
    /// ranges of equal size (±1). Returns the sender of phase 5 and the
    /// shares.
    pub fn split(mut self) -> (Ranges, Vec<u64>) {
        self.entries.sort();
        let workers = self.got.len();
        let n = self.entries.len();
        let bounds: Vec<usize> = (0..=workers).map(|r| n * r / workers).collect();
        let shares = bounds.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
        let next = bounds[..workers].to_vec();
        (Ranges { entries: self.entries, next, bounds, words: vec![0; workers], ended: vec![false; workers] }, shares)
    }
}

/// Master side of phase 5: each worker's range, a batch at a time.
#[derive(Debug)]
pub struct Ranges {
    entries: Entries,
    /// The next entry to send to each rank, and where each range ends.
    next: Vec<usize>,
    bounds: Vec<usize>,
    /// Occurrences sent to each rank so far, for its end-of-stream.
    words: Vec<u64>,
    ended: Vec<bool>,
}

impl Ranges {
    /// The next frame for `rank`: a batch of its range, then its
    /// end-of-stream, then nothing.
    pub fn next_frame(&mut self, rank: usize) -> Result<Option<Vec<u8>>, EncodeError> {
        if self.ended[rank] {
            return Ok(None);
        }
        let (start, end) = (self.bounds[rank], self.bounds[rank + 1]);
        let mut batch = WordBatch::default();
        // A walk of the range, not an entry looked up at a time: `get`
        // searches the count groups and reads each record cold.
        let mut taken = 0;
        for (word, count) in self.entries.range(self.next[rank]..end) {
            if batch.wire_bytes() >= BATCH_BYTES {
                break;
            }
            batch.push(word, count);
            self.words[rank] += count;
            taken += 1;
        }
        self.next[rank] += taken;
        if !batch.is_empty() {
            return message::encode(Kind::WordBatch, &batch).map(Some);
        }
        self.ended[rank] = true;
        let eos = EndOfStream { phase: Phase::Shuffle2.code(), records: (end - start) as u64, words: self.words[rank] };
        message::encode(Kind::EndOfStream, &eos).map(Some)
    }

    /// True once every rank has its whole range and its end-of-stream.
    pub fn is_done(&self) -> bool {
        self.ended.iter().all(|&e| e)
    }
}

/// Master side, at phase 5's barrier: each rank received exactly its share,
/// and together every distinct word with all its occurrences.
pub fn check_ranges(stats: &[NodeStats], distinct: u64, total_words: u64, shares: &[u64]) -> Result<()> {
    let received: Vec<u64> = stats.iter().map(|s| s.records_received).collect();
    let words = stats.iter().fold(0u64, |a, s| a.saturating_add(s.words_received));
    if received != shares || received.iter().sum::<u64>() != distinct || words != total_words {
        return Err(Error::Conservation {
            phase: Phase::Shuffle2,
            detail: format!(
                "ranks received {received:?} ({words} words); expected {shares:?} ({distinct} distinct, {total_words} words)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::shuffle::tests::Collect;
    use crate::wire::frame::HEADER_LEN;

    #[test]
    fn gathered_pairs_split_into_equal_sorted_ranges() {
        let mut table = WordCounts::new();
        for (w, c) in [("a", 5), ("b", 1), ("c", 1), ("d", 3), ("e", 1)] {
            table.add(w.as_bytes(), c);
        }
        let sink = Collect::default();
        send_table(&table, &sink).unwrap();
        let mut gather = Gather::new(2);
        for (_, batch) in sink.0.into_inner().unwrap() {
            let frame = message::encode(Kind::WordBatch, &batch).unwrap();
            let mut payload = rkyv::util::AlignedVec::<16>::new();
            payload.extend_from_slice(&frame[HEADER_LEN..]);
            gather.batch(0, &payload).unwrap();
        }
        let end = message::encode(Kind::EndOfStream, &EndOfStream { phase: 4, records: 5, words: 11 }).unwrap();
        let mut payload = rkyv::util::AlignedVec::<16>::new();
        payload.extend_from_slice(&end[HEADER_LEN..]);
        gather.end(0, &payload).unwrap();
        assert!(gather.check(5, 11).is_err(), "worker 1 has not ended");
        let empty = message::encode(Kind::EndOfStream, &EndOfStream { phase: 4, records: 0, words: 0 }).unwrap();
        payload.clear();
        payload.extend_from_slice(&empty[HEADER_LEN..]);
        gather.end(1, &payload).unwrap();
        gather.check(5, 11).unwrap();
        let (mut ranges, shares) = gather.split();
        assert_eq!(shares, [2, 3]);
        let mut firsts = Vec::new();
        for rank in 0..2 {
            while let Some(frame) = ranges.next_frame(rank).unwrap() {
                firsts.push((rank, frame[4]));
            }
        }
        assert!(ranges.is_done());
        assert_eq!(firsts, [(0, 4), (0, 5), (1, 4), (1, 5)]);
    }

    #[test]
    fn a_short_stream_is_refused() {
        let mut gather = Gather::new(1);
        let end = message::encode(Kind::EndOfStream, &EndOfStream { phase: 4, records: 1, words: 1 }).unwrap();
        let mut payload = rkyv::util::AlignedVec::<16>::new();
        payload.extend_from_slice(&end[HEADER_LEN..]);
        assert!(matches!(gather.end(0, &payload), Err(Error::Conservation { .. })));
    }
}

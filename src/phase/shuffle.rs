//! What the two shuffles share: on the sending side, a per-destination
//! batcher that emits a bounded batch whenever one fills (`Batcher` into a
//! `Sink`); on the receiving side, the merger that takes every batch
//! addressed to this worker, validates it, absorbs its records and checks
//! each sender's end-of-stream totals against what actually arrived.
//!
//! Shuffle 1 absorbs into a `WordCounts` (adding counts); shuffle 2 into an
//! `Entries` list (every word arrives exactly once).

use std::sync::mpsc::Receiver;

use rkyv::util::AlignedVec;

use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::memory::MemoryLimit;
use crate::phase::Phase;
use crate::shared_counts::SharedCounts;
use crate::wire::message::{self, ArchivedEndOfStream, ArchivedWordBatch, NodeStats, WordBatch};
use crate::wire::{Kind, ProtocolError};

/// About how many bytes a batch carries before it is sent.
pub const BATCH_BYTES: usize = 1 << 20;

/// Where finished batches go. Implemented by the worker (to peers over the
/// event loop, to itself through the merger) and by tests.
pub trait Sink: Sync {
    /// Delivers one batch to rank `dest`, waiting while the way is full.
    fn send_batch(&self, dest: usize, batch: WordBatch) -> Result<()>;

    /// Reports input bytes tokenized (for progress); optional.
    fn progress(&self, _bytes: u64) {}
}

/// A per-destination batcher: one batch under construction per rank, sent
/// to the sink as soon as it holds `BATCH_BYTES`.
#[derive(Debug)]
pub struct Batcher {
    builders: Vec<WordBatch>,
}

impl Batcher {
    /// Builders for `workers` destinations.
    pub fn new(workers: usize) -> Self {
        Batcher { builders: (0..workers).map(|_| WordBatch::default()).collect() }
    }

    /// Adds a record for `dest`, sending its batch when full.
    #[inline]
    pub fn push(&mut self, dest: usize, word: &[u8], count: u64, sink: &impl Sink) -> Result<()> {
        let builder = &mut self.builders[dest];
        builder.push(word, count);
        if builder.wire_bytes() >= BATCH_BYTES {
            let full = std::mem::take(builder);
            sink.send_batch(dest, full)?;
        }
        Ok(())
    }

    /// Sends every partly filled batch.
    pub fn flush(&mut self, sink: &impl Sink) -> Result<()> {
        for (dest, builder) in self.builders.iter_mut().enumerate() {
            if !builder.is_empty() {
                sink.send_batch(dest, std::mem::take(builder))?;
            }
        }
        Ok(())
    }
}

/// A receiving table: what the merger absorbs records into, and what it
/// hands on once every stream has ended.
pub trait Absorb: Send {
    type Output;

    fn absorb(&mut self, word: &[u8], count: u64);

    /// Absorbs a batch's records; returns the sum of their counts
    /// (saturating: a peer's claims are checked elsewhere).
    fn absorb_batch<'w>(&mut self, records: impl Iterator<Item = (&'w [u8], u64)>) -> u64 {
        records.fold(0u64, |words, (word, count)| {
            self.absorb(word, count);
            words.saturating_add(count)
        })
    }

    /// Distinct words held (for the memory limit's error).
    fn distinct(&self) -> usize;

    fn finish(self) -> Self::Output;
}

/// Shuffle 1's table: split in parts, so that no part grows all at once; once
/// merged it is only read, so it is handed on compacted (`WordCounts::compact`).
impl Absorb for SharedCounts {
    type Output = WordCounts;

    #[inline]
    fn absorb(&mut self, word: &[u8], count: u64) {
        self.add(word, count);
    }

    fn absorb_batch<'w>(&mut self, records: impl Iterator<Item = (&'w [u8], u64)>) -> u64 {
        self.add_all(records)
    }

    fn distinct(&self) -> usize {
        SharedCounts::len(self)
    }

    fn finish(self) -> WordCounts {
        self.into_table()
    }
}

impl Absorb for WordCounts {
    type Output = WordCounts;

    #[inline]
    fn absorb(&mut self, word: &[u8], count: u64) {
        self.add(word, count);
    }

    fn distinct(&self) -> usize {
        WordCounts::len(self)
    }

    fn finish(mut self) -> WordCounts {
        self.compact();
        self
    }
}

impl Absorb for Entries {
    type Output = Entries;

    #[inline]
    fn absorb(&mut self, word: &[u8], count: u64) {
        self.push(word, count);
    }

    fn distinct(&self) -> usize {
        Entries::len(self)
    }

    fn finish(self) -> Entries {
        self
    }
}

/// What reaches the merger of one shuffle.
#[derive(Debug)]
pub enum Inbound {
    /// A `WordBatch` frame's payload from a peer, not yet validated.
    Batch { from: usize, payload: AlignedVec },
    /// An `EndOfStream` frame's payload from a peer, not yet validated.
    End { from: usize, payload: AlignedVec },
    /// A batch this worker routed to itself.
    Local(WordBatch),
    /// This worker has routed everything; totals of what it routed to itself.
    LocalEnd { records: u64, words: u64 },
}

/// What one shuffle delivered to this worker.
#[derive(Debug)]
pub struct Received<T> {
    pub table: T,
    pub records: u64,
    pub words: u64,
}

/// Absorbs everything sent to `rank` in `phase` until every sender (itself
/// included) has ended its stream, checking each sender's totals and, after
/// each batch, the memory `limit`. `after_item` runs after each item is
/// taken off the channel (the worker wakes its loop there, which may be
/// waiting for room in the channel).
pub fn merge<T: Absorb>(
    phase: Phase,
    (rank, workers): (usize, usize),
    mut table: T,
    inbox: Receiver<Inbound>,
    limit: &MemoryLimit,
    after_item: impl Fn(),
) -> Result<Received<T::Output>> {
    let mut got = vec![(0u64, 0u64); workers];
    let mut ended = vec![false; workers];
    // Occurrences absorbed from peers: checked, so that counts a peer claims
    // can never overflow a count in the table (each is at most this sum).
    let mut absorbed = 0u64;
    while !ended.iter().all(|&e| e) {
        let item = inbox.recv().map_err(|_| Error::Cancelled)?;
        after_item();
        let (from, records, words) = match item {
            Inbound::Batch { from, payload } => {
                let batch = message::access::<ArchivedWordBatch>(Kind::WordBatch, &payload)
                    .and_then(|b| if ended[from] { Err(ProtocolError::Unexpected(Kind::WordBatch)) } else { Ok(b) })
                    .map_err(|error| peer_error(from, error))?;
                absorbed = batch
                    .counts
                    .iter()
                    .try_fold(absorbed, |sum, c| sum.checked_add(c.to_native()))
                    .ok_or_else(|| peer_error(from, ProtocolError::InvalidArchive(Kind::WordBatch)))?;
                let words = table.absorb_batch(batch.records().map_err(|error| peer_error(from, error))?);
                (from, batch.len() as u64, words)
            }
            Inbound::Local(batch) => {
                let words = table.absorb_batch(batch.iter());
                (rank, batch.len() as u64, words)
            }
            Inbound::End { from, payload } => {
                let end = message::access::<ArchivedEndOfStream>(Kind::EndOfStream, &payload)
                    .map_err(|error| peer_error(from, error))?;
                let claimed = (end.records.to_native(), end.words.to_native());
                if end.phase != phase.code() || ended[from] {
                    return Err(peer_error(from, ProtocolError::Unexpected(Kind::EndOfStream)));
                }
                check_stream(phase, from, claimed, got[from])?;
                ended[from] = true;
                continue;
            }
            Inbound::LocalEnd { records, words } => {
                check_stream(phase, rank, (records, words), got[rank])?;
                ended[rank] = true;
                continue;
            }
        };
        limit.check(|| table.distinct())?;
        got[from].0 = got[from].0.saturating_add(records);
        got[from].1 = got[from].1.saturating_add(words);
    }
    let records = got.iter().map(|g| g.0).sum();
    let words = got.iter().map(|g| g.1).sum();
    Ok(Received { table: table.finish(), records, words })
}

/// Master side, at a shuffle's barrier: what all workers sent equals what
/// they received, in records and in words. Returns (records, words).
pub fn check_delivered(phase: Phase, stats: &[NodeStats]) -> Result<(u64, u64)> {
    let add = |a: (u64, u64), b: (u64, u64)| (a.0.saturating_add(b.0), a.1.saturating_add(b.1));
    let sent = stats.iter().fold((0, 0), |a, s| add(a, (s.records_sent, s.words_sent)));
    let received = stats.iter().fold((0, 0), |a, s| add(a, (s.records_received, s.words_received)));
    if sent != received {
        return Err(Error::Conservation {
            phase,
            detail: format!(
                "workers sent {} records ({} words) but received {} records ({} words)",
                sent.0, sent.1, received.0, received.1
            ),
        });
    }
    Ok(sent)
}

fn peer_error(from: usize, error: ProtocolError) -> Error {
    Error::Protocol { peer: format!("worker {from}"), error }
}

fn check_stream(phase: Phase, from: usize, claimed: (u64, u64), got: (u64, u64)) -> Result<()> {
    if claimed == got {
        return Ok(());
    }
    Err(Error::Conservation {
        phase,
        detail: format!(
            "worker {from} says it sent {} records ({} words) but {} records ({} words) arrived",
            claimed.0, claimed.1, got.0, got.1
        ),
    })
}

#[cfg(test)]
pub mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::channel;

    use super::*;
    use crate::wire::message::EndOfStream;

    /// A sink that keeps every batch, for tests of the sending side.
    #[derive(Debug, Default)]
    pub struct Collect(pub Mutex<Vec<(usize, WordBatch)>>);

    impl Sink for Collect {
        fn send_batch(&self, dest: usize, batch: WordBatch) -> Result<()> {
            self.0.lock().unwrap().push((dest, batch));
            Ok(())
        }
    }

    fn payload<T: message::Message>(kind: Kind, msg: &T) -> AlignedVec {
        let frame = message::encode(kind, msg).unwrap();
        let mut v = AlignedVec::new();
        v.extend_from_slice(&frame[5..]);
        v
    }

    #[test]
    fn batcher_sends_bounded_batches_to_the_right_place() {
        let sink = Collect::default();
        let mut p = Batcher::new(3);
        let big = vec![b'x'; 1000];
        for i in 0..3000u64 {
            p.push((i % 3) as usize, &big, i, &sink).unwrap();
        }
        p.flush(&sink).unwrap();
        let batches = sink.0.into_inner().unwrap();
        assert!(batches.iter().all(|(_, b)| b.wire_bytes() < BATCH_BYTES + 2000));
        for dest in 0..3 {
            let records: usize = batches.iter().filter(|(d, _)| *d == dest).map(|(_, b)| b.len()).sum();
            assert_eq!(records, 1000);
        }
    }

    #[test]
    fn merge_absorbs_everything_and_checks_totals() {
        let (tx, rx) = channel();
        let mut b = WordBatch::default();
        b.push(b"a", 2);
        b.push(b"b", 1);
        tx.send(Inbound::Batch { from: 1, payload: payload(Kind::WordBatch, &b) }).unwrap();
        tx.send(Inbound::Local(b)).unwrap();
        tx.send(Inbound::End {
            from: 1,
            payload: payload(Kind::EndOfStream, &EndOfStream { phase: 2, records: 2, words: 3 }),
        })
        .unwrap();
        tx.send(Inbound::LocalEnd { records: 2, words: 3 }).unwrap();
        let got = merge(Phase::Shuffle1, (0, 2), WordCounts::new(), rx, &MemoryLimit::none(), || {}).unwrap();
        assert_eq!((got.records, got.words, got.table.len(), got.table.total()), (4, 6, 2, 6));
    }

    #[test]
    fn delivery_must_match_sending() {
        let node = |rs, ws, rr, wr| NodeStats {
            records_sent: rs,
            words_sent: ws,
            records_received: rr,
            words_received: wr,
            ..NodeStats::default()
        };
        assert_eq!(check_delivered(Phase::Shuffle1, &[node(3, 9, 1, 4), node(1, 4, 3, 9)]).unwrap(), (4, 13));
        assert!(check_delivered(Phase::Shuffle1, &[node(3, 9, 1, 4), node(1, 4, 3, 8)]).is_err());
    }

    #[test]
    fn merge_refuses_counts_that_would_overflow() {
        let (tx, rx) = channel();
        let mut b = WordBatch::default();
        b.push(b"a", u64::MAX);
        tx.send(Inbound::Batch { from: 1, payload: payload(Kind::WordBatch, &b) }).unwrap();
        tx.send(Inbound::Batch { from: 1, payload: payload(Kind::WordBatch, &b) }).unwrap();
        let err = merge(Phase::Shuffle1, (0, 2), WordCounts::new(), rx, &MemoryLimit::none(), || {}).unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
    }

    #[test]
    fn merge_refuses_a_short_stream() {
        let (tx, rx) = channel();
        tx.send(Inbound::End {
            from: 1,
            payload: payload(Kind::EndOfStream, &EndOfStream { phase: 2, records: 5, words: 5 }),
        })
        .unwrap();
        tx.send(Inbound::LocalEnd { records: 0, words: 0 }).unwrap();
        let err = merge(Phase::Shuffle1, (0, 2), WordCounts::new(), rx, &MemoryLimit::none(), || {}).unwrap_err();
        assert!(matches!(err, Error::Conservation { .. }), "{err}");
    }
}

//! Phase 6, sort and output. Each worker keeps the records of its range that
//! the job selects (`--top`, `--min-count`), sorts them in parallel and,
//! when the master pulls it, streams them in the job's format, in chunks of
//! whole records (one line each), at most as many as the pull asks for; the
//! master writes the ranges in rank order, which is result order because
//! rank r's range precedes rank r + 1's.
//!
//! The master pulls every rank at once, so that all of them format and send
//! at the same time, and holds what later ranks send (`Ahead`, up to
//! `AHEAD_BYTES`, beyond which it stops reading them) until their turn.
//! Only with `--top`, where how much a rank may send depends on how much
//! the ranks before it had, does it pull the ranks one after the other.

use std::collections::VecDeque;

use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::phase::Phase;
use crate::wire::message::NodeStats;

/// Lines per chunk are cut at about this many bytes.
pub const CHUNK_BYTES: usize = 1 << 20;

/// What a worker streamed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streamed {
    pub lines: u64,
    pub words: u64,
}

/// Worker side: hands the sorted range's records to `send`, chunk by chunk.
pub fn stream(range: &Entries, format: Format, mut send: impl FnMut(Vec<u8>) -> Result<()>) -> Result<Streamed> {
    for chunk in range.records(CHUNK_BYTES, format) {
        send(chunk)?;
    }
    Ok(Streamed { lines: range.len() as u64, words: range.total() })
}

/// Master side, at the barrier: the output holds the `expected` (lines,
/// words) — one line per distinct word, or what `--top`/`--min-count` keep,
/// computed from the histograms — and no rank streamed more than its share
/// (all of it when every record is kept).
pub fn master(stats: &[NodeStats], lines_written: u64, expected: (u64, u64), shares: &[u64], all: bool) -> Result<()> {
    let words = stats.iter().fold(0u64, |a, s| a.saturating_add(s.words_sent));
    let lines: Vec<u64> = stats.iter().map(|s| s.records_sent).collect();
    let sum = lines.iter().fold(0u64, |a, &l| a.saturating_add(l));
    let shares_ok = lines.len() == shares.len()
        && if all { lines == shares } else { lines.iter().zip(shares).all(|(l, s)| l <= s) };
    if (lines_written, words) != expected || sum != lines_written || !shares_ok {
        let (lines_expected, words_expected) = expected;
        return Err(Error::Conservation {
            phase: Phase::SortOutput,
            detail: format!(
                "wrote {lines_written} lines ({words} words) as {lines:?}; expected {lines_expected} ({words_expected} words) within {shares:?}"
            ),
        });
    }
    Ok(())
}

/// Master side: how many bytes of later ranks' ranges are held, at most (and
/// one chunk a rank), while an earlier rank's is written.
pub const AHEAD_BYTES: usize = 64 << 20;

/// Master side: the chunks of ranks whose turn to be written has not come,
/// kept in the order they came until their turn.
#[derive(Debug)]
pub struct Ahead {
    chunks: Vec<VecDeque<Vec<u8>>>,
    bytes: usize,
}

impl Ahead {
    /// Room for `ranks` ranks' chunks.
    pub fn new(ranks: usize) -> Ahead {
        Ahead { chunks: vec![VecDeque::new(); ranks], bytes: 0 }
    }

    /// Keeps a chunk of `rank` for its turn.
    pub fn hold(&mut self, rank: usize, chunk: Vec<u8>) {
        self.bytes += chunk.len();
        self.chunks[rank].push_back(chunk);
    }

    /// Every chunk held for `rank`, oldest first.
    pub fn take(&mut self, rank: usize) -> VecDeque<Vec<u8>> {
        let chunks = std::mem::take(&mut self.chunks[rank]);
        self.bytes -= chunks.iter().map(Vec::len).sum::<usize>();
        chunks
    }

    /// True when no more should be read ahead.
    pub fn is_full(&self) -> bool {
        self.bytes >= AHEAD_BYTES
    }
}

/// Master side: the number of lines in a chunk (words never hold a newline).
pub fn lines_in(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

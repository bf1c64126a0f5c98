//! Phase 6, sort and output. Each worker keeps the records of its range that
//! the job selects (`--top`, `--min-count`), sorts them in parallel and,
//! when the master pulls it, streams them in the job's format, in chunks of
//! whole records (one line each), at most as many as the pull asks for; the
//! master writes the ranges in rank order, which is result order because
//! rank r's range precedes rank r + 1's.

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

/// Master side: the number of lines in a chunk (words never hold a newline).
pub fn lines_in(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

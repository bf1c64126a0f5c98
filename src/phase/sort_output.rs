//! Phase 6, sort and output. Each worker sorts its range in parallel and,
//! when the master pulls it, streams the range's output lines in chunks; the
//! master writes the ranges in rank order, which is result order because
//! rank r's range precedes rank r + 1's.

use crate::entries::Entries;
use crate::error::{Error, Result};
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

/// Worker side: hands the sorted range's text to `send`, chunk by chunk.
pub fn stream(range: &Entries, mut send: impl FnMut(Vec<u8>) -> Result<()>) -> Result<Streamed> {
    for chunk in range.lines(CHUNK_BYTES) {
        send(chunk)?;
    }
    Ok(Streamed { lines: range.len() as u64, words: range.total() })
}

/// Master side, at the barrier: the output holds one line per distinct
/// word, every rank streamed its share, and the counts add up.
pub fn master(stats: &[NodeStats], lines_written: u64, distinct: u64, total_words: u64, shares: &[u64]) -> Result<()> {
    let words = stats.iter().fold(0u64, |a, s| a.saturating_add(s.words_sent));
    let lines: Vec<u64> = stats.iter().map(|s| s.records_sent).collect();
    if lines_written != distinct || words != total_words || lines != shares {
        return Err(Error::Conservation {
            phase: Phase::SortOutput,
            detail: format!(
                "wrote {lines_written} lines ({words} words) as {lines:?}; expected {distinct} ({total_words} words) as {shares:?}"
            ),
        });
    }
    Ok(())
}

/// Master side: the number of lines in a chunk (words never hold a newline).
pub fn lines_in(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

//! A counting table that several threads fill at once: split by word hash
//! into parts, each a `WordCounts` behind its own lock, so every word has
//! one place and nothing is merged at the end. Threads stage words per part
//! (`Stager`) and take a part's lock once for a few dozen words; with many
//! more parts than threads they seldom wait for each other.
//!
//! This is for a vocabulary too large to combine well in per-thread tables
//! (nearly every word distinct): there, per-thread tables would hold the
//! words twice and their merge would run on one thread.

use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;

use crate::counts::{WordCounts, hash_with_head, head_of};
use crate::entries::Entries;
use crate::records::Records;

/// Number of parts (a power of two); a part is chosen by the hash's top bits.
const PARTS: usize = 64;
const PART_SHIFT: u32 = 64 - PARTS.trailing_zeros();

/// Words staged for one part before its lock is taken.
const STAGED_WORDS: usize = 32;

/// Word counts in `PARTS` parts, each behind a lock.
#[derive(Debug)]
pub struct SharedCounts {
    parts: Vec<Mutex<WordCounts>>,
}

impl Default for SharedCounts {
    fn default() -> Self {
        SharedCounts { parts: (0..PARTS).map(|_| Mutex::new(WordCounts::new())).collect() }
    }
}

/// A part's lock; a thread that panicked holding it left a table that is
/// still whole (inserts do not unwind halfway through a word).
fn lock(part: &Mutex<WordCounts>) -> MutexGuard<'_, WordCounts> {
    part.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[inline]
fn part_of(hash: u64) -> usize {
    (hash >> PART_SHIFT) as usize
}

impl SharedCounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A stager for one thread (flush it before the table is read).
    pub fn stager(&self) -> Stager<'_> {
        Stager { shared: self, staged: (0..PARTS).map(|_| Staged::default()).collect() }
    }

    /// Adds every count of `table`.
    pub fn absorb(&self, table: &WordCounts) {
        let mut stager = self.stager();
        for (hash, word, count) in table.iter_hashed() {
            stager.push(hash, word, count);
        }
        stager.flush();
    }

    /// Adds `n` occurrences of `word` (with the table to itself: no lock).
    #[inline]
    pub fn add(&mut self, word: &[u8], n: u64) {
        let head = head_of(word);
        let hash = hash_with_head(head, word);
        self.part(hash).add_hashed(hash, head, word, n);
    }

    /// Adds every (word, count) of `records` (with the table to itself),
    /// each word's slot asked for a few words before it is added; returns
    /// the sum of the counts (saturating).
    pub fn add_all<'w>(&mut self, records: impl Iterator<Item = (&'w [u8], u64)>) -> u64 {
        const AHEAD: usize = 16;
        let mut ring: [(u64, &[u8], u64); AHEAD] = [(0, &[], 0); AHEAD];
        let (mut next, mut pending, mut words) = (0, 0, 0u64);
        for (word, count) in records {
            words = words.saturating_add(count);
            let head = head_of(word);
            let hash = hash_with_head(head, word);
            self.part(hash).prefetch(hash, head, word);
            let (hash, word, count) = std::mem::replace(&mut ring[next], (hash, word, count));
            next = (next + 1) % AHEAD;
            if pending == AHEAD {
                self.part(hash).add_hashed(hash, head_of(word), word, count);
            } else {
                pending += 1;
            }
        }
        for k in AHEAD - pending..AHEAD {
            let (hash, word, count) = ring[(next + k) % AHEAD];
            self.part(hash).add_hashed(hash, head_of(word), word, count);
        }
        words
    }

    /// The part that holds words of `hash` (with the table to itself).
    #[inline(always)]
    fn part(&mut self, hash: u64) -> &mut WordCounts {
        self.parts[part_of(hash)].get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The words as one compacted `WordCounts` (parts compacted in parallel
    /// on the current rayon pool, then their arenas put end to end, one
    /// part at a time).
    pub fn into_table(self) -> WordCounts {
        let parts: Vec<(Records, u64)> = self
            .parts
            .into_par_iter()
            .map(|p| {
                let table = p.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
                let total = table.total();
                (table.into_records(), total)
            })
            .collect();
        let mut all = Records::new();
        let mut total = 0u64;
        for (records, n) in parts {
            all.append(records);
            total = total.wrapping_add(n);
        }
        WordCounts::compacted(all, total)
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| lock(p).len()).sum()
    }

    /// True if no word was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |a, p| a.wrapping_add(lock(p).total()))
    }

    /// The words as a flat list: each part compacted (in parallel on the
    /// current rayon pool) into one arena of the list.
    pub fn into_entries(self) -> Entries {
        let segments = self
            .parts
            .into_par_iter()
            .map(|p| p.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).into_records())
            .collect();
        Entries::from_records(segments)
    }
}

/// Words waiting for one part: their bytes end to end, and (hash, count,
/// end of the word in `bytes`).
#[derive(Debug, Default)]
struct Staged {
    bytes: Vec<u8>,
    words: Vec<(u64, u64, usize)>,
}

/// One thread's words on their way into a `SharedCounts`.
#[derive(Debug)]
pub struct Stager<'a> {
    shared: &'a SharedCounts,
    staged: Vec<Staged>,
}

impl Stager<'_> {
    /// Adds `n` occurrences of `word`, whose `word_hash` is `hash`.
    #[inline]
    pub fn push(&mut self, hash: u64, word: &[u8], n: u64) {
        let p = part_of(hash);
        let staged = &mut self.staged[p];
        staged.bytes.extend_from_slice(word);
        staged.words.push((hash, n, staged.bytes.len()));
        if staged.words.len() >= STAGED_WORDS {
            self.flush_part(p);
        }
    }

    fn flush_part(&mut self, p: usize) {
        let staged = &mut self.staged[p];
        let mut table = lock(&self.shared.parts[p]);
        // Ask for every staged word's slot first: their loads overlap.
        let mut start = 0;
        for &(hash, _, end) in &staged.words {
            let word = &staged.bytes[start..end];
            table.prefetch(hash, head_of(word), word);
            start = end;
        }
        let mut start = 0;
        for &(hash, n, end) in &staged.words {
            let word = &staged.bytes[start..end];
            table.add_hashed(hash, head_of(word), word, n);
            start = end;
        }
        staged.bytes.clear();
        staged.words.clear();
    }

    /// Adds every staged word to the table.
    pub fn flush(&mut self) {
        for p in 0..PARTS {
            if !self.staged[p].words.is_empty() {
                self.flush_part(p);
            }
        }
    }
}

impl Drop for Stager<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::word_hash;

    #[test]
    fn threads_fill_one_table_with_every_word_once() {
        let shared = SharedCounts::new();
        (0..4u32).into_par_iter().for_each(|t| {
            let mut stager = shared.stager();
            for i in 0..20_000u32 {
                let word = format!("w{}", i % (5_000 + 1_000 * t));
                stager.push(word_hash(word.as_bytes()), word.as_bytes(), 1);
            }
            let mut small = WordCounts::new();
            small.add(b"", 2);
            small.add(b"abc", 1);
            shared.absorb(&small);
        });
        assert_eq!((shared.len(), shared.total()), (8_000 + 2, 4 * 20_003));
        let mut list = shared.into_entries();
        list.sort();
        assert_eq!(list.get(0), Some((&b"w0"[..], 14)));
        let all: Vec<_> = list.iter().collect();
        assert_eq!(all.iter().filter(|(w, _)| w.is_empty()).map(|(_, c)| *c).sum::<u64>(), 8);
        assert_eq!(all.len(), 8_002);
    }

    #[test]
    fn add_all_adds_every_record_whatever_the_batch_length() {
        for n in [0usize, 1, 15, 16, 17, 1000] {
            let words: Vec<String> = (0..n).map(|i| format!("word{}", i % 7)).collect();
            let mut shared = SharedCounts::new();
            let sum = shared.add_all(words.iter().enumerate().map(|(i, w)| (w.as_bytes(), i as u64 % 3)));
            assert_eq!(sum, (0..n as u64).map(|i| i % 3).sum::<u64>());
            assert_eq!((shared.len(), shared.total()), (n.min(7), sum), "{n}");
            let mut expected = WordCounts::new();
            for (i, w) in words.iter().enumerate() {
                expected.add(w.as_bytes(), i as u64 % 3);
            }
            let mut got: Vec<_> = shared.into_table().iter().map(|(w, c)| (w.to_vec(), c)).collect();
            let mut want: Vec<_> = expected.iter().map(|(w, c)| (w.to_vec(), c)).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want);
        }
    }
}

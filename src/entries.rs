//! A flat list of (word, count) entries in one byte arena: the form a range
//! takes in shuffle 2 and phase 6, and the form a finished table takes to be
//! sorted. Sorting puts it in result order; `lines` formats it.

use rayon::slice::ParallelSliceMut;

use crate::order;

/// One entry: `count` occurrences of `arena[start..start + len]`. `key` is
/// the word's first 8 bytes read big-endian (zero-padded), so comparing keys
/// compares word prefixes in byte order without touching the arena.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    key: u64,
    start: usize,
    len: usize,
    count: u64,
}

impl Entry {
    /// An entry for `word`, stored at `start` of the arena.
    #[inline]
    pub fn new(word: &[u8], start: usize, count: u64) -> Self {
        Entry { key: sort_key(word), start, len: word.len(), count }
    }
}

/// A word's first 8 bytes as a big-endian number, zero-padded: ordering keys
/// orders words by their prefix (equal keys need a full comparison).
#[inline]
pub fn sort_key(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = word.len().min(8);
    bytes[..n].copy_from_slice(&word[..n]);
    u64::from_be_bytes(bytes)
}

/// Entries whose words live in one arena.
#[derive(Debug, Default)]
pub struct Entries {
    arena: Vec<u8>,
    items: Vec<Entry>,
    total: u64,
}

impl Entries {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list over an arena that already holds the entries' words.
    pub fn from_parts(arena: Vec<u8>, items: Vec<Entry>) -> Self {
        let total = items.iter().fold(0u64, |a, e| a.saturating_add(e.count));
        Entries { arena, items, total }
    }

    /// Appends one entry.
    #[inline]
    pub fn push(&mut self, word: &[u8], count: u64) {
        self.items.push(Entry::new(word, self.arena.len(), count));
        self.arena.extend_from_slice(word);
        self.total = self.total.saturating_add(count);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if there is no entry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sum of the counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    #[inline]
    fn word(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start..e.start + e.len]
    }

    /// Entry `i` in the list's current order.
    pub fn get(&self, i: usize) -> Option<(&[u8], u64)> {
        self.items.get(i).map(|e| (self.word(e), e.count))
    }

    /// Every (word, count) in the list's current order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.items.iter().map(|e| (self.word(e), e.count))
    }

    /// Puts the entries in result order (count descending, word ascending),
    /// in parallel on the current rayon pool.
    pub fn sort(&mut self) {
        let arena = &self.arena;
        self.items.par_sort_unstable_by(|a, b| {
            b.count.cmp(&a.count).then(a.key.cmp(&b.key)).then_with(|| {
                order::compare(&arena[a.start..a.start + a.len], a.count, &arena[b.start..b.start + b.len], b.count)
            })
        });
    }

    /// The output text, cut into chunks of about `chunk_bytes` (a chunk ends at
    /// a line end; a single long line makes a chunk of its own).
    pub fn lines(&self, chunk_bytes: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut items = self.items.iter().peekable();
        std::iter::from_fn(move || {
            items.peek()?;
            let mut chunk = Vec::with_capacity(chunk_bytes + 64);
            while chunk.len() < chunk_bytes {
                let Some(e) = items.next() else { break };
                order::push_line(&mut chunk, self.word(e), e.count);
            }
            Some(chunk)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_into_result_order_and_chunks_at_line_ends() {
        let mut list = Entries::new();
        for (w, c) in [("b", 1), ("a", 1), ("c", 7), ("zz", 3), ("aa", 3)] {
            list.push(w.as_bytes(), c);
        }
        list.sort();
        let text: Vec<u8> = list.lines(1 << 20).flatten().collect();
        assert_eq!(text, b"c 7\naa 3\nzz 3\na 1\nb 1\n");
        let chunks: Vec<Vec<u8>> = list.lines(4).collect();
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
        assert_eq!(list.total(), 15);
    }
}

//! A flat list of (word, count) entries in one byte arena: the form a range
//! takes in shuffle 2 and phase 6, and the form a finished table takes to be
//! sorted. Sorting puts it in result order (keeping only the records a job
//! selects); `records` formats it.

use rayon::slice::ParallelSliceMut;

use crate::format::Format;
use crate::order;
use crate::select::Select;

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
        self.items.par_sort_unstable_by(|a, b| result_order(arena, a, b));
    }

    /// Keeps only the entries `select` keeps and puts them in result order.
    /// Entries below the minimum count go first, and with `--top` the top
    /// entries are selected before they are sorted, so a small selection of
    /// a large range costs little more than a pass over it.
    pub fn sort_selected(&mut self, select: Select) {
        if select.min_count > 1 {
            self.items.retain(|e| e.count >= select.min_count);
        }
        let top = usize::try_from(select.top).unwrap_or(usize::MAX);
        if top < self.items.len() {
            let arena = &self.arena;
            self.items.select_nth_unstable_by(top, |a, b| result_order(arena, a, b));
            self.items.truncate(top);
        }
        self.recount();
        self.sort();
    }

    /// Keeps the first `n` entries.
    pub fn truncate(&mut self, n: usize) {
        if n < self.items.len() {
            self.items.truncate(n);
            self.recount();
        }
    }

    fn recount(&mut self) {
        self.total = self.items.iter().fold(0u64, |a, e| a.saturating_add(e.count));
    }

    /// The records in `format`, cut into chunks of about `chunk_bytes` (a
    /// chunk ends at a record's end; a single long record makes a chunk of
    /// its own).
    pub fn records(&self, chunk_bytes: usize, format: Format) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut items = self.items.iter().peekable();
        std::iter::from_fn(move || {
            items.peek()?;
            let mut chunk = Vec::with_capacity(chunk_bytes + 64);
            while chunk.len() < chunk_bytes {
                let Some(e) = items.next() else { break };
                format.push_record(&mut chunk, self.word(e), e.count);
            }
            Some(chunk)
        })
    }
}

/// Result order between two entries of one arena; the prefix keys settle
/// most comparisons without reading the arena.
#[inline]
fn result_order(arena: &[u8], a: &Entry, b: &Entry) -> std::cmp::Ordering {
    b.count.cmp(&a.count).then(a.key.cmp(&b.key)).then_with(|| {
        order::compare(&arena[a.start..a.start + a.len], a.count, &arena[b.start..b.start + b.len], b.count)
    })
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
        let text: Vec<u8> = list.records(1 << 20, Format::Txt).flatten().collect();
        assert_eq!(text, b"c 7\naa 3\nzz 3\na 1\nb 1\n");
        let chunks: Vec<Vec<u8>> = list.records(4, Format::Txt).collect();
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
        assert_eq!(list.total(), 15);
    }

    #[test]
    fn a_selection_keeps_a_prefix_of_result_order() {
        let words: Vec<(String, u64)> = (0..500u64).map(|i| (format!("w{}", (i * 7919) % 500), i % 13 + 1)).collect();
        let full = |select: Select| {
            let mut list = Entries::new();
            for (w, c) in &words {
                list.push(w.as_bytes(), *c);
            }
            list.sort_selected(select);
            list.iter().map(|(w, c)| (w.to_vec(), c)).collect::<Vec<_>>()
        };
        let all = full(Select::ALL);
        assert_eq!(all.len(), 500);
        for (top, min_count) in
            [(0, 0), (1, 0), (37, 0), (499, 0), (500, 0), (9999, 0), (u64::MAX, 5), (10, 12), (3, 14)]
        {
            let expected: Vec<_> =
                all.iter().filter(|(_, c)| *c >= min_count).take(top.min(1000) as usize).cloned().collect();
            assert_eq!(full(Select { top, min_count }), expected, "top {top}, min count {min_count}");
        }
        let mut list = Entries::new();
        for (w, c) in [("a", 3), ("b", 2), ("c", 1)] {
            list.push(w.as_bytes(), c);
        }
        list.sort();
        list.truncate(2);
        assert_eq!((list.len(), list.total()), (2, 5));
    }
}

//! Word records packed in one byte arena: for each word, its count (8 bytes,
//! little-endian), its length (LEB128, one byte below 128) and its bytes.
//! This is where the counting table keeps its long words and where a
//! finished table, a received range or a sorted result keeps every word: a
//! distinct word costs its own bytes plus 9, with no per-word allocation and
//! no pointer. A record is named by its offset in the arena; walking the
//! records reads the arena in order.

/// Bytes before a record's word when the word is shorter than 128 bytes.
pub const OVERHEAD: usize = 9;

/// An append-only arena of (count, word) records.
#[derive(Debug, Default)]
pub struct Records {
    bytes: Vec<u8>,
    len: usize,
}

impl Records {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record; returns its offset.
    #[inline]
    pub fn push(&mut self, word: &[u8], count: u64) -> usize {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&count.to_le_bytes());
        let mut n = word.len();
        while n >= 0x80 {
            self.bytes.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.bytes.push(n as u8);
        self.bytes.extend_from_slice(word);
        self.len += 1;
        at
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there is no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the arena in use.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Bytes held (what dropping the arena frees).
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// The count of the record at `at`.
    #[inline]
    pub fn count(&self, at: usize) -> u64 {
        let mut c = [0u8; 8];
        c.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(c)
    }

    /// Adds `n` to the count of the record at `at` (wrapping: the callers
    /// check sums that could overflow before they add).
    #[inline]
    pub fn add_count(&mut self, at: usize, n: u64) {
        let count = self.count(at).wrapping_add(n);
        self.bytes[at..at + 8].copy_from_slice(&count.to_le_bytes());
    }

    /// The word of the record at `at`, and the offset of the next record.
    #[inline]
    pub fn word_and_next(&self, at: usize) -> (&[u8], usize) {
        let mut i = at + 8;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = self.bytes[i];
            i += 1;
            len |= ((b & 0x7f) as usize) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        (&self.bytes[i..i + len], i + len)
    }

    /// True if the record at `at` is of `word` (the common case, a word of 8
    /// to 127 bytes, is compared 8 bytes at a time, the last 8 overlapping).
    #[inline]
    pub fn holds(&self, at: usize, word: &[u8]) -> bool {
        let len = word.len();
        if !(8..0x80).contains(&len) {
            return self.word(at) == word;
        }
        let Some(stored) = self.bytes.get(at + 8..at + OVERHEAD + len) else { return false };
        if stored[0] as usize != len {
            return false;
        }
        let stored = &stored[1..];
        let mut i = 0;
        while i + 8 < len {
            if stored[i..i + 8] != word[i..i + 8] {
                return false;
            }
            i += 8;
        }
        stored[len - 8..] == word[len - 8..]
    }

    /// Asks for the record at `at` to be loaded into cache.
    #[inline(always)]
    pub fn prefetch(&self, at: usize) {
        if let Some(byte) = self.bytes.get(at) {
            crate::prefetch::prefetch(byte);
        }
    }

    /// The word of the record at `at`.
    #[inline]
    pub fn word(&self, at: usize) -> &[u8] {
        self.word_and_next(at).0
    }

    /// Every (offset, word, count), in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8], u64)> {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.bytes.len() {
                return None;
            }
            let (word, next) = self.word_and_next(at);
            let item = (at, word, self.count(at));
            at = next;
            Some(item)
        })
    }

    /// Moves every record of `other` to the end of this arena.
    pub fn append(&mut self, other: Records) {
        if self.bytes.is_empty() {
            *self = other;
            return;
        }
        self.bytes.extend_from_slice(&other.bytes);
        self.len += other.len;
    }

    /// Gives back memory reserved beyond what is in use.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_words_and_counts_of_any_length() {
        let mut r = Records::new();
        let long = vec![b'x'; 300];
        let a = r.push(b"", 1);
        let b = r.push(&long, 7);
        let c = r.push(b"abc", u64::MAX - 1);
        r.add_count(b, 5);
        r.add_count(c, 1);
        assert!(r.holds(b, &long) && r.holds(c, b"abc") && r.holds(a, b""));
        assert!(!r.holds(c, b"abd") && !r.holds(c, b"ab") && !r.holds(a, b"x") && !r.holds(b, &long[1..]));
        assert_eq!((r.word(a), r.count(a)), (&b""[..], 1));
        assert_eq!((r.word(b), r.count(b)), (&long[..], 12));
        assert_eq!((r.word(c), r.count(c)), (&b"abc"[..], u64::MAX));
        let all: Vec<_> = r.iter().map(|(at, w, n)| (at, w.len(), n)).collect();
        assert_eq!(all, vec![(a, 0, 1), (b, 300, 12), (c, 3, u64::MAX)]);
        assert_eq!(r.len(), 3);
        assert_eq!(r.byte_len(), 3 * 8 + 1 + 2 + 1 + 300 + 3);
        for len in 8..40 {
            let word: Vec<u8> = (0..len as u8).collect();
            let at = r.push(&word, 1);
            assert!(r.holds(at, &word));
            for i in 0..len {
                let mut other = word.clone();
                other[i] ^= 0x20;
                assert!(!r.holds(at, &other), "{len} {i}");
            }
            assert!(!r.holds(at, &word[..len - 1]));
        }
    }
}

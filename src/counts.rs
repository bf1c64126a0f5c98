//! The counting table (word → count) and the one routing hash.
//!
//! Words live back to back in one byte arena and the table holds small slots
//! (hash, arena offset, length, count), so counting allocates only when the
//! arena grows. The hash is ahash with fixed seeds: every node of a job must
//! compute the same hash for the same word, because `owner` routes words by
//! it in shuffle 1. `hash_fingerprint` lets nodes check that they agree.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Fixed seeds: the hash must be the same on every node and in every run.
static HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// The hash of a word, the same on every node.
#[inline]
pub fn word_hash(word: &[u8]) -> u64 {
    HASHER.hash_one(word)
}

/// The rank (of `workers`) that owns a word in shuffle 1.
///
/// Uses hash bits 16..48, which the table uses neither for its bucket index
/// (low bits) nor for its tags (top 7 bits), so a worker's own table stays
/// evenly spread.
#[inline]
pub fn owner(hash: u64, workers: usize) -> usize {
    ((((hash >> 16) & 0xFFFF_FFFF) * workers as u64) >> 32) as usize
}

/// A value that differs between builds whose hashes differ; nodes refuse to
/// work together when their fingerprints differ.
pub fn hash_fingerprint() -> u64 {
    word_hash(b"wordfreq routing check") ^ word_hash(b"").rotate_left(17)
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    start: usize,
    len: usize,
    count: u64,
}

/// Word counts: a hash table over an arena of word bytes.
#[derive(Debug, Default)]
pub struct WordCounts {
    slots: HashTable<Slot>,
    arena: Vec<u8>,
    total: u64,
}

impl WordCounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` occurrences of `word`.
    #[inline]
    pub fn add(&mut self, word: &[u8], n: u64) {
        self.add_hashed(word_hash(word), word, n);
    }

    /// Adds `n` occurrences of `word`, whose `word_hash` is `hash`.
    #[inline]
    pub fn add_hashed(&mut self, hash: u64, word: &[u8], n: u64) {
        self.total += n;
        let arena = &self.arena;
        let found = self.slots.entry(hash, |s| s.hash == hash && &arena[s.start..s.start + s.len] == word, |s| s.hash);
        match found {
            Entry::Occupied(mut slot) => slot.get_mut().count += n,
            Entry::Vacant(slot) => {
                slot.insert(Slot { hash, start: self.arena.len(), len: word.len(), count: n });
                self.arena.extend_from_slice(word);
            }
        }
    }

    /// Adds every count of `other` into this table.
    pub fn merge(&mut self, other: &WordCounts) {
        self.slots.reserve(other.len(), |s| s.hash);
        for (hash, word, count) in other.iter_hashed() {
            self.add_hashed(hash, word, count);
        }
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if no word was added.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Sum of all counts (the number of word occurrences).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Heap bytes held, roughly: what flushing the table would free.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.slots.capacity() * (size_of::<Slot>() + 1)
    }

    /// Every (word, count), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.iter_hashed().map(|(_, w, c)| (w, c))
    }

    /// Every (hash, word, count), in no particular order.
    pub fn iter_hashed(&self) -> impl Iterator<Item = (u64, &[u8], u64)> {
        self.slots.iter().map(|s| (s.hash, &self.arena[s.start..s.start + s.len], s.count))
    }

    /// Empties the table, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.arena.clear();
        self.total = 0;
    }

    /// The table's words as a flat list, reusing its arena.
    pub fn into_entries(self) -> crate::entries::Entries {
        let items = self.slots.iter().map(|s| crate::entries::Entry::new(s.start, s.len, s.count)).collect();
        crate::entries::Entries::from_parts(self.arena, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_merge() {
        let mut a = WordCounts::new();
        for w in ["x", "y", "x", "", "zz", "x"] {
            a.add(w.as_bytes(), 1);
        }
        let mut b = WordCounts::new();
        b.add(b"y", 5);
        b.add(b"new", 2);
        a.merge(&b);
        let mut got: Vec<_> = a.iter().map(|(w, c)| (w.to_vec(), c)).collect();
        got.sort();
        let want: Vec<(Vec<u8>, u64)> =
            vec![(b"".to_vec(), 1), (b"new".to_vec(), 2), (b"x".to_vec(), 3), (b"y".to_vec(), 6), (b"zz".to_vec(), 1)];
        assert_eq!(got, want);
        assert_eq!(a.total(), 13);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn owners_are_in_range_and_spread() {
        for workers in 1..=8 {
            let mut seen = vec![0usize; workers];
            for i in 0..20_000u32 {
                let o = owner(word_hash(&i.to_le_bytes()), workers);
                seen[o] += 1;
            }
            let mean = 20_000 / workers;
            assert!(seen.iter().all(|&n| n.abs_diff(mean) < mean / 10), "{workers}: {seen:?}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // Changing the hash changes routing between builds: make it deliberate.
        assert_eq!(word_hash(b"the"), word_hash(b"the"));
        assert_ne!(word_hash(b"the"), word_hash(b"The"));
        assert_eq!(hash_fingerprint(), hash_fingerprint());
    }
}

//! The counting table (word → count) and the one routing hash.
//!
//! The table's slots are 16 bytes: a word of up to 7 bytes is stored in the
//! slot itself (its bytes and its length in one `u64` key), so finding it
//! compares one integer and touches no other memory; a longer word's slot
//! holds the index of its record in `longs` (first 8 bytes, place in the byte
//! arena, length). Small slots keep more of the table in cache, which is
//! what counting is bound by.
//!
//! The hash is ahash with fixed seeds, fed the word's first 8 bytes (its
//! "head", zero-padded), the rest of the word and its length. Every node of a
//! job must compute the same hash for the same word, because `owner` routes
//! words by it in shuffle 1; `hash_fingerprint` lets nodes check that they
//! agree.

use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Fixed seeds: the hash must be the same on every node and in every run.
static HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// A word's first 8 bytes, little-endian, zero-padded.
#[inline]
pub fn head_of(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = word.len().min(8);
    bytes[..n].copy_from_slice(&word[..n]);
    u64::from_le_bytes(bytes)
}

/// The hash of a word, the same on every node.
#[inline]
pub fn word_hash(word: &[u8]) -> u64 {
    hash_with_head(head_of(word), word)
}

/// The hash of `word`, whose `head_of` is `head` (the tokenizer computes
/// heads as it scans, so this saves a load).
#[inline(always)]
pub fn hash_with_head(head: u64, word: &[u8]) -> u64 {
    let mut h = HASHER.build_hasher();
    h.write_u64(head);
    if let Some(tail) = word.get(8..) {
        h.write(tail);
    }
    h.write_usize(word.len());
    h.finish()
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

/// Words of 1 to this many bytes live in their slot (the empty word, which
/// no tokenizer makes but a peer could send, is stored as a long word).
const SHORT: usize = 7;
/// The key byte that holds a short word's length (0 marks a long word).
const LEN_SHIFT: u32 = 56;
const BYTES: u64 = (1 << LEN_SHIFT) - 1;

/// One table entry: `key` is a short word's bytes with its length in the last
/// byte, or (last byte 0) the little-endian index of a long word's record in
/// `longs`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: [u8; 8],
    count: u64,
}

/// Where a word longer than `SHORT` bytes lives.
#[derive(Clone, Copy, Debug)]
struct Long {
    head: u64,
    start: usize,
    len: usize,
}

/// Word counts: a hash table of small slots, with long words in an arena.
#[derive(Debug, Default)]
pub struct WordCounts {
    slots: HashTable<Slot>,
    longs: Vec<Long>,
    arena: Vec<u8>,
    total: u64,
}

/// A word as the table sees it: a short word's key, or a long word.
#[derive(Clone, Copy)]
enum Key<'a> {
    Short(u64),
    Long(u64, &'a [u8]),
}

impl<'a> Key<'a> {
    #[inline]
    fn of(head: u64, word: &'a [u8]) -> Key<'a> {
        match word.len() {
            1..=SHORT => Key::Short(head | (word.len() as u64) << LEN_SHIFT),
            _ => Key::Long(head, word),
        }
    }
}

impl Slot {
    #[inline]
    fn new(key: u64, count: u64) -> Slot {
        Slot { key: key.to_le_bytes(), count }
    }

    #[inline]
    fn key(&self) -> u64 {
        u64::from_le_bytes(self.key)
    }

    /// A short word's length; 0 for a long word.
    #[inline]
    fn short_len(&self) -> usize {
        self.key[7] as usize
    }

    /// The index of a long word's record.
    #[inline]
    fn long_index(&self) -> usize {
        self.key() as usize
    }
}

impl WordCounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` occurrences of `word`.
    #[inline]
    pub fn add(&mut self, word: &[u8], n: u64) {
        self.add_with_head(head_of(word), word, n);
    }

    /// Adds `n` occurrences of `word`, whose `head_of` is `head`.
    #[inline]
    pub fn add_with_head(&mut self, head: u64, word: &[u8], n: u64) {
        self.total += n;
        let hash = hash_with_head(head, word);
        let (longs, arena) = (&self.longs, &self.arena);
        let rehash = |s: &Slot| slot_hash(s, longs, arena);
        match Key::of(head, word) {
            Key::Short(key) => match self.slots.entry(hash, |s| s.key() == key, rehash) {
                Entry::Occupied(mut slot) => slot.get_mut().count += n,
                Entry::Vacant(slot) => {
                    slot.insert(Slot::new(key, n));
                }
            },
            Key::Long(head, word) => {
                let same = |s: &Slot| {
                    s.short_len() == 0 && {
                        let long = &longs[s.long_index()];
                        let known = word.len().min(8); // bytes already compared as the head
                        long.head == head
                            && long.len == word.len()
                            && arena[long.start + known..long.start + long.len] == word[known..]
                    }
                };
                match self.slots.entry(hash, same, rehash) {
                    Entry::Occupied(mut slot) => slot.get_mut().count += n,
                    Entry::Vacant(slot) => {
                        slot.insert(Slot::new(self.longs.len() as u64, n));
                        self.longs.push(Long { head, start: self.arena.len(), len: word.len() });
                        self.arena.extend_from_slice(word);
                    }
                }
            }
        }
    }

    /// Adds every count of `other` into this table.
    pub fn merge(&mut self, other: &WordCounts) {
        for (word, count) in other.iter() {
            self.add(word, count);
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
        self.arena.capacity()
            + self.longs.capacity() * size_of::<Long>()
            + self.slots.capacity() * (size_of::<Slot>() + 1)
    }

    /// Every (word, count), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.slots.iter().map(|s| (self.word(s), s.count))
    }

    /// Every (hash, word, count), in no particular order.
    pub fn iter_hashed(&self) -> impl Iterator<Item = (u64, &[u8], u64)> {
        self.slots.iter().map(|s| (slot_hash(s, &self.longs, &self.arena), self.word(s), s.count))
    }

    #[inline]
    fn word<'t>(&'t self, s: &'t Slot) -> &'t [u8] {
        match s.short_len() {
            0 => {
                let long = &self.longs[s.long_index()];
                &self.arena[long.start..long.start + long.len]
            }
            len => &s.key[..len],
        }
    }

    /// Empties the table, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.longs.clear();
        self.arena.clear();
        self.total = 0;
    }

    /// The table's words as a flat list (short words join the long ones in
    /// the arena).
    pub fn into_entries(self) -> crate::entries::Entries {
        let mut arena = self.arena;
        let mut items = Vec::with_capacity(self.slots.len());
        for s in self.slots.iter() {
            let (start, len) = match s.short_len() {
                0 => {
                    let long = &self.longs[s.long_index()];
                    (long.start, long.len)
                }
                len => {
                    arena.extend_from_slice(&s.key[..len]);
                    (arena.len() - len, len)
                }
            };
            items.push(crate::entries::Entry::new(start, len, s.count));
        }
        crate::entries::Entries::from_parts(arena, items)
    }
}

/// The hash of the word in a slot (to grow the table, and to route).
#[inline]
fn slot_hash(s: &Slot, longs: &[Long], arena: &[u8]) -> u64 {
    match s.short_len() {
        0 => {
            let long = &longs[s.long_index()];
            hash_with_head(long.head, &arena[long.start..long.start + long.len])
        }
        len => {
            let mut h = HASHER.build_hasher();
            h.write_u64(s.key() & BYTES);
            h.write_usize(len);
            h.finish()
        }
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
    fn long_and_short_words_with_equal_heads_stay_apart() {
        let mut t = WordCounts::new();
        for w in ["abcdefgh", "abcdefghi", "abcdefghj", "abcdefgh\0", "abc", "abc\0", "abcdefghi"] {
            t.add(w.as_bytes(), 1);
        }
        assert_eq!(t.len(), 6);
        assert_eq!(t.iter().find(|(w, _)| *w == b"abcdefghi").map(|(_, c)| c), Some(2));
        let mut big = WordCounts::new();
        for i in 0..100_000u32 {
            big.add(format!("word{i}").as_bytes(), 1);
        }
        big.merge(&t);
        assert_eq!((big.len(), big.total()), (100_006, 100_007));
    }

    #[test]
    fn the_hash_is_fixed() {
        // Routing depends on these values: every node of a job must compute
        // them. Changing the hash is a protocol change (bump wire VERSION).
        assert_eq!(word_hash(b"the"), 0x1dc2_46ad_3516_96cc);
        assert_eq!(word_hash(b""), 0x8e1f_0a7c_fe1a_062c);
        assert_eq!(word_hash(b"abcdefgh"), 0xa41b_d779_4d17_dfb3);
        assert_eq!(word_hash(b"internationalization"), 0x3315_b07a_e7b3_1658);
        assert_eq!(hash_fingerprint(), 0x55ad_ed26_a007_168f);
    }
}

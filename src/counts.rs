//! The counting table (word → count) and the one routing hash.
//!
//! The table's slots are 16 bytes (`slots.rs`: open addressing, linear
//! probing): a word of up to 7 bytes is stored in the slot itself (its bytes
//! and its length in one `u64` key) and placed by that key, so counting it
//! needs no word hash, compares one integer and touches no other memory. A
//! word of 8 to 15 bytes is stored the same way in a second array of
//! 32-byte slots (two keys, a count). A longer word's slot holds its hash
//! and where its record is in the arena (`records.rs`: count, length,
//! bytes), read only when the hash matches. Counting is bound by loading
//! slots, so the hot loop (`Counter`) gathers 32 short (or medium) words,
//! asks for all their slots, then adds them. It also lowercases for the
//! default tokenizer, once per distinct word rather than per occurrence:
//! words are counted with their capitals, and the table notes which keys
//! have some, to fold them into their lowercase forms (`fold_capitals`).
//!
//! The hash is ahash with fixed seeds, fed the word's first 8 bytes (its
//! "head", zero-padded), the rest of the word and its length. Every node of a
//! job must compute the same hash for the same word, because `owner` routes
//! words by it in shuffle 1; `hash_fingerprint` lets nodes check that they
//! agree.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::records::Records;
use crate::slots::{Found, Slot, Slots, WideSlot};
use crate::tokenize::lowercase;

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

/// The rank (of `workers`) that owns a word in shuffle 1, from hash bits
/// 16..48 (a table places its words by a salted mix of the hash or key, so
/// a worker's own table stays evenly spread whatever it owns).
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
/// Words of `SHORT + 1` to this many bytes live in a wide slot.
const MEDIUM: usize = 15;

/// Word counts: a hash table of small slots, with long words (and their
/// counts) as records in an arena.
///
/// Once counting is over, `compact` moves the short words to the arena too
/// and frees the table: the words can still be walked (`iter`) and listed
/// (`into_entries`), at a cost of their bytes plus 9 each. Adding to a
/// compacted table first rebuilds it.
#[derive(Debug)]
pub struct WordCounts {
    /// For a short word, `key` holds its bytes and (last byte) its length,
    /// and `value` its count. For a long word, `key` holds (last byte 0)
    /// one more than the offset of its record in `records`, and `value` its
    /// word hash: probes and growth never leave the table.
    slots: Slots,
    /// Medium words: in `key`, the word's first 8 bytes, then its other
    /// bytes and (last byte) its length; `value` its count.
    wide: Slots<WideSlot>,
    /// Long words while the table is indexed; every word once compacted.
    records: Records,
    /// False once compacted: `slots` and `wide` are empty and `records`
    /// holds every word.
    indexed: bool,
    /// Keys of short and medium words with capitals that a lowercasing
    /// counter put in the table, until `fold_capitals` lowercases them.
    capitals: Vec<u64>,
    wide_capitals: Vec<(u64, u64)>,
    distinct: usize,
    total: u64,
    /// Mixed into the word hash (long words) or the keys (short and medium
    /// words) to place slots. Tables are filled from other
    /// tables' iteration order (merges, shuffles), which follows their
    /// placement; with the same placement, consecutive inserts would land in
    /// consecutive buckets and probe sequences would grow without bound.
    salt: u64,
}

impl Default for WordCounts {
    fn default() -> Self {
        static TABLES: AtomicU64 = AtomicU64::new(0);
        let salt = TABLES.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        WordCounts {
            slots: Slots::default(),
            wide: Slots::default(),
            records: Records::new(),
            indexed: true,
            capitals: Vec::new(),
            wide_capitals: Vec::new(),
            distinct: 0,
            total: 0,
            salt,
        }
    }
}

/// A table's placement hash: the word hash mixed with the table's salt.
#[inline(always)]
fn place(hash: u64, salt: u64) -> u64 {
    let product = u128::from(hash ^ salt) * 0x2545_f491_4f6c_dd1d_u128;
    (product as u64) ^ ((product >> 64) as u64)
}

/// A short word's length, from its slot; 0 for a long word.
#[inline(always)]
fn short_len(slot: &Slot) -> usize {
    slot.key[7] as usize
}

/// Where a slot goes in a table salted with `salt`: a short word by its key
/// (no word hash needed), a long word by its word hash.
#[inline(always)]
fn placement(slot: &Slot, salt: u64) -> u64 {
    match short_len(slot) {
        0 => place(slot.value, salt),
        _ => place(slot.key(), salt),
    }
}

/// The slot key of a short word: its bytes and, in the last byte, its length.
#[inline(always)]
fn short_key(head: u64, len: usize) -> u64 {
    head | (len as u64) << LEN_SHIFT
}

/// The keys of a medium word (`SHORT + 1` to `MEDIUM` bytes) whose
/// `head_of` is `head`: its first 8 bytes, then its other bytes with its
/// length in the last byte (never 0).
#[inline(always)]
fn medium_keys(head: u64, word: &[u8]) -> (u64, u64) {
    let len = word.len();
    let mut last = [0u8; 8];
    last.copy_from_slice(&word[len - 8..]);
    // The last 8 bytes, less those that are also in the head (all of them
    // for a word of 8 bytes: a shift by 64 in two steps).
    let rest = (u64::from_le_bytes(last) >> (8 * (16 - len) - 1)) >> 1;
    (head, rest | (len as u64) << LEN_SHIFT)
}

/// Where a medium word's slot goes in a table salted with `salt`.
#[inline(always)]
fn wide_place((head, rest): (u64, u64), salt: u64) -> u64 {
    place(head ^ rest.wrapping_mul(0x9E37_79B9_7F4A_7C15), salt)
}

/// How many short words a `Counter` gathers before it adds them.
const BATCH: usize = 32;

/// A lowercasing counter folds a table's capitals as it goes once it holds
/// at least this many keys with capitals and they are more than half of
/// its keys: text in random case (`tHe`, `THe`, ...) would otherwise fill
/// the table with spellings of a few words. Ordinary text stays below
/// (the sample: 7.7 K capitalised keys of 33 K).
const FOLD_MIN: usize = 4096;

/// Adds words to a table, short and medium words a batch at a time (see
/// `WordCounts::counter`).
#[derive(Debug)]
pub struct Counter<'t> {
    table: &'t mut WordCounts,
    /// Slot keys of the short words gathered so far.
    keys: [u64; BATCH],
    gathered: usize,
    /// Keys of the medium words gathered so far.
    wide_keys: [(u64, u64); BATCH],
    wide_gathered: usize,
    /// Whether the counter lowercases `A`-`Z` in the words it is given.
    lowercase: bool,
    /// Room for a long word's lowercased copy.
    lowered: Vec<u8>,
}

impl Counter<'_> {
    /// Adds one occurrence of `word`, whose `head_of` is `head`; returns
    /// how many words went into the table (0 while gathering), so that a
    /// caller can meter per batch rather than per word. Kept small, so
    /// that it is inlined into the tokenizer's loop.
    #[inline(always)]
    pub fn add(&mut self, head: u64, word: &[u8]) -> u32 {
        match word.len() {
            1..=SHORT => {
                self.keys[self.gathered] = short_key(head, word.len());
                self.gathered += 1;
                if self.gathered == BATCH {
                    self.add_gathered();
                    return BATCH as u32;
                }
                0
            }
            8..=MEDIUM => {
                self.wide_keys[self.wide_gathered] = medium_keys(head, word);
                self.wide_gathered += 1;
                if self.wide_gathered == BATCH {
                    self.add_wide_gathered();
                    return BATCH as u32;
                }
                0
            }
            _ => {
                self.add_long(head, word);
                1
            }
        }
    }

    /// Adds a long word at once (gathering long words too, which means
    /// copying them, measured slower), lowercased first if need be.
    #[inline(never)]
    fn add_long(&mut self, head: u64, word: &[u8]) {
        if self.lowercase && word.iter().any(u8::is_ascii_uppercase) {
            self.lowered.clear();
            self.lowered.extend(word.iter().map(u8::to_ascii_lowercase));
            let lowered = &self.lowered;
            self.table.add_long(hash_with_head(lowercase(head), lowered), lowered, 1);
        } else {
            self.table.add_long(hash_with_head(head, word), word, 1);
        }
    }

    /// Adds the gathered short words: first every slot is asked for, then
    /// each word is added, so that the loads of the batch's slots overlap.
    #[inline(never)]
    fn add_gathered(&mut self) {
        let keys = &self.keys[..self.gathered];
        let mut places = [0u64; BATCH];
        for (at, &key) in places.iter_mut().zip(keys) {
            *at = place(key, self.table.salt);
            self.table.slots.prefetch(*at);
        }
        for (&key, &at) in keys.iter().zip(&places) {
            if self.table.add_placed_short(key, at, 1) && self.lowercase && lowercase(key) != key {
                self.table.capitals.push(key);
            }
        }
        self.gathered = 0;
        self.table.fold_capitals_if_many();
    }

    /// Adds the gathered medium words, as `add_gathered` adds short ones.
    #[inline(never)]
    fn add_wide_gathered(&mut self) {
        let keys = &self.wide_keys[..self.wide_gathered];
        let mut places = [0u64; BATCH];
        for (at, &key) in places.iter_mut().zip(keys) {
            *at = wide_place(key, self.table.salt);
            self.table.wide.prefetch(*at);
        }
        for (&key, &at) in keys.iter().zip(&places) {
            if self.table.add_placed_medium(key, at, 1) && self.lowercase && lower_keys(key) != key {
                self.table.wide_capitals.push(key);
            }
        }
        self.wide_gathered = 0;
        self.table.fold_capitals_if_many();
    }

    /// Distinct words in the table (those still gathered not included).
    pub fn distinct(&self) -> usize {
        self.table.len()
    }
}

impl Drop for Counter<'_> {
    fn drop(&mut self) {
        self.add_gathered();
        self.add_wide_gathered();
    }
}

/// Medium-word keys with `A`-`Z` lowercased (the length byte is below `A`).
#[inline(always)]
fn lower_keys((head, rest): (u64, u64)) -> (u64, u64) {
    (lowercase(head), lowercase(rest))
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
        match word.len() {
            1..=SHORT => self.add_short(short_key(head, word.len()), n),
            8..=MEDIUM => self.add_medium(medium_keys(head, word), n),
            _ => self.add_long(hash_with_head(head, word), word, n),
        }
    }

    /// Adds `n` occurrences of `word`, whose `head_of` is `head` and whose
    /// `word_hash` is `hash`.
    #[inline(always)]
    pub fn add_hashed(&mut self, hash: u64, head: u64, word: &[u8], n: u64) {
        match word.len() {
            1..=SHORT => self.add_short(short_key(head, word.len()), n),
            8..=MEDIUM => self.add_medium(medium_keys(head, word), n),
            _ => self.add_long(hash, word, n),
        }
    }

    /// Asks for the slot of a word to be loaded (the arguments of a coming
    /// `add_hashed`: its hash, head and bytes).
    #[inline(always)]
    pub fn prefetch(&self, hash: u64, head: u64, word: &[u8]) {
        match word.len() {
            1..=SHORT => self.slots.prefetch(place(short_key(head, word.len()), self.salt)),
            8..=MEDIUM => self.wide.prefetch(wide_place(medium_keys(head, word), self.salt)),
            _ => self.slots.prefetch(place(hash, self.salt)),
        }
    }

    /// Counts words of the hot loop: short and medium words are gathered
    /// and added a batch at a time, so that the loads of their slots
    /// overlap (drop the counter to add the last ones).
    ///
    /// With `lowercase`, the counter lowercases `A`-`Z` in its words, once
    /// per distinct word rather than per occurrence: short and medium
    /// words are counted as they come, capitals and all, and the table
    /// notes the keys with capitals, to move their counts to the lowercase
    /// forms in `fold_capitals`, before its words are read (long words,
    /// rare, are lowercased at once).
    pub fn counter(&mut self, lowercase: bool) -> Counter<'_> {
        if !self.indexed {
            self.reindex();
        }
        Counter {
            table: self,
            keys: [0; BATCH],
            gathered: 0,
            wide_keys: [(0, 0); BATCH],
            wide_gathered: 0,
            lowercase,
            lowered: Vec::new(),
        }
    }

    /// `fold_capitals` when the keys with capitals are many (`FOLD_MIN`).
    #[inline(always)]
    fn fold_capitals_if_many(&mut self) {
        let capitals = self.capitals.len() + self.wide_capitals.len();
        if capitals >= FOLD_MIN && capitals * 2 > self.distinct {
            self.fold_capitals();
        }
    }

    /// Ends the lowercasing of a lowercasing counter: the counts of words
    /// it put in the table with capitals move to their lowercase forms.
    /// Due before the words are read (`iter`, and what uses it), after the
    /// last split is counted: a word's case variants are then folded once
    /// per table, not once per split.
    pub fn fold_capitals(&mut self) {
        let salt = self.salt;
        let (shorts, mediums) = (std::mem::take(&mut self.capitals), std::mem::take(&mut self.wide_capitals));
        for key in shorts {
            if let Found::At(i) = self.slots.find(place(key, salt), |s| s.key() == key) {
                let n = self.slots.remove(i, |s| placement(s, salt)).value;
                self.distinct -= 1;
                self.total = self.total.wrapping_sub(n);
                self.add_short(lowercase(key), n);
            }
        }
        for keys in mediums {
            if let Found::At(i) = self.wide.find(wide_place(keys, salt), |s| s.keys() == keys) {
                let n = self.wide.remove(i, |s| wide_place(s.keys(), salt)).value;
                self.distinct -= 1;
                self.total = self.total.wrapping_sub(n);
                self.add_medium(lower_keys(keys), n);
            }
        }
    }

    /// Adds `n` occurrences of the short word whose slot key is `key`.
    #[inline(always)]
    fn add_short(&mut self, key: u64, n: u64) {
        self.add_placed_short(key, place(key, self.salt), n);
    }

    /// `add_short` of a key whose placement `at` is known; true if the key
    /// was new.
    #[inline(always)]
    fn add_placed_short(&mut self, key: u64, at: u64, n: u64) -> bool {
        if !self.indexed {
            self.reindex();
        }
        self.total = self.total.wrapping_add(n);
        let salt = self.salt;
        match self.slots.find(at, |s| s.key() == key) {
            Found::At(i) => {
                let slot = self.slots.get_mut(i);
                slot.value = slot.value.wrapping_add(n);
                false
            }
            Found::Vacant(i) => {
                self.slots.insert(i, at, Slot { key: key.to_le_bytes(), value: n }, |s| placement(s, salt));
                self.distinct += 1;
                true
            }
        }
    }

    /// Adds `n` occurrences of the medium word whose keys are `keys`.
    #[inline(always)]
    fn add_medium(&mut self, keys: (u64, u64), n: u64) {
        self.add_placed_medium(keys, wide_place(keys, self.salt), n);
    }

    /// `add_medium` of keys whose placement `at` is known; true if the
    /// keys were new.
    #[inline(always)]
    fn add_placed_medium(&mut self, keys: (u64, u64), at: u64, n: u64) -> bool {
        if !self.indexed {
            self.reindex();
        }
        self.total = self.total.wrapping_add(n);
        let salt = self.salt;
        match self.wide.find(at, |s| s.keys() == keys) {
            Found::At(i) => {
                let slot = self.wide.get_mut(i);
                slot.value = slot.value.wrapping_add(n);
                false
            }
            Found::Vacant(i) => {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&keys.0.to_le_bytes());
                key[8..].copy_from_slice(&keys.1.to_le_bytes());
                self.wide.insert(i, at, WideSlot { key, value: n }, |s| wide_place(s.keys(), salt));
                self.distinct += 1;
                true
            }
        }
    }

    /// Adds `n` occurrences of `word`, longer than a slot holds (or empty),
    /// whose `word_hash` is `hash`.
    #[inline(always)]
    fn add_long(&mut self, hash: u64, word: &[u8], n: u64) {
        if !self.indexed {
            self.reindex();
        }
        self.total = self.total.wrapping_add(n);
        let salt = self.salt;
        let at = place(hash, salt);
        let records = &self.records;
        let same = |s: &Slot| s.value == hash && short_len(s) == 0 && records.holds(s.key() as usize - 1, word);
        match self.slots.find(at, same) {
            Found::At(i) => self.records.add_count(self.slots.get_mut(i).key() as usize - 1, n),
            Found::Vacant(i) => {
                let key = self.records.push(word, n) as u64 + 1;
                self.slots.insert(i, at, Slot { key: key.to_le_bytes(), value: hash }, |s| placement(s, salt));
                self.distinct += 1;
            }
        }
    }

    /// Adds every count of `other` into this table.
    pub fn merge(&mut self, other: &WordCounts) {
        if !self.indexed {
            self.reindex();
        }
        let salt = self.salt;
        let mediums = if other.indexed {
            other.wide.used()
        } else {
            other.iter().filter(|(word, _)| (SHORT + 1..=MEDIUM).contains(&word.len())).count()
        };
        self.slots.reserve(other.len() - mediums, |s| placement(s, salt));
        self.wide.reserve(mediums, |s| wide_place(s.keys(), salt));
        for (word, count) in other.iter() {
            self.add(word, count);
        }
    }

    /// Number of distinct words (before `fold_capitals`, a word's case
    /// variants count apart).
    pub fn len(&self) -> usize {
        self.distinct
    }

    /// True if no word was added.
    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }

    /// Sum of all counts (the number of word occurrences).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Heap bytes held, roughly: what flushing the table would free.
    pub fn heap_bytes(&self) -> usize {
        let capitals =
            self.capitals.capacity() * size_of::<u64>() + self.wide_capitals.capacity() * 2 * size_of::<u64>();
        self.records.capacity() + self.slots.heap_bytes() + self.wide.heap_bytes() + capitals
    }

    /// Every (word, count), in no particular order: short and medium words
    /// from the table, then long words in the order they came.
    ///
    /// Panics if a lowercasing counter's capitals are not folded yet: the
    /// words would come out in two cases (a bug of the caller, not of data).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        assert!(
            self.capitals.is_empty() && self.wide_capitals.is_empty(),
            "a table's words read before its capitals were folded"
        );
        let shorts = self.slots.iter().filter(|s| short_len(s) > 0).map(|s| (&s.key[..short_len(s)], s.value));
        let mediums = self.wide.iter().map(|s| (&s.key[..usize::from(s.key[15])], s.value));
        let records = self.records.iter().map(|(_, word, count)| (word, count));
        shorts.chain(mediums).chain(records)
    }

    /// Every (hash, word, count), in the order of `iter`.
    pub fn iter_hashed(&self) -> impl Iterator<Item = (u64, &[u8], u64)> {
        self.iter().map(|(word, count)| (word_hash(word), word, count))
    }

    /// Ends counting: every word becomes a record in the arena and the
    /// table's slots are freed. `iter` and `into_entries` still work; an
    /// `add` rebuilds the table first.
    pub fn compact(&mut self) {
        if !self.indexed {
            return;
        }
        self.fold_capitals();
        for s in self.slots.iter() {
            let len = short_len(s);
            if len > 0 {
                self.records.push(&s.key[..len], s.value);
            }
        }
        for s in self.wide.iter() {
            self.records.push(&s.key[..usize::from(s.key[15])], s.value);
        }
        self.slots = Slots::default();
        self.wide = Slots::default();
        self.records.shrink_to_fit();
        self.indexed = false;
    }

    /// A compacted table of the words in `records`, which hold `total`
    /// occurrences.
    pub fn compacted(records: Records, total: u64) -> Self {
        WordCounts { distinct: records.len(), records, indexed: false, total, ..WordCounts::default() }
    }

    /// Rebuilds the slots of a compacted table (no caller counts into a
    /// compacted table today; this keeps it correct if one does).
    #[cold]
    fn reindex(&mut self) {
        let records = std::mem::take(&mut self.records);
        let total = self.total;
        *self = WordCounts { salt: self.salt, ..WordCounts::default() };
        for (_, word, count) in records.iter() {
            self.add(word, count);
        }
        self.total = total;
    }

    /// The table's words as a flat list, in one arena of records.
    pub fn into_entries(mut self) -> crate::entries::Entries {
        self.compact();
        crate::entries::Entries::from_records(vec![self.records])
    }

    /// The table's words as an arena of records (compacting it).
    pub fn into_records(mut self) -> Records {
        self.compact();
        self.records
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
    fn words_alike_but_for_a_length_or_zero_byte_stay_apart() {
        let words: [&[u8]; 13] = [
            b"abcdefg",
            b"abcdefg\x07",
            b"abcdefg\x08",
            b"abcdefg\0",
            b"abcdefgh",
            b"abc",
            b"abc\0\0\0\0\x03",
            b"abcdefgh\x08",
            b"abcdefghijklmn",
            b"abcdefghijklmn\0",
            b"abcdefghijklmno",
            b"abcdefghijklmno\0",
            b"\0\0\0\0\0\0\0\0\0",
        ];
        let mut t = WordCounts::new();
        for (i, w) in words.iter().enumerate() {
            t.add(w, i as u64 + 1);
        }
        let mut counter = t.counter(false);
        for w in words {
            counter.add(head_of(w), w);
        }
        drop(counter);
        assert_eq!(t.len(), words.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.iter().find(|(x, _)| x == w).map(|(_, c)| c), Some(i as u64 + 2), "{w:?}");
        }
        t.compact();
        assert_eq!(t.iter().count(), words.len());
    }

    #[test]
    fn a_merge_makes_room_in_the_array_its_words_go_to() {
        let mut other = WordCounts::new();
        for i in 0..100_000u32 {
            other.add(format!("{i:012}").as_bytes(), 1);
        }
        for compacted in [false, true] {
            if compacted {
                other.compact();
            }
            let mut all = WordCounts::new();
            all.add(b"x", 1);
            all.merge(&other);
            assert_eq!(all.len(), 100_001);
            assert!(all.slots.heap_bytes() <= 1024, "{}", all.slots.heap_bytes());
            assert!(all.wide.heap_bytes() <= 100_000 * 32 * 8 / 3, "{}", all.wide.heap_bytes());
        }
    }

    proptest::proptest! {
        #[test]
        fn counts_match_a_hash_map(words in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![0u8, 3, 7, 8, 9, b'a', b'z', 0xFF]), 0..12),
            0..300,
        )) {
            let mut expected = std::collections::HashMap::<&[u8], u64>::new();
            let mut t = WordCounts::new();
            let mut counter = t.counter(false);
            for w in &words {
                *expected.entry(w).or_default() += 1;
                counter.add(head_of(w), w);
            }
            drop(counter);
            let got: std::collections::HashMap<&[u8], u64> = t.iter().collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    proptest::proptest! {
        #[test]
        fn a_lowercasing_counter_counts_as_lowercased_words_do(
            splits in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::collection::vec(proptest::sample::select(b"aAzZ@[`{\0\x07\xC1".to_vec()), 1..20),
                    0..100,
                ),
                1..4,
            ),
        ) {
            let mut expected = std::collections::HashMap::<Vec<u8>, u64>::new();
            let mut t = WordCounts::new();
            for split in &splits {
                let mut counter = t.counter(true);
                for w in split {
                    *expected.entry(w.to_ascii_lowercase()).or_default() += 1;
                    counter.add(head_of(w), w);
                }
            }
            t.fold_capitals();
            let got: std::collections::HashMap<Vec<u8>, u64> = t.iter().map(|(w, c)| (w.to_vec(), c)).collect();
            proptest::prop_assert_eq!(t.len(), expected.len());
            proptest::prop_assert_eq!(t.total(), expected.values().sum::<u64>());
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn words_in_random_case_do_not_fill_the_table_with_spellings() {
        // 100 words of 15 letters (2^15 spellings each) and 4 of 5 letters.
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let words: Vec<Vec<u8>> =
            (0..104).map(|i| (0..if i < 100 { 15 } else { 5 }).map(|_| b'a' + (next() % 26) as u8).collect()).collect();
        let mut t = WordCounts::new();
        let mut counter = t.counter(true);
        for _ in 0..300_000 {
            let mut w = words[(next() % 104) as usize].clone();
            w.iter_mut().filter(|_| next() % 2 == 0).for_each(|b| *b = b.to_ascii_uppercase());
            counter.add(head_of(&w), &w);
        }
        drop(counter);
        assert!(t.len() <= 2 * FOLD_MIN + 104, "{} keys for 104 words", t.len());
        assert!(t.heap_bytes() < 2 << 20, "{} bytes", t.heap_bytes());
        t.fold_capitals();
        assert_eq!((t.len(), t.total()), (words.iter().collect::<std::collections::HashSet<_>>().len(), 300_000));
    }

    #[test]
    #[should_panic(expected = "before its capitals were folded")]
    fn words_are_not_read_before_their_capitals_are_folded() {
        let mut t = WordCounts::new();
        t.counter(true).add(head_of(b"The"), b"The");
        let _ = t.iter().count();
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

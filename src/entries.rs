//! A flat list of (word, count) entries kept as records in byte arenas
//! (`records`): the form a range takes in shuffle 2 and phase 6, and the form
//! a finished table takes to be sorted. Sorting puts it in result order
//! (keeping only the records a job selects); `records` and `write_records`
//! format it.
//!
//! Sorting never moves the words. Entries are first grouped by count (one
//! pass to count each count's entries, one pass to place them: a counting
//! sort, count descending), each as a 16-byte item (the word's first 8 bytes
//! big-endian, and where its record is); then each group is sorted by word,
//! in parallel, comparing the 8-byte prefixes and reading the arena only when
//! they are equal. A sorted entry costs 16 bytes beside its record.

use rayon::prelude::*;

use crate::format::Format;
use crate::records::Records;
use crate::select::Select;

/// A word's first 8 bytes as a big-endian number, zero-padded: ordering keys
/// orders words by their prefix (equal keys need a full comparison).
#[inline]
pub fn sort_key(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = word.len().min(8);
    bytes[..n].copy_from_slice(&word[..n]);
    u64::from_be_bytes(bytes)
}

/// Where a record is: arena (segment) index in the top 24 bits, offset in
/// the low 40 (an arena of a terabyte).
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// How many records ahead of the one it reads a walk in sorted order asks for.
const PREFETCH_AHEAD: usize = 16;

/// One sorted entry: [sort key, record place]. An array so that a vector of
/// zeroed items is allocated zeroed, not written.
type Item = [u64; 2];

/// Counts with fewer than this value are grouped through an array, larger
/// ones through a map.
const SMALL_COUNTS: usize = 1024;

/// How many entries have each count.
#[derive(Debug)]
struct CountHistogram {
    small: Vec<usize>,
    large: ahash::AHashMap<u64, usize>,
}

impl Default for CountHistogram {
    fn default() -> Self {
        CountHistogram { small: vec![0; SMALL_COUNTS], large: ahash::AHashMap::new() }
    }
}

impl CountHistogram {
    fn of(records: &Records) -> Self {
        let mut h = CountHistogram::default();
        for (_, _, count) in records.iter() {
            match usize::try_from(count) {
                Ok(c) if c < SMALL_COUNTS => h.small[c] += 1,
                _ => *h.large.entry(count).or_default() += 1,
            }
        }
        h
    }

    fn add(&mut self, other: &CountHistogram) {
        self.small.iter_mut().zip(&other.small).for_each(|(a, b)| *a += b);
        other.large.iter().for_each(|(&c, &n)| *self.large.entry(c).or_default() += n);
    }

    fn get(&self, count: u64) -> usize {
        match usize::try_from(count) {
            Ok(c) if c < SMALL_COUNTS => self.small[c],
            _ => self.large.get(&count).copied().unwrap_or(0),
        }
    }

    /// (count, entries), count descending.
    fn descending(&self) -> Vec<(u64, usize)> {
        let mut counts: Vec<(u64, usize)> = self.large.iter().map(|(&c, &n)| (c, n)).collect();
        counts.extend(self.small.iter().enumerate().filter(|(_, n)| **n > 0).map(|(c, &n)| (c as u64, n)));
        counts.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
        counts
    }
}

/// The index of each count's group.
#[derive(Debug)]
struct GroupIndex {
    small: Vec<usize>,
    large: ahash::AHashMap<u64, usize>,
}

impl GroupIndex {
    fn new(descending: &[(u64, usize)]) -> Self {
        let mut index = GroupIndex { small: vec![0; SMALL_COUNTS], large: ahash::AHashMap::new() };
        for (g, &(count, _)) in descending.iter().enumerate() {
            match usize::try_from(count) {
                Ok(c) if c < SMALL_COUNTS => index.small[c] = g,
                _ => {
                    index.large.insert(count, g);
                }
            }
        }
        index
    }

    /// The group of a count that is in the index.
    #[inline]
    fn get(&self, count: u64) -> usize {
        match usize::try_from(count) {
            Ok(c) if c < SMALL_COUNTS => self.small[c],
            _ => self.large.get(&count).copied().unwrap_or(0),
        }
    }
}

/// The result order of a list: items grouped by count, descending.
#[derive(Debug, Default)]
struct Sorted {
    items: Vec<Item>,
    /// (count, end in `items`) of each group, count descending.
    groups: Vec<(u64, usize)>,
}

/// Entries whose words live in one or more arenas of records.
#[derive(Debug, Default)]
pub struct Entries {
    segments: Vec<Records>,
    sorted: Option<Sorted>,
    len: usize,
    total: u64,
}

impl Entries {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list of the records of `segments` (in that order until sorted).
    pub fn from_records(segments: Vec<Records>) -> Self {
        let len = segments.iter().map(Records::len).sum();
        let total = segments
            .par_iter()
            .map(|s| s.iter().fold(0u64, |a, (_, _, c)| a.saturating_add(c)))
            .reduce(|| 0, u64::saturating_add);
        Entries { segments, sorted: None, len, total }
    }

    /// Appends one entry (a sorted list is then unsorted again).
    #[inline]
    pub fn push(&mut self, word: &[u8], count: u64) {
        if self.segments.is_empty() {
            self.segments.push(Records::new());
        }
        if let Some(last) = self.segments.last_mut() {
            last.push(word, count);
        }
        self.sorted = None;
        self.len += 1;
        self.total = self.total.saturating_add(count);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sum of the counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Heap bytes held, roughly.
    pub fn heap_bytes(&self) -> usize {
        let sorted = self.sorted.as_ref().map_or(0, |s| s.items.capacity() * size_of::<Item>());
        sorted + self.segments.iter().map(Records::capacity).sum::<usize>()
    }

    /// Asks for the record at `place` to be loaded into cache.
    #[inline(always)]
    fn prefetch_word(&self, place: u64) {
        if let Some(segment) = self.segments.get((place >> OFFSET_BITS) as usize) {
            segment.prefetch((place & OFFSET_MASK) as usize);
        }
    }

    #[inline]
    fn word_at(&self, place: u64) -> &[u8] {
        self.segments[(place >> OFFSET_BITS) as usize].word((place & OFFSET_MASK) as usize)
    }

    /// Entry `i` in the list's current order (unsorted, this walks the list).
    pub fn get(&self, i: usize) -> Option<(&[u8], u64)> {
        match &self.sorted {
            Some(sorted) => {
                let item = sorted.items.get(i)?;
                let group = sorted.groups.partition_point(|&(_, end)| end <= i);
                Some((self.word_at(item[1]), sorted.groups[group].0))
            }
            None => self.iter().nth(i),
        }
    }

    /// The entries `range` (indices into the list's current order); sorted,
    /// a walk with the records prefetched, as `iter`'s.
    pub fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = (&[u8], u64)> {
        let (sorted, unsorted) = match &self.sorted {
            Some(sorted) => (Some(self.sorted_range(sorted, range.start..range.end.min(sorted.items.len()))), None),
            None => (None, Some(self.iter().skip(range.start).take(range.len()))),
        };
        sorted.into_iter().flatten().chain(unsorted.into_iter().flatten())
    }

    /// Every (word, count) in the list's current order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        let (sorted, unsorted) = match &self.sorted {
            Some(sorted) => (Some(self.sorted_range(sorted, 0..sorted.items.len())), None),
            None => (None, Some(self.segments.iter().flat_map(|s| s.iter().map(|(_, w, c)| (w, c))))),
        };
        sorted.into_iter().flatten().chain(unsorted.into_iter().flatten())
    }

    /// The sorted entries `range` (indices into `items`), with their counts.
    fn sorted_range<'a>(
        &'a self,
        sorted: &'a Sorted,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (&'a [u8], u64)> + 'a {
        let first = sorted.groups.partition_point(|&(_, end)| end <= range.start);
        let mut start = range.start;
        sorted.groups[first..]
            .iter()
            .map_while(move |&(count, end)| {
                if start >= range.end {
                    return None;
                }
                let group = start..end.min(range.end);
                start = group.end;
                // The records are read in sorted order, at random places in
                // the arenas: each one is asked for a few records ahead.
                let ahead = sorted.items.get(group.start + PREFETCH_AHEAD..).unwrap_or_default();
                Some(sorted.items[group].iter().enumerate().map(move |(k, item)| {
                    if let Some(next) = ahead.get(k) {
                        self.prefetch_word(next[1]);
                    }
                    (self.word_at(item[1]), count)
                }))
            })
            .flatten()
    }

    /// Puts the entries in result order (count descending, word ascending),
    /// in parallel on the current rayon pool.
    pub fn sort(&mut self) {
        if self.sorted.is_none() {
            self.sort_selected(Select::ALL);
        }
    }

    /// Keeps only the entries `select` keeps and puts them in result order.
    /// Entries below the minimum count are never placed, and with `--top`
    /// only the count groups that reach into the top are sorted by word, so
    /// a small selection of a large list costs little more than two passes
    /// over it.
    pub fn sort_selected(&mut self, select: Select) {
        if let Some(sorted) = &self.sorted {
            // Already in order: the selection is a prefix.
            let keep = sorted.groups.iter().take_while(|g| g.0 >= select.min_count).last().map_or(0, |g| g.1);
            self.truncate(keep.min(usize::try_from(select.top).unwrap_or(usize::MAX)));
            return;
        }
        // Counting sort by count: each arena's entries per count, then each
        // count's group of items cut into one piece per arena, which that
        // arena fills (arenas in parallel; the order inside a group does
        // not matter yet).
        let histograms: Vec<CountHistogram> = self.segments.par_iter().map(CountHistogram::of).collect();
        let mut all = CountHistogram::default();
        histograms.iter().for_each(|h| all.add(h));
        let mut counts = all.descending();
        counts.retain(|c| c.0 >= select.min_count);
        let group_of = GroupIndex::new(&counts);
        let n: usize = counts.iter().map(|c| c.1).sum();
        let mut items: Vec<Item> = vec![[0, 0]; n];
        let mut pieces: Vec<Vec<&mut [Item]>> = histograms.iter().map(|_| Vec::with_capacity(counts.len())).collect();
        let mut rest: &mut [Item] = &mut items;
        for &(count, _) in &counts {
            for (s, h) in histograms.iter().enumerate() {
                let (piece, tail) = rest.split_at_mut(h.get(count));
                rest = tail;
                pieces[s].push(piece);
            }
        }
        self.segments.par_iter().zip(pieces).enumerate().for_each(|(s, (segment, mut pieces))| {
            let mut filled = vec![0usize; pieces.len()];
            for (at, word, count) in segment.iter() {
                if count < select.min_count {
                    continue;
                }
                let g = group_of.get(count);
                pieces[g][filled[g]] = [sort_key(word), (s as u64) << OFFSET_BITS | at as u64];
                filled[g] += 1;
            }
        });
        // Each count's group that reaches into the top sorted by word (the
        // last one only as far as the top): large groups in parallel inside,
        // small ones in parallel with each other.
        let top = usize::try_from(select.top).unwrap_or(usize::MAX).min(n);
        let mut groups = Vec::with_capacity(counts.len());
        let mut rest: &mut [Item] = &mut items;
        let mut small_groups = Vec::new();
        let by_word = |a: &Item, b: &Item| a[0].cmp(&b[0]).then_with(|| self.word_at(a[1]).cmp(self.word_at(b[1])));
        let mut end = 0;
        for &(count, len) in &counts {
            if end >= top {
                break;
            }
            let (mut group, tail) = rest.split_at_mut(len);
            rest = tail;
            if end + len > top {
                let keep = top - end;
                group.select_nth_unstable_by(keep - 1, by_word);
                group = &mut group[..keep];
            }
            end += group.len();
            groups.push((count, end));
            if group.len() >= 1 << 16 {
                group.par_sort_unstable_by(by_word);
            } else {
                small_groups.push(group);
            }
        }
        small_groups.into_par_iter().for_each(|group| group.sort_unstable_by(by_word));
        items.truncate(end);
        self.sorted = Some(Sorted { items, groups });
        self.recount();
    }

    /// Keeps the first `n` entries of a sorted list (of an unsorted one, it
    /// sorts it first).
    pub fn truncate(&mut self, n: usize) {
        self.sort();
        let Some(sorted) = self.sorted.as_mut() else { return };
        if n >= sorted.items.len() {
            return;
        }
        sorted.items.truncate(n);
        let kept = sorted.groups.partition_point(|&(_, end)| end < n);
        sorted.groups.truncate(kept + 1);
        if let Some(last) = sorted.groups.last_mut() {
            last.1 = n;
        }
        if n == 0 {
            sorted.groups.clear();
        }
        self.recount();
    }

    /// The count and size of a sorted list after a selection or truncation.
    fn recount(&mut self) {
        let Some(sorted) = &self.sorted else { return };
        let mut start = 0;
        let mut total = 0u64;
        for &(count, end) in &sorted.groups {
            total = total.saturating_add(count.saturating_mul((end - start) as u64));
            start = end;
        }
        self.len = sorted.items.len();
        self.total = total;
    }

    /// The records in `format`, cut into chunks of about `chunk_bytes` (a
    /// chunk ends at a record's end; a single long record makes a chunk of
    /// its own).
    pub fn records(&self, chunk_bytes: usize, format: Format) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut entries = self.iter().peekable();
        std::iter::from_fn(move || {
            entries.peek()?;
            let mut chunk = Vec::with_capacity(chunk_bytes + 64);
            while chunk.len() < chunk_bytes {
                let Some((word, count)) = entries.next() else { break };
                format.push_record(&mut chunk, word, count);
            }
            Some(chunk)
        })
    }

    /// Hands the records of a sorted list in `format` to `write` in order,
    /// chunk by chunk, formatting chunks in parallel on the current rayon
    /// pool (a few at a time, so memory stays bounded; the next few are
    /// formatted while these are written). An unsorted list is
    /// written in its current order, on this thread.
    pub fn write_records<E: Send>(
        &self,
        chunk_bytes: usize,
        format: Format,
        mut write: impl FnMut(&[u8]) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        let Some(sorted) = &self.sorted else {
            return self.records(chunk_bytes, format).try_for_each(|chunk| write(&chunk));
        };
        let per_chunk = 1 << 14;
        let window = 2 * rayon::current_num_threads();
        let n = sorted.items.len();
        // The text of the window of chunks from `start`, formatted in parallel.
        let format_window = |start: usize| -> Vec<Vec<u8>> {
            (0..window)
                .map(|b| start + b * per_chunk)
                .filter(|&s| s < n)
                .collect::<Vec<usize>>()
                .par_iter()
                .map(|&s| {
                    let mut text = Vec::with_capacity(chunk_bytes.min(per_chunk * 32));
                    for (word, count) in self.sorted_range(sorted, s..(s + per_chunk).min(n)) {
                        format.push_record(&mut text, word, count);
                    }
                    text
                })
                .collect()
        };
        // Each window is written while the next one is formatted.
        let mut start = 0;
        let mut texts = format_window(start);
        loop {
            start += window * per_chunk;
            if start >= n {
                return texts.iter().try_for_each(|text| write(text));
            }
            let (written, next) =
                rayon::join(|| texts.iter().try_for_each(|text| write(text)), || format_window(start));
            written?;
            texts = next;
        }
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
        let text: Vec<u8> = list.records(1 << 20, Format::Txt).flatten().collect();
        assert_eq!(text, b"c 7\naa 3\nzz 3\na 1\nb 1\n");
        let chunks: Vec<Vec<u8>> = list.records(4, Format::Txt).collect();
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
        assert_eq!(list.total(), 15);
        assert_eq!(list.get(2), Some((&b"zz"[..], 3)));
        assert_eq!(list.get(4), Some((&b"b"[..], 1)));
        assert_eq!(list.get(5), None);
    }

    #[test]
    fn sorting_many_segments_matches_a_plain_sort() {
        // Words sharing 8-byte prefixes, counts small and large, several arenas.
        let mut segments = Vec::new();
        let mut want = Vec::new();
        for s in 0..3u64 {
            let mut r = Records::new();
            for i in 0..5000u64 {
                let word = format!("prefix{:02}{}", i % 7, i * 3 + s);
                let count = if i % 11 == 0 { 5000 + i % 3 } else { 1 + i % 4 };
                r.push(word.as_bytes(), count);
                want.push((word.into_bytes(), count));
            }
            segments.push(r);
        }
        segments.push(Records::new());
        let mut list = Entries::from_records(segments);
        list.sort();
        want.sort_by(|a, b| crate::order::compare(&a.0, a.1, &b.0, b.1));
        let got: Vec<(Vec<u8>, u64)> = list.iter().map(|(w, c)| (w.to_vec(), c)).collect();
        assert_eq!(got, want);
        let mut text = Vec::new();
        list.write_records::<()>(1 << 10, Format::Txt, |t| {
            text.extend_from_slice(t);
            Ok(())
        })
        .unwrap();
        let lines: Vec<u8> = list.records(1 << 10, Format::Txt).flatten().collect();
        assert_eq!(text, lines);
        assert_eq!(list.len(), 15000);
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

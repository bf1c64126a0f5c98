//! Frequency histograms: count → number of distinct words with that count.
//! Phase 3 reports one per worker; phase 4 merges them to place the range
//! boundaries without moving any word through the master.

use std::collections::BTreeMap;

use crate::counts::WordCounts;

/// How many distinct words have each count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    by_count: BTreeMap<u64, u64>,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// The histogram of a table.
    pub fn of(table: &WordCounts) -> Self {
        let mut h = Histogram::new();
        for (_, count) in table.iter() {
            h.add(count, 1);
        }
        h
    }

    /// Records `words` more distinct words having `count`.
    pub fn add(&mut self, count: u64, words: u64) {
        if words > 0 {
            let n = self.by_count.entry(count).or_default();
            *n = n.saturating_add(words);
        }
    }

    /// Adds another histogram into this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (count, words) in other.iter() {
            self.add(count, words);
        }
    }

    /// Number of distinct words having `count`.
    pub fn words_with(&self, count: u64) -> u64 {
        self.by_count.get(&count).copied().unwrap_or(0)
    }

    /// (count, distinct words) pairs, highest count first: result order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.by_count.iter().rev().map(|(&c, &n)| (c, n))
    }

    /// Number of distinct words.
    pub fn distinct(&self) -> u64 {
        self.by_count.values().fold(0, |a, &n| a.saturating_add(n))
    }

    /// Number of word occurrences (sum of count × words).
    pub fn occurrences(&self) -> u64 {
        self.by_count.iter().fold(0, |a: u64, (&c, &n)| a.saturating_add(c.saturating_mul(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_of_a_table() {
        let mut t = WordCounts::new();
        for w in ["a", "b", "a", "c", "d", "d", "a"] {
            t.add(w.as_bytes(), 1);
        }
        let h = Histogram::of(&t);
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![(3, 1), (2, 1), (1, 2)]);
        assert_eq!((h.distinct(), h.occurrences()), (4, 7));
        let mut m = h.clone();
        m.merge(&h);
        assert_eq!(m.words_with(1), 4);
    }
}

//! `--top N` and `--min-count C`: which records of the result are kept.
//! Both keep a prefix of the result order (count descending, then word), so
//! each worker keeps a prefix of its range, before sorting where it can, and
//! the master asks each range in turn only for the lines still wanted: with
//! `--top 100`, at most 100 lines cross the network in all.

use crate::histogram::Histogram;

/// The records a job keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Select {
    /// At most this many records (`--top`); `u64::MAX` for all.
    pub top: u64,
    /// Only records with at least this count (`--min-count`); 0 or 1 keep all.
    pub min_count: u64,
}

impl Default for Select {
    fn default() -> Self {
        Select::ALL
    }
}

impl Select {
    /// Every record.
    pub const ALL: Select = Select { top: u64::MAX, min_count: 0 };

    /// Whether every record is kept.
    pub fn keeps_all(&self) -> bool {
        self.top == u64::MAX && self.min_count <= 1
    }

    /// How many records of the result, and how many word occurrences they
    /// hold, given the result's frequency histogram.
    pub fn expected(&self, histogram: &Histogram) -> (u64, u64) {
        let (mut lines, mut words) = (0u64, 0u64);
        for (count, n) in histogram.iter() {
            if count < self.min_count || lines == self.top {
                break;
            }
            let take = n.min(self.top - lines);
            lines += take;
            words = words.saturating_add(take.saturating_mul(count));
        }
        (lines, words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_lines_and_words_follow_the_result_order() {
        let mut h = Histogram::new();
        h.add(5, 2);
        h.add(3, 4);
        h.add(1, 10);
        assert_eq!(Select::ALL.expected(&h), (16, 32));
        assert_eq!(Select { top: 3, min_count: 0 }.expected(&h), (3, 13));
        assert_eq!(Select { top: 100, min_count: 3 }.expected(&h), (6, 22));
        assert_eq!(Select { top: 1, min_count: 6 }.expected(&h), (0, 0));
        assert_eq!(Select { top: 0, min_count: 0 }.expected(&h), (0, 0));
        assert!(Select { top: u64::MAX, min_count: 1 }.keeps_all());
        assert!(!Select { top: 5, min_count: 1 }.keeps_all());
    }
}

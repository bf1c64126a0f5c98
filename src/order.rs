//! The total order of the result (count descending, then word ascending by
//! bytes) and the cut points that split it into ranges. (How a record is
//! written is `format`'s.)

use std::cmp::Ordering;

/// Compares two (word, count) entries in result order.
#[inline]
pub fn compare(a_word: &[u8], a_count: u64, b_word: &[u8], b_count: u64) -> Ordering {
    b_count.cmp(&a_count).then_with(|| a_word.cmp(b_word))
}

/// A position in the result order: the first key of a range.
///
/// An entry is *before* a cut when its count is higher, or equal with a
/// smaller word. A cut with an empty word is the start of a count's group,
/// since no word is smaller than the empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub count: u64,
    pub word: Vec<u8>,
}

impl Cut {
    /// The cut just before every word of this count.
    pub fn group_start(count: u64) -> Self {
        Cut { count, word: Vec::new() }
    }

    /// True if the entry comes before this cut in result order.
    #[inline]
    pub fn is_after(&self, word: &[u8], count: u64) -> bool {
        compare(word, count, &self.word, self.count) == Ordering::Less
    }
}

/// The rank whose range holds an entry, given the ranges' first keys
/// (`cuts[r]` starts rank `r + 1`; cuts are in result order).
#[inline]
pub fn range_of(cuts: &[Cut], word: &[u8], count: u64) -> usize {
    cuts.partition_point(|cut| !cut.is_after(word, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_counts_first_then_words_by_bytes() {
        assert_eq!(compare(b"b", 5, b"a", 3), Ordering::Less);
        assert_eq!(compare(b"a", 3, b"b", 3), Ordering::Less);
        assert_eq!(compare(b"Z", 3, b"a", 3), Ordering::Less);
        assert_eq!(compare(b"\xff", 3, b"a", 3), Ordering::Greater);
        assert_eq!(compare(b"a", 3, b"a", 3), Ordering::Equal);
    }

    #[test]
    fn cuts_route_entries_to_ranges() {
        let cuts = vec![Cut::group_start(5), Cut { count: 2, word: b"m".to_vec() }];
        assert_eq!(range_of(&cuts, b"zzz", 9), 0);
        assert_eq!(range_of(&cuts, b"a", 5), 1);
        assert_eq!(range_of(&cuts, b"a", 2), 1);
        assert_eq!(range_of(&cuts, b"m", 2), 2);
        assert_eq!(range_of(&cuts, b"a", 1), 2);
        assert_eq!(range_of(&[], b"a", 1), 0);
    }
}

//! Phase 4, balanced redistribution (plan). The master merges the workers'
//! histograms and places N−1 cuts in result order (count descending, word
//! ascending) so that every worker will own the same number of distinct
//! words, within ±1 % of the mean.
//!
//! A cut that falls at the edge of a count's group needs no word. A cut that
//! must fall *inside* a group (count 1 often holds half the vocabulary) needs
//! to know which word sits at a given position of that group, which no single
//! node knows: the master asks every worker for every `stride`-th word of its
//! sorted words with that count, estimates each sampled word's position in
//! the whole group, and cuts at the best one — TeraSort's range partitioner,
//! with a stride chosen so the estimate's error stays inside the tolerance.
//! Only histograms and samples cross the master, never the data.

use std::collections::BTreeSet;

use crate::counts::WordCounts;
use crate::entries::sort_key;
use crate::error::{Error, Result};
use crate::histogram::Histogram;
use crate::order::{Cut, range_of};
use crate::phase::Phase;
use crate::wire::ProtocolError;
use crate::wire::message::NodeStats;
use crate::wire::message::{ArchivedSampleGroup, SampleGroup, WordBatch};

/// Each cut may miss its target by this share of the mean range (so a range
/// misses by at most twice this, 0.8 %, inside the promised 1 %).
const CUT_TOLERANCE: f64 = 0.004;

/// Where one cut goes, before sampling.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Planned {
    /// At a group edge: known without words.
    Exact(Cut),
    /// Inside the group of `count`, after `offset` of its words.
    Inside { count: u64, offset: u64 },
}

/// The cuts of phase 4, some still waiting for samples.
#[derive(Clone, Debug)]
pub struct Plan {
    planned: Vec<Planned>,
    /// Each worker's number of words per count that must be sampled.
    sizes: Vec<Vec<(u64, u64)>>,
    stride: u64,
}

/// A worker's samples of one count: words at known positions of its sorted
/// words with that count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleSet {
    pub count: u64,
    pub words: Vec<Vec<u8>>,
    pub positions: Vec<u64>,
}

impl From<&SampleGroup> for SampleSet {
    /// A worker's sample message as the master reads it (in-process callers;
    /// the master reads archived messages in place).
    fn from(group: &SampleGroup) -> Self {
        let (words, positions) = group.words.iter().map(|(w, p)| (w.to_vec(), p)).unzip();
        SampleSet { count: group.count, words, positions }
    }
}

impl TryFrom<&ArchivedSampleGroup> for SampleSet {
    type Error = ProtocolError;

    /// A worker's samples of one count, as the master receives them.
    fn try_from(group: &ArchivedSampleGroup) -> Result<Self, ProtocolError> {
        let (words, positions) = group.words.records()?.map(|(w, p)| (w.to_vec(), p)).unzip();
        Ok(SampleSet { count: group.count.to_native(), words, positions })
    }
}

impl Plan {
    /// Places the cuts for the workers whose histograms these are.
    pub fn new(histograms: &[Histogram]) -> Plan {
        let workers = histograms.len().max(1);
        let mut merged = Histogram::new();
        for h in histograms {
            merged.merge(h);
        }
        let distinct = merged.distinct();
        let tolerance = (CUT_TOLERANCE * distinct as f64 / workers as f64) as u64;
        let stride = (tolerance / workers as u64).max(1);
        let groups: Vec<(u64, u64)> = merged.iter().collect();
        let mut planned = Vec::with_capacity(workers - 1);
        let (mut group, mut before) = (0, 0u64); // current group and words before it
        for r in 1..workers {
            let target = (r as u64 * distinct + workers as u64 / 2) / workers as u64;
            while group < groups.len() && before + groups[group].1 < target {
                before += groups[group].1;
                group += 1;
            }
            let Some(&(count, size)) = groups.get(group) else {
                planned.push(Planned::Exact(Cut::group_start(0))); // after every word
                continue;
            };
            let offset = target - before;
            planned.push(if offset <= tolerance {
                Planned::Exact(Cut::group_start(count))
            } else if size - offset <= tolerance {
                Planned::Exact(Cut::group_start(count - 1))
            } else {
                Planned::Inside { count, offset }
            });
        }
        let mut plan = Plan { planned, sizes: Vec::new(), stride };
        let wanted = plan.sample_counts();
        plan.sizes = histograms.iter().map(|h| wanted.iter().map(|&c| (c, h.words_with(c))).collect()).collect();
        plan
    }

    /// The counts whose groups must be sampled (none if every cut is at an edge).
    pub fn sample_counts(&self) -> Vec<u64> {
        let set: BTreeSet<u64> = self
            .planned
            .iter()
            .filter_map(|p| match p {
                Planned::Inside { count, .. } => Some(*count),
                Planned::Exact(_) => None,
            })
            .collect();
        set.into_iter().collect()
    }

    /// Every how many words a worker samples.
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// The final cuts, given every worker's samples (`samples[worker]`, one
    /// set per sampled count; ignored when no count is sampled).
    pub fn resolve(&self, samples: &[Vec<SampleSet>]) -> Vec<Cut> {
        let mut cuts: Vec<Cut> = Vec::with_capacity(self.planned.len());
        for planned in &self.planned {
            let cut = match planned {
                Planned::Exact(cut) => cut.clone(),
                Planned::Inside { count, offset } => self.cut_inside(*count, *offset, samples),
            };
            // Keep cuts in order even if estimates of neighbouring cuts cross.
            let cut = match cuts.last() {
                Some(prev) if cut_less(&cut, prev) => prev.clone(),
                _ => cut,
            };
            cuts.push(cut);
        }
        cuts
    }

    fn cut_inside(&self, count: u64, offset: u64, samples: &[Vec<SampleSet>]) -> Cut {
        let sets: Vec<Option<&SampleSet>> =
            samples.iter().map(|groups| groups.iter().find(|s| s.count == count)).collect();
        let sizes: Vec<u64> = (0..sets.len())
            .map(|worker| {
                self.sizes.get(worker).and_then(|s| s.iter().find(|(c, _)| *c == count)).map_or(0, |&(_, n)| n)
            })
            .collect();
        cut_at(count, offset, &sets, &sizes)
    }
}

/// The cut inside the group of `count` whose estimated position in the
/// whole group is nearest `offset`. Candidates are the group's start and
/// every sampled word; a sampled word's position is its owner's exact one
/// plus, for every other worker, an estimate from that worker's samples
/// (`estimate_below`). The candidates are walked in word order, so each
/// worker's count of samples below the word only moves forward: the cost is
/// the candidates times the workers, not times a search in each worker's
/// samples as well. Ties go to the group's start, then to the lowest worker
/// and sample.
fn cut_at(count: u64, offset: u64, sets: &[Option<&SampleSet>], sizes: &[u64]) -> Cut {
    let mut candidates: Vec<(&[u8], usize, usize)> = sets
        .iter()
        .enumerate()
        .filter_map(|(owner, set)| set.map(|set| (owner, set)))
        .flat_map(|(owner, set)| set.words.iter().enumerate().map(move |(i, w)| (w.as_slice(), owner, i)))
        .collect();
    candidates.sort_unstable();
    let mut below = vec![0usize; sets.len()];
    let mut best: (u64, Option<(usize, usize)>) = (offset, None);
    for &(word, owner, index) in &candidates {
        let mut estimate = 0u64;
        for (worker, set) in sets.iter().enumerate() {
            let Some(set) = set else { continue };
            let m = &mut below[worker];
            while set.words.get(*m).is_some_and(|w| w.as_slice() < word) {
                *m += 1;
            }
            let term = if worker == owner {
                set.positions.get(index).copied().unwrap_or(0)
            } else {
                estimate_below(set, *m, sizes.get(worker).copied().unwrap_or(0))
            };
            estimate = estimate.saturating_add(term);
        }
        let miss = estimate.abs_diff(offset);
        if miss < best.0 || miss == best.0 && best.1.is_some_and(|b| (owner, index) < b) {
            best = (miss, Some((owner, index)));
        }
    }
    match best.1.and_then(|(owner, index)| sets[owner].and_then(|set| set.words.get(index))) {
        Some(word) => Cut { count, word: word.clone() },
        None => Cut::group_start(count),
    }
}

fn cut_less(a: &Cut, b: &Cut) -> bool {
    crate::order::compare(&a.word, a.count, &b.word, b.count) == std::cmp::Ordering::Less
}

/// Estimates how many of a worker's words (with the sampled count, `size`
/// of them) sort below a word that `m` of its samples sort below: between
/// the position after the last sample below it and the position of the
/// first sample above it.
fn estimate_below(set: &SampleSet, m: usize, size: u64) -> u64 {
    let Some(&last_below) = m.checked_sub(1).and_then(|i| set.positions.get(i)) else {
        return 0;
    };
    let low = last_below.saturating_add(1);
    let high = set.positions.get(m).copied().unwrap_or(size).max(low);
    low + (high - low) / 2
}

/// Master side, at the barrier: adds up how many words each rank will own
/// from every worker's report; they must account for every distinct word.
pub fn total_shares(stats: &[NodeStats], distinct: u64) -> Result<Vec<u64>> {
    let fail = |detail| Err(Error::Conservation { phase: Phase::Redistribute, detail });
    let mut shares = vec![0u64; stats.len()];
    for s in stats {
        if s.shares.len() != shares.len() {
            return fail(format!("a worker reported {} shares for {} ranks", s.shares.len(), shares.len()));
        }
        shares.iter_mut().zip(&s.shares).for_each(|(total, n)| *total = total.saturating_add(*n));
    }
    if shares.iter().fold(0u64, |a, &n| a.saturating_add(n)) != distinct {
        return fail(format!("shares {shares:?} do not add up to {distinct} distinct words"));
    }
    Ok(shares)
}

/// Worker side: for each requested count, every `stride`-th of this worker's
/// words with that count, in word order, with its position. The words at
/// those positions are found by selection, not by sorting them all.
pub fn samples(table: &WordCounts, counts: &[u64], stride: u64) -> Vec<SampleGroup> {
    let stride = stride.max(1) as usize;
    let mut groups: Vec<Vec<(u64, &[u8])>> = vec![Vec::new(); counts.len()];
    for (word, count) in table.iter() {
        if let Ok(i) = counts.binary_search(&count) {
            groups[i].push((sort_key(word), word));
        }
    }
    let by_word = |a: &(u64, &[u8]), b: &(u64, &[u8])| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1));
    counts
        .iter()
        .zip(groups)
        .map(|(&count, mut words)| {
            let positions: Vec<usize> = (0..words.len()).step_by(stride).collect();
            select_positions(&mut words, &positions, 0, &by_word);
            let mut batch = WordBatch::default();
            for &position in &positions {
                batch.push(words[position].1, position as u64);
            }
            SampleGroup { count, words: batch }
        })
        .collect()
}

/// Puts in place, as sorting `items` by `order` (a strict order) would, the
/// items at `positions` (ascending, each at least `base`, the position of
/// `items[0]`): a selection at the middle position splits the items and the
/// positions in two, and each half is done the same way. Every level of
/// halving is one pass over the items, so m positions cost about log2(m)
/// passes where a sort costs log2(n).
fn select_positions<T: Send>(
    items: &mut [T],
    positions: &[usize],
    base: usize,
    order: &(impl Fn(&T, &T) -> std::cmp::Ordering + Sync),
) {
    let half = positions.len() / 2;
    let Some(&middle) = positions.get(half) else { return };
    let (below, _, above) = items.select_nth_unstable_by(middle - base, order);
    let (left, right) = (&positions[..half], &positions[half + 1..]);
    if below.len() + above.len() >= 1 << 16 {
        rayon::join(
            || select_positions(below, left, base, order),
            || select_positions(above, right, middle + 1, order),
        );
    } else {
        select_positions(below, left, base, order);
        select_positions(above, right, middle + 1, order);
    }
}

/// Worker side: how many of this worker's words each rank will own.
pub fn shares(table: &WordCounts, cuts: &[Cut]) -> Vec<u64> {
    let mut shares = vec![0u64; cuts.len() + 1];
    for (word, count) in table.iter() {
        shares[range_of(cuts, word, count)] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::{owner, word_hash};

    /// Runs phase 4 on a simulated cluster holding `words`, returns the shares.
    fn simulate(words: &[(Vec<u8>, u64)], workers: usize) -> Vec<u64> {
        let mut tables: Vec<WordCounts> = (0..workers).map(|_| WordCounts::new()).collect();
        for (w, c) in words {
            tables[owner(word_hash(w), workers)].add(w, *c);
        }
        let histograms: Vec<Histogram> = tables.iter().map(Histogram::of).collect();
        let plan = Plan::new(&histograms);
        let counts = plan.sample_counts();
        let samples: Vec<Vec<SampleSet>> =
            tables.iter().map(|t| samples(t, &counts, plan.stride()).iter().map(SampleSet::from).collect()).collect();
        let cuts = plan.resolve(&samples);
        assert_eq!(cuts.len(), workers - 1);
        assert!(cuts.windows(2).all(|w| !cut_less(&w[1], &w[0])));
        let mut total = vec![0u64; workers];
        for t in &tables {
            for (r, n) in shares(t, &cuts).into_iter().enumerate() {
                total[r] += n;
            }
        }
        assert_eq!(total.iter().sum::<u64>(), words.len() as u64);
        total
    }

    fn assert_balanced(shares: &[u64], distinct: usize) {
        let mean = distinct as f64 / shares.len() as f64;
        let slack = (mean * 0.01).max(1.0);
        for &s in shares {
            assert!((s as f64 - mean).abs() <= slack, "shares {shares:?}, mean {mean}");
        }
    }

    fn word(i: usize) -> Vec<u8> {
        format!("w{i:07}").into_bytes()
    }

    #[test]
    fn shares_must_add_up() {
        let node = |shares: Vec<u64>| NodeStats { shares, ..NodeStats::default() };
        assert_eq!(total_shares(&[node(vec![1, 2]), node(vec![3, 0])], 6).unwrap(), vec![4, 2]);
        assert!(total_shares(&[node(vec![1, 2]), node(vec![3, 0])], 7).is_err());
        assert!(total_shares(&[node(vec![1, 2]), node(vec![3])], 6).is_err());
    }

    #[test]
    fn all_distinct_words_split_evenly() {
        let words: Vec<_> = (0..200_000).map(|i| (word(i), 1)).collect();
        for workers in [2, 3, 5, 8] {
            assert_balanced(&simulate(&words, workers), words.len());
        }
    }

    #[test]
    fn zipf_with_half_the_vocabulary_at_count_one() {
        // Count ~ 1/rank: about half the words appear once.
        let n = 100_000;
        let words: Vec<_> = (1..=n).map(|rank| (word(rank), (n as u64 / 2 / rank as u64).max(1))).collect();
        let ones = words.iter().filter(|(_, c)| *c == 1).count();
        assert!(ones * 2 >= n, "{ones}");
        for workers in [2, 3, 4, 7] {
            assert_balanced(&simulate(&words, workers), n);
        }
    }

    #[test]
    fn tiny_inputs_balance_to_one_word() {
        for distinct in 0..30 {
            let words: Vec<_> = (0..distinct).map(|i| (word(i), (i % 3 + 1) as u64)).collect();
            for workers in 1..6 {
                let shares = simulate(&words, workers);
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{distinct} words on {workers}: {shares:?}");
            }
        }
    }

    #[test]
    fn one_count_per_word_needs_no_samples() {
        let words: Vec<_> = (0..1000).map(|i| (word(i), i as u64 + 1)).collect();
        let mut tables: Vec<WordCounts> = (0..4).map(|_| WordCounts::new()).collect();
        for (w, c) in &words {
            tables[owner(word_hash(w), 4)].add(w, *c);
        }
        let plan = Plan::new(&tables.iter().map(Histogram::of).collect::<Vec<_>>());
        assert!(plan.sample_counts().is_empty());
        assert_balanced(&simulate(&words, 4), 1000);
    }

    proptest::proptest! {
        #[test]
        fn selected_positions_hold_what_a_sort_puts_there(
            mut items in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..3000),
            stride in 1usize..400,
        ) {
            items.sort_unstable();
            items.dedup(); // a strict order, as words in a table are
            let sorted = items.clone();
            items.reverse();
            let third = items.len() / 3;
            items.rotate_left(third);
            let positions: Vec<usize> = (0..items.len()).step_by(stride).collect();
            select_positions(&mut items, &positions, 0, &|a: &u32, b: &u32| a.cmp(b));
            for &p in &positions {
                proptest::prop_assert_eq!(items[p], sorted[p]);
            }
        }
    }

    #[test]
    fn selection_across_the_parallel_threshold_matches_a_sort() {
        let n = 300_007;
        let mut items: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let mut sorted = items.clone();
        sorted.sort_unstable();
        let positions: Vec<usize> = (0..n).step_by(997).collect();
        select_positions(&mut items, &positions, 0, &|a: &u64, b: &u64| a.cmp(b));
        assert!(positions.iter().all(|&p| items[p] == sorted[p]));
    }

    /// The cut by the definition: every candidate's estimate computed with
    /// a search in every other worker's samples.
    fn cut_by_search(count: u64, offset: u64, sets: &[Option<&SampleSet>], sizes: &[u64]) -> Cut {
        let mut best = (offset, Cut::group_start(count));
        for (owner, set) in sets.iter().enumerate() {
            let Some(set) = set else { continue };
            for (word, &position) in set.words.iter().zip(&set.positions) {
                let mut estimate = 0u64;
                for (worker, other) in sets.iter().enumerate() {
                    estimate += match other {
                        _ if worker == owner => position,
                        Some(o) => estimate_below(o, o.words.partition_point(|w| w < word), sizes[worker]),
                        None => 0,
                    };
                }
                if estimate.abs_diff(offset) < best.0 {
                    best = (estimate.abs_diff(offset), Cut { count, word: word.clone() });
                }
            }
        }
        best.1
    }

    proptest::proptest! {
        #[test]
        fn the_walk_cuts_where_the_search_does(
            words in proptest::collection::btree_set(proptest::collection::vec(b'a'..=b'e', 1..5), 0..200),
            owners in proptest::collection::vec(0usize..4, 200),
            gaps in proptest::collection::vec(1u64..40, 200),
            offset in 0u64..3000,
        ) {
            // Each worker samples some of the words, in order, at increasing positions.
            let mut sets = vec![SampleSet { count: 1, ..SampleSet::default() }; 4];
            for (i, word) in words.iter().enumerate() {
                let set = &mut sets[owners[i]];
                let position = set.positions.last().map_or(0, |p| p + gaps[i]);
                set.words.push(word.clone());
                set.positions.push(position);
            }
            let sizes: Vec<u64> = sets.iter().map(|s| s.positions.last().map_or(0, |p| p + 5)).collect();
            let mut refs: Vec<Option<&SampleSet>> = sets.iter().map(Some).collect();
            if offset % 2 == 0 {
                refs[3] = None; // a worker without words of this count
            }
            proptest::prop_assert_eq!(cut_at(1, offset, &refs, &sizes), cut_by_search(1, offset, &refs, &sizes));
        }
    }
}

//! Who dials whom. Rank r dials every rank below it and sends its hello
//! first; it accepts every rank above it. So each pair of workers has exactly
//! one connection, with no race over who connects first.

use std::ops::Range;

use super::Token;

/// The peer links of one worker in one job.
#[derive(Debug)]
pub struct Mesh {
    rank: usize,
    /// The link to each rank (none for our own rank), once its hello is in.
    links: Vec<Option<Token>>,
}

impl Mesh {
    /// An empty mesh for `rank` of `workers`.
    pub fn new(rank: usize, workers: usize) -> Self {
        Mesh { rank, links: vec![None; workers] }
    }

    /// The ranks this worker dials.
    pub fn dials(&self) -> Range<usize> {
        0..self.rank
    }

    /// True if `peer` is expected to dial us and has not yet.
    pub fn may_accept(&self, peer: usize) -> bool {
        peer > self.rank && peer < self.links.len() && self.links[peer].is_none()
    }

    /// Records the link to `peer`.
    pub fn link(&mut self, peer: usize, token: Token) {
        self.links[peer] = Some(token);
    }

    /// True once every other rank is linked.
    pub fn is_complete(&self) -> bool {
        self.links.iter().enumerate().all(|(r, l)| r == self.rank || l.is_some())
    }

    /// The rank at the other end of a link.
    pub fn rank_of(&self, token: Token) -> Option<usize> {
        self.links.iter().position(|l| *l == Some(token))
    }

    /// The link to a rank.
    pub fn token(&self, peer: usize) -> Option<Token> {
        self.links.get(peer).copied().flatten()
    }

    /// Every established link.
    pub fn tokens(&self) -> impl Iterator<Item = Token> + '_ {
        self.links.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_has_one_dialer() {
        for workers in 1..6 {
            for a in 0..workers {
                for b in 0..workers {
                    if a != b {
                        let a_dials = Mesh::new(a, workers).dials().contains(&b);
                        let b_dials = Mesh::new(b, workers).dials().contains(&a);
                        assert!(a_dials ^ b_dials);
                        assert_eq!(Mesh::new(a, workers).may_accept(b), b_dials);
                    }
                }
            }
        }
    }
}

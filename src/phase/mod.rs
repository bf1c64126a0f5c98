//! The six phases of a job (DESIGN §3), named as in logs and metrics. Each
//! file holds one phase's work for both sides where both have some: search
//! "shuffle2" to find what a worker sends and what the master checks.
//!
//! | phase | worker side | master side |
//! |---|---|---|
//! | 1 `init` | check inputs (or spool shipped ones), build the mesh | assign splits, send job specs (and with `--ship`, the bytes) |
//! | 2 `shuffle1` | tokenize, combine, send words to their hash owner; merge what arrives | conservation check |
//! | 3 `local_count` | report the merged table's histogram | merge histograms |
//! | 4 `redistribute` | sample words on request, count shares | choose range boundaries |
//! | 5 `shuffle2` | send every word to the owner of its range | conservation check |
//! | 6 `sort_output` | sort the range, stream its lines | write the output in rank order |
//!
//! Every phase ends at a barrier held by the master: it starts the next
//! phase only when every worker has reported `PhaseDone`.

pub mod central;
pub mod init;
pub mod local_count;
pub mod redistribute;
pub mod ship;
pub mod shuffle;
pub mod shuffle1;
pub mod shuffle2;
pub mod sort_output;

use std::fmt;

/// One of the six phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Init = 1,
    Shuffle1 = 2,
    LocalCount = 3,
    Redistribute = 4,
    Shuffle2 = 5,
    SortOutput = 6,
}

impl Phase {
    /// All phases, in job order.
    pub const ALL: [Phase; 6] =
        [Phase::Init, Phase::Shuffle1, Phase::LocalCount, Phase::Redistribute, Phase::Shuffle2, Phase::SortOutput];

    /// The name used in logs, metrics and errors.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Shuffle1 => "shuffle1",
            Phase::LocalCount => "local_count",
            Phase::Redistribute => "redistribute",
            Phase::Shuffle2 => "shuffle2",
            Phase::SortOutput => "sort_output",
        }
    }

    /// The phase's code on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The phase with this wire code, if any.
    pub fn from_code(code: u8) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.code() == code)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

//! wordfreq: a distributed word-frequency engine. A master and a set of
//! workers cooperate over plain TCP to count the words of a text collection
//! and write them sorted by frequency (count descending, then word).
//!
//! # Map of the crate
//!
//! A job runs in six phases (`phase`), each ending at a barrier on the master:
//!
//! | phase | file |
//! |---|---|
//! | 1 init: splits and job specs, the mesh | [`phase::init`], [`net::mesh`] |
//! | 2 shuffle 1: tokenize, combine, route by hash; the receiver's merger groups | [`phase::shuffle1`], [`phase::shuffle`] |
//! | 3 local grouping: report histograms of the grouped table | [`phase::local_count`], [`histogram`] |
//! | 4 balanced redistribution: choose range cuts | [`phase::redistribute`] |
//! | 5 shuffle 2: route by range | [`phase::shuffle2`], [`phase::shuffle`] |
//! | 6 sort and output | [`phase::sort_output`], [`entries`], [`output`] |
//!
//! The drivers put phases together: [`master`] (one job over remote
//! workers), [`worker`] (the daemon), [`run`] (local workers plus a master)
//! and [`count`] (one process, no network); [`status`] asks workers how
//! they are. The wire protocol is in [`wire`]
//! (hello, frames, rkyv messages); every socket is in [`net`] (one mio event
//! loop per node). Words are made by [`tokenize`] from memory-mapped
//! [`input`], counted in [`counts`], ordered by [`order`], kept by
//! [`select`] and written by [`format`](mod@format); [`metrics`], [`progress`] and
//! [`logs`] report on the job; [`addrs`] checks the workers' addresses.

/// The git commit this build was made from (12 hex digits), or `unknown`
/// outside a git checkout; set by `build.rs`.
pub const BUILD_COMMIT: &str = env!("WORDFREQ_COMMIT");

pub mod addrs;
pub mod alloc;
pub mod config;
pub mod count;
pub mod counts;
pub mod entries;
pub mod error;
pub mod failpoint;
pub mod format;
pub mod histogram;
pub mod input;
pub mod logs;
pub mod master;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod order;
pub mod output;
pub mod phase;
pub mod plot;
pub mod prefetch;
pub mod progress;
pub mod records;
pub mod run;
pub mod secret;
pub mod select;
pub mod shared_counts;
pub mod signals;
pub mod slots;
pub mod status;
pub mod tokenize;
pub mod wire;
pub mod worker;
pub mod writer;

pub use error::{Error, Result};

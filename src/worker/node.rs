//! A worker's I/O and what travels inside it: the event loop (`Reactor`),
//! the compute pool, and the messages compute hands back to the loop
//! (`ToLoop`). Everything else in `worker` builds on this file; it depends on
//! none of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::ThreadPool;

use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::memory::MemoryLimit;
use crate::net::{Handoff, Reactor, Token};
use crate::phase::shuffle::Received;
use crate::phase::sort_output::Streamed;
use crate::wire::message::{self, Message};
use crate::wire::{Hello, Kind, Role};

/// Bytes queued on one connection before the loop stops taking frames from
/// compute (which then waits: backpressure).
pub(super) const QUEUE_LIMIT: usize = 4 << 20;
/// Items in the compute → loop channel.
pub(super) const HANDOFF_BOUND: usize = 8;
/// Items in a merger's inbox before the loop stops reading from peers.
pub(super) const MERGER_BOUND: usize = 8;

/// Where a frame produced by compute goes.
#[derive(Debug)]
pub(super) enum Dest {
    Master,
    Peer(usize),
}

/// What compute hands to the loop, tagged with its job so that work of an
/// aborted job is recognised and dropped.
#[derive(Debug)]
pub(super) enum ToLoop {
    Frame { job: u64, to: Dest, bytes: Vec<u8> },
    Progress { job: u64, bytes: u64 },
    Computed { job: u64, result: Computed },
    Failed { job: u64, error: Error },
}

/// A finished piece of compute.
#[derive(Debug)]
pub(super) enum Computed {
    /// A shuffle's sending side is done (every batch and end-of-stream is queued).
    Sent {
        records: u64,
        words: u64,
    },
    /// Shuffle 1's merger has everything.
    Table(Received<WordCounts>),
    /// Shuffle 2's merger has everything.
    Range(Received<Entries>),
    /// Phase 3's histogram, as a frame for the master.
    Histogram(Vec<u8>),
    /// Phase 4's samples, as a frame for the master.
    Samples(Vec<u8>),
    /// Phase 4's shares: how many of this worker's words each rank will own.
    Shares(Vec<u64>),
    /// Phase 4 under the central plan: the whole table went to the master.
    Gathered {
        records: u64,
        words: u64,
    },
    Sorted(Entries),
    Streamed(Streamed),
}

/// The node's I/O: the loop, the way back from compute, the compute pool.
pub(super) struct Node {
    pub(super) reactor: Reactor,
    pub(super) handoff: Handoff<ToLoop>,
    pub(super) pool: Arc<ThreadPool>,
    /// The memory this worker may hold (`--memory-limit`).
    pub(super) memory: Arc<MemoryLimit>,
    /// Compute tasks and shuffle mergers started and not yet ended (their
    /// outcome handed over).
    pub(super) running: Arc<AtomicUsize>,
}

impl Node {
    pub(super) fn send<T: Message>(&mut self, to: Token, kind: Kind, msg: &T) -> Result<()> {
        let bytes = message::encode(kind, msg)?;
        self.reactor.send(to, bytes);
        Ok(())
    }

    pub(super) fn send_hello(&mut self, to: Token, rank: u32, job_id: u64) {
        self.reactor.send(to, Hello { role: Role::Peer, rank, job_id }.encode().to_vec());
    }

    /// Runs `work` on the compute pool and hands its outcome to the loop.
    pub(super) fn compute(&self, job: u64, work: impl FnOnce() -> Result<Computed> + Send + 'static) {
        let handoff = self.handoff.clone();
        let running = Arc::clone(&self.running);
        running.fetch_add(1, Ordering::AcqRel);
        self.pool.spawn(move || {
            let msg = match work() {
                Ok(result) => ToLoop::Computed { job, result },
                Err(error) => ToLoop::Failed { job, error },
            };
            let _ = handoff.send(msg);
            running.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// True while compute (or a shuffle merger) started by a job still runs.
    pub(super) fn computing(&self) -> bool {
        self.running.load(Ordering::Acquire) > 0
    }
}

//! How batches leave a worker during a shuffle: the worker's `Sink`. A batch
//! for the worker itself goes straight to its merger; a batch for a peer is
//! encoded on the compute thread and handed to the event loop, waiting while
//! the loop's queues are full. It counts what it sends to each rank, for the
//! end-of-stream frames that let receivers check they got everything.
//! `ToMaster` does the same towards the master, for the central plan of
//! phase 4.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;

use rkyv::util::AlignedVec;

use super::node::{Computed, Dest, ToLoop};
use crate::error::{Error, Result};
use crate::net::Handoff;
use crate::phase::Phase;
use crate::phase::shuffle::{Inbound, Sink};
use crate::wire::Kind;
use crate::wire::message::{self, WordBatch};

/// The worker's `Sink`: batches for itself go straight to its merger, the
/// others are encoded here (on the compute thread) and handed to the loop.
pub(super) struct Outbox {
    job: u64,
    rank: usize,
    handoff: Handoff<ToLoop>,
    inbox: SyncSender<Inbound>,
    /// Records and words sent to each rank.
    sent: Vec<(AtomicU64, AtomicU64)>,
    /// Set when the job ends; sending then stops.
    pub(super) cancel: Arc<AtomicBool>,
}

thread_local! {
    /// Each compute thread's reusable serializer buffer.
    static SCRATCH: std::cell::RefCell<AlignedVec> = std::cell::RefCell::new(AlignedVec::new());
}

impl Outbox {
    /// An outbox for `rank` of `workers` in job `job`; `inbox` is this
    /// worker's own merger.
    pub(super) fn new(
        (job, rank, workers): (u64, usize, usize),
        handoff: Handoff<ToLoop>,
        inbox: SyncSender<Inbound>,
        cancel: Arc<AtomicBool>,
    ) -> Outbox {
        let sent = (0..workers).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect();
        Outbox { job, rank, handoff, inbox, sent, cancel }
    }

    fn cancelled() -> Error {
        Error::Cancelled
    }

    /// Ends the stream on every link: end-of-stream frames with what was
    /// sent there, and the totals for the loop.
    pub(super) fn finish(&self, phase: Phase) -> Result<Computed> {
        let mut total = (0, 0);
        for (dest, (records, words)) in self.sent.iter().enumerate() {
            let (records, words) = (records.load(Ordering::Relaxed), words.load(Ordering::Relaxed));
            total.0 += records;
            total.1 += words;
            if dest == self.rank {
                self.inbox.send(Inbound::LocalEnd { records, words }).map_err(|_| Self::cancelled())?;
            } else {
                let end = message::EndOfStream { phase: phase.code(), records, words };
                let bytes = message::encode(Kind::EndOfStream, &end)?;
                self.handoff
                    .send(ToLoop::Frame { job: self.job, to: Dest::Peer(dest), bytes })
                    .map_err(|_| Self::cancelled())?;
            }
        }
        Ok(Computed::Sent { records: total.0, words: total.1 })
    }
}

impl Sink for Outbox {
    fn send_batch(&self, dest: usize, batch: WordBatch) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Self::cancelled());
        }
        let words: u64 = batch.counts.iter().sum();
        self.sent[dest].0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.sent[dest].1.fetch_add(words, Ordering::Relaxed);
        if dest == self.rank {
            return self.inbox.send(Inbound::Local(batch)).map_err(|_| Self::cancelled());
        }
        let bytes = SCRATCH.with(|s| message::encode_with(Kind::WordBatch, &batch, &mut s.borrow_mut()))?;
        self.handoff.send(ToLoop::Frame { job: self.job, to: Dest::Peer(dest), bytes }).map_err(|_| Self::cancelled())
    }

    fn progress(&self, bytes: u64) {
        let _ = self.handoff.send(ToLoop::Progress { job: self.job, bytes });
    }
}

/// The sink of phase 4 under `--redistribute central`: every batch goes to
/// the master, encoded here (on the compute thread).
pub(super) struct ToMaster {
    job: u64,
    handoff: Handoff<ToLoop>,
    /// Records and words sent.
    sent: (AtomicU64, AtomicU64),
    cancel: Arc<AtomicBool>,
}

impl ToMaster {
    pub(super) fn new(job: u64, handoff: Handoff<ToLoop>, cancel: Arc<AtomicBool>) -> ToMaster {
        ToMaster { job, handoff, sent: (AtomicU64::new(0), AtomicU64::new(0)), cancel }
    }

    /// Ends the stream with the totals sent, for the master to check.
    pub(super) fn finish(&self, phase: Phase) -> Result<Computed> {
        let (records, words) = (self.sent.0.load(Ordering::Relaxed), self.sent.1.load(Ordering::Relaxed));
        let bytes = message::encode(Kind::EndOfStream, &message::EndOfStream { phase: phase.code(), records, words })?;
        self.handoff.send(ToLoop::Frame { job: self.job, to: Dest::Master, bytes }).map_err(|_| Error::Cancelled)?;
        Ok(Computed::Gathered { records, words })
    }
}

impl Sink for ToMaster {
    fn send_batch(&self, _dest: usize, batch: WordBatch) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        self.sent.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.sent.1.fetch_add(batch.counts.iter().sum(), Ordering::Relaxed);
        let bytes = SCRATCH.with(|s| message::encode_with(Kind::WordBatch, &batch, &mut s.borrow_mut()))?;
        self.handoff.send(ToLoop::Frame { job: self.job, to: Dest::Master, bytes }).map_err(|_| Error::Cancelled)
    }
}

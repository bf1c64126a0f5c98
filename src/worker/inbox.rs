//! The receiving side of one shuffle on a worker: the merger thread that
//! absorbs every batch addressed here (`phase::shuffle::merge`), and the
//! backlog in front of it. When the merger's bounded inbox is full, frames
//! wait in the backlog and reads from peers pause; they resume once the
//! backlog has drained. The event loop never blocks on the merger.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use super::node::{Computed, MERGER_BOUND, Node, ToLoop};
use crate::error::Error;
use crate::net::{Reactor, Token};
use crate::phase::Phase;
use crate::phase::shuffle::{self, Absorb, Inbound, Received};

/// The receiving side of one shuffle.
pub(super) struct Inbox {
    sender: SyncSender<Inbound>,
    /// Frames waiting for room in the merger's inbox; peer reads are paused
    /// while this is not empty.
    backlog: VecDeque<Inbound>,
    /// The links whose reads were paused for the backlog, resumed once it
    /// has drained.
    paused: Vec<Token>,
    /// The merger's result, once it has everything.
    pub(super) result: Option<Computed>,
}

impl Inbox {
    /// Starts the merger of `phase` for `rank` of `workers`: it waits for
    /// batches before any peer may send them, and hands `wrap(received)` (or
    /// its error) to the loop when every sender has ended its stream. Fails
    /// when the thread cannot be started.
    pub(super) fn open<T: Absorb + 'static>(
        node: &Node,
        job: u64,
        phase: Phase,
        (rank, workers): (usize, usize),
        table: T,
        wrap: fn(Received<T::Output>) -> Computed,
    ) -> Result<Inbox, Error> {
        let (sender, rx) = sync_channel(MERGER_BOUND);
        let handoff = node.handoff.clone();
        let limit = node.memory.clone();
        // Counted as compute: a job that starts after this one ended early
        // waits for the merger to let go of its table (`Node::computing`).
        let running = node.running.clone();
        running.fetch_add(1, Ordering::AcqRel);
        let counted = running.clone();
        std::thread::Builder::new()
            .name(format!("wordfreq-merge-{}", phase.name()))
            .spawn(move || {
                let woken = handoff.clone();
                // A merger that panics fails the job; it must never look
                // like a shuffle still in progress.
                let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    shuffle::merge(phase, (rank, workers), table, rx, &limit, || woken.wake())
                }));
                let msg = match merged {
                    Ok(Ok(received)) => ToLoop::Computed { job, result: wrap(received) },
                    Ok(Err(error)) => ToLoop::Failed { job, error },
                    Err(_) => ToLoop::Failed {
                        job,
                        error: Error::io(
                            format!("the merger of {phase} stopped"),
                            std::io::Error::other("it panicked"),
                        ),
                    },
                };
                let _ = handoff.send(msg);
                counted.fetch_sub(1, Ordering::AcqRel);
            })
            .map_err(|e| {
                running.fetch_sub(1, Ordering::AcqRel);
                Error::io(format!("cannot start the merger of {phase}"), e)
            })?;
        Ok(Inbox { sender, backlog: VecDeque::new(), paused: Vec::new(), result: None })
    }

    /// The way in for this worker's own batches (the outbox sends there).
    pub(super) fn sender(&self) -> SyncSender<Inbound> {
        self.sender.clone()
    }

    /// Takes a frame from a sender: into the merger if it has room,
    /// otherwise into the backlog, pausing reads from `senders` (the links
    /// this shuffle receives on) until it drains.
    pub(super) fn offer(&mut self, item: Inbound, reactor: &mut Reactor, senders: impl Iterator<Item = Token>) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(item);
            return;
        }
        match self.sender.try_send(item) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(item)) => {
                self.backlog.push_back(item);
                for token in senders {
                    reactor.set_paused(token, true);
                    self.paused.push(token);
                }
            }
        }
    }

    /// Moves backlog frames into the merger as room appears, and resumes
    /// the links `offer` paused once the backlog is empty.
    pub(super) fn feed(&mut self, reactor: &mut Reactor) {
        if self.backlog.is_empty() {
            return;
        }
        while let Some(item) = self.backlog.pop_front() {
            match self.sender.try_send(item) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(item)) => {
                    self.backlog.push_front(item);
                    return;
                }
            }
        }
        for token in self.paused.drain(..) {
            reactor.set_paused(token, false);
        }
    }
}

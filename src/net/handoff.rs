//! Compute → event loop. Compute threads (rayon) push finished work — encoded
//! frames, results — into a bounded channel and wake the loop's `Poll`. The
//! bound is the backpressure: when the loop cannot take more (its write
//! queues are full), a producer's `send` waits instead of growing memory.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use mio::Waker;

/// The sending half, cloned into every compute task.
#[derive(Debug)]
pub struct Handoff<T> {
    tx: SyncSender<T>,
    waker: Arc<Waker>,
}

impl<T> Clone for Handoff<T> {
    fn clone(&self) -> Self {
        Handoff { tx: self.tx.clone(), waker: Arc::clone(&self.waker) }
    }
}

/// The loop has gone away; compute should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopGone;

impl<T> Handoff<T> {
    /// A channel of `bound` items whose sends wake `waker`.
    pub fn channel(waker: Arc<Waker>, bound: usize) -> (Handoff<T>, Receiver<T>) {
        let (tx, rx) = sync_channel(bound);
        (Handoff { tx, waker }, rx)
    }

    /// Hands an item to the loop, waiting while the channel is full.
    pub fn send(&self, item: T) -> Result<(), LoopGone> {
        self.tx.send(item).map_err(|_| LoopGone)?;
        self.waker.wake().map_err(|_| LoopGone)
    }

    /// Wakes the loop without sending anything.
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

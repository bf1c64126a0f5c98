//! Compute → event loop. Compute threads (rayon) push finished work — encoded
//! frames, results — into a bounded channel and wake the loop's `Poll`. The
//! bound is the backpressure: when the loop cannot take more (its write
//! queues are full), a producer's `send` waits instead of growing memory.
//! A `WakingThread` is one piece of work off the loop whose end wakes it.
//! Either way the loop is woken only once what it will look for is there:
//! woken early, it would find nothing and sleep until its next tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

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

/// A thread that wakes the loop when its work is done, or has panicked.
/// `is_done` is true by the time the loop wakes (a thread's own end,
/// `JoinHandle::is_finished`, comes a little after its last wake, so a loop
/// that checked that could miss it and sleep a whole tick: 100 ms at the
/// end of every job).
#[derive(Debug)]
pub struct WakingThread<T> {
    handle: JoinHandle<T>,
    done: Arc<AtomicBool>,
}

impl<T: Send + 'static> WakingThread<T> {
    /// Runs `work` on a thread named `name`, then wakes `waker`.
    pub fn spawn(name: &str, waker: Arc<Waker>, work: impl FnOnce() -> T + Send + 'static) -> std::io::Result<Self> {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let handle = std::thread::Builder::new().name(name.into()).spawn(move || {
            // Dropped after `work` returns or while it unwinds.
            let _done = Done { flag, waker };
            work()
        })?;
        Ok(WakingThread { handle, done })
    }

    /// True once the work is done (the thread may still be ending).
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The work's value, waiting for the thread to end; `Err` if it panicked.
    pub fn join(self) -> std::thread::Result<T> {
        self.handle.join()
    }
}

/// Says a `WakingThread`'s work is over, then wakes the loop.
struct Done {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use mio::{Events, Poll, Token};

    use super::*;

    #[test]
    fn a_woken_loop_finds_the_work_done() {
        let mut poll = Poll::new().expect("a poll");
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).expect("a waker"));
        let mut events = Events::with_capacity(4);
        // The loop wakes at once; a thread that is still ending must not
        // make it look again later. Many times, as the window is short.
        for n in 0..200 {
            let thread = WakingThread::spawn("test", Arc::clone(&waker), move || n).expect("a thread");
            wait_for_wake(&mut poll, &mut events);
            assert!(thread.is_done(), "woken before the work was done ({n})");
            assert_eq!(thread.join().expect("no panic"), n);
        }
    }

    #[test]
    fn work_that_panics_still_wakes_the_loop_and_is_done() {
        let mut poll = Poll::new().expect("a poll");
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).expect("a waker"));
        // The loop keeps its waker, as a reactor does (an eventfd closed
        // with its last handle takes its pending event with it).
        let thread =
            WakingThread::spawn("test", Arc::clone(&waker), || -> u32 { panic!("on purpose") }).expect("a thread");
        wait_for_wake(&mut poll, &mut Events::with_capacity(4));
        assert!(thread.is_done());
        assert!(thread.join().is_err());
    }

    /// Polls until the waker's event comes; fails (never hangs) if it does
    /// not come within 10 s.
    fn wait_for_wake(poll: &mut Poll, events: &mut Events) {
        poll.poll(events, Some(std::time::Duration::from_secs(10))).expect("poll");
        assert!(!events.is_empty(), "the loop was never woken");
    }
}

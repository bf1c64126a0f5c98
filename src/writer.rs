//! The master's result writer: a thread that owns the `ResultWriter`, so that a
//! slow destination (a pipe read slowly, a slow disk) never stops the
//! master's event loop, which must keep answering heartbeats. The loop hands
//! over chunks through a short queue; when the queue is full it stops
//! reading from the worker being pulled (backpressure through TCP) and
//! tries again when the thread wakes it. Committing happens on the thread
//! too (it syncs the file), and the loop waits for it while still running.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use mio::Waker;

use crate::error::{Error, Result};
use crate::format::ResultWriter;
use crate::net::WakingThread;

/// Chunks (each one worker frame, up to about 1 MiB) queued for the thread.
const QUEUE: usize = 4;
/// How long dropping an unfinished writer waits for its thread to remove
/// the temporary file.
const DROP_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Order {
    Write(Vec<u8>),
    Commit,
}

/// The writer thread and the way to it.
#[derive(Debug)]
pub struct Writer {
    orders: Option<SyncSender<Order>>,
    /// Orders the queue had no room for yet, oldest first.
    backlog: VecDeque<Order>,
    thread: Option<WakingThread<Result<()>>>,
    /// Signalled when the thread ends, however it ends.
    ended: Receiver<()>,
}

impl Writer {
    /// Starts the thread; it wakes `waker` whenever it has room again or
    /// has finished.
    pub fn spawn(mut output: ResultWriter, waker: Arc<Waker>) -> Result<Writer> {
        let (orders, inbox) = mpsc::sync_channel::<Order>(QUEUE);
        let (end, ended) = mpsc::channel();
        let room = Arc::clone(&waker);
        let thread = WakingThread::spawn("wordfreq-writer", waker, move || {
            let result = (|| {
                for order in inbox {
                    match order {
                        Order::Write(bytes) => output.write(&bytes)?,
                        Order::Commit => return output.commit(),
                    }
                    let _ = room.wake();
                }
                Ok(()) // abandoned: dropping `output` removes its temporary file
            })();
            let _ = end.send(());
            result
        })
        .map_err(|e| Error::io("cannot start the output thread", e))?;
        Ok(Writer { orders: Some(orders), backlog: VecDeque::new(), thread: Some(thread), ended })
    }

    /// Appends `bytes` to the output. True if they wait in the backlog: the
    /// caller should stop reading more until `pump` says it is empty.
    pub fn write(&mut self, bytes: Vec<u8>) -> Result<bool> {
        self.backlog.push_back(Order::Write(bytes));
        self.pump()
    }

    /// Asks the thread to commit once everything before is written;
    /// `is_done` then says when it has.
    pub fn commit(&mut self) -> Result<bool> {
        self.backlog.push_back(Order::Commit);
        self.pump()
    }

    /// Moves the backlog into the queue while it has room, never blocking.
    /// True if some of it is still waiting. Fails with the thread's error
    /// if it has stopped.
    pub fn pump(&mut self) -> Result<bool> {
        while let Some(order) = self.backlog.pop_front() {
            let Some(orders) = self.orders.as_ref() else {
                return Err(Error::io("writing the output", std::io::Error::other("the output is committed")));
            };
            let commit = matches!(order, Order::Commit);
            match orders.try_send(order) {
                Ok(()) if commit => self.orders = None,
                Ok(()) => {}
                Err(TrySendError::Full(order)) => {
                    self.backlog.push_front(order);
                    return Ok(true);
                }
                Err(TrySendError::Disconnected(_)) => return Err(self.failure()),
            }
        }
        Ok(false)
    }

    /// True once the thread has ended (after `commit`, or after an error).
    pub fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(WakingThread::is_done)
    }

    /// The thread's outcome; call once `is_done`.
    pub fn outcome(&mut self) -> Result<()> {
        match self.thread.take().map(WakingThread::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::io("writing the output", std::io::Error::other("the output thread panicked"))),
            None => Ok(()),
        }
    }

    /// The error of a thread that stopped taking orders.
    fn failure(&mut self) -> Error {
        self.orders = None;
        match self.outcome() {
            Err(error) => error,
            Ok(()) => Error::io("writing the output", std::io::Error::other("the output thread ended early")),
        }
    }
}

impl Drop for Writer {
    /// An unfinished writer (a failed job) lets its thread drop the output,
    /// which removes the temporary file, and waits a little for that; a
    /// thread stuck writing to a pipe nobody reads is left behind.
    fn drop(&mut self) {
        self.orders = None;
        if self.thread.is_some() {
            let _ = self.ended.recv_timeout(DROP_WAIT);
        }
    }
}

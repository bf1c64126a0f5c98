//! SIGINT and SIGTERM. The first one is noted and wakes the event loop (if
//! one registered its waker); the drivers check for it where they wait or
//! between pieces of work, and stop the way a failed job stops: workers are
//! told to abort, temporary files are removed, nothing partial is left, and
//! the process exits 128 + the signal (130, 143). A second signal, for a
//! user who does not want to wait, ends the process at once.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use mio::Waker;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::{Error, Result};

/// The first signal caught, or 0.
static CAUGHT: AtomicI32 = AtomicI32::new(0);
/// The waker of the event loop to interrupt, if any.
static WAKER: Mutex<Option<Arc<Waker>>> = Mutex::new(None);

/// Starts catching SIGINT and SIGTERM (once per process).
pub fn install() -> Result<()> {
    for signal in [SIGINT, SIGTERM] {
        // SAFETY: the action only does async-signal-safe things: an atomic
        // compare-and-swap, and `_exit` for a second signal.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                if CAUGHT.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    signal_hook::low_level::exit(128 + signal); // the second one: at once
                }
            })
        }
        .map_err(|e| Error::io("cannot catch signals", e))?;
    }
    // The flag is set in the handler itself; this thread only wakes the
    // loop and says what happened.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| Error::io("cannot catch signals", e))?;
    std::thread::Builder::new()
        .name("wordfreq-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                tracing::warn!("{}: stopping (again to stop at once)", name(signal));
                if let Some(waker) = WAKER.lock().ok().and_then(|w| w.clone()) {
                    let _ = waker.wake();
                }
            }
        })
        .map_err(|e| Error::io("cannot start the signal thread", e))?;
    Ok(())
}

/// The event loop to wake when a signal comes.
pub fn wake_on_signal(waker: Arc<Waker>) {
    if let Ok(mut slot) = WAKER.lock() {
        *slot = Some(waker);
    }
}

/// `Err(Interrupted)` once a signal has come.
pub fn check() -> Result<()> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => Ok(()),
        signal => Err(Error::Interrupted { signal: name(signal), code: 128 + signal as u8 }),
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

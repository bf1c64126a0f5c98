//! Hooks for fault tests, each set by an environment variable and costing
//! one environment lookup per process when unset.
//!
//! - `WORDFREQ_CRASH_AT=ROLE:PHASE[:stop]` (e.g. `worker:shuffle2`,
//!   `master:sort_output:stop`): when the process starts that phase it
//!   exits abruptly, without closing anything — the same as a crash or a
//!   `kill -9` at a known point; with `:stop` it stops itself (SIGSTOP)
//!   instead — a hung process or machine whose connections stay open. No
//!   timing is involved either way.
//! - `WORDFREQ_PAUSE_READING=DIR`: the first time the process is about to
//!   read a mapped input, it writes the input's path and a newline into the
//!   FIFO `DIR/paused`, then waits until the FIFO `DIR/resume` has been
//!   opened for writing and closed. Meanwhile a test can truncate, grow or
//!   delete the file: a change under a running job at a known point.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::phase::Phase;

/// The exit status of a deliberate crash.
pub const CRASH_STATUS: i32 = 86;

/// Crashes or stops the process if the environment asks for it at `role`
/// and `phase`.
pub fn crash_point(role: &str, phase: Phase) {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    let Some(spec) = SPEC.get_or_init(|| std::env::var("WORDFREQ_CRASH_AT").ok()) else { return };
    let mut fields = spec.split(':');
    if (fields.next(), fields.next()) != (Some(role), Some(phase.name())) {
        return;
    }
    if fields.next() == Some("stop") {
        eprintln!("wordfreq: stopping at {role}:{phase} as WORDFREQ_CRASH_AT asks");
        // SAFETY: raise has no preconditions; SIGSTOP stops the whole
        // process until a SIGCONT or SIGKILL.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
        return;
    }
    eprintln!("wordfreq: crashing at {role}:{phase} as WORDFREQ_CRASH_AT asks");
    std::process::exit(CRASH_STATUS);
}

/// Waits, once per process, while a test changes the input at `path` (see
/// the module documentation). Errors are ignored: this only serves tests.
pub fn pause_reading(path: &Path) {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    static PAUSED: AtomicBool = AtomicBool::new(false);
    let Some(dir) = DIR.get_or_init(|| std::env::var_os("WORDFREQ_PAUSE_READING").map(PathBuf::from)) else {
        return;
    };
    if PAUSED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok(mut paused) = std::fs::OpenOptions::new().write(true).open(dir.join("paused")) {
        let _ = paused.write_all(&[path.as_os_str().as_bytes(), b"\n"].concat());
    }
    let _ = std::fs::read(dir.join("resume"));
}

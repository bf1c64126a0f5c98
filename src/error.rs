//! The crate's error type. Each variant names one cause and carries the
//! context a user needs to act (a path, a worker's rank and address, a
//! phase); its `Display` is the one line `main` prints on stderr, and
//! [`Error::exit_code`] picks the exit status (2 for usage, 1 for the rest).

use std::io;
use std::path::PathBuf;

use crate::phase::Phase;
use crate::wire::{EncodeError, ProtocolError};

/// Everything that can end a job or a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is not usable as given (exit status 2).
    #[error("{0}")]
    Usage(String),

    /// An input path is missing, unreadable, or not a file or directory.
    #[error("cannot read input {path}: {reason}")]
    Input { path: PathBuf, reason: String },

    /// The `alnum` or `words` tokenizer met bytes that are not UTF-8.
    #[error(
        "{path}: invalid UTF-8 at byte offset {offset} (alnum and words need UTF-8 input; the whitespace tokenizers take any bytes)"
    )]
    NotUtf8 { path: PathBuf, offset: u64 },

    /// The output file (or its temporary sibling) could not be written.
    #[error("cannot write output {path}: {source}")]
    Output { path: PathBuf, source: io::Error },

    /// Binding a listening socket failed (e.g. the port is in use).
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },

    /// A worker could not be reached at the start of a job.
    #[error("cannot reach worker {rank} at {addr}: {reason}")]
    Unreachable { rank: usize, addr: String, reason: String },

    /// A worker's connection (to the master or to a peer) ended or broke in
    /// the middle of a job.
    #[error("worker {rank} ({addr}) was lost during {phase}: {reason}")]
    PeerLost { rank: usize, addr: String, phase: Phase, reason: String },

    /// Nothing arrived from a worker for the heartbeat timeout: it is stopped,
    /// hung, or cut off, though its connection is still open.
    #[error("worker {rank} ({addr}) stopped responding during {phase} (nothing heard for {silent_s} s)")]
    Stalled { rank: usize, addr: String, phase: Phase, silent_s: f64 },

    /// A worker reported that it could not do its part.
    #[error("worker {rank} ({addr}) failed during {phase}: {reason}")]
    WorkerFailed { rank: usize, addr: String, phase: Phase, reason: String },

    /// A peer sent bytes that break the wire protocol.
    #[error("protocol error from {peer}: {error}")]
    Protocol { peer: String, error: ProtocolError },

    /// A job spec that this worker cannot run (another build, an address it
    /// cannot resolve, splits outside their files).
    #[error("{0}")]
    JobSpec(String),

    /// A message could not be encoded (e.g. larger than a frame).
    #[error(transparent)]
    Encode(#[from] EncodeError),

    /// What was sent and what was received disagree at a phase barrier.
    #[error("conservation check failed after {phase}: {detail}")]
    Conservation { phase: Phase, detail: String },

    /// Something did not happen within its time limit.
    #[error("{0}")]
    Timeout(String),

    /// The job was cancelled (it failed elsewhere, or it was aborted) while
    /// this part was still running.
    #[error("the job was cancelled")]
    Cancelled,

    /// The process holds more memory than `--memory-limit` allows: the words
    /// do not fit on this many workers.
    #[error(
        "the vocabulary does not fit in memory: {} in use after {} distinct words, over the limit of {} ({basis}); use more workers on more machines (master with more hosts) or raise --memory-limit",
        crate::memory::size(*used),
        crate::metrics::grouped(*distinct),
        crate::memory::size(*limit)
    )]
    Memory { used: u64, distinct: u64, limit: u64, basis: String },

    /// SIGINT or SIGTERM stopped the command (exit status 128 + signal).
    #[error("stopped by {signal}")]
    Interrupted { signal: &'static str, code: u8 },

    /// Any other failure of the operating system, with what we were doing.
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with a short description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// True for failures that losing a worker can cause (so that running
    /// the job again on the others may succeed); false for those that
    /// would fail again: bad arguments, inputs, the output.
    pub fn may_be_a_lost_worker(&self) -> bool {
        !matches!(
            self,
            Error::Usage(_)
                | Error::Input { .. }
                | Error::NotUtf8 { .. }
                | Error::Output { .. }
                | Error::Encode(_)
                | Error::Memory { .. }
                | Error::Interrupted { .. }
        )
    }

    /// The process exit status for this error: 2 for a usage error, as for
    /// clap's own argument errors; 1 for a job or command that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Interrupted { code, .. } => *code,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_failures_exit_1() {
        assert_eq!(Error::Usage("--workers must be at least 1".into()).exit_code(), 2);
        assert_eq!(Error::Cancelled.exit_code(), 1);
        assert_eq!(Error::Timeout("no answer".into()).exit_code(), 1);
        let lost = Error::PeerLost { rank: 1, addr: "h:1".into(), phase: Phase::Shuffle2, reason: "reset".into() };
        assert_eq!(lost.to_string(), "worker 1 (h:1) was lost during shuffle2: reset");
    }
}

//! The crate's error type. Each variant carries the context a user needs to act
//! (a path, a worker's rank and address, a phase), and its `Display` is the one
//! line `main` prints on stderr before exiting non-zero.

use std::io;
use std::path::PathBuf;

use crate::phase::Phase;
use crate::wire::ProtocolError;

/// Everything that can end a job or a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input path is missing, unreadable, or not a file or directory.
    #[error("cannot read input {path}: {reason}")]
    Input { path: PathBuf, reason: String },

    /// The `alnum` tokenizer met bytes that are not UTF-8.
    #[error("{path}: invalid UTF-8 at byte offset {offset} (the alnum tokenizer needs UTF-8 input)")]
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

    /// A worker's connection ended or broke in the middle of a job.
    #[error("worker {rank} ({addr}) was lost during {phase}: {reason}")]
    WorkerLost { rank: usize, addr: String, phase: Phase, reason: String },

    /// A worker reported that it could not do its part.
    #[error("worker {rank} ({addr}) failed during {phase}: {reason}")]
    WorkerFailed { rank: usize, addr: String, phase: Phase, reason: String },

    /// A peer sent bytes that break the wire protocol.
    #[error("protocol error from {peer}: {error}")]
    Protocol { peer: String, error: ProtocolError },

    /// What was sent and what was received disagree at a phase barrier.
    #[error("conservation check failed after {phase}: {detail}")]
    Conservation { phase: Phase, detail: String },

    /// The command line or the job is not usable as given.
    #[error("{0}")]
    Usage(String),

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
}

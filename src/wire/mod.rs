//! The wire protocol (DESIGN §4). Every connection starts with the
//! authentication handshake (`auth`: each side proves it holds the shared
//! secret), then a fixed-size hello from each side, then carries frames:
//!
//! ```text
//! hello  = "WFQ" version:u8 role:u8 rank:u32le job_id:u64le      (17 bytes)
//! frame  = len:u32le kind:u8 payload[len]                         (len ≤ MAX_FRAME)
//! message larger than MAX_FRAME = Fragment frames, then a frame of its kind
//! ```
//!
//! A payload is an rkyv archive of the message its kind names. It is copied
//! into an aligned buffer of exactly `len` bytes and validated with
//! `rkyv::access` (bytecheck) before any field is read; archives are then read
//! in place. All integers are little-endian. A peer that breaks any of this
//! gets its connection closed with a `ProtocolError`; nothing panics.
//!
//! Versioning: `VERSION` changes whenever a message's layout changes; a
//! mismatch is refused at the handshake's preamble, and the refusing side
//! answers with its own preamble so the other learns which version it speaks.

pub mod auth;
pub mod frame;
pub mod hello;
pub mod message;

pub use frame::{Frame, MAX_FRAME};
pub use hello::{Hello, Role};
pub use message::{Kind, Message};

/// Why a message could not be put on the wire.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// rkyv refused to archive it.
    #[error("cannot encode a {kind:?} message: {reason}")]
    Archive { kind: Kind, reason: String },
}

/// Why a connection's bytes were refused. Each variant names one cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The first bytes are not `WFQ`: not a wordfreq peer.
    #[error("bad magic: the peer does not speak the wordfreq protocol")]
    BadMagic,
    /// The peer speaks another protocol version.
    #[error("protocol version {got} is not supported (this build speaks {})", hello::VERSION)]
    VersionMismatch { got: u8 },
    /// The hello names no known role.
    #[error("unknown role {0} in hello")]
    BadRole(u8),
    /// A frame announces more bytes than any message may have.
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME} bytes")]
    FrameTooLarge { len: u32 },
    /// A frame has a kind byte no message has.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// A payload failed validation as the archive its kind names.
    #[error("invalid {0:?} payload")]
    InvalidArchive(Kind),
    /// A hello from a role or a job the connection is not for.
    #[error("unexpected hello from a {role:?} of job {job_id:016x}")]
    UnexpectedHello { role: Role, job_id: u64 },
    /// A valid message arrived where the protocol does not allow it.
    #[error("unexpected {0:?} message")]
    Unexpected(Kind),
    /// The connection ended in the middle of a hello or a frame.
    #[error("connection cut in the middle of a message")]
    Truncated,
    /// Fragments add up to more than any message may have.
    #[error("a fragmented message exceeds {} bytes", frame::MAX_MESSAGE)]
    MessageTooLarge,
    /// The authentication handshake's verdict byte is neither yes nor no.
    #[error("handshake verdict {0} is neither accepted nor refused")]
    BadVerdict(u8),
}

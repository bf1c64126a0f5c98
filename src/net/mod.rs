//! Sockets. Everything that touches a socket lives here: one nonblocking mio
//! event loop per node (`reactor`), each connection's buffers and states
//! (`connection`) and its authentication (`handshake`), the rayon → loop handoff (`handoff`) and who dials whom
//! (`mesh`). Protocol logic lives in `wire`, job logic in `phase`.

pub mod connection;
pub mod handoff;
pub mod handshake;
pub mod mesh;
pub mod reactor;

pub use handoff::{Handoff, WakingThread};
pub use mio::Token;
pub use reactor::{Closed, NetEvent, Reactor};

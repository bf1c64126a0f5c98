//! The event loop: one mio `Poll` for every socket of a node (listener,
//! master link, peer links) plus a `Waker` for the compute threads. It turns
//! readiness into `NetEvent`s — accepted, connected, hello, frame, closed,
//! woken — and never computes: the node's driver reacts to the events and
//! queues bytes back.
//!
//! Readiness is edge-triggered, so each connection remembers readiness it has
//! not used up yet and is serviced until reads and writes would block. Reads
//! take a bounded budget per turn, so one busy peer cannot starve the others,
//! and stop altogether while the driver pauses a connection (backpressure
//! towards a sender that outruns this node).

use std::collections::BTreeMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::connection::{Connection, Fill, Incoming, State};
use crate::wire::{Frame, Hello, ProtocolError};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONNECTION: usize = 2;

/// Bytes read from one connection per turn before the others get theirs.
const READ_BUDGET: usize = 4 << 20;

/// An idle connection is probed after this long...
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
/// ...every this long, and declared dead after this many unanswered probes:
/// a peer whose machine died or whose network vanished (no FIN, no RST) is
/// noticed within about 35 s instead of hanging a job (and, on a worker,
/// a master link) forever.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_PROBES: u32 = 4;
/// How long data may stay unacknowledged on a link marked `watch`: the same
/// 35 s, for a peer that dies while data is in flight to it.
pub const DEAD_PEER_LIMIT: Duration = Duration::from_secs(35);

/// Socket options of every connection: no Nagle delay (frames are whole
/// messages), and dead peers of idle links detected by the kernel. Options
/// are best effort: a socket that refuses one still works.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
}

/// Why a connection ended.
#[derive(Debug)]
pub enum Closed {
    /// The peer closed cleanly between messages.
    Eof,
    /// The socket failed (refused, reset, …).
    Io(io::Error),
    /// The peer broke the protocol; the connection was dropped.
    Protocol(ProtocolError),
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Eof => f.write_str("connection closed"),
            Closed::Io(e) => write!(f, "{e}"),
            Closed::Protocol(e) => write!(f, "{e}"),
        }
    }
}

/// Something that happened on the node's sockets.
#[derive(Debug)]
pub enum NetEvent {
    /// A peer connected to our listener.
    Accepted(Token, SocketAddr),
    /// Our outgoing connection is established.
    Connected(Token),
    /// The peer's hello arrived.
    Hello(Token, Hello),
    /// A whole frame arrived.
    Frame(Token, Frame),
    /// The connection is gone (and forgotten by the reactor).
    Closed(Token, Closed),
    /// A compute thread has handed something over.
    Woken,
}

/// The node's event loop.
#[derive(Debug)]
pub struct Reactor {
    poll: Poll,
    events: Events,
    listener: Option<TcpListener>,
    /// By token: tokens grow, so iteration visits older connections first.
    conns: BTreeMap<Token, Connection>,
    next_token: usize,
    waker: Arc<Waker>,
}

impl Reactor {
    /// A loop with an optional listener.
    pub fn new(mut listener: Option<TcpListener>) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        if let Some(l) = listener.as_mut() {
            poll.registry().register(l, LISTENER, Interest::READABLE)?;
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Reactor {
            poll,
            events: Events::with_capacity(256),
            listener,
            conns: BTreeMap::new(),
            next_token: FIRST_CONNECTION,
            waker,
        })
    }

    /// The waker compute threads use to interrupt `poll`.
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Starts a nonblocking connect; `Connected` or `Closed` follows.
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<Token> {
        let mut stream = TcpStream::connect(addr)?;
        let token = self.take_token();
        self.poll.registry().register(&mut stream, token, Interest::WRITABLE)?;
        self.conns.insert(token, Connection::new(stream, addr, State::Connecting, Interest::WRITABLE));
        Ok(token)
    }

    /// Queues bytes on a connection. Returns false if it is gone.
    pub fn send(&mut self, token: Token, bytes: Vec<u8>) -> bool {
        match self.conns.get_mut(&token) {
            Some(c) if c.state != State::Draining => {
                c.queue(bytes);
                true
            }
            _ => false,
        }
    }

    /// Bytes queued on a connection and not yet written.
    pub fn queued(&self, token: Token) -> usize {
        self.conns.get(&token).map_or(0, |c| c.queued)
    }

    /// Also ends a connection whose sent data stays unacknowledged for
    /// `DEAD_PEER_LIMIT` (Linux `TCP_USER_TIMEOUT`). Only for links whose
    /// reader never stops reading (master links): a peer link paused by
    /// backpressure may rightly leave data waiting longer. It also makes the
    /// keepalive verdict come at the same limit.
    pub fn watch(&mut self, token: Token) {
        if let Some(c) = self.conns.get(&token) {
            let _ = socket2::SockRef::from(&c.stream).set_tcp_user_timeout(Some(DEAD_PEER_LIMIT));
        }
    }

    /// Stops or resumes reading from a connection.
    pub fn set_paused(&mut self, token: Token, paused: bool) {
        if let Some(c) = self.conns.get_mut(&token) {
            if c.paused && !paused {
                c.readable = true; // buffered frames or unread bytes may be waiting
            }
            c.paused = paused;
        }
    }

    /// The peer address of a connection.
    pub fn addr(&self, token: Token) -> Option<SocketAddr> {
        self.conns.get(&token).map(|c| c.addr)
    }

    /// Bytes (received, queued for sending) on a connection so far.
    pub fn traffic(&self, token: Token) -> (u64, u64) {
        self.conns.get(&token).map_or((0, 0), |c| (c.bytes_in, c.bytes_out))
    }

    /// Drops a connection at once, without further events.
    pub fn close(&mut self, token: Token) {
        if let Some(mut c) = self.conns.remove(&token) {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
    }

    /// Closes a connection gracefully, without further events: sends what is
    /// queued, shuts down writing, and drops it when the peer closes too.
    pub fn close_gracefully(&mut self, token: Token) {
        if let Some(c) = self.conns.get_mut(&token) {
            if c.state == State::Connecting {
                self.close(token);
            } else {
                c.state = State::Draining;
                c.paused = false;
                c.readable = true;
                c.writable = true;
            }
        }
    }

    /// Number of connections still known (including draining ones).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Waits up to `timeout` (forever if `None`) for something to happen and
    /// appends what happened to `out`.
    pub fn poll(&mut self, timeout: Option<Duration>, out: &mut Vec<NetEvent>) -> io::Result<()> {
        self.sync_interests();
        let ready = self.conns.values().any(Connection::wants_service);
        let timeout = if ready { Some(Duration::ZERO) } else { timeout };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut accept = false;
        for event in self.events.iter() {
            match event.token() {
                LISTENER => accept = true,
                WAKER => out.push(NetEvent::Woken),
                token => {
                    if let Some(c) = self.conns.get_mut(&token) {
                        let failed = event.is_error();
                        c.readable |= event.is_readable() || event.is_read_closed() || failed;
                        c.writable |= event.is_writable() || event.is_write_closed() || failed;
                    }
                }
            }
        }
        if accept {
            self.accept(out)?;
        }
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            self.service(token, out);
        }
        Ok(())
    }

    fn take_token(&mut self) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        token
    }

    fn sync_interests(&mut self) {
        let registry = self.poll.registry();
        let mut failed = Vec::new();
        for (&token, c) in self.conns.iter_mut() {
            let want = c.interest();
            if want != c.registered {
                match registry.reregister(&mut c.stream, token, want) {
                    Ok(()) => c.registered = want,
                    Err(_) => failed.push(token),
                }
            }
        }
        for token in failed {
            self.close(token);
        }
    }

    fn accept(&mut self, out: &mut Vec<NetEvent>) -> io::Result<()> {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return Ok(());
            };
            match listener.accept() {
                Ok((mut stream, addr)) => {
                    tune(&stream);
                    let token = self.take_token();
                    self.poll.registry().register(&mut stream, token, Interest::READABLE)?;
                    let mut c = Connection::new(stream, addr, State::Open, Interest::READABLE);
                    c.readable = true;
                    self.conns.insert(token, c);
                    out.push(NetEvent::Accepted(token, addr));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors or an aborted handshake: the listener
                    // itself is fine; try again on the next event.
                    tracing::warn!("accept failed: {e}");
                    return Ok(());
                }
            }
        }
    }

    /// Uses up a connection's pending readiness: finishes a connect, writes,
    /// reads and parses, and reports what came of it.
    fn service(&mut self, token: Token, out: &mut Vec<NetEvent>) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        if c.state == State::Connecting {
            if !c.writable {
                return;
            }
            match c.stream.take_error() {
                Ok(None) => match c.stream.peer_addr() {
                    Ok(_) => {
                        tune(&c.stream);
                        c.state = State::Open;
                        c.readable = true;
                        out.push(NetEvent::Connected(token));
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        c.writable = false; // not yet: wait for the next event
                        return;
                    }
                    Err(e) => return self.fail(token, Closed::Io(e), out),
                },
                Ok(Some(e)) | Err(e) => return self.fail(token, Closed::Io(e), out),
            }
        }
        if c.writable
            && c.queued > 0
            && let Err(e) = c.flush()
        {
            return self.fail(token, Closed::Io(e), out);
        }
        if c.state == State::Draining && c.queued == 0 && !c.shut {
            let _ = c.stream.shutdown(Shutdown::Write);
            c.shut = true;
        }
        if !c.readable || c.paused {
            return;
        }
        let fill = match c.fill(READ_BUDGET) {
            Ok(fill) => fill,
            Err(e) => return self.fail(token, Closed::Io(e), out),
        };
        if c.state == State::Draining {
            c.discard_input();
            if fill == Fill::Eof {
                self.close(token);
            }
            return;
        }
        loop {
            match c.next_incoming() {
                Ok(Some(Incoming::Hello(hello))) => out.push(NetEvent::Hello(token, hello)),
                Ok(Some(Incoming::Frame(frame))) => out.push(NetEvent::Frame(token, frame)),
                Ok(None) => break,
                Err(e) => return self.fail(token, Closed::Protocol(e), out),
            }
        }
        if fill == Fill::Eof {
            if c.has_partial_input() {
                return self.fail(token, Closed::Protocol(ProtocolError::Truncated), out);
            }
            self.fail(token, Closed::Eof, out);
        }
    }

    /// Forgets a connection and reports why (unless it was draining, which
    /// the driver already forgot).
    fn fail(&mut self, token: Token, why: Closed, out: &mut Vec<NetEvent>) {
        let draining = self.conns.get(&token).is_some_and(|c| c.state == State::Draining);
        self.close(token);
        if !draining {
            out.push(NetEvent::Closed(token, why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_probe_dead_peers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        tune(&stream);
        let socket = socket2::SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        assert!(stream.nodelay().unwrap());
    }
}

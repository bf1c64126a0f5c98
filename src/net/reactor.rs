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
//!
//! The reactor also keeps time for its connections, because only it sees
//! every byte: a connection must finish the authentication handshake and
//! its hello within `HANDSHAKE_LIMIT` (and few may be trying at once); a
//! connection the driver `watch`es gets a `Heartbeat` frame whenever it has
//! been quiet for a fifth of its silence limit, and is closed as `Silent`
//! when nothing at all has arrived from it for the whole limit — unless the
//! driver has paused reading from it, since then silence is ours. So a slow
//! peer (whose loop still runs) is never taken for a dead one, and a stopped
//! one is noticed within the limit.

use std::collections::BTreeMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::connection::{Connection, Fill, Incoming, State};
use super::handshake::{Failure, Handshake};
use crate::wire::auth::Key;
use crate::wire::frame;
use crate::wire::{Frame, Hello, Kind, ProtocolError};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONNECTION: usize = 2;

/// Bytes read from one connection per turn before the others get theirs.
const READ_BUDGET: usize = 4 << 20;

/// An idle connection is probed by the kernel after this long, every this
/// long, this many times: a backstop for links nobody `watch`es.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_PROBES: u32 = 4;
/// How long a connection has to finish the handshake and its hello.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// How many connections may be in their handshake at once, in all and from
/// one address; more are closed as soon as they are accepted. The limit per
/// address keeps a flood of silent connections from one machine from
/// locking everyone else out.
const MAX_HANDSHAKES: usize = 256;
const MAX_HANDSHAKES_PER_ADDRESS: usize = 16;
/// How long a graceful close may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How often the loop looks at its clocks while any connection has one.
const TICK: Duration = Duration::from_millis(100);

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
    /// The authentication handshake failed.
    Auth(Failure),
    /// The handshake and hello did not complete within `HANDSHAKE_LIMIT`.
    TimedOut,
    /// Nothing arrived on a watched connection for this long.
    Silent(Duration),
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Eof => f.write_str("connection closed"),
            Closed::Io(e) => write!(f, "{e}"),
            Closed::Protocol(e) => write!(f, "{e}"),
            Closed::Auth(e) => write!(f, "{e}"),
            Closed::TimedOut => write!(f, "no handshake within {} s", HANDSHAKE_LIMIT.as_secs()),
            Closed::Silent(limit) => write!(f, "stopped responding (nothing heard for {} s)", limit.as_secs_f64()),
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
    /// The key every connection's handshake proves.
    key: Key,
    /// When the last "too many handshakes" warning was logged.
    warned_crowd: Option<Instant>,
    /// Bytes (received, queued for sending) of the connections closed so far.
    retired: (u64, u64),
}

impl Reactor {
    /// A loop with an optional listener, whose connections authenticate
    /// with `key`.
    pub fn new(mut listener: Option<TcpListener>, key: Key) -> io::Result<Reactor> {
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
            key,
            warned_crowd: None,
            retired: (0, 0),
        })
    }

    /// The waker compute threads use to interrupt `poll`.
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Starts a nonblocking connect; `Connected` or `Closed` follows.
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<Token> {
        let (handshake, opening) = Handshake::dial()?;
        let mut stream = TcpStream::connect(addr)?;
        let token = self.take_token();
        self.poll.registry().register(&mut stream, token, Interest::WRITABLE)?;
        let mut c = Connection::new(stream, addr, State::Connecting, handshake, opening);
        c.deadline = Some(Instant::now() + HANDSHAKE_LIMIT);
        self.conns.insert(token, c);
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
        self.conns.get(&token).map_or(0, |c| c.queued + c.held())
    }

    /// Keeps a connection alive and checks that its other end is: it gets a
    /// heartbeat when quiet for a fifth of `limit`, and is closed as
    /// `Silent` when nothing arrives from it for `limit` while we read.
    pub fn watch(&mut self, token: Token, limit: Duration) {
        if let Some(c) = self.conns.get_mut(&token) {
            c.silence_limit = Some(limit);
            c.last_heard = Instant::now();
        }
    }

    /// Stops or resumes reading from a connection.
    pub fn set_paused(&mut self, token: Token, paused: bool) {
        if let Some(c) = self.conns.get_mut(&token) {
            if c.paused && !paused {
                c.readable = true; // buffered frames or unread bytes may be waiting
                c.last_heard = Instant::now(); // its silence while paused was ours
            }
            c.paused = paused;
        }
    }

    /// The peer address of a connection.
    pub fn addr(&self, token: Token) -> Option<SocketAddr> {
        self.conns.get(&token).map(|c| c.addr)
    }

    /// Bytes (received, queued for sending) on every connection this loop
    /// has had, closed ones included: the figures never go backwards, so a
    /// phase's traffic is the difference of two readings even when links
    /// close during the phase.
    pub fn traffic(&self) -> (u64, u64) {
        self.conns.values().fold(self.retired, |(i, o), c| (i + c.bytes_in, o + c.bytes_out))
    }

    /// Drops a connection at once, without further events.
    pub fn close(&mut self, token: Token) {
        if let Some(mut c) = self.conns.remove(&token) {
            self.retired.0 += c.bytes_in;
            self.retired.1 += c.bytes_out;
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
                c.deadline = Some(Instant::now() + DRAIN_LIMIT);
            }
        }
    }

    /// Runs the loop, dropping its events, until `done` holds or `limit` has
    /// passed: for closing links gracefully when nothing else matters.
    pub fn settle(&mut self, limit: Duration, done: impl Fn(&Reactor) -> bool) {
        let deadline = Instant::now() + limit;
        let mut events = Vec::new();
        while !done(self) && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.poll(Some(left), &mut events).is_err() {
                break;
            }
            events.clear();
        }
    }

    /// Number of connections still known (including draining ones).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Waits up to `timeout` (forever if `None`) for something to happen and
    /// appends what happened to `out`.
    pub fn poll(&mut self, timeout: Option<Duration>, out: &mut Vec<NetEvent>) -> io::Result<()> {
        let before = out.len();
        self.keep_time(out);
        self.sync_interests();
        // Connections that `keep_time` just failed are reported now: waiting
        // first could wait forever once no connection is left to wake us.
        let ready = out.len() > before || self.conns.values().any(Connection::wants_service);
        let timed = self.conns.values().any(|c| c.deadline.is_some() || c.silence_limit.is_some());
        let timeout = match (ready, timed) {
            (true, _) => Some(Duration::ZERO),
            (false, true) => Some(timeout.map_or(TICK, |t| t.min(TICK))),
            (false, false) => timeout,
        };
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
                    let handshaking = || self.conns.values().filter(|c| !c.greeted && c.state != State::Draining);
                    let from_there = handshaking().filter(|c| c.addr.ip() == addr.ip()).count();
                    if from_there >= MAX_HANDSHAKES_PER_ADDRESS || handshaking().count() >= MAX_HANDSHAKES {
                        self.warn_crowd(addr);
                        continue; // dropping the stream closes it
                    }
                    let Ok(handshake) = Handshake::accept() else {
                        tracing::warn!("no random bytes for a handshake: closing {addr}");
                        continue;
                    };
                    tune(&stream);
                    let token = self.take_token();
                    self.poll.registry().register(&mut stream, token, Interest::READABLE)?;
                    let mut c = Connection::new(stream, addr, State::Open, handshake, Vec::new());
                    c.readable = true;
                    c.deadline = Some(Instant::now() + HANDSHAKE_LIMIT);
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

    /// Logs, at most once a second, that connections are refused because
    /// too many are in their handshake.
    fn warn_crowd(&mut self, addr: SocketAddr) {
        if self.warned_crowd.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!("refusing {addr}: too many connections from it (or in all) are still in their handshake");
            self.warned_crowd = Some(Instant::now());
        }
    }

    /// Closes connections past their deadline or silent too long, and
    /// queues heartbeats on quiet watched ones.
    fn keep_time(&mut self, out: &mut Vec<NetEvent>) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (&token, c) in self.conns.iter_mut() {
            if c.deadline.is_some_and(|d| now >= d) {
                expired.push((token, Closed::TimedOut));
                continue;
            }
            let Some(limit) = c.silence_limit else { continue };
            if c.state != State::Open || !c.greeted {
                continue;
            }
            if !c.paused && now.duration_since(c.last_heard) >= limit {
                expired.push((token, Closed::Silent(limit)));
            } else if c.queued + c.held() == 0 && now.duration_since(c.last_queued) >= limit / 5 {
                let mut beat = Vec::with_capacity(frame::HEADER_LEN);
                frame::encode_into(&mut beat, Kind::Heartbeat, &[]);
                c.queue(beat);
            }
        }
        for (token, why) in expired {
            self.fail(token, why, out);
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
        match c.authenticate(&self.key) {
            Ok(true) => {}
            Ok(false) => return self.eof_in_handshake(token, fill, out),
            Err(failed) => {
                // Say the farewell, then let go; the driver hears why now.
                let why = match failed.why {
                    Failure::Protocol(e) => Closed::Protocol(e),
                    why => Closed::Auth(why),
                };
                out.push(NetEvent::Closed(token, why));
                return self.close_gracefully(token);
            }
        }
        loop {
            match c.next_incoming() {
                Ok(Some(Incoming::Hello(hello))) => {
                    c.deadline = None;
                    out.push(NetEvent::Hello(token, hello));
                }
                Ok(Some(Incoming::Frame(frame))) if frame.kind == Kind::Heartbeat => {}
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

    /// A connection that ended before its handshake did.
    fn eof_in_handshake(&mut self, token: Token, fill: Fill, out: &mut Vec<NetEvent>) {
        let partial = self.conns.get(&token).is_some_and(Connection::has_partial_input);
        match fill {
            Fill::Eof if partial => self.fail(token, Closed::Protocol(ProtocolError::Truncated), out),
            Fill::Eof => self.fail(token, Closed::Eof, out),
            _ => {}
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

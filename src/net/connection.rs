//! One socket's state: connecting, open or draining; its authentication
//! handshake; its read buffer (from which hellos and frames are parsed) and
//! its write queue; when it last heard from the other side. The queue's
//! size is exposed so the node can stop producing for a slow peer
//! (backpressure); the mio interest is derived from the state, never stored
//! as intent. Until the handshake is done, what the node queues is held
//! back and only handshake bytes flow.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;

use super::handshake::{Failed, Handshake};
use crate::wire::ProtocolError;
use crate::wire::auth::Key;
use crate::wire::frame::{self, Assembly, Frame};
use crate::wire::hello::{HELLO_LEN, Hello};

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A nonblocking connect is in progress.
    Connecting,
    /// Hellos and frames flow.
    Open,
    /// Closing gracefully: flush the queue, shut down writing, read until EOF.
    Draining,
}

/// What a connection's bytes parse into.
#[derive(Debug)]
pub enum Incoming {
    Hello(Hello),
    Frame(Frame),
}

/// How a read pass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The socket has nothing more for now.
    Drained,
    /// The read budget ran out first; more may be waiting.
    Budget,
    /// The peer closed its side.
    Eof,
}

/// Bytes read but not yet parsed. The vector stays initialised and is reused,
/// so reading never zero-fills memory again; it grows only as bytes arrive
/// (never to a length a frame header merely claims).
#[derive(Debug, Default)]
struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 << 20 {
                self.buf = Vec::new(); // a huge frame passed; give the memory back
            }
        }
    }

    /// How much to ask the kernel for next: a little at first (a silent
    /// connection costs a page, not a read chunk), then as much as is
    /// already buffered, up to a read chunk, so room doubles as bytes come.
    fn next_read(&self) -> usize {
        (self.end - self.start).clamp(FIRST_READ, READ_CHUNK)
    }

    /// Room for at least `want` more bytes.
    /// Moves the pending bytes to the front only when the used prefix is at
    /// least as long as they are, so a large message that arrives a chunk
    /// at a time is copied a bounded number of times, not once per chunk.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.buf.len() - self.end < want && self.start > 0 && self.start >= self.end - self.start {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < want {
            self.buf.resize(self.end + want, 0);
        }
        &mut self.buf[self.end..]
    }
}

/// One TCP connection of the node.
#[derive(Debug)]
pub struct Connection {
    pub stream: TcpStream,
    pub addr: SocketAddr,
    pub state: State,
    handshake: Handshake,
    /// The parts of a message larger than a frame, as they arrive.
    assembly: Assembly,
    /// What the node queued before the handshake was done, in order.
    held: Vec<Vec<u8>>,
    /// True once the peer's hello has been parsed; frames follow it.
    pub greeted: bool,
    /// When the connection must have reached its next stage (handshake and
    /// hello done, or draining finished), if it has a limit.
    pub deadline: Option<Instant>,
    /// The last time bytes arrived, and the last time bytes were queued.
    pub last_heard: Instant,
    pub last_queued: Instant,
    /// How long the other side may stay silent (`Reactor::watch`).
    pub silence_limit: Option<Duration>,
    input: ReadBuf,
    /// Encoded bytes waiting for the socket, oldest first; `sent` bytes of the
    /// front entry are already written.
    output: VecDeque<Vec<u8>>,
    sent: usize,
    /// Bytes in `output` not yet written: what backpressure looks at.
    pub queued: usize,
    /// Readiness seen and not yet used up (edge-triggered events).
    pub readable: bool,
    pub writable: bool,
    /// Reading is paused while the node cannot take more input from here.
    pub paused: bool,
    /// Shutdown(Write) done while draining.
    pub shut: bool,
    /// The interest currently registered with the poll.
    pub registered: Interest,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Bytes asked of the kernel per read call, at most, and at first.
const READ_CHUNK: usize = 256 << 10;
const FIRST_READ: usize = 4 << 10;

impl Connection {
    /// A connection that starts `handshake`; `opening` is the handshake's
    /// first bytes, if this side speaks first.
    pub fn new(stream: TcpStream, addr: SocketAddr, state: State, handshake: Handshake, opening: Vec<u8>) -> Self {
        let registered = if state == State::Connecting { Interest::WRITABLE } else { Interest::READABLE };
        let now = Instant::now();
        let mut c = Connection {
            stream,
            addr,
            state,
            handshake,
            assembly: Assembly::default(),
            held: Vec::new(),
            greeted: false,
            deadline: None,
            last_heard: now,
            last_queued: now,
            silence_limit: None,
            input: ReadBuf::default(),
            output: VecDeque::new(),
            sent: 0,
            queued: 0,
            readable: false,
            writable: state == State::Open,
            paused: false,
            shut: false,
            registered,
            bytes_in: 0,
            bytes_out: 0,
        };
        c.send_now(opening);
        c
    }

    /// The interest that matches the state: writable while connecting or
    /// while bytes wait, readable once connected.
    pub fn interest(&self) -> Interest {
        match self.state {
            State::Connecting => Interest::WRITABLE,
            _ if self.queued > 0 => Interest::READABLE | Interest::WRITABLE,
            _ => Interest::READABLE,
        }
    }

    /// True if a pass over this connection can make progress without a new event.
    pub fn wants_service(&self) -> bool {
        match self.state {
            State::Connecting => self.writable,
            _ => (self.readable && !self.paused) || (self.writable && self.queued > 0),
        }
    }

    /// Queues encoded bytes for sending (held back until the handshake is done).
    pub fn queue(&mut self, bytes: Vec<u8>) {
        if self.handshake.is_done() {
            self.send_now(bytes);
        } else if !bytes.is_empty() {
            self.held.push(bytes);
        }
    }

    /// Bytes held back until the handshake is done.
    pub fn held(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }

    /// Queues bytes ahead of anything held back (the handshake's own).
    fn send_now(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.last_queued = Instant::now();
        self.queued += bytes.len();
        self.bytes_out += bytes.len() as u64;
        self.output.push_back(bytes);
    }

    /// Writes queued bytes until the queue is empty or the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        while let Some(front) = self.output.front() {
            match self.stream.write(&front[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.queued -= n;
                    if self.sent == front.len() {
                        self.output.pop_front();
                        self.sent = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket has, up to `budget` bytes.
    pub fn fill(&mut self, budget: usize) -> io::Result<Fill> {
        let mut read = 0;
        while read < budget {
            let want = self.input.next_read();
            match self.stream.read(self.input.spare(want)) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.input.end += n;
                    self.bytes_in += n as u64;
                    self.last_heard = Instant::now();
                    read += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(Fill::Drained);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fill::Budget)
    }

    /// Runs the handshake on what has arrived. True once it is done (and
    /// what was held back is queued); on failure, the farewell bytes are
    /// queued and the caller ends the connection.
    pub fn authenticate(&mut self, key: &Key) -> Result<bool, Failed> {
        if self.handshake.is_done() {
            return Ok(true);
        }
        let step = match self.handshake.advance(key, self.input.data()) {
            Ok(step) => step,
            Err(mut failed) => {
                self.send_now(std::mem::take(&mut failed.farewell));
                return Err(failed);
            }
        };
        self.input.consume(step.used);
        self.send_now(step.reply);
        if !self.handshake.is_done() {
            return Ok(false);
        }
        for bytes in std::mem::take(&mut self.held) {
            self.send_now(bytes);
        }
        Ok(true)
    }

    /// The next whole hello or frame in the read buffer, if any (the
    /// handshake must be done).
    pub fn next_incoming(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if !self.greeted {
            let Some(hello) = Hello::decode(self.input.data())? else {
                return Ok(None);
            };
            self.input.consume(HELLO_LEN);
            self.greeted = true;
            return Ok(Some(Incoming::Hello(hello)));
        }
        loop {
            let Some((frame, used)) = frame::parse(self.input.data())? else {
                return Ok(None);
            };
            self.input.consume(used);
            if let Some(message) = self.assembly.join(frame)? {
                return Ok(Some(Incoming::Frame(message)));
            }
        }
    }

    /// True if the buffer holds the start of a message that never completed.
    pub fn has_partial_input(&self) -> bool {
        !self.input.data().is_empty() || self.assembly.is_partial()
    }

    /// Forgets buffered input (used while draining).
    pub fn discard_input(&mut self) {
        let n = self.input.data().len();
        self.input.consume(n);
    }
}

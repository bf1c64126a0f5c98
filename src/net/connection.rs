//! One socket's state: connecting, open or draining; its read buffer (from
//! which hellos and frames are parsed) and its write queue. The queue's size
//! is exposed so the node can stop producing for a slow peer (backpressure);
//! the mio interest is derived from the state, never stored as intent.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::Interest;
use mio::net::TcpStream;

use crate::wire::ProtocolError;
use crate::wire::frame::{self, Frame};
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
/// so reading never zero-fills memory again.
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

    /// Room for at least `want` more bytes.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.buf.len() - self.end < want && self.start > 0 {
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
    /// True once the peer's hello has been parsed; frames follow it.
    greeted: bool,
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

/// Bytes asked of the kernel per read call.
const READ_CHUNK: usize = 256 << 10;

impl Connection {
    pub fn new(stream: TcpStream, addr: SocketAddr, state: State, registered: Interest) -> Self {
        Connection {
            stream,
            addr,
            state,
            greeted: false,
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
        }
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

    /// Queues encoded bytes for sending.
    pub fn queue(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
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
            let pending = self.input.data();
            let want = match frame::frame_len(pending) {
                Some(len) if self.greeted && len > pending.len() => (len - pending.len()).max(READ_CHUNK),
                _ => READ_CHUNK,
            };
            match self.stream.read(self.input.spare(want)) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.input.end += n;
                    self.bytes_in += n as u64;
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

    /// The next whole hello or frame in the read buffer, if any.
    pub fn next_incoming(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if !self.greeted {
            let Some(hello) = Hello::decode(self.input.data())? else {
                return Ok(None);
            };
            self.input.consume(HELLO_LEN);
            self.greeted = true;
            return Ok(Some(Incoming::Hello(hello)));
        }
        let Some((frame, used)) = frame::parse(self.input.data())? else {
            return Ok(None);
        };
        self.input.consume(used);
        Ok(Some(Incoming::Frame(frame)))
    }

    /// True if the buffer holds the start of a message that never completed.
    pub fn has_partial_input(&self) -> bool {
        !self.input.data().is_empty()
    }

    /// Forgets buffered input (used while draining).
    pub fn discard_input(&mut self) {
        let n = self.input.data().len();
        self.input.consume(n);
    }
}

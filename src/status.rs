//! `wordfreq status`: asks each worker how it is, over the same protocol a
//! master speaks (a hello with the `Status` role; the worker answers with a
//! hello and one `Status` frame, then closes). It takes no part in jobs and
//! never disturbs one: a busy worker answers as readily as an idle one.
//! Blocking sockets with time limits: one short exchange per worker.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::net::handshake::{self, Handshake};
use crate::wire::auth::{Key, PREAMBLE_LEN, PROOF_LEN};
use crate::wire::frame::{self, HEADER_LEN};
use crate::wire::hello::{HELLO_LEN, NO_RANK};
use crate::wire::message::{self, ArchivedStatus, Status};
use crate::wire::{Hello, Kind, ProtocolError, Role};

/// How long one attempt may take to connect, and then to be answered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between attempts while `--wait` keeps trying.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// A status frame is small; anything larger is not one.
const MAX_STATUS_FRAME: usize = 4096;

/// What one worker answered, or why it did not.
pub type Answer = Result<Status, String>;

/// Asks the worker at `addr`. With a nonzero `wait`, a worker that is not
/// listening yet (connection refused, or a name that does not resolve yet)
/// is asked again until it answers or `wait` has passed.
pub fn query(addr: &str, wait: Duration, key: &Key) -> Answer {
    let deadline = Instant::now() + wait;
    loop {
        match resolve(addr).and_then(|a| ask(a, key).map_err(Failure::from)) {
            Ok(status) => return Ok(status),
            Err(Failure::NotYet(why)) if Instant::now() + RETRY_PAUSE < deadline => {
                tracing::debug!("{addr}: {why}; trying again");
                std::thread::sleep(RETRY_PAUSE);
            }
            Err(Failure::NotYet(why) | Failure::Final(why)) => return Err(why),
        }
    }
}

/// The workers of `addrs` that answer and are idle, in order: the ones a
/// job can run on again after it lost some. A busy worker (one that may
/// still be dropping the failed job) is asked again for a few seconds.
pub fn available(addrs: &[String], key: &Key) -> Vec<String> {
    let settle = Instant::now() + ANSWER_TIMEOUT;
    let idle: Vec<bool> = std::thread::scope(|s| {
        let asks: Vec<_> = addrs
            .iter()
            .map(|addr| {
                s.spawn(move || {
                    loop {
                        match query(addr, Duration::ZERO, key) {
                            Ok(status) if !status.busy => return true,
                            Ok(_) if Instant::now() < settle => std::thread::sleep(RETRY_PAUSE),
                            _ => return false,
                        }
                    }
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap_or(false)).collect()
    });
    addrs.iter().zip(idle).filter(|(_, up)| *up).map(|(a, _)| a.clone()).collect()
}

/// One line for `answer` from `addr`, as `wordfreq status` prints it.
pub fn line(addr: &str, answer: &Answer) -> String {
    match answer {
        Ok(s) => format!(
            "{addr}  reachable  version {}  threads {}  {}  jobs {}  uptime {}s",
            s.version,
            s.threads,
            if s.busy { "busy" } else { "idle" },
            s.jobs_served,
            s.uptime_s
        ),
        Err(why) => format!("{addr}  unreachable  {why}"),
    }
}

/// Why an attempt failed: worth another try, or not.
enum Failure {
    NotYet(String),
    Final(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Failure::NotYet(e.to_string()),
            _ => Failure::Final(e.to_string()),
        }
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, Failure> {
    let mut resolved = addr.to_socket_addrs().map_err(|e| Failure::NotYet(format!("cannot resolve: {e}")))?;
    resolved.next().ok_or_else(|| Failure::Final("the address resolves to nothing".into()))
}

fn ask(addr: SocketAddr, key: &Key) -> std::io::Result<Status> {
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    // One deadline for the whole answer, however slowly its bytes come.
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    authenticate(&mut stream, key, deadline)?;
    stream.write_all(&Hello { role: Role::Status, rank: NO_RANK, job_id: 0 }.encode())?;
    let mut hello = [0u8; HELLO_LEN];
    read_full(&mut stream, &mut hello, deadline)?;
    Hello::decode(&hello).map_err(protocol)?;
    let mut buf = vec![0u8; HEADER_LEN];
    read_full(&mut stream, &mut buf, deadline)?;
    frame::parse(&buf).map_err(protocol)?; // checks the header
    let len = frame::frame_len(&buf).unwrap_or(HEADER_LEN);
    if len > MAX_STATUS_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a {len}-byte answer is not a worker's status"),
        ));
    }
    buf.resize(len, 0);
    read_full(&mut stream, &mut buf[HEADER_LEN..], deadline)?;
    let (frame, _) = frame::parse(&buf).map_err(protocol)?.ok_or_else(|| protocol(ProtocolError::Truncated))?;
    if frame.kind == Kind::Abort {
        let abort = message::access::<message::ArchivedAbort>(frame.kind, &frame.payload).map_err(protocol)?;
        return Err(std::io::Error::other(format!("the worker refused: {}", abort.reason.as_str())));
    }
    if frame.kind != Kind::Status {
        return Err(protocol(ProtocolError::Unexpected(frame.kind)));
    }
    let s = message::access::<ArchivedStatus>(frame.kind, &frame.payload).map_err(protocol)?;
    Ok(Status {
        version: s.version.as_str().to_string(),
        threads: s.threads.to_native(),
        busy: s.busy,
        jobs_served: s.jobs_served.to_native(),
        uptime_s: s.uptime_s.to_native(),
    })
}

/// Runs the dialer's side of the handshake. Its messages have known
/// lengths, so it reads exactly what each step needs and nothing after.
fn authenticate(stream: &mut TcpStream, key: &Key, deadline: Instant) -> std::io::Result<()> {
    let (mut handshake, opening) = Handshake::dial()?;
    stream.write_all(&opening)?;
    let failed = |f: handshake::Failed| match f.why {
        handshake::Failure::Protocol(e) => protocol(e),
        why => std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_string()),
    };
    // The preamble first: a worker of another version sends only that.
    let mut acceptor = [0u8; PREAMBLE_LEN + PROOF_LEN];
    read_full(stream, &mut acceptor[..PREAMBLE_LEN], deadline)?;
    handshake.advance(key, &acceptor[..PREAMBLE_LEN]).map_err(failed)?;
    read_full(stream, &mut acceptor[PREAMBLE_LEN..], deadline)?;
    let step = handshake.advance(key, &acceptor).map_err(failed)?;
    stream.write_all(&step.reply)?;
    let mut verdict = [0u8; 1];
    read_full(stream, &mut verdict, deadline)?;
    handshake.advance(key, &verdict).map_err(failed)?;
    Ok(())
}

/// Reads exactly `buf.len()` bytes before `deadline`; an early end is a
/// protocol error, a deadline that passes says so.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    let late = || {
        std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
    };
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(protocol(ProtocolError::Truncated)),
            Ok(n) => filled += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(late());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn protocol(error: ProtocolError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error)
}

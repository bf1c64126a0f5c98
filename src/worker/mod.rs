//! The worker daemon (`wordfreq worker --listen ADDR`): it listens, admits
//! connections and dispatches what arrives. It serves jobs one after
//! another: one master link at a time, one mesh of peer links per job, and
//! answers `status` connections at any time.
//!
//! The layers, each depending only on those below it:
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the daemon: listening, who a connection is (master, peer, status, stranger), routing compute's output |
//! | `job.rs` | one job's state and phases, each phase's start beside its completion |
//! | `inbox.rs`, `outbox.rs` | a shuffle's receiving side (merger, backlog) and sending side |
//! | `node.rs` | the loop, the compute pool and the messages between them |
//!
//! The event loop thread runs the reactor and reacts to frames; compute runs
//! on a rayon pool and hands frames and results back through the handoff;
//! each shuffle's merger runs on its own thread. The loop never computes and
//! compute never touches a socket.

mod inbox;
mod job;
mod node;
mod outbox;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use job::Job;
use node::{HANDOFF_BOUND, Node, QUEUE_LIMIT, ToLoop};

use crate::error::{Error, Result};
use crate::memory::MemoryLimit;
use crate::net::{Closed, Handoff, NetEvent, Reactor, Token};
use crate::phase::{Phase, init};
use crate::secret::{self, Secret};
use crate::wire::hello::NO_RANK;
use crate::wire::message::{self, Status};
use crate::wire::{Frame, Hello, Kind, ProtocolError, Role};

/// How often binding a busy port is tried before giving up, and the pause
/// before the first retry (doubled after each).
const BIND_ATTEMPTS: u32 = 6;
const BIND_BACKOFF: Duration = Duration::from_millis(250);
/// How long a master that said hello has to send its job spec (a master
/// sends it once every worker has answered, within its 10 s connect limit).
const JOB_SPEC_DEADLINE: Duration = Duration::from_secs(30);
/// How long a new job waits for the compute of a job that ended early to
/// stop (it checks for cancellation every few thousand words or a batch).
const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// How often the loop looks whether that compute has stopped.
const SETTLE_POLL: Duration = Duration::from_millis(10);
/// Peer links that may wait for a job spec that has not arrived yet (a job
/// has one per other worker; they are closed if another job starts).
const MAX_PARKED: usize = 256;

/// Binds `listen`, prints `listening on HOST:PORT` on stdout, and serves
/// jobs until the process is killed. Every connection must prove `secret`;
/// without one, only a loopback address is allowed unless `insecure`.
pub fn serve(listen: &str, threads: usize, memory: MemoryLimit, secret: Secret, insecure: bool) -> Result<()> {
    let listener = bind(listen)?;
    let local = listener.local_addr().map_err(|source| Error::Listen { addr: listen.to_string(), source })?;
    if !secret.is_set() && !local.ip().is_loopback() && !insecure {
        return Err(Error::Usage(format!(
            "refusing to listen on {local} without a secret: anyone who can reach this port could run jobs and \
             read every file this worker can read. Give the masters' secret with --secret-file FILE (or put it in \
             ~/.wordfreq/secret), or pass --insecure on a network you trust. Make one: {}",
            secret::HOW_TO_MAKE
        )));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("wordfreq-compute-{i}"))
        .build()
        .map_err(|e| Error::io(format!("cannot start {threads} compute threads"), std::io::Error::other(e)))?;
    let reactor =
        Reactor::new(Some(listener), secret.key.clone()).map_err(|e| Error::io("cannot start the event loop", e))?;
    let (handoff, from_compute) = Handoff::channel(reactor.waker(), HANDOFF_BOUND);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {local}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("cannot write to stdout", e))?;
    tracing::info!("worker listening on {local} with {threads} compute threads");
    tracing::info!("memory limit: {}", memory.describe());
    match &secret.source {
        Some(path) => tracing::info!("connections must prove the secret from {}", path.display()),
        None => tracing::info!("no secret: only nodes without one can connect"),
    }
    let mut worker = Worker {
        node: Node { reactor, handoff, pool: Arc::new(pool), memory: Arc::new(memory), running: Arc::default() },
        from_compute,
        stalled: None,
        strangers: HashMap::new(),
        parked: Vec::new(),
        master: None,
        job: None,
        progress: 0,
        threads,
        started: Instant::now(),
        jobs_served: 0,
        job_spec_due: None,
        waiting_spec: None,
    };
    worker.run()
}

/// Binds the listening socket. A port in use is tried again with backoff a
/// bounded number of times (a previous worker may be shutting down); the
/// original system logs the same line on success.
fn bind(listen: &str) -> Result<mio::net::TcpListener> {
    let listen_error = |source| Error::Listen { addr: listen.to_string(), source };
    let addr = listen
        .to_socket_addrs()
        .map_err(listen_error)?
        .next()
        .ok_or_else(|| listen_error(std::io::Error::other("the address resolves to nothing")))?;
    let mut pause = BIND_BACKOFF;
    for attempt in 1..=BIND_ATTEMPTS {
        match mio::net::TcpListener::bind(addr) {
            Ok(listener) => {
                let port = listener.local_addr().map_or(addr.port(), |a| a.port());
                if attempt > 1 {
                    tracing::warn!("Socket bound to port {port} after {attempt} attempts");
                } else {
                    tracing::info!("Socket bound to port {port} after {attempt} attempts");
                }
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < BIND_ATTEMPTS => {
                tracing::warn!("port {} is in use (attempt {attempt} of {BIND_ATTEMPTS}); retrying", addr.port());
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(e) => {
                let detail = if e.kind() == std::io::ErrorKind::AddrInUse {
                    std::io::Error::new(e.kind(), format!("{e} (gave up after {BIND_ATTEMPTS} attempts)"))
                } else {
                    e
                };
                return Err(listen_error(detail));
            }
        }
    }
    Err(listen_error(std::io::Error::other("no attempt was made")))
}

struct Worker {
    node: Node,
    from_compute: Receiver<ToLoop>,
    /// A frame from compute waiting for room in its connection's queue.
    stalled: Option<ToLoop>,
    /// Accepted connections that have not said hello yet.
    strangers: HashMap<Token, SocketAddr>,
    /// Peer links of a job whose spec has not reached us yet.
    /// When each arrived: they wait at most `JOB_SPEC_DEADLINE`.
    parked: Vec<(Token, Hello, Instant)>,
    master: Option<Token>,
    job: Option<Job>,
    /// Bytes tokenized since the last progress frame.
    progress: u64,
    /// When the linked master must have sent its job spec.
    job_spec_due: Option<Instant>,
    /// A job spec that waits (until the instant) for the compute of a job
    /// that ended early to stop.
    waiting_spec: Option<(Frame, Instant)>,
    /// For `status`: compute threads, start time, jobs completed.
    threads: usize,
    started: Instant,
    jobs_served: u64,
}

impl Worker {
    fn run(&mut self) -> Result<()> {
        let mut events = Vec::new();
        loop {
            let parked_due = self.parked.first().map(|(_, _, since)| *since + JOB_SPEC_DEADLINE);
            // While a job spec waits, the loop looks at compute every 10 ms.
            let settle_due = self.waiting_spec.as_ref().map(|_| Instant::now() + SETTLE_POLL);
            let due = [self.job_spec_due, parked_due, settle_due].into_iter().flatten().min();
            let timeout = due.map(|due| due.saturating_duration_since(Instant::now()));
            self.node.reactor.poll(timeout, &mut events).map_err(|e| Error::io("the event loop failed", e))?;
            if let Err(stop) = crate::signals::check() {
                return self.shut_down(stop);
            }
            for event in events.drain(..) {
                self.on_net(event);
            }
            self.check_job_spec_due();
            self.expire_parked();
            if let Some(job) = self.job.as_mut() {
                job.feed_inbox(&mut self.node.reactor);
            }
            self.drain_handoff();
            self.start_waiting_job();
        }
    }

    fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Accepted(token, addr) => {
                self.strangers.insert(token, addr);
            }
            NetEvent::Connected(_) | NetEvent::Woken => {}
            NetEvent::Hello(token, hello) => self.on_hello(token, hello),
            NetEvent::Frame(token, frame) => self.on_frame(token, frame),
            NetEvent::Closed(token, why) => self.on_closed(token, why),
        }
    }

    // ---- Admission: who a connection is.

    fn on_hello(&mut self, token: Token, hello: Hello) {
        if let Some(addr) = self.strangers.remove(&token) {
            match hello.role {
                Role::Master => self.admit_master(token, addr, hello),
                Role::Status => self.answer_status(token),
                Role::Peer => match self.job.as_mut() {
                    Some(job) if job.id == hello.job_id => {
                        let result = job.accept_peer(&mut self.node, token, hello);
                        self.or_fail(result);
                    }
                    _ if self.parked.len() < MAX_PARKED => self.parked.push((token, hello, Instant::now())),
                    _ => {
                        tracing::warn!("closing peer {addr}: {MAX_PARKED} peer links already wait for their job");
                        self.node.reactor.close(token);
                    }
                },
            }
            return;
        }
        match self.job.as_mut() {
            Some(job) if job.is_dialing(token) => {
                let result = job.dialed(&mut self.node, token, hello);
                self.or_fail(result);
            }
            Some(_) => {}
            None => self.node.reactor.close(token),
        }
    }

    /// Takes a new master if none is linked; refuses it otherwise (one job
    /// at a time). A previous master's close is always seen first: the
    /// reactor reports connections in the order they were opened.
    fn admit_master(&mut self, token: Token, addr: SocketAddr, hello: Hello) {
        self.node.send_hello(token, NO_RANK, hello.job_id);
        if self.master.is_none() {
            tracing::debug!("master {addr} connected");
            self.master = Some(token);
            self.job_spec_due = Some(Instant::now() + JOB_SPEC_DEADLINE);
        } else {
            tracing::warn!("refusing master {addr}: busy with another job");
            let reason = "the worker is busy with another job".to_string();
            let _ = self.node.send(token, Kind::Abort, &message::Abort { reason });
            self.node.reactor.close_gracefully(token);
        }
    }

    /// A master that said hello but sent no job spec in time is let go, so
    /// that it cannot keep every other master out.
    fn check_job_spec_due(&mut self) {
        if self.job.is_some() || self.master.is_none() {
            self.job_spec_due = None;
            return;
        }
        let (Some(due), Some(master)) = (self.job_spec_due, self.master) else { return };
        if Instant::now() < due {
            return;
        }
        let addr = self.node.reactor.addr(master);
        tracing::warn!("closing master {addr:?}: no job spec within {} s", JOB_SPEC_DEADLINE.as_secs());
        self.node.reactor.close(master);
        self.master = None;
        self.job_spec_due = None;
    }

    /// Closes peer links that waited too long for their job to reach us.
    fn expire_parked(&mut self) {
        let now = Instant::now();
        while let Some(&(token, _, since)) = self.parked.first() {
            if now < since + JOB_SPEC_DEADLINE {
                break;
            }
            tracing::warn!("closing a peer link whose job did not start within {} s", JOB_SPEC_DEADLINE.as_secs());
            self.node.reactor.close(token);
            self.parked.remove(0);
        }
    }

    /// Answers `wordfreq status`: a hello, one `Status` frame, then close.
    fn answer_status(&mut self, token: Token) {
        self.node.send_hello(token, NO_RANK, 0);
        let status = Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads: self.threads as u32,
            busy: self.master.is_some(),
            jobs_served: self.jobs_served,
            uptime_s: self.started.elapsed().as_secs(),
        };
        let _ = self.node.send(token, Kind::Status, &status);
        self.node.reactor.close_gracefully(token);
    }

    // ---- Frames: the master's, then the peers'.

    fn on_frame(&mut self, token: Token, frame: Frame) {
        if Some(token) == self.master {
            let result = self.on_master_frame(frame);
            self.after_master_frame(result);
            return;
        }
        self.on_peer_frame(token, frame);
    }

    /// What an error in handling the master's frame does to the job.
    fn after_master_frame(&mut self, result: Result<()>) {
        match result {
            Ok(()) => {}
            Err(error @ Error::Protocol { .. }) => {
                // A broken frame ends the link as well as the job.
                self.fail_job(error);
                if let Some(master) = self.master.take() {
                    self.node.reactor.close_gracefully(master);
                }
                self.drop_job(false);
            }
            Err(error) => self.fail_job(error),
        }
    }

    fn on_peer_frame(&mut self, token: Token, frame: Frame) {
        let Some(job) = self.job.as_mut() else {
            return self.refuse(token, frame.kind);
        };
        let Some(rank) = job.peer_rank(token) else {
            return self.refuse(token, frame.kind);
        };
        if job.failed {
            return;
        }
        let result = job.on_peer_frame(&mut self.node, rank, frame);
        self.or_fail(result);
    }

    /// Closes a connection that sent a frame before it had a job.
    fn refuse(&mut self, token: Token, kind: Kind) {
        let addr = self.node.reactor.addr(token);
        tracing::warn!("closing {addr:?}: {} before its job started", ProtocolError::Unexpected(kind));
        self.node.reactor.close(token);
    }

    fn on_master_frame(&mut self, frame: Frame) -> Result<()> {
        let master_error = |error| Error::Protocol { peer: "the master".into(), error };
        match frame.kind {
            Kind::JobSpec if self.job.is_none() && self.waiting_spec.is_none() => {
                self.job_spec_due = None;
                if self.node.computing() {
                    // The master hears from this worker at its rhythm meanwhile.
                    let spec = message::access::<message::ArchivedJobSpec>(Kind::JobSpec, &frame.payload)
                        .map_err(master_error)?;
                    if let Some(master) = self.master {
                        self.node.reactor.watch(master, init::heartbeat_timeout(spec));
                    }
                    tracing::info!("the new job waits for the last job's compute to stop");
                    self.waiting_spec = Some((frame, Instant::now() + SETTLE_LIMIT));
                    return Ok(());
                }
                self.start_job(&frame)
            }
            Kind::Abort | Kind::Finish => {
                if frame.kind == Kind::Abort {
                    tracing::info!("the master aborted the job");
                }
                self.drop_job(frame.kind == Kind::Finish);
                if let Some(master) = self.master.take() {
                    self.node.reactor.close_gracefully(master);
                }
                Ok(())
            }
            kind => match self.job.as_mut() {
                // The master has our Abort and will answer with its own.
                Some(job) if job.failed => Ok(()),
                Some(job) => job.on_master_frame(&mut self.node, frame),
                None => Err(master_error(ProtocolError::Unexpected(kind))),
            },
        }
    }

    fn start_job(&mut self, frame: &Frame) -> Result<()> {
        let Some(master) = self.master else {
            return Ok(());
        };
        let spec = message::access::<message::ArchivedJobSpec>(Kind::JobSpec, &frame.payload)
            .map_err(|error| Error::Protocol { peer: "the master".into(), error })?;
        crate::failpoint::crash_point("worker", Phase::Init);
        crate::alloc::give_back();
        let setup = init::open(spec)?;
        crate::logs::set_source(crate::logs::in_job(&format!("worker {}", setup.rank), setup.job_id));
        tracing::info!("job starts: rank {} of {}, {} splits", setup.rank, setup.peers.len(), setup.splits.len());
        let job = self.job.insert(Job::new(setup, master, &mut self.node)?);
        for (token, hello, _) in std::mem::take(&mut self.parked) {
            if hello.job_id == job.id {
                job.accept_peer(&mut self.node, token, hello)?;
            } else {
                self.node.reactor.close(token);
            }
        }
        job.finish_init(&mut self.node)
    }

    /// Starts the job whose spec waits, once the compute of the job that
    /// ended early has stopped (whatever it handed over is dropped by
    /// `drain_handoff`), or once `SETTLE_LIMIT` has passed: so that the new
    /// job neither shares the pool with it nor finds its tables still in
    /// memory (`--memory-limit` counts them). The loop runs meanwhile.
    fn start_waiting_job(&mut self) {
        let Some((_, due)) = self.waiting_spec.as_ref() else { return };
        if self.node.computing() {
            if Instant::now() < *due {
                return;
            }
            tracing::warn!("the previous job's compute is still running");
        }
        // Handed over before it ended: its last items are queued.
        self.drain_handoff();
        let Some((frame, _)) = self.waiting_spec.take() else { return };
        let result = self.start_job(&frame);
        self.after_master_frame(result);
    }

    fn on_closed(&mut self, token: Token, why: Closed) {
        if let Some(addr) = self.strangers.remove(&token) {
            match why {
                Closed::Eof => tracing::debug!("{addr} left before saying hello"),
                why => tracing::warn!("closed connection from {addr}: {why}"),
            }
            return;
        }
        if Some(token) == self.master {
            match &why {
                Closed::Eof if self.job.is_none() => tracing::debug!("the master closed its link"),
                why => tracing::warn!("lost the master: {why}"),
            }
            self.master = None;
            self.waiting_spec = None;
            self.drop_job(false);
            return;
        }
        self.parked.retain(|(t, _, _)| *t != token);
        if let Some(error) = self.job.as_ref().and_then(|job| job.lost(token, &why)) {
            self.fail_job(error);
        }
    }

    // ---- Compute's output: frames to their links, results to the job.

    fn drain_handoff(&mut self) {
        loop {
            let item = match self.stalled.take() {
                Some(item) => item,
                None => match self.from_compute.try_recv() {
                    Ok(item) => item,
                    Err(_) => break,
                },
            };
            let Some(job) = self.job.as_mut() else { continue };
            match item {
                ToLoop::Frame { job: id, to, bytes } if id == job.id => {
                    let Some(token) = job.route(&to) else { continue };
                    if self.node.reactor.queued(token) >= QUEUE_LIMIT {
                        self.stalled = Some(ToLoop::Frame { job: id, to, bytes });
                        break;
                    }
                    self.node.reactor.send(token, bytes);
                }
                ToLoop::Progress { job: id, bytes } if id == job.id => self.progress += bytes,
                ToLoop::Computed { job: id, result } if id == job.id && !job.failed => {
                    let result = job.on_computed(&mut self.node, result);
                    self.or_fail(result);
                }
                ToLoop::Failed { job: id, error } if id == job.id => self.fail_job(error),
                _ => {} // left over from a job that has ended
            }
        }
        if self.progress > 0 {
            if let Some(job) = self.job.as_ref() {
                let _ = self.node.send(job.master, Kind::Progress, &message::Progress { bytes: self.progress });
            }
            self.progress = 0;
        }
    }

    // ---- The end of a job, and of the worker.

    /// After SIGINT or SIGTERM: aborts the job (telling the master why),
    /// lets the master link drain briefly, and returns the signal's error.
    fn shut_down(&mut self, stop: Error) -> Result<()> {
        if let Error::Interrupted { signal, code } = &stop {
            self.fail_job(Error::Interrupted { signal, code: *code });
        }
        // The master hears why first; peer links close after its link has.
        if let Some(master) = self.master.take() {
            self.node.reactor.close_gracefully(master);
            self.node.reactor.settle(Duration::from_secs(2), |r| r.addr(master).is_none());
        }
        self.drop_job(false);
        tracing::info!("worker stopped: {stop}");
        Err(stop)
    }

    fn or_fail(&mut self, result: Result<()>) {
        if let Err(error) = result {
            self.fail_job(error);
        }
    }

    /// Reports a failure of this worker's part to the master and stops the
    /// job's compute. The job's links stay open until the master answers with
    /// `Abort`, so that the master hears this cause first, not the echo of
    /// other workers losing their link to this one.
    fn fail_job(&mut self, error: Error) {
        if self.job.as_ref().is_some_and(|job| job.failed) {
            return;
        }
        let error = match self.job.as_ref() {
            Some(job) => job.explain(error),
            None => error,
        };
        tracing::warn!("job failed: {error}");
        let Some(master) = self.master else { return self.drop_job(false) };
        let _ = self.node.send(master, Kind::Abort, &message::Abort { reason: error.to_string() });
        if let Some(job) = self.job.as_mut() {
            job.failed = true;
            job.cancel();
        }
    }

    /// Ends the current job: compute is told to stop and every link of the
    /// job is closed (gracefully when the job completed).
    fn drop_job(&mut self, completed: bool) {
        let Some(mut job) = self.job.take() else { return };
        job.cancel();
        let links: Vec<Token> = job.links().collect();
        for token in links {
            if completed {
                self.node.reactor.close_gracefully(token);
            } else {
                self.node.reactor.close(token);
            }
        }
        self.stalled = None;
        self.progress = 0;
        if completed {
            self.jobs_served += 1;
        }
        // An idle worker keeps no memory of the job it served.
        crate::alloc::give_back();
        tracing::info!("job {}", if completed { "done" } else { "dropped" });
    }
}

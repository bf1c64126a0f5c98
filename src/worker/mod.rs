//! The worker daemon (`wordfreq worker --listen ADDR`). It serves jobs one
//! after another: one master link at a time, one mesh of peer links per job.
//! This file owns the daemon: its connections, who they are (master, peer,
//! stranger), and the handoff from compute; `job` owns one job's phases and
//! `outbox` the way batches leave a worker.
//!
//! The event loop thread runs the reactor and reacts to frames; compute runs
//! on a rayon pool and hands frames and results back through the handoff;
//! each shuffle's merger runs on its own thread. The loop never computes and
//! compute never touches a socket.

mod job;
mod outbox;

use job::Job;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TrySendError};
use std::time::Instant;

use rayon::ThreadPool;
use rkyv::util::AlignedVec;

use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::net::mesh::Mesh;
use crate::net::{Closed, Handoff, NetEvent, Reactor, Token};
use crate::order::Cut;
use crate::phase::shuffle::{Inbound, Received};
use crate::phase::sort_output::Streamed;
use crate::phase::{Phase, init};
use crate::wire::hello::NO_RANK;
use crate::wire::message::{self, NodeStats};
use crate::wire::{Frame, Hello, Kind, ProtocolError, Role};

/// Bytes queued on one connection before the loop stops taking frames from
/// compute (which then waits: backpressure).
const QUEUE_LIMIT: usize = 4 << 20;
/// Items in the compute → loop channel.
const HANDOFF_BOUND: usize = 8;
/// Items in a merger's inbox before the loop stops reading from peers.
const MERGER_BOUND: usize = 8;

/// Binds `listen`, prints `listening on HOST:PORT` on stdout, and serves
/// jobs until the process is killed.
pub fn serve(listen: &str, threads: usize) -> Result<()> {
    let listen_error = |source| Error::Listen { addr: listen.to_string(), source };
    let addr = listen
        .to_socket_addrs()
        .map_err(listen_error)?
        .next()
        .ok_or_else(|| listen_error(std::io::Error::other("the address resolves to nothing")))?;
    let listener = mio::net::TcpListener::bind(addr).map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("wordfreq-compute-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {threads} compute threads: {e}")))?;
    let reactor = Reactor::new(Some(listener)).map_err(|e| Error::io("cannot start the event loop", e))?;
    let (handoff, from_compute) = Handoff::channel(reactor.waker(), HANDOFF_BOUND);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {local}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("cannot write to stdout", e))?;
    tracing::info!("worker listening on {local} with {threads} compute threads");
    let mut worker = Worker {
        node: Node { reactor, handoff, pool: Arc::new(pool) },
        from_compute,
        stalled: None,
        strangers: HashMap::new(),
        parked: Vec::new(),
        master: None,
        job: None,
        progress: 0,
    };
    worker.run()
}

/// Where a frame produced by compute goes.
#[derive(Debug)]
enum Dest {
    Master,
    Peer(usize),
}

/// What compute hands to the loop, tagged with its job so that work of an
/// aborted job is recognised and dropped.
#[derive(Debug)]
enum ToLoop {
    Frame { job: u64, to: Dest, bytes: Vec<u8> },
    Progress { job: u64, bytes: u64 },
    Computed { job: u64, result: Computed },
    Failed { job: u64, error: Error },
}

/// A finished piece of compute.
#[derive(Debug)]
enum Computed {
    /// A shuffle's sending side is done (every batch and end-of-stream is queued).
    Sent {
        records: u64,
        words: u64,
    },
    /// Shuffle 1's merger has everything.
    Table(Received<WordCounts>),
    /// Shuffle 2's merger has everything.
    Range(Received<Entries>),
    Histogram(Vec<u8>),
    Samples(Vec<u8>),
    Shares(Vec<u64>),
    Sorted(Entries),
    Streamed(Streamed),
}

/// The node's I/O: the loop, the way back from compute, the compute pool.
struct Node {
    reactor: Reactor,
    handoff: Handoff<ToLoop>,
    pool: Arc<ThreadPool>,
}

impl Node {
    fn send<T>(&mut self, to: Token, kind: Kind, msg: &T) -> Result<()>
    where
        T: for<'a> rkyv::Serialize<
                rkyv::api::high::HighSerializer<AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rkyv::rancor::Error>,
            >,
    {
        let bytes = message::encode(kind, msg)?;
        self.reactor.send(to, bytes);
        Ok(())
    }

    fn send_hello(&mut self, to: Token, rank: u32, job_id: u64) {
        self.reactor.send(to, Hello { role: Role::Peer, rank, job_id }.encode().to_vec());
    }

    /// Runs `work` on the compute pool and hands its outcome to the loop.
    fn compute(&self, job: u64, work: impl FnOnce() -> Result<Computed> + Send + 'static) {
        let handoff = self.handoff.clone();
        self.pool.spawn(move || {
            let msg = match work() {
                Ok(result) => ToLoop::Computed { job, result },
                Err(error) => ToLoop::Failed { job, error },
            };
            let _ = handoff.send(msg);
        });
    }
}

struct Worker {
    node: Node,
    from_compute: Receiver<ToLoop>,
    /// A frame from compute waiting for room in its connection's queue.
    stalled: Option<ToLoop>,
    /// Accepted connections that have not said hello yet.
    strangers: HashMap<Token, SocketAddr>,
    /// Peer links of a job whose spec has not reached us yet.
    parked: Vec<(Token, Hello)>,
    master: Option<Token>,
    job: Option<Job>,
    /// Bytes tokenized since the last progress frame.
    progress: u64,
}

impl Worker {
    fn run(&mut self) -> Result<()> {
        let mut events = Vec::new();
        loop {
            self.node.reactor.poll(None, &mut events).map_err(|e| Error::io("the event loop failed", e))?;
            for event in events.drain(..) {
                self.on_net(event);
            }
            self.feed_merger();
            self.drain_handoff();
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

    fn on_hello(&mut self, token: Token, hello: Hello) {
        if let Some(addr) = self.strangers.remove(&token) {
            match hello.role {
                Role::Master => self.admit_master(token, addr, hello),
                Role::Peer => match self.job.as_mut() {
                    Some(job) if job.id == hello.job_id => {
                        if let Err(e) = job.accept_peer(&mut self.node, token, hello) {
                            self.fail_job(e);
                        } else {
                            self.check_mesh();
                        }
                    }
                    _ => self.parked.push((token, hello)),
                },
            }
            return;
        }
        let Some(job) = self.job.as_mut() else {
            return self.node.reactor.close(token);
        };
        let Some(rank) = job.dialing.remove(&token) else {
            return;
        };
        if hello.role != Role::Peer || hello.rank as usize != rank || hello.job_id != job.id {
            let (addr, id) = (job.peers[rank], job.id);
            return self.fail_job(Error::Usage(format!(
                "the worker at {addr} answered as rank {} of job {:x}, not as rank {rank} of job {id:x}",
                hello.rank, hello.job_id
            )));
        }
        job.mesh.link(rank, token);
        self.check_mesh();
    }

    /// Takes a new master if none is linked; refuses it otherwise (one job
    /// at a time). A previous master's close is always seen first: the
    /// reactor reports connections in the order they were opened.
    fn admit_master(&mut self, token: Token, addr: SocketAddr, hello: Hello) {
        self.node.send_hello(token, NO_RANK, hello.job_id);
        if self.master.is_none() {
            tracing::debug!("master {addr} connected");
            self.master = Some(token);
            self.node.reactor.watch(token);
        } else {
            tracing::warn!("refusing master {addr}: busy with another job");
            let reason = "the worker is busy with another job".to_string();
            let _ = self.node.send(token, Kind::Abort, &message::Abort { reason });
            self.node.reactor.close_gracefully(token);
        }
    }

    fn on_frame(&mut self, token: Token, frame: Frame) {
        if Some(token) == self.master {
            match self.on_master_frame(frame) {
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
            return;
        }
        let peer = self.job.as_ref().and_then(|job| job.mesh.rank_of(token));
        match peer {
            Some(rank) => {
                if let Err(error) = self.on_peer_frame(rank, frame) {
                    self.fail_job(error);
                }
            }
            None => {
                let addr = self.node.reactor.addr(token);
                tracing::warn!("closing {addr:?}: {} before its job started", ProtocolError::Unexpected(frame.kind));
                self.node.reactor.close(token);
            }
        }
    }

    fn on_master_frame(&mut self, frame: Frame) -> Result<()> {
        let master_error = |error| Error::Protocol { peer: "the master".into(), error };
        if frame.kind == Kind::JobSpec {
            if self.job.is_some() {
                return Err(master_error(ProtocolError::Unexpected(Kind::JobSpec)));
            }
            return self.start_job(&frame.payload);
        }
        if matches!(frame.kind, Kind::Abort | Kind::Finish) {
            if frame.kind == Kind::Abort {
                tracing::info!("the master aborted the job");
            }
            self.drop_job(frame.kind == Kind::Finish);
            if let Some(master) = self.master.take() {
                self.node.reactor.close_gracefully(master);
            }
            return Ok(());
        }
        let Some(job) = self.job.as_mut() else {
            return Err(master_error(ProtocolError::Unexpected(frame.kind)));
        };
        if job.failed {
            return Ok(()); // the master has our Abort and will answer with its own
        }
        match frame.kind {
            Kind::Begin => {
                let msg =
                    message::access::<message::ArchivedBegin>(frame.kind, &frame.payload).map_err(master_error)?;
                let phase =
                    Phase::from_code(msg.phase).ok_or(master_error(ProtocolError::InvalidArchive(frame.kind)))?;
                job.begin(&mut self.node, phase)
            }
            Kind::SampleRequest => {
                let msg = message::access::<message::ArchivedSampleRequest>(frame.kind, &frame.payload)
                    .map_err(master_error)?;
                let counts: Vec<u64> = msg.counts.iter().map(|c| c.to_native()).collect();
                job.sample(&mut self.node, counts, msg.stride.to_native())
            }
            Kind::Boundaries => {
                let msg =
                    message::access::<message::ArchivedBoundaries>(frame.kind, &frame.payload).map_err(master_error)?;
                let cuts: Vec<Cut> =
                    msg.cuts.iter().map(|c| Cut { count: c.count.to_native(), word: c.word.to_vec() }).collect();
                job.boundaries(&mut self.node, cuts)
            }
            Kind::Pull => {
                message::access::<message::ArchivedPull>(frame.kind, &frame.payload).map_err(master_error)?;
                job.pulled = true;
                job.maybe_stream(&mut self.node);
                Ok(())
            }
            other => Err(master_error(ProtocolError::Unexpected(other))),
        }
    }

    fn on_peer_frame(&mut self, rank: usize, frame: Frame) -> Result<()> {
        let Some(job) = self.job.as_mut().filter(|job| !job.failed) else {
            return Ok(());
        };
        let unexpected =
            Error::Protocol { peer: format!("worker {rank}"), error: ProtocolError::Unexpected(frame.kind) };
        let Some(shuffle) = job.shuffle.as_mut() else {
            return Err(unexpected);
        };
        let item = match frame.kind {
            Kind::WordBatch => Inbound::Batch { from: rank, payload: frame.payload },
            Kind::EndOfStream => Inbound::End { from: rank, payload: frame.payload },
            _ => return Err(unexpected),
        };
        if !shuffle.backlog.is_empty() {
            shuffle.backlog.push_back(item);
            return Ok(());
        }
        match shuffle.inbox.try_send(item) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(item)) => {
                shuffle.backlog.push_back(item);
                for token in job.mesh.tokens() {
                    self.node.reactor.set_paused(token, true);
                }
            }
        }
        Ok(())
    }

    /// Moves frames from the backlog into the merger's inbox as room appears,
    /// and resumes reading from peers once the backlog is empty.
    fn feed_merger(&mut self) {
        let Some(job) = self.job.as_mut() else { return };
        let Some(shuffle) = job.shuffle.as_mut() else {
            return;
        };
        if shuffle.backlog.is_empty() {
            return;
        }
        while let Some(item) = shuffle.backlog.pop_front() {
            match shuffle.inbox.try_send(item) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(item)) => {
                    shuffle.backlog.push_front(item);
                    return;
                }
            }
        }
        for token in job.mesh.tokens() {
            self.node.reactor.set_paused(token, false);
        }
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
            self.drop_job(false);
            return;
        }
        self.parked.retain(|(t, _)| *t != token);
        let Some(job) = self.job.as_ref() else { return };
        let rank = job.mesh.rank_of(token).or_else(|| job.dialing.get(&token).copied());
        if let Some(rank) = rank
            && !job.peers_done
            && !job.failed
        {
            let addr = job.peers[rank];
            self.fail_job(Error::Usage(format!("lost the link to worker {rank} ({addr}): {why}")));
        }
    }

    fn start_job(&mut self, payload: &AlignedVec) -> Result<()> {
        let Some(master) = self.master else {
            return Ok(());
        };
        let spec = message::access::<message::ArchivedJobSpec>(Kind::JobSpec, payload)
            .map_err(|error| Error::Protocol { peer: "the master".into(), error })?;
        crate::failpoint::crash_point("worker", Phase::Init);
        let setup = init::open(spec)?;
        tracing::info!(
            "job {:x}: rank {} of {}, {} splits",
            setup.job_id,
            setup.rank,
            setup.peers.len(),
            setup.splits.len()
        );
        let mut job = Job {
            id: setup.job_id,
            rank: setup.rank,
            workers: setup.peers.len(),
            mesh: Mesh::new(setup.rank, setup.peers.len()),
            peers: setup.peers,
            tokenizer: setup.tokenizer,
            files: Arc::new(setup.files),
            splits: Arc::new(setup.splits),
            master,
            dialing: HashMap::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            phase: Phase::Init,
            started: Instant::now(),
            clock: Instant::now(),
            traffic_mark: (0, 0),
            init_reported: false,
            shuffle: None,
            sent: None,
            table: None,
            cuts: None,
            range: None,
            sorted: None,
            pulled: false,
            peers_done: false,
            failed: false,
        };
        job.traffic_mark = job.traffic(&self.node.reactor);
        for rank in job.mesh.dials() {
            let addr = job.peers[rank];
            let token = self
                .node
                .reactor
                .connect(addr)
                .map_err(|e| Error::Usage(format!("cannot reach worker {rank} at {addr}: {e}")))?;
            job.dialing.insert(token, rank);
            self.node.send_hello(token, job.rank as u32, job.id);
        }
        let parked = std::mem::take(&mut self.parked);
        self.job = Some(job);
        for (token, hello) in parked {
            let Some(job) = self.job.as_mut() else { break };
            if hello.job_id == job.id {
                job.accept_peer(&mut self.node, token, hello)?;
            } else {
                self.node.reactor.close(token);
            }
        }
        self.check_mesh();
        Ok(())
    }

    fn check_mesh(&mut self) {
        let Some(job) = self.job.as_mut() else { return };
        if job.init_reported || !job.mesh.is_complete() {
            return;
        }
        job.init_reported = true;
        job.open_shuffle(&self.node, Phase::Shuffle1, WordCounts::new(), Computed::Table);
        let stats = job.stats(&self.node.reactor, NodeStats::default());
        if let Err(e) = job.report(&mut self.node, Phase::Init, stats) {
            self.fail_job(e);
        }
    }

    fn drain_handoff(&mut self) {
        loop {
            let item = match self.stalled.take() {
                Some(item) => item,
                None => match self.from_compute.try_recv() {
                    Ok(item) => item,
                    Err(_) => break,
                },
            };
            let current = self.job.as_ref().map(|j| j.id);
            match item {
                ToLoop::Frame { job, to, bytes } if Some(job) == current => {
                    let Some(token) = self.job.as_ref().and_then(|j| match to {
                        Dest::Master => Some(j.master),
                        Dest::Peer(rank) => j.mesh.token(rank),
                    }) else {
                        continue;
                    };
                    if self.node.reactor.queued(token) >= QUEUE_LIMIT {
                        self.stalled = Some(ToLoop::Frame { job, to, bytes });
                        break;
                    }
                    self.node.reactor.send(token, bytes);
                }
                ToLoop::Progress { job, bytes } if Some(job) == current => self.progress += bytes,
                ToLoop::Computed { job, result } if Some(job) == current => {
                    if let Err(e) = self.on_computed(result) {
                        self.fail_job(e);
                    }
                }
                ToLoop::Failed { job, error } if Some(job) == current => self.fail_job(error),
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

    fn on_computed(&mut self, result: Computed) -> Result<()> {
        let Some(job) = self.job.as_mut().filter(|job| !job.failed) else {
            return Ok(());
        };
        match result {
            Computed::Sent { records, words } => {
                job.sent = Some((records, words));
                job.finish_shuffle(&mut self.node)
            }
            result @ (Computed::Table(_) | Computed::Range(_)) => {
                if let Some(shuffle) = job.shuffle.as_mut() {
                    shuffle.result = Some(result);
                }
                job.finish_shuffle(&mut self.node)
            }
            Computed::Histogram(frame) => {
                self.node.reactor.send(job.master, frame);
                let table = job.table.as_ref().map_or(0, |t| t.len() as u64);
                let words = job.table.as_ref().map_or(0, |t| t.total());
                let stats = job.stats(
                    &self.node.reactor,
                    NodeStats { distinct: table, words_received: words, ..NodeStats::default() },
                );
                job.report(&mut self.node, Phase::LocalCount, stats)
            }
            Computed::Samples(frame) => {
                self.node.reactor.send(job.master, frame);
                Ok(())
            }
            Computed::Shares(shares) => {
                job.open_shuffle(&self.node, Phase::Shuffle2, Entries::new(), Computed::Range);
                let stats = job.stats(&self.node.reactor, NodeStats { shares, ..NodeStats::default() });
                job.report(&mut self.node, Phase::Redistribute, stats)
            }
            Computed::Sorted(range) => {
                job.sorted = Some(range);
                job.maybe_stream(&mut self.node);
                Ok(())
            }
            Computed::Streamed(s) => {
                let stats = job.stats(
                    &self.node.reactor,
                    NodeStats { records_sent: s.lines, words_sent: s.words, ..NodeStats::default() },
                );
                job.report(&mut self.node, Phase::SortOutput, stats)
            }
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
        tracing::warn!("job failed: {error}");
        let Some(master) = self.master else { return self.drop_job(false) };
        let _ = self.node.send(master, Kind::Abort, &message::Abort { reason: error.to_string() });
        if let Some(job) = self.job.as_mut() {
            job.failed = true;
            job.cancel.store(true, Ordering::Relaxed);
            job.shuffle = None;
        }
    }

    /// Ends the current job: compute is told to stop and every link of the
    /// job is closed (gracefully when the job completed).
    fn drop_job(&mut self, completed: bool) {
        let Some(job) = self.job.take() else { return };
        job.cancel.store(true, Ordering::Relaxed);
        let links: Vec<Token> = job.mesh.tokens().chain(job.dialing.keys().copied()).collect();
        for token in links {
            if completed {
                self.node.reactor.close_gracefully(token);
            } else {
                self.node.reactor.close(token);
            }
        }
        self.stalled = None;
        self.progress = 0;
        tracing::info!("job {:x} {}", job.id, if completed { "done" } else { "dropped" });
    }
}

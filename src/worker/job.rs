//! One job on a worker: everything it holds (mesh, tables, range) and its
//! phases, each phase's start beside its completion, from the job spec to
//! the streamed range. The daemon (`worker::Worker`) feeds it the job's
//! frames and compute results; a method that returns an error has failed
//! this worker's part, and the daemon reports that to the master. Dropped
//! when the job ends or aborts, so a failed job leaves nothing behind.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rkyv::util::AlignedVec;

use super::inbox::Inbox;
use super::node::{Computed, Dest, Node, ToLoop};
use super::outbox::{Outbox, ToMaster};
use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::input::{InputFile, Split};
use crate::net::mesh::Mesh;
use crate::net::{Closed, Reactor, Token};
use crate::order::Cut;
use crate::phase::central::{self, Redistribute};
use crate::phase::init::Setup;
use crate::phase::ship::Spool;
use crate::phase::shuffle::{Absorb, Inbound, Received};
use crate::phase::{Phase, local_count, redistribute, shuffle1, shuffle2, sort_output};
use crate::select::Select;
use crate::shared_counts::SharedCounts;
use crate::tokenize::Tokenizer;
use crate::wire::message::{self, NodeStats};
use crate::wire::{Frame, Hello, Kind, ProtocolError, Role};

/// Everything one job holds on this worker.
pub(super) struct Job {
    pub(super) id: u64,
    rank: usize,
    workers: usize,
    peers: Vec<SocketAddr>,
    tokenizer: Tokenizer,
    files: Arc<Vec<InputFile>>,
    splits: Arc<Vec<Split>>,
    pub(super) master: Token,
    mesh: Mesh,
    /// Links we dialed whose hello has not come back yet, by rank.
    dialing: HashMap<Token, usize>,
    /// Set when the job ends; compute checks it and stops.
    cancel: Arc<AtomicBool>,
    phase: Phase,
    /// When the job reached this worker: the origin of its phase times.
    started: Instant,
    /// When the current phase started here.
    clock: Instant,
    /// Bytes (in, out) the node had moved when the current phase started
    /// (over every connection: the job's links, and the rare status probe
    /// or refused stranger, whose few bytes are also this node's traffic).
    traffic_mark: (u64, u64),
    init_reported: bool,
    /// The receiving side of the shuffle in progress (set up before it starts).
    inbox: Option<Inbox>,
    /// The sending side's totals, once it is done.
    sent: Option<(u64, u64)>,
    /// Words owned after shuffle 1.
    table: Option<Arc<WordCounts>>,
    cuts: Option<Arc<Vec<Cut>>>,
    /// The range received in shuffle 2, then sorted.
    range: Option<Entries>,
    sorted: Option<Entries>,
    /// Phase 6: the master pulled this range, wanting at most this many records.
    pulled: Option<u64>,
    /// The result's format and the records it keeps.
    format: Format,
    select: Select,
    /// Shuffle 2 is complete here: peer links may close without harm.
    peers_done: bool,
    /// This worker's part failed and the master was told; waiting for its Abort.
    pub(super) failed: bool,
    /// With `--ship`: the shipped inputs, deleted when the job is dropped.
    spool: Option<Spool>,
    /// Phases 4 and 5 go through the master (`--redistribute central`).
    central: bool,
    /// How long a peer link may stay silent: half again the master's limit,
    /// so that when a worker stops, the master (which watches it too) is
    /// usually the one that names it.
    peer_silence: Duration,
}

/// A protocol error blamed on the master.
fn from_master(error: ProtocolError) -> Error {
    Error::Protocol { peer: "the master".into(), error }
}

impl Job {
    // ---- Phase 1: init. The spec is checked (`init::open`), the links to
    // lower ranks dialed; the phase ends when the mesh is complete.

    /// Starts the job of `setup` for `master`: dials every peer this rank
    /// must dial.
    pub(super) fn new(setup: Setup, master: Token, node: &mut Node) -> Result<Job> {
        let now = Instant::now();
        let workers = setup.peers.len();
        let mut job = Job {
            id: setup.job_id,
            rank: setup.rank,
            workers,
            mesh: Mesh::new(setup.rank, workers),
            peers: setup.peers,
            tokenizer: setup.tokenizer,
            files: Arc::new(setup.files),
            splits: Arc::new(setup.splits),
            master,
            dialing: HashMap::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            phase: Phase::Init,
            started: now,
            clock: now,
            traffic_mark: (0, 0),
            init_reported: false,
            inbox: None,
            sent: None,
            table: None,
            cuts: None,
            range: None,
            sorted: None,
            pulled: None,
            format: setup.format,
            select: setup.select,
            peers_done: false,
            failed: false,
            spool: setup.spool,
            central: setup.redistribute == Redistribute::Central,
            peer_silence: setup.heartbeat_timeout * 3 / 2,
        };
        node.reactor.watch(master, setup.heartbeat_timeout);
        job.traffic_mark = node.reactor.traffic();
        for rank in job.mesh.dials() {
            let addr = job.peers[rank];
            let token = node.reactor.connect(addr).map_err(|e| Error::PeerLost {
                rank,
                addr: addr.to_string(),
                phase: Phase::Init,
                reason: format!("cannot connect: {e}"),
            })?;
            job.dialing.insert(token, rank);
            node.send_hello(token, job.rank as u32, job.id);
        }
        Ok(job)
    }

    /// A peer that dialed us said hello for this job.
    pub(super) fn accept_peer(&mut self, node: &mut Node, token: Token, hello: Hello) -> Result<()> {
        let rank = hello.rank as usize;
        if !self.mesh.may_accept(rank) {
            node.reactor.close(token);
            return Err(Error::JobSpec(format!("a peer claiming rank {rank} connected, which is not expected")));
        }
        self.mesh.link(rank, token);
        node.reactor.watch(token, self.peer_silence);
        node.send_hello(token, self.rank as u32, self.id);
        self.finish_init(node)
    }

    /// Whether `token` is a link this job dialed and still waits on.
    pub(super) fn is_dialing(&self, token: Token) -> bool {
        self.dialing.contains_key(&token)
    }

    /// A peer we dialed answered with its hello.
    pub(super) fn dialed(&mut self, node: &mut Node, token: Token, hello: Hello) -> Result<()> {
        let Some(rank) = self.dialing.remove(&token) else {
            return Ok(());
        };
        if hello.role != Role::Peer || hello.rank as usize != rank || hello.job_id != self.id {
            return Err(Error::Protocol {
                peer: format!("worker {rank} ({})", self.peers[rank]),
                error: ProtocolError::UnexpectedHello { role: hello.role, job_id: hello.job_id },
            });
        }
        self.mesh.link(rank, token);
        node.reactor.watch(token, self.peer_silence);
        self.finish_init(node)
    }

    /// With `--ship`, a chunk of input bytes or the end of them.
    fn shipped(&mut self, node: &mut Node, frame: &Frame) -> Result<()> {
        let Some(spool) = self.spool.as_mut() else {
            return Err(from_master(ProtocolError::Unexpected(frame.kind)));
        };
        if frame.kind == Kind::ShipChunk {
            spool.write(message::access::<message::ArchivedShipChunk>(frame.kind, &frame.payload).map_err(from_master)?)
        } else {
            spool.end(message::access::<message::ArchivedShipEnd>(frame.kind, &frame.payload).map_err(from_master)?)?;
            self.finish_init(node)
        }
    }

    /// Ends init once every peer is linked (and, with `--ship`, every input
    /// byte has arrived): shuffle 1's merger starts listening, then the
    /// master hears that this worker is ready.
    pub(super) fn finish_init(&mut self, node: &mut Node) -> Result<()> {
        let inputs_ready = self.spool.as_ref().is_none_or(Spool::is_complete);
        if self.init_reported || !self.mesh.is_complete() || !inputs_ready {
            return Ok(());
        }
        self.init_reported = true;
        self.open_inbox(node, Phase::Shuffle1, SharedCounts::new(), Computed::Table)?;
        self.report(node, Phase::Init, NodeStats::default())
    }

    // ---- Phases 2 and 5: the shuffles. Each starts with `Begin` (the
    // sending side runs on compute) and ends when both sides are done.

    fn open_inbox<T: Absorb + 'static>(
        &mut self,
        node: &Node,
        phase: Phase,
        table: T,
        wrap: fn(Received<T::Output>) -> Computed,
    ) -> Result<()> {
        self.inbox = Some(Inbox::open(node, self.id, phase, (self.rank, self.workers), table, wrap)?);
        self.sent = None;
        Ok(())
    }

    fn outbox(&self, node: &Node) -> Result<Outbox> {
        let inbox = self.inbox.as_ref().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::Begin)))?;
        Ok(Outbox::new((self.id, self.rank, self.workers), node.handoff.clone(), inbox.sender(), self.cancel.clone()))
    }

    fn begin_shuffle1(&mut self, node: &Node) -> Result<()> {
        let outbox = self.outbox(node)?;
        let (files, splits, tokenizer, workers) =
            (Arc::clone(&self.files), Arc::clone(&self.splits), self.tokenizer, self.workers);
        let limit = Arc::clone(&node.memory);
        node.compute(self.id, move || {
            shuffle1::worker(&files, &splits, tokenizer, workers, (&limit, &outbox.cancel), &outbox)?;
            outbox.finish(Phase::Shuffle1)
        });
        Ok(())
    }

    fn begin_shuffle2(&mut self, node: &mut Node) -> Result<()> {
        if self.central {
            // Nothing goes peer to peer: the master sends this worker its range.
            self.sent = Some((0, 0));
            return self.finish_shuffle(node);
        }
        let outbox = self.outbox(node)?;
        let out_of_order = || from_master(ProtocolError::Unexpected(Kind::Begin));
        let table = self.table.take().ok_or_else(out_of_order)?;
        let cuts = self.cuts.clone().ok_or_else(out_of_order)?;
        node.compute(self.id, move || {
            shuffle2::worker(&table, &cuts, &outbox)?;
            drop(table);
            outbox.finish(Phase::Shuffle2)
        });
        Ok(())
    }

    /// A batch or an end-of-stream from a peer, for the shuffle in progress.
    pub(super) fn on_peer_frame(&mut self, node: &mut Node, rank: usize, frame: Frame) -> Result<()> {
        let unexpected = || Error::Protocol {
            peer: format!("worker {rank} ({})", self.peers[rank]),
            error: ProtocolError::Unexpected(frame.kind),
        };
        let item = match frame.kind {
            Kind::WordBatch => Inbound::Batch { from: rank, payload: frame.payload },
            Kind::EndOfStream => Inbound::End { from: rank, payload: frame.payload },
            _ => return Err(unexpected()),
        };
        if self.central && self.phase >= Phase::Redistribute {
            return Err(unexpected()); // under the central plan, ranges come from the master
        }
        let Some(inbox) = self.inbox.as_mut() else {
            return Err(unexpected());
        };
        inbox.offer(item, &mut node.reactor, self.mesh.tokens());
        Ok(())
    }

    /// Under the central plan, a batch of this worker's range (or its end)
    /// from the master: the merger takes it as from its only sender.
    fn range_from_master(&mut self, node: &mut Node, frame: Frame) -> Result<()> {
        let item = match frame.kind {
            Kind::WordBatch => Inbound::Batch { from: 0, payload: frame.payload },
            _ => Inbound::End { from: 0, payload: frame.payload },
        };
        let inbox = self.inbox.as_mut().filter(|_| self.central && self.phase >= Phase::Redistribute);
        let Some(inbox) = inbox else {
            return Err(from_master(ProtocolError::Unexpected(frame.kind)));
        };
        inbox.offer(item, &mut node.reactor, std::iter::once(self.master));
        Ok(())
    }

    /// Lets frames held back by a full merger through.
    pub(super) fn feed_inbox(&mut self, reactor: &mut Reactor) {
        if let Some(inbox) = self.inbox.as_mut() {
            inbox.feed(reactor);
        }
    }

    /// Completes a shuffle once both its sides are done.
    fn finish_shuffle(&mut self, node: &mut Node) -> Result<()> {
        let Some((records_sent, words_sent)) = self.sent else {
            return Ok(());
        };
        let Some(result) = self.inbox.as_mut().and_then(|s| s.result.take()) else {
            return Ok(());
        };
        self.inbox = None;
        self.sent = None;
        let mut stats = NodeStats { records_sent, words_sent, ..NodeStats::default() };
        let phase = match result {
            Computed::Table(received) => {
                stats.records_received = received.records;
                stats.words_received = received.words;
                stats.distinct = received.table.len() as u64;
                stats.table_bytes = received.table.heap_bytes() as u64;
                self.table = Some(Arc::new(received.table));
                Phase::Shuffle1
            }
            Computed::Range(received) => {
                stats.records_received = received.records;
                stats.words_received = received.words;
                stats.distinct = received.table.len() as u64;
                self.range = Some(received.table);
                self.peers_done = true;
                Phase::Shuffle2
            }
            _ => return Ok(()),
        };
        self.report(node, phase, stats)
    }

    // ---- Phase 3: local grouping. The merged table is summed up as a
    // histogram for the master.

    fn begin_local_count(&mut self, node: &Node) -> Result<()> {
        let table = self.table.clone().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::Begin)))?;
        node.compute(self.id, move || {
            Ok(Computed::Histogram(message::encode(Kind::Histogram, &local_count::report(&table))?))
        });
        Ok(())
    }

    fn local_counted(&mut self, node: &mut Node, histogram: Vec<u8>) -> Result<()> {
        node.reactor.send(self.master, histogram);
        let distinct = self.table.as_ref().map_or(0, |t| t.len() as u64);
        let words = self.table.as_ref().map_or(0, |t| t.total());
        let stats = NodeStats { distinct, words_received: words, ..NodeStats::default() };
        self.report(node, Phase::LocalCount, stats)
    }

    // ---- Phase 4: balanced redistribution. The master may ask for samples
    // inside some counts, then sends the range boundaries; the phase ends
    // when this worker has counted how many of its words each rank will own
    // (and shuffle 2's merger is listening).

    fn sample(&mut self, node: &mut Node, counts: Vec<u64>, stride: u64) -> Result<()> {
        self.enter_redistribute(&node.reactor);
        let table = self.table.clone().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::SampleRequest)))?;
        node.compute(self.id, move || {
            let groups = redistribute::samples(&table, &counts, stride);
            Ok(Computed::Samples(message::encode(Kind::Samples, &message::Samples { groups })?))
        });
        Ok(())
    }

    fn boundaries(&mut self, node: &mut Node, cuts: Vec<Cut>) -> Result<()> {
        self.enter_redistribute(&node.reactor);
        if cuts.len() + 1 != self.workers {
            return Err(from_master(ProtocolError::InvalidArchive(Kind::Boundaries)));
        }
        let cuts = Arc::new(cuts);
        self.cuts = Some(Arc::clone(&cuts));
        let table = self.table.clone().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::Boundaries)))?;
        node.compute(self.id, move || Ok(Computed::Shares(redistribute::shares(&table, &cuts))));
        Ok(())
    }

    /// Phase 4 has no `Begin`: its first message from the master starts it.
    fn enter_redistribute(&mut self, reactor: &Reactor) {
        if self.phase != Phase::Redistribute {
            self.start_phase(reactor, Phase::Redistribute);
        }
    }

    /// The central plan: the whole table goes to the master, which sorts
    /// and splits everything and sends each worker its range in phase 5.
    fn begin_central(&mut self, node: &mut Node) -> Result<()> {
        let table = self.table.clone().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::Begin)))?;
        let sink = ToMaster::new(self.id, node.handoff.clone(), self.cancel.clone());
        node.compute(self.id, move || {
            central::send_table(&table, &sink)?;
            sink.finish(Phase::Redistribute)
        });
        Ok(())
    }

    fn gathered(&mut self, node: &mut Node, records: u64, words: u64) -> Result<()> {
        self.table = None;
        self.inbox = Some(Inbox::open(node, self.id, Phase::Shuffle2, (0, 1), Entries::new(), Computed::Range)?);
        self.sent = None;
        let stats = NodeStats { records_sent: records, words_sent: words, ..NodeStats::default() };
        self.report(node, Phase::Redistribute, stats)
    }

    fn shares_counted(&mut self, node: &mut Node, shares: Vec<u64>) -> Result<()> {
        self.open_inbox(node, Phase::Shuffle2, Entries::new(), Computed::Range)?;
        self.report(node, Phase::Redistribute, NodeStats { shares, ..NodeStats::default() })
    }

    // ---- Phase 6: sort and output. The range is sorted as soon as the
    // phase begins, and streamed when the master pulls it (every rank at once,
    // or one after the other with `--top`).

    fn begin_sort_output(&mut self, node: &Node) -> Result<()> {
        let mut range = self.range.take().ok_or_else(|| from_master(ProtocolError::Unexpected(Kind::Begin)))?;
        let select = self.select;
        node.compute(self.id, move || {
            range.sort_selected(select);
            Ok(Computed::Sorted(range))
        });
        Ok(())
    }

    /// Streams the sorted range once the master has pulled it.
    fn maybe_stream(&mut self, node: &mut Node) {
        let Some(max_lines) = self.pulled else {
            return;
        };
        let Some(mut range) = self.sorted.take() else {
            return;
        };
        range.truncate(usize::try_from(max_lines).unwrap_or(usize::MAX));
        let format = self.format;
        let handoff = node.handoff.clone();
        let job = self.id;
        node.compute(job, move || {
            let mut scratch = AlignedVec::new();
            let streamed = sort_output::stream(&range, format, |text| {
                let bytes = message::encode_with(Kind::RangeChunk, &message::RangeChunk { text }, &mut scratch)?;
                handoff.send(ToLoop::Frame { job, to: Dest::Master, bytes }).map_err(|_| Error::Cancelled)
            })?;
            Ok(Computed::Streamed(streamed))
        });
    }

    fn streamed(&mut self, node: &mut Node, streamed: sort_output::Streamed) -> Result<()> {
        let stats = NodeStats { records_sent: streamed.lines, words_sent: streamed.words, ..NodeStats::default() };
        self.report(node, Phase::SortOutput, stats)
    }

    // ---- Dispatch: the master's frames and compute's results, to the
    // phase they belong to.

    /// A frame from the master for this job (not `JobSpec`, `Abort` or
    /// `Finish`, which the daemon handles).
    pub(super) fn on_master_frame(&mut self, node: &mut Node, frame: Frame) -> Result<()> {
        let kind = frame.kind;
        match kind {
            Kind::Begin => {
                let msg = message::access::<message::ArchivedBegin>(kind, &frame.payload).map_err(from_master)?;
                let phase = Phase::from_code(msg.phase).ok_or(from_master(ProtocolError::InvalidArchive(kind)))?;
                self.start_phase(&node.reactor, phase);
                match phase {
                    Phase::Shuffle1 => self.begin_shuffle1(node),
                    Phase::LocalCount => self.begin_local_count(node),
                    Phase::Shuffle2 => self.begin_shuffle2(node),
                    Phase::SortOutput => self.begin_sort_output(node),
                    Phase::Redistribute if self.central => self.begin_central(node),
                    Phase::Init | Phase::Redistribute => Err(from_master(ProtocolError::Unexpected(kind))),
                }
            }
            Kind::SampleRequest => {
                let msg =
                    message::access::<message::ArchivedSampleRequest>(kind, &frame.payload).map_err(from_master)?;
                let counts: Vec<u64> = msg.counts.iter().map(|c| c.to_native()).collect();
                self.sample(node, counts, msg.stride.to_native())
            }
            Kind::Boundaries => {
                let msg = message::access::<message::ArchivedBoundaries>(kind, &frame.payload).map_err(from_master)?;
                let cuts = msg.cuts.iter().map(|c| Cut { count: c.count.to_native(), word: c.word.to_vec() }).collect();
                self.boundaries(node, cuts)
            }
            Kind::ShipChunk | Kind::ShipEnd => self.shipped(node, &frame),
            Kind::WordBatch | Kind::EndOfStream => self.range_from_master(node, frame),
            Kind::Pull => {
                let pull = message::access::<message::ArchivedPull>(kind, &frame.payload).map_err(from_master)?;
                self.pulled = Some(pull.max_lines.to_native());
                self.maybe_stream(node);
                Ok(())
            }
            other => Err(from_master(ProtocolError::Unexpected(other))),
        }
    }

    /// A finished piece of this job's compute.
    pub(super) fn on_computed(&mut self, node: &mut Node, result: Computed) -> Result<()> {
        match result {
            Computed::Sent { records, words } => {
                self.sent = Some((records, words));
                self.finish_shuffle(node)
            }
            result @ (Computed::Table(_) | Computed::Range(_)) => {
                if let Some(inbox) = self.inbox.as_mut() {
                    inbox.result = Some(result);
                }
                self.finish_shuffle(node)
            }
            Computed::Histogram(frame) => self.local_counted(node, frame),
            Computed::Samples(frame) => {
                node.reactor.send(self.master, frame);
                Ok(())
            }
            Computed::Shares(shares) => self.shares_counted(node, shares),
            Computed::Gathered { records, words } => self.gathered(node, records, words),
            Computed::Sorted(range) => {
                self.sorted = Some(range);
                self.maybe_stream(node);
                Ok(())
            }
            Computed::Streamed(streamed) => self.streamed(node, streamed),
        }
    }

    // ---- Links, time and traffic.

    /// The connection a frame from compute goes out on.
    pub(super) fn route(&self, to: &Dest) -> Option<Token> {
        match to {
            Dest::Master => Some(self.master),
            Dest::Peer(rank) => self.mesh.token(*rank),
        }
    }

    /// The rank of the peer on `token`, if it is one of this job's links.
    pub(super) fn peer_rank(&self, token: Token) -> Option<usize> {
        self.mesh.rank_of(token)
    }

    /// Every peer link of the job, linked or still dialing.
    pub(super) fn links(&self) -> impl Iterator<Item = Token> + '_ {
        self.mesh.tokens().chain(self.dialing.keys().copied())
    }

    /// The failure that losing `token` means for this job, if any: none once
    /// shuffle 2 is over here (peers may then close), or after a failure.
    pub(super) fn lost(&self, token: Token, why: &Closed) -> Option<Error> {
        let rank = self.mesh.rank_of(token).or_else(|| self.dialing.get(&token).copied())?;
        if self.peers_done || self.failed {
            return None;
        }
        let addr = self.peers[rank].to_string();
        if let Closed::Silent(limit) = why {
            return Some(Error::Stalled { rank, addr, phase: self.phase, silent_s: limit.as_secs_f64() });
        }
        Some(Error::PeerLost { rank, addr, phase: self.phase, reason: format!("lost the link: {why}") })
    }

    /// `error` as the user should read it (naming shipped inputs by their
    /// paths on the master, not by their spool files).
    pub(super) fn explain(&self, error: Error) -> Error {
        match self.spool.as_ref() {
            Some(spool) => spool.explain(error),
            None => error,
        }
    }

    /// Stops this job's compute.
    pub(super) fn cancel(&mut self) {
        self.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        self.inbox = None;
    }

    fn start_phase(&mut self, reactor: &Reactor, phase: Phase) {
        crate::failpoint::crash_point("worker", phase);
        self.phase = phase;
        self.clock = Instant::now();
        self.traffic_mark = reactor.traffic();
    }

    /// Tells the master this worker has finished `phase`, with the phase's
    /// time and traffic filled into `stats`.
    fn report(&mut self, node: &mut Node, phase: Phase, mut stats: NodeStats) -> Result<()> {
        let (i, o) = node.reactor.traffic();
        stats.start_us = self.clock.duration_since(self.started).as_micros() as u64;
        stats.end_us = self.started.elapsed().as_micros() as u64;
        stats.busy_us = stats.end_us - stats.start_us;
        stats.bytes_received = i - self.traffic_mark.0;
        stats.bytes_sent = o - self.traffic_mark.1;
        tracing::debug!("{phase} done in {} µs", stats.busy_us);
        node.send(self.master, Kind::PhaseDone, &message::PhaseDone { phase: phase.code(), stats })
    }
}

impl Drop for Job {
    /// The worker's log lines stop naming the job (the daemon names it when
    /// the job starts).
    fn drop(&mut self) {
        crate::logs::set_source("worker");
    }
}

//! One job on a worker: everything it holds (mesh, tables, range) and its
//! phases, from the job spec to the streamed range. Dropped when the job
//! ends or aborts, so a failed job leaves nothing behind for the next.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Instant;

use rkyv::util::AlignedVec;

use super::outbox::Outbox;
use super::{Computed, Dest, MERGER_BOUND, Node, ToLoop};
use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::input::InputFile;
use crate::input::Split;
use crate::net::mesh::Mesh;
use crate::net::{Reactor, Token};
use crate::order::Cut;
use crate::phase::shuffle::{self, Inbound, Received};
use crate::phase::{Phase, local_count, redistribute, shuffle1, shuffle2, sort_output};
use crate::tokenize::Tokenizer;
use crate::wire::message::{self, NodeStats};
use crate::wire::{Hello, Kind, ProtocolError};

/// Everything one job holds on this worker.
pub(super) struct Job {
    pub(super) id: u64,
    pub(super) rank: usize,
    pub(super) workers: usize,
    pub(super) peers: Vec<SocketAddr>,
    pub(super) tokenizer: Tokenizer,
    pub(super) files: Arc<Vec<InputFile>>,
    pub(super) splits: Arc<Vec<Split>>,
    pub(super) master: Token,
    pub(super) mesh: Mesh,
    /// Links we dialed whose hello has not come back yet, by rank.
    pub(super) dialing: HashMap<Token, usize>,
    /// Set when the job ends; compute checks it and stops.
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) phase: Phase,
    /// When the job reached this worker: the origin of its phase times.
    pub(super) started: Instant,
    /// When the current phase started here.
    pub(super) clock: Instant,
    /// Bytes (in, out) on the job's links when the current phase started.
    pub(super) traffic_mark: (u64, u64),
    pub(super) init_reported: bool,
    /// The receiving side of the shuffle in progress (set up before it starts).
    pub(super) shuffle: Option<Shuffle>,
    /// The sending side's totals, once it is done.
    pub(super) sent: Option<(u64, u64)>,
    /// Words owned after shuffle 1.
    pub(super) table: Option<Arc<WordCounts>>,
    pub(super) cuts: Option<Arc<Vec<Cut>>>,
    /// The range received in shuffle 2, then sorted.
    pub(super) range: Option<Entries>,
    pub(super) sorted: Option<Entries>,
    pub(super) pulled: bool,
    /// Shuffle 2 is complete here: peer links may close without harm.
    pub(super) peers_done: bool,
    /// This worker's part failed and the master was told; waiting for its Abort.
    pub(super) failed: bool,
}

/// The receiving side of one shuffle.
pub(super) struct Shuffle {
    pub(super) inbox: SyncSender<Inbound>,
    /// Frames waiting for room in the merger's inbox; peer reads are paused
    /// while this is not empty.
    pub(super) backlog: VecDeque<Inbound>,
    pub(super) result: Option<Computed>,
}

impl Job {
    pub(super) fn accept_peer(&mut self, node: &mut Node, token: Token, hello: Hello) -> Result<()> {
        let rank = hello.rank as usize;
        if !self.mesh.may_accept(rank) {
            node.reactor.close(token);
            return Err(Error::Usage(format!("a peer claiming rank {rank} connected, which is not expected")));
        }
        self.mesh.link(rank, token);
        node.send_hello(token, self.rank as u32, self.id);
        Ok(())
    }

    /// Bytes (in, out) over the job's links so far.
    pub(super) fn traffic(&self, reactor: &Reactor) -> (u64, u64) {
        let mut total = reactor.traffic(self.master);
        for token in self.mesh.tokens() {
            let (i, o) = reactor.traffic(token);
            total.0 += i;
            total.1 += o;
        }
        total
    }

    pub(super) fn start_phase(&mut self, reactor: &Reactor, phase: Phase) {
        crate::failpoint::crash_point("worker", phase);
        self.phase = phase;
        self.clock = Instant::now();
        self.traffic_mark = self.traffic(reactor);
    }

    /// Fills in the phase's time and traffic.
    pub(super) fn stats(&self, reactor: &Reactor, mut stats: NodeStats) -> NodeStats {
        let (i, o) = self.traffic(reactor);
        stats.start_us = self.clock.duration_since(self.started).as_micros() as u64;
        stats.end_us = self.started.elapsed().as_micros() as u64;
        stats.busy_us = stats.end_us - stats.start_us;
        stats.bytes_received = i - self.traffic_mark.0;
        stats.bytes_sent = o - self.traffic_mark.1;
        stats
    }

    pub(super) fn report(&mut self, node: &mut Node, phase: Phase, stats: NodeStats) -> Result<()> {
        tracing::debug!("job {:x}: {phase} done in {} µs", self.id, stats.busy_us);
        node.send(self.master, Kind::PhaseDone, &message::PhaseDone { phase: phase.code(), stats })
    }

    /// Sets up the receiving side of a shuffle: its merger thread starts
    /// waiting for batches before any peer may send them.
    pub(super) fn open_shuffle<T: shuffle::Absorb + 'static>(
        &mut self,
        node: &Node,
        phase: Phase,
        table: T,
        wrap: fn(Received<T>) -> Computed,
    ) {
        let (inbox, rx) = sync_channel(MERGER_BOUND);
        let (job, rank, workers) = (self.id, self.rank, self.workers);
        let handoff = node.handoff.clone();
        std::thread::Builder::new()
            .name(format!("wordfreq-merge-{}", phase.name()))
            .spawn(move || {
                let woken = handoff.clone();
                let msg = match shuffle::merge(phase, rank, workers, table, rx, || woken.wake()) {
                    Ok(received) => ToLoop::Computed { job, result: wrap(received) },
                    Err(error) => ToLoop::Failed { job, error },
                };
                let _ = handoff.send(msg);
            })
            .map(drop)
            .unwrap_or_else(|e| tracing::error!("cannot start a merger thread: {e}"));
        self.shuffle = Some(Shuffle { inbox, backlog: VecDeque::new(), result: None });
        self.sent = None;
    }

    pub(super) fn outbox(&self, node: &Node) -> Result<Outbox> {
        let shuffle = self.shuffle.as_ref().ok_or_else(|| Error::Usage("no shuffle is open".into()))?;
        Ok(Outbox {
            job: self.id,
            rank: self.rank,
            handoff: node.handoff.clone(),
            inbox: shuffle.inbox.clone(),
            sent: (0..self.workers).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect(),
            cancel: Arc::clone(&self.cancel),
        })
    }

    pub(super) fn begin(&mut self, node: &mut Node, phase: Phase) -> Result<()> {
        self.start_phase(&node.reactor, phase);
        match phase {
            Phase::Shuffle1 => {
                let outbox = self.outbox(node)?;
                let (files, splits, tokenizer, workers) =
                    (Arc::clone(&self.files), Arc::clone(&self.splits), self.tokenizer, self.workers);
                node.compute(self.id, move || {
                    shuffle1::worker(&files, &splits, tokenizer, workers, &outbox.cancel, &outbox)?;
                    outbox.finish(Phase::Shuffle1)
                });
            }
            Phase::LocalCount => {
                let table = self.table.clone().ok_or_else(|| Error::Usage("local_count before shuffle1".into()))?;
                node.compute(self.id, move || {
                    Ok(Computed::Histogram(message::encode(Kind::Histogram, &local_count::report(&table))?))
                });
            }
            Phase::Shuffle2 => {
                let outbox = self.outbox(node)?;
                let table = self.table.take().ok_or_else(|| Error::Usage("shuffle2 before shuffle1".into()))?;
                let cuts = self.cuts.clone().ok_or_else(|| Error::Usage("shuffle2 before boundaries".into()))?;
                node.compute(self.id, move || {
                    shuffle2::worker(&table, &cuts, &outbox)?;
                    drop(table);
                    outbox.finish(Phase::Shuffle2)
                });
            }
            Phase::SortOutput => {
                let mut range = self.range.take().ok_or_else(|| Error::Usage("sort_output before shuffle2".into()))?;
                node.compute(self.id, move || {
                    range.sort();
                    Ok(Computed::Sorted(range))
                });
            }
            Phase::Init | Phase::Redistribute => {
                return Err(Error::Protocol {
                    peer: "the master".into(),
                    error: ProtocolError::Unexpected(Kind::Begin),
                });
            }
        }
        Ok(())
    }

    pub(super) fn sample(&mut self, node: &mut Node, counts: Vec<u64>, stride: u64) -> Result<()> {
        if self.phase != Phase::Redistribute {
            self.start_phase(&node.reactor, Phase::Redistribute);
        }
        let table = self.table.clone().ok_or_else(|| Error::Usage("samples before shuffle1".into()))?;
        node.compute(self.id, move || {
            let groups = redistribute::samples(&table, &counts, stride);
            Ok(Computed::Samples(message::encode(Kind::Samples, &message::Samples { groups })?))
        });
        Ok(())
    }

    pub(super) fn boundaries(&mut self, node: &mut Node, cuts: Vec<Cut>) -> Result<()> {
        if self.phase != Phase::Redistribute {
            self.start_phase(&node.reactor, Phase::Redistribute);
        }
        if cuts.len() + 1 != self.workers {
            return Err(Error::Protocol {
                peer: "the master".into(),
                error: ProtocolError::InvalidArchive(Kind::Boundaries),
            });
        }
        let cuts = Arc::new(cuts);
        self.cuts = Some(Arc::clone(&cuts));
        let table = self.table.clone().ok_or_else(|| Error::Usage("boundaries before shuffle1".into()))?;
        node.compute(self.id, move || Ok(Computed::Shares(redistribute::shares(&table, &cuts))));
        Ok(())
    }

    /// Completes a shuffle once both its sides are done.
    pub(super) fn finish_shuffle(&mut self, node: &mut Node) -> Result<()> {
        let Some((records_sent, words_sent)) = self.sent else {
            return Ok(());
        };
        let Some(result) = self.shuffle.as_mut().and_then(|s| s.result.take()) else {
            return Ok(());
        };
        self.shuffle = None;
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
        let stats = self.stats(&node.reactor, stats);
        self.report(node, phase, stats)
    }

    /// Streams the sorted range once the master has pulled it.
    pub(super) fn maybe_stream(&mut self, node: &mut Node) {
        if !self.pulled {
            return;
        }
        let Some(range) = self.sorted.take() else {
            return;
        };
        let handoff = node.handoff.clone();
        let job = self.id;
        node.compute(job, move || {
            let mut scratch = AlignedVec::new();
            let streamed = sort_output::stream(&range, |text| {
                let bytes = message::encode_with(Kind::RangeChunk, &message::RangeChunk { text }, &mut scratch)?;
                handoff
                    .send(ToLoop::Frame { job, to: Dest::Master, bytes })
                    .map_err(|_| Error::Usage("the event loop is gone".into()))
            })?;
            Ok(Computed::Streamed(streamed))
        });
    }
}

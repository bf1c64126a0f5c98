//! The master: runs one job over a set of workers. It walks the six phases in
//! order, holds the barrier at the end of each (every worker must report
//! `PhaseDone`), checks conservation there, writes the output in rank order,
//! and closes every link gracefully. The first error — a worker lost or
//! failing, a broken frame, a failed check — aborts the job on every worker
//! and leaves no output behind.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::format::ResultWriter;
use crate::histogram::Histogram;
use crate::input;
use crate::metrics::{JobMetrics, NodeMetrics, PhaseMetrics, micros_since};
use crate::net::{Closed, NetEvent, Reactor, Token, WakingThread};
use crate::output::Output;
use crate::phase::central::{self, Gather, Ranges, Redistribute};
use crate::phase::redistribute::{self, Plan, SampleSet};
use crate::phase::ship::Shipper;
use crate::phase::{Phase, init, local_count, shuffle1, shuffle2, sort_output};
use crate::progress::Progress;
use crate::status;
use crate::wire::hello::NO_RANK;
use crate::wire::message::{self, Message, NodeStats};
use crate::wire::{Frame, Hello, Kind, ProtocolError, Role};
use crate::writer::Writer;

/// How long workers have to answer the master's connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the workers have to build their mesh and check their inputs:
/// a safety net only: a worker that cannot reach a peer or read an input
/// reports it (the kernel gives up on a silent peer after about 2 minutes);
/// this bounds a mesh that neither completes nor fails. Checking the inputs
/// of a large corpus on a slow shared filesystem is part of init, so it is
/// generous.
const INIT_TIMEOUT: Duration = Duration::from_secs(300);
/// Bytes the master streams (shipped input, central ranges) queued on a
/// link before it produces more.
const FEED_QUEUE: usize = 4 << 20;
/// How long closing links may take after the output is committed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one job on the workers at `workers` (one address each, by rank).
/// With `job.retries`, a job that lost workers runs again on those that
/// still answer, a fresh job each time.
pub fn run_job(workers: &[String], job: &JobConfig, command: &'static str) -> Result<JobMetrics> {
    if workers.is_empty() {
        return Err(Error::Usage("no workers given".into()));
    }
    crate::addrs::resolve(workers)?;
    let clock = Instant::now();
    let mut files = input::resolve(job)?;
    // Inputs of unknown length are copied once for the workers (and
    // shipped by `master`, whose workers may not see this machine's
    // temporary directory); the copies go when this function returns.
    let spool = input::spool_streams(&mut files)?;
    let shipping;
    let job = match &spool {
        Some(_) if command == "master" && !job.ship => {
            tracing::info!("inputs of unknown length were copied here: shipping the inputs to the workers");
            shipping = JobConfig { ship: true, ..job.clone() };
            &shipping
        }
        _ => job,
    };
    let mut workers = workers.to_vec();
    let mut attempt = 1;
    loop {
        match run_attempt(&workers, &files, job, command, clock) {
            Ok(metrics) => return Ok(JobMetrics { attempts: attempt, ..metrics }),
            Err(error) if attempt <= job.retries && error.may_be_a_lost_worker() => {
                let alive = status::available(&workers, &job.secret.key);
                if alive.is_empty() || alive.len() == workers.len() {
                    return Err(error); // nothing lost, or nothing left: trying again would not help
                }
                tracing::warn!(
                    "attempt {attempt} failed: {error}; running the job again on the {} of {} workers that answer",
                    alive.len(),
                    workers.len()
                );
                workers = alive;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// One attempt at the job on `workers`; `clock` started with the first.
fn run_attempt(
    workers: &[String],
    files: &[input::InputFile],
    job: &JobConfig,
    command: &'static str,
    clock: Instant,
) -> Result<JobMetrics> {
    let resolved = crate::addrs::resolve(workers)?;
    let output = ResultWriter::new(Output::create(&job.output)?, job.format);
    let total_bytes: u64 = files.iter().map(|f| f.len).sum();
    let reactor =
        Reactor::new(None, job.secret.key.clone()).map_err(|e| Error::io("cannot start the event loop", e))?;
    let writer = Writer::spawn(output, reactor.waker())?;
    let job_id = job_id();
    crate::logs::set_source(crate::logs::in_job("master", job_id));
    crate::signals::wake_on_signal(reactor.waker());
    let mut master = Master {
        reactor,
        links: Vec::new(),
        by_token: HashMap::new(),
        events: Vec::new(),
        phase: Phase::Init,
        job_id,
        progress: Progress::new(job.progress, total_bytes, workers.len()),
        writer: Some(writer),
        top: job.select.top,
        pulling: 0,
        ahead: None,
        lines_written: 0,
        clock,
        phases: Vec::new(),
        phase_start: (0, (0, 0)),
        closing: false,
        feed: None,
        gather: None,
        ranges: None,
        heartbeat_timeout: job.heartbeat_timeout,
    };
    let result = master.run(workers, &resolved, files, job);
    master.progress.finish();
    let (total_words, distinct_words) = match result {
        Ok(totals) => totals,
        Err(error) => {
            master.abort(&error);
            return Err(error);
        }
    };
    Ok(JobMetrics {
        job_id: Some(crate::logs::job_hex(master.job_id)),
        workers: workers.len(),
        worker_addrs: workers.to_vec(),
        total_words,
        distinct_words,
        wall_us: micros_since(clock),
        master_cpu_us: crate::metrics::process_cpu_us(),
        phases: std::mem::take(&mut master.phases),
        ..JobMetrics::new(command, job, files.len(), total_bytes)
    })
}

/// A job id that differs between jobs (time and process mixed).
fn job_id() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    crate::counts::word_hash(&[nanos.to_le_bytes(), u64::from(std::process::id()).to_le_bytes()].concat())
}

/// How a wait for a condition ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    Done,
    TimedOut,
}

/// The master's side of one worker.
struct Link {
    addr: String,
    token: Token,
    greeted: bool,
    /// The worker's report for the current phase.
    done: Option<NodeStats>,
    histogram: Option<Histogram>,
    samples: Option<Vec<SampleSet>>,
    open: bool,
}

struct Master {
    reactor: Reactor,
    links: Vec<Link>,
    by_token: HashMap<Token, usize>,
    events: Vec<NetEvent>,
    phase: Phase,
    job_id: u64,
    progress: Progress,
    /// Writes phase 6's output on a thread of its own.
    writer: Option<Writer>,
    /// `--top`: records wanted in all (`u64::MAX` for every one).
    top: u64,
    /// Phase 6: the rank whose range is being written.
    pulling: usize,
    /// Phase 6, when every rank was pulled at once: what later ranks sent.
    ahead: Option<sort_output::Ahead>,
    lines_written: u64,
    clock: Instant,
    phases: Vec<PhaseMetrics>,
    /// The current phase's start (seconds) and the master's traffic then.
    phase_start: (u64, (u64, u64)),
    /// The job is complete and links are closing: EOFs are expected.
    closing: bool,
    /// What the master is streaming to the workers, if anything.
    feed: Option<Feed>,
    /// The central plan: pairs arriving in phase 4, then the ranges to send.
    gather: Option<Gather>,
    ranges: Option<Ranges>,
    /// How long a worker's link may stay silent.
    heartbeat_timeout: Duration,
}

/// What the master streams to the workers, a frame at a time.
#[derive(Debug)]
enum Feed {
    /// `--ship`: input bytes, during init.
    Inputs(Shipper),
    /// `--redistribute central`: each worker's range, in phase 5.
    Ranges(Ranges),
}

impl Feed {
    fn next_frame(&mut self, rank: usize) -> Result<Option<Vec<u8>>> {
        match self {
            Feed::Inputs(shipper) => shipper.next_frame(rank),
            Feed::Ranges(ranges) => Ok(ranges.next_frame(rank)?),
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Feed::Inputs(shipper) => shipper.is_done(),
            Feed::Ranges(ranges) => ranges.is_done(),
        }
    }
}

impl Master {
    /// The six phases. Returns (total words, distinct words).
    fn run(
        &mut self,
        workers: &[String],
        resolved: &[SocketAddr],
        files: &[input::InputFile],
        job: &JobConfig,
    ) -> Result<(u64, u64)> {
        // Phase 1: init.
        self.start(Phase::Init);
        self.connect(workers, resolved)?;
        let plan = input::assign(files, workers.len(), job.split_size);
        let specs = init::job_specs(self.job_id, files, &plan, workers, job);
        for (rank, spec) in specs.iter().enumerate() {
            self.send(rank, Kind::JobSpec, spec)?;
            // A worker beats from its spec on (the spec names the rhythm):
            // watched from its hello, a worker that greeted early was taken
            // for a silent one while another was slow to answer.
            self.reactor.watch(self.links[rank].token, self.heartbeat_timeout);
        }
        if job.ship {
            // Shipping takes as long as the bytes take: no deadline while
            // they flow, the usual one after.
            self.feed = Some(Feed::Inputs(Shipper::new(files, &plan, job.tokenizer)));
            self.wait(None, |m| m.feed.is_none())?;
        }
        self.barrier(Some(INIT_TIMEOUT))?;

        // Phase 2: shuffle 1.
        self.start(Phase::Shuffle1);
        self.begin_all(Phase::Shuffle1)?;
        let total_words = shuffle1::master(&self.barrier(None)?)?;

        // Phase 3: local grouping.
        self.start(Phase::LocalCount);
        self.begin_all(Phase::LocalCount)?;
        let stats = self.barrier(None)?;
        let histograms: Vec<Histogram> = self.links.iter_mut().filter_map(|l| l.histogram.take()).collect();
        let distinct = local_count::master(&histograms, &stats, total_words)?;
        let mut merged = Histogram::new();
        histograms.iter().for_each(|h| merged.merge(h));
        let expected = job.select.expected(&merged);

        // Phase 4: balanced redistribution.
        self.start(Phase::Redistribute);
        let shares = match job.redistribute {
            Redistribute::Histogram => self.redistribute_by_histogram(&histograms, distinct)?,
            Redistribute::Central => self.redistribute_centrally(distinct, total_words)?,
        };
        if let Some(p) = self.phases.last_mut() {
            p.shares = Some(shares.clone());
        }

        // Phase 5: shuffle 2.
        self.start(Phase::Shuffle2);
        self.begin_all(Phase::Shuffle2)?;
        if let Some(ranges) = self.ranges.take() {
            // The central plan: the master sends each worker its range.
            self.feed = Some(Feed::Ranges(ranges));
            central::check_ranges(&self.barrier(None)?, distinct, total_words, &shares)?;
        } else {
            shuffle2::master(&self.barrier(None)?, distinct, total_words, &shares)?;
        }

        // Phase 6: sort and output.
        self.start(Phase::SortOutput);
        self.begin_all(Phase::SortOutput)?;
        self.pulling = 0;
        if self.top == u64::MAX {
            self.ahead = Some(sort_output::Ahead::new(self.links.len()));
            for rank in 0..self.links.len() {
                self.pull(rank)?;
            }
        } else {
            self.pull(0)?;
        }
        let stats = self.barrier(None)?;
        sort_output::master(&stats, self.lines_written, expected, &shares, job.select.keeps_all())?;
        if let Some(writer) = self.writer.as_mut() {
            writer.commit()?;
            self.wait(None, |m| m.writer.as_ref().is_none_or(Writer::is_done))?;
            writer_outcome(&mut self.writer)?;
        }
        self.close();
        Ok((total_words, distinct))
    }

    /// Phase 4 by histograms: place the range boundaries from the workers'
    /// histograms (and samples inside a count that must be cut), broadcast
    /// them, and learn from each worker how many of its words go where.
    fn redistribute_by_histogram(&mut self, histograms: &[Histogram], distinct: u64) -> Result<Vec<u64>> {
        let plan = Plan::new(histograms);
        let counts = plan.sample_counts();
        let mut samples = Vec::new();
        if !counts.is_empty() {
            let request = message::SampleRequest { stride: plan.stride(), counts };
            for rank in 0..self.links.len() {
                self.send(rank, Kind::SampleRequest, &request)?;
            }
            self.wait(None, |m| m.links.iter().all(|l| l.samples.is_some()))?;
            samples = self.links.iter_mut().map(|l| l.samples.take().unwrap_or_default()).collect();
        }
        let cuts = plan.resolve(&samples);
        let boundaries = message::Boundaries {
            cuts: cuts.into_iter().map(|c| message::CutSpec { count: c.count, word: c.word }).collect(),
        };
        for rank in 0..self.links.len() {
            self.send(rank, Kind::Boundaries, &boundaries)?;
        }
        redistribute::total_shares(&self.barrier(None)?, distinct)
    }

    /// Phase 4 as the original ran it: every worker sends the master all
    /// its pairs; the master sorts them and cuts equal ranges (sent in
    /// phase 5). The sort is part of this phase's time.
    fn redistribute_centrally(&mut self, distinct: u64, total_words: u64) -> Result<Vec<u64>> {
        self.gather = Some(Gather::new(self.links.len()));
        self.begin_all(Phase::Redistribute)?;
        self.barrier(None)?;
        let gather = self
            .gather
            .take()
            .ok_or_else(|| Error::Conservation { phase: Phase::Redistribute, detail: "nothing was gathered".into() })?;
        gather.check(distinct, total_words)?;
        // Sorting every pair takes a while: on a thread, so that the loop
        // goes on answering heartbeats.
        let sorting = WakingThread::spawn("wordfreq-central-sort", self.reactor.waker(), move || gather.split())
            .map_err(|e| Error::io("cannot start the sorting thread", e))?;
        self.wait(None, |_| sorting.is_done())?;
        let (ranges, shares) = sorting.join().map_err(|_| Error::Conservation {
            phase: Phase::Redistribute,
            detail: "sorting the gathered pairs panicked".into(),
        })?;
        self.ranges = Some(ranges);
        let end = micros_since(self.clock);
        if let Some(p) = self.phases.last_mut() {
            p.end_us = end;
            p.wall_us = end.saturating_sub(p.start_us);
        }
        Ok(shares)
    }

    /// Dials every worker (at its resolved address) and waits for each one's hello.
    fn connect(&mut self, workers: &[String], resolved: &[SocketAddr]) -> Result<()> {
        for (rank, (addr, &socket)) in workers.iter().zip(resolved).enumerate() {
            let unreachable = |reason: String| Error::Unreachable { rank, addr: addr.clone(), reason };
            let token = self.reactor.connect(socket).map_err(|e| unreachable(e.to_string()))?;
            self.reactor
                .send(token, Hello { role: Role::Master, rank: NO_RANK, job_id: self.job_id }.encode().to_vec());
            self.by_token.insert(token, rank);
            self.links.push(Link {
                addr: addr.clone(),
                token,
                greeted: false,
                done: None,
                histogram: None,
                samples: None,
                open: true,
            });
        }
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        if self.wait(Some(deadline), |m| m.links.iter().all(|l| l.greeted))? == Waited::TimedOut {
            let silent = self.links.iter().position(|l| !l.greeted).unwrap_or(0);
            return Err(Error::Unreachable {
                rank: silent,
                addr: self.links[silent].addr.clone(),
                reason: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            });
        }
        Ok(())
    }

    /// Phase 6: asks `rank` for its range, or for as much of it as `--top`
    /// still wants after the ranks before it.
    fn pull(&mut self, rank: usize) -> Result<()> {
        let max_lines = self.top.saturating_sub(self.lines_written);
        self.send(rank, Kind::Pull, &message::Pull { rank: rank as u32, max_lines })
    }

    fn send<T: Message>(&mut self, rank: usize, kind: Kind, msg: &T) -> Result<()> {
        let bytes = message::encode(kind, msg)?;
        self.reactor.send(self.links[rank].token, bytes);
        Ok(())
    }

    /// Tops up each worker's link with what the master streams to it
    /// (shipped inputs, or ranges under the central plan) while its queue
    /// has room, so memory stays bounded by the queues.
    fn feed_links(&mut self) -> Result<()> {
        let Some(feed) = self.feed.as_mut() else {
            return Ok(());
        };
        for (rank, link) in self.links.iter().enumerate().filter(|(_, l)| l.open) {
            while self.reactor.queued(link.token) < FEED_QUEUE {
                let Some(frame) = feed.next_frame(rank)? else { break };
                self.reactor.send(link.token, frame);
            }
        }
        if feed.is_done() {
            self.feed = None;
        }
        Ok(())
    }

    /// Moves output waiting for the writer thread; reads from the worker
    /// being pulled again once none waits.
    fn pump_output(&mut self) -> Result<()> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        if writer.is_done() {
            return writer_outcome(&mut self.writer); // it stopped early: its error
        }
        let waiting = writer.pump()?;
        let ahead_full = self.ahead.as_ref().is_some_and(sort_output::Ahead::is_full);
        for (rank, link) in self.links.iter().enumerate() {
            let paused = if rank == self.pulling { waiting } else { rank > self.pulling && ahead_full };
            self.reactor.set_paused(link.token, paused);
        }
        Ok(())
    }

    /// Phase 6: hands a chunk of the rank being written to the writer
    /// thread, and stops reading from that rank while the writer is behind.
    fn write_output(&mut self, rank: usize, text: Vec<u8>) -> Result<()> {
        if let Some(writer) = self.writer.as_mut()
            && writer.write(text)?
        {
            self.reactor.set_paused(self.links[rank].token, true);
        }
        Ok(())
    }

    /// Phase 6: once the rank being written has sent all of its range, the
    /// next rank's turn: what it sent ahead is written, or it is pulled.
    fn next_turns(&mut self) -> Result<()> {
        while self.links.get(self.pulling).is_some_and(|l| l.done.is_some()) {
            self.pulling += 1;
            if self.pulling == self.links.len() {
                break;
            }
            match self.ahead.as_mut() {
                Some(ahead) => {
                    for chunk in ahead.take(self.pulling) {
                        self.write_output(self.pulling, chunk)?;
                    }
                }
                None => self.pull(self.pulling)?,
            }
        }
        self.pump_output()
    }

    fn begin_all(&mut self, phase: Phase) -> Result<()> {
        let begin = message::Begin { phase: phase.code() };
        for rank in 0..self.links.len() {
            self.send(rank, Kind::Begin, &begin)?;
        }
        Ok(())
    }

    fn start(&mut self, phase: Phase) {
        crate::failpoint::crash_point("master", phase);
        self.phase = phase;
        self.phase_start = (micros_since(self.clock), self.reactor.traffic());
        for link in &mut self.links {
            link.done = None;
        }
        self.progress.phase(phase, 0);
        tracing::debug!("phase {phase} starts");
    }

    /// Waits until every worker has finished the current phase; records the
    /// phase's metrics and returns the workers' reports by rank.
    fn barrier(&mut self, limit: Option<Duration>) -> Result<Vec<NodeStats>> {
        let deadline = limit.map(|limit| Instant::now() + limit);
        if self.wait(deadline, |m| m.links.iter().all(|l| l.done.is_some()))? == Waited::TimedOut {
            return Err(Error::Timeout(format!(
                "the workers did not finish {} within {} s (can they reach each other?)",
                self.phase,
                limit.unwrap_or_default().as_secs()
            )));
        }
        let stats: Vec<NodeStats> = self.links.iter_mut().map(|l| l.done.take().unwrap_or_default()).collect();
        let end = micros_since(self.clock);
        let (start, (in0, out0)) = self.phase_start;
        let (in1, out1) = self.reactor.traffic();
        self.phases.push(PhaseMetrics {
            phase: self.phase.name(),
            start_us: start,
            end_us: end,
            wall_us: end.saturating_sub(start),
            master_bytes_sent: out1 - out0,
            master_bytes_received: in1 - in0,
            nodes: stats.iter().enumerate().map(|(r, s)| NodeMetrics::from_stats(r, s)).collect(),
            shares: None,
        });
        Ok(stats)
    }

    /// Runs the loop until `done` holds or `deadline` passes; the caller
    /// says what a timeout means.
    fn wait(&mut self, deadline: Option<Instant>, done: impl Fn(&Master) -> bool) -> Result<Waited> {
        loop {
            crate::signals::check()?;
            self.feed_links()?;
            self.pump_output()?;
            if done(self) {
                break;
            }
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Waited::TimedOut);
                    }
                    Some(left)
                }
                None => None,
            };
            let mut events = std::mem::take(&mut self.events);
            self.reactor.poll(timeout, &mut events).map_err(|e| Error::io("the event loop failed", e))?;
            let mut result = Ok(());
            for event in events.drain(..) {
                if result.is_ok() {
                    result = self.on_event(event);
                }
            }
            self.events = events;
            result?;
        }
        Ok(Waited::Done)
    }

    fn on_event(&mut self, event: NetEvent) -> Result<()> {
        let (token, rank) = match &event {
            NetEvent::Hello(t, _) | NetEvent::Frame(t, _) | NetEvent::Closed(t, _) => match self.by_token.get(t) {
                Some(&rank) => (*t, rank),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        let link = &mut self.links[rank];
        match event {
            NetEvent::Hello(_, hello) => {
                if hello.role != Role::Peer || hello.job_id != self.job_id {
                    return Err(Error::Protocol {
                        peer: format!("worker {rank} ({})", link.addr),
                        error: ProtocolError::UnexpectedHello { role: hello.role, job_id: hello.job_id },
                    });
                }
                link.greeted = true;
                Ok(())
            }
            NetEvent::Frame(_, frame) => self.on_frame(rank, frame),
            NetEvent::Closed(_, why) => {
                link.open = false;
                self.by_token.remove(&token);
                match why {
                    Closed::Eof if self.closing => Ok(()),
                    Closed::Silent(limit) => Err(Error::Stalled {
                        rank,
                        addr: link.addr.clone(),
                        phase: self.phase,
                        silent_s: limit.as_secs_f64(),
                    }),
                    why if !link.greeted => {
                        Err(Error::Unreachable { rank, addr: link.addr.clone(), reason: why.to_string() })
                    }
                    why => Err(Error::PeerLost {
                        rank,
                        addr: link.addr.clone(),
                        phase: self.phase,
                        reason: why.to_string(),
                    }),
                }
            }
            _ => Ok(()),
        }
    }

    fn on_frame(&mut self, rank: usize, frame: Frame) -> Result<()> {
        let addr = self.links[rank].addr.clone();
        let protocol = |error| Error::Protocol { peer: format!("worker {rank} ({addr})"), error };
        let unexpected = protocol(ProtocolError::Unexpected(frame.kind));
        let payload = &frame.payload;
        match frame.kind {
            Kind::PhaseDone => {
                let done = message::access::<message::ArchivedPhaseDone>(frame.kind, payload).map_err(protocol)?;
                let link = &mut self.links[rank];
                if done.phase != self.phase.code() || link.done.is_some() {
                    return Err(unexpected);
                }
                if self.phase == Phase::SortOutput && rank != self.pulling && self.ahead.is_none() {
                    return Err(unexpected);
                }
                self.links[rank].done = Some(NodeStats::from(&done.stats));
                let finished = self.links.iter().filter(|l| l.done.is_some()).count();
                self.progress.phase(self.phase, finished);
                if self.phase == Phase::SortOutput {
                    self.next_turns()?;
                }
            }
            Kind::Progress => {
                let p = message::access::<message::ArchivedProgress>(frame.kind, payload).map_err(protocol)?;
                self.progress.tokenized(p.bytes.to_native());
            }
            Kind::Histogram if self.phase == Phase::LocalCount => {
                let h = message::access::<message::ArchivedHistogram>(frame.kind, payload).map_err(protocol)?;
                self.links[rank].histogram = Some(local_count::received(h));
            }
            Kind::Samples if self.phase == Phase::Redistribute => {
                let s = message::access::<message::ArchivedSamples>(frame.kind, payload).map_err(protocol)?;
                let sets = s.groups.iter().map(SampleSet::try_from).collect::<Result<_, _>>().map_err(protocol)?;
                self.links[rank].samples = Some(sets);
            }
            Kind::RangeChunk
                if self.phase == Phase::SortOutput
                    && self.links[rank].done.is_none()
                    && (rank == self.pulling || rank > self.pulling && self.ahead.is_some()) =>
            {
                let chunk = message::access::<message::ArchivedRangeChunk>(frame.kind, payload).map_err(protocol)?;
                self.lines_written += sort_output::lines_in(&chunk.text);
                let text = chunk.text.to_vec();
                match self.ahead.as_mut() {
                    Some(ahead) if rank != self.pulling => {
                        ahead.hold(rank, text);
                        if ahead.is_full() {
                            self.reactor.set_paused(self.links[rank].token, true);
                        }
                    }
                    _ => self.write_output(rank, text)?,
                }
            }
            Kind::WordBatch if self.phase == Phase::Redistribute => match self.gather.as_mut() {
                Some(gather) => gather.batch(rank, payload).map_err(protocol)?,
                None => return Err(unexpected),
            },
            Kind::EndOfStream if self.phase == Phase::Redistribute => match self.gather.as_mut() {
                Some(gather) => gather.end(rank, payload)?,
                None => return Err(unexpected),
            },
            Kind::Abort => {
                let abort = message::access::<message::ArchivedAbort>(frame.kind, payload).map_err(protocol)?;
                return Err(Error::WorkerFailed {
                    rank,
                    addr,
                    phase: self.phase,
                    reason: abort.reason.as_str().to_string(),
                });
            }
            _ => return Err(unexpected),
        }
        Ok(())
    }

    /// After success: tells every worker the job is over and waits (briefly)
    /// for each to close its side.
    fn close(&mut self) {
        self.closing = true;
        let finish = message::Finish { job_id: self.job_id };
        for rank in 0..self.links.len() {
            let _ = self.send(rank, Kind::Finish, &finish);
        }
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        if !matches!(self.wait(Some(deadline), |m| m.links.iter().all(|l| !l.open)), Ok(Waited::Done)) {
            tracing::debug!("some workers did not close their links in time");
        }
        for link in &self.links {
            self.reactor.close(link.token);
        }
    }

    /// After failure: tells every worker still linked to drop the job.
    fn abort(&mut self, error: &Error) {
        self.closing = true;
        let abort = message::Abort { reason: error.to_string() };
        for rank in 0..self.links.len() {
            if self.links[rank].open && self.links[rank].greeted {
                let _ = self.send(rank, Kind::Abort, &abort);
                self.reactor.close_gracefully(self.links[rank].token);
            }
        }
        self.reactor.settle(Duration::from_secs(2), |r| r.connections() == 0);
        self.writer = None;
    }
}

/// The writer thread's result once it has ended (and no writer after).
fn writer_outcome(writer: &mut Option<Writer>) -> Result<()> {
    match writer.take() {
        Some(mut w) => w.outcome(),
        None => Ok(()),
    }
}

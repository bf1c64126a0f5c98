//! Job metrics (DESIGN §5): for every phase, the master's wall clock and each
//! node's busy time, bytes and records sent and received; the phase-4 shares;
//! the job's parameters. Printed as a short table on stderr and written as
//! JSON with `--metrics FILE`; the Amdahl scripts and benches read the JSON.

use serde::Serialize;

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::wire::message::NodeStats;

/// Everything measured about one job.
#[derive(Debug, Serialize)]
pub struct JobMetrics {
    pub version: &'static str,
    /// `master`, `run` or `count`.
    pub command: &'static str,
    pub job_id: u64,
    pub inputs: Vec<String>,
    pub files: usize,
    pub total_bytes: u64,
    pub workers: usize,
    pub worker_addrs: Vec<String>,
    /// Compute threads per node (`count --threads`, or each worker's pool).
    pub threads: Option<usize>,
    pub tokenizer: &'static str,
    pub split_size: u64,
    /// Phase 4's plan: `histogram` or `central`.
    pub redistribute: &'static str,
    /// Whether the master shipped the inputs (`--ship`).
    pub ship: bool,
    /// The result's format (`--format`) and the records kept (`--top`,
    /// null for all; `--min-count`).
    pub format: &'static str,
    pub top: Option<u64>,
    pub min_count: u64,
    pub total_words: u64,
    pub distinct_words: u64,
    pub output: String,
    /// Seconds from the job's start to the output's commit.
    pub wall_s: f64,
    /// CPU seconds (user + system) this process used: the master's busy
    /// time for `master` and `run`, everything for `count`.
    pub master_cpu_s: f64,
    pub phases: Vec<PhaseMetrics>,
}

/// One phase: the master's clock and every node's figures.
#[derive(Debug, Serialize)]
pub struct PhaseMetrics {
    pub phase: &'static str,
    /// Seconds since the job's start, on the master's monotonic clock.
    pub start_s: f64,
    pub end_s: f64,
    pub wall_s: f64,
    pub master_bytes_sent: u64,
    pub master_bytes_received: u64,
    pub nodes: Vec<NodeMetrics>,
    /// Phase 4 only: distinct words each rank will own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<Vec<u64>>,
}

/// One worker's figures for one phase.
#[derive(Debug, Serialize)]
pub struct NodeMetrics {
    pub rank: usize,
    /// The phase's start and end on the node's own monotonic clock, in
    /// seconds since the job reached the node.
    pub start_s: f64,
    pub end_s: f64,
    pub busy_s: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub records_sent: u64,
    pub records_received: u64,
    pub words_sent: u64,
    pub words_received: u64,
    pub distinct: u64,
    /// Heap bytes of the table holding them (shuffle 1 only; else 0).
    pub table_bytes: u64,
}

impl NodeMetrics {
    /// A worker's report, as metrics.
    pub fn from_stats(rank: usize, s: &NodeStats) -> Self {
        NodeMetrics {
            rank,
            start_s: s.start_us as f64 / 1e6,
            end_s: s.end_us as f64 / 1e6,
            busy_s: s.busy_us as f64 / 1e6,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            records_sent: s.records_sent,
            records_received: s.records_received,
            words_sent: s.words_sent,
            words_received: s.words_received,
            distinct: s.distinct,
            table_bytes: s.table_bytes,
        }
    }
}

/// CPU seconds (user + system) this process has used so far.
pub fn process_cpu_s() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given, which
    // points at zeroed memory of that type; RUSAGE_SELF is always valid.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

impl JobMetrics {
    /// The parameters of a job over `files` input files of `total_bytes`,
    /// with every measurement still zero; the driver fills those in.
    pub fn new(command: &'static str, job: &JobConfig, files: usize, total_bytes: u64) -> JobMetrics {
        JobMetrics {
            version: env!("CARGO_PKG_VERSION"),
            command,
            job_id: 0,
            inputs: job.inputs.iter().map(|p| p.display().to_string()).collect(),
            files,
            total_bytes,
            workers: 1,
            worker_addrs: Vec::new(),
            threads: job.threads,
            tokenizer: job.tokenizer.name(),
            split_size: job.split_size,
            redistribute: job.redistribute.name(),
            ship: job.ship,
            format: job.format.name(),
            top: (job.select.top != u64::MAX).then_some(job.select.top),
            min_count: job.select.min_count,
            total_words: 0,
            distinct_words: 0,
            output: job.output.display().to_string(),
            wall_s: 0.0,
            master_cpu_s: 0.0,
            phases: Vec::new(),
        }
    }

    /// The metrics as pretty JSON, with a final newline.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io("cannot encode the metrics as JSON", std::io::Error::other(e)))?;
        json.push(b'\n');
        Ok(json)
    }

    /// The per-phase table printed at the end of a job.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{:<13} {:>9} {:>6} {:>11} {:>11} {:>10}\n",
            "phase", "wall s", "%", "records", "bytes", "max busy s"
        ));
        for p in &self.phases {
            let records: u64 = p.nodes.iter().map(|n| n.records_sent).sum();
            let bytes: u64 = p.nodes.iter().map(|n| n.bytes_sent).sum::<u64>() + p.master_bytes_sent;
            let busy = p.nodes.iter().map(|n| n.busy_s).fold(0.0, f64::max);
            let share = if self.wall_s > 0.0 { 100.0 * p.wall_s / self.wall_s } else { 0.0 };
            out.push_str(&format!(
                "{:<13} {:>9.4} {:>6.1} {:>11} {:>11} {:>10.4}\n",
                p.phase,
                p.wall_s,
                share,
                records,
                human_bytes(bytes),
                busy
            ));
        }
        let rate = if self.wall_s > 0.0 { self.total_bytes as f64 / self.wall_s } else { 0.0 };
        out.push_str(&format!(
            "{} words, {} distinct, {} in {:.3} s ({}/s), {} worker{} → {}\n",
            self.total_words,
            self.distinct_words,
            human_bytes(self.total_bytes),
            self.wall_s,
            human_bytes(rate as u64),
            self.workers,
            if self.workers == 1 { "" } else { "s" },
            self.output
        ));
        out
    }
}

/// Bytes with a binary unit, for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(4_303_552), "4.1 MiB");
    }
}

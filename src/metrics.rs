//! Job metrics (DESIGN §5): for every phase, the master's wall clock and each
//! node's busy time, bytes and records sent and received; the phase-4 shares;
//! the job's parameters. Printed as a short table on stderr and written as
//! JSON with `--metrics FILE`; the Amdahl scripts and benches read the JSON.
//!
//! Every time is a whole number of microseconds (`…_us`), and the job id is
//! written as the logs write it (`logs::job_hex`).

use std::time::Instant;

use serde::Serialize;

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::wire::message::NodeStats;

/// Everything measured about one job.
#[derive(Debug, Serialize)]
pub struct JobMetrics {
    /// The build: package version, git commit, wire protocol version.
    pub version: &'static str,
    pub commit: &'static str,
    pub protocol: u8,
    /// `master`, `run` or `count`.
    pub command: &'static str,
    /// 16 hex digits, as in the logs; null for `count`, which has no job id.
    pub job_id: Option<String>,
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
    /// Microseconds from the job's start to the output's commit.
    pub wall_us: u64,
    /// CPU microseconds (user + system) this process used: the master's
    /// busy time for `master` and `run`, everything for `count`.
    pub master_cpu_us: u64,
    /// How many times the job ran (more than 1 after `--retries` re-ran it
    /// on the workers left).
    pub attempts: u32,
    pub phases: Vec<PhaseMetrics>,
}

/// One phase: the master's clock and every node's figures.
#[derive(Debug, Serialize)]
pub struct PhaseMetrics {
    /// `init`, `shuffle1`, … (`phase::Phase::name`); `count` for `count`'s
    /// one step.
    pub phase: &'static str,
    /// Microseconds since the job's start, on the master's monotonic clock.
    pub start_us: u64,
    pub end_us: u64,
    pub wall_us: u64,
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
    /// microseconds since the job reached the node.
    pub start_us: u64,
    pub end_us: u64,
    pub busy_us: u64,
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
            start_us: s.start_us,
            end_us: s.end_us,
            busy_us: s.busy_us,
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

impl PhaseMetrics {
    /// A step of `count`, the one node busy all along it, from `start_us` to
    /// `end_us`: `records` made and `distinct` words held at its end.
    pub fn local(phase: &'static str, (start_us, end_us): (u64, u64), records: u64, distinct: u64) -> Self {
        let wall_us = end_us.saturating_sub(start_us);
        PhaseMetrics {
            phase,
            start_us,
            end_us,
            wall_us,
            master_bytes_sent: 0,
            master_bytes_received: 0,
            nodes: vec![NodeMetrics {
                busy_us: wall_us,
                records_sent: records,
                distinct,
                ..NodeMetrics::from_stats(0, &NodeStats { start_us, end_us, ..NodeStats::default() })
            }],
            shares: None,
        }
    }
}

/// Whole microseconds since `clock`.
pub fn micros_since(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_micros()).unwrap_or(u64::MAX)
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

/// CPU microseconds (user + system) this process has used so far.
pub fn process_cpu_us() -> u64 {
    (process_cpu_s() * 1e6).round() as u64
}

impl JobMetrics {
    /// The parameters of a job over `files` input files of `total_bytes`,
    /// with every measurement still zero; the driver fills those in.
    pub fn new(command: &'static str, job: &JobConfig, files: usize, total_bytes: u64) -> JobMetrics {
        JobMetrics {
            version: env!("CARGO_PKG_VERSION"),
            commit: crate::BUILD_COMMIT,
            protocol: crate::wire::hello::VERSION,
            command,
            job_id: None,
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
            wall_us: 0,
            master_cpu_us: 0,
            attempts: 1,
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

    /// The table printed at the end of a job: one row per phase, a row for
    /// the time outside the phases and the total (the percentages add up
    /// to 100), what the columns count, and the job in one line.
    pub fn table(&self) -> String {
        let networked = self.command != "count";
        let mut rows: Vec<Row> = self
            .phases
            .iter()
            .map(|p| {
                let records = p.nodes.iter().map(|n| n.records_sent).sum();
                let bytes = p.nodes.iter().map(|n| n.bytes_sent).sum::<u64>() + p.master_bytes_sent;
                let busiest = p.nodes.iter().map(|n| n.busy_us).max().unwrap_or(0);
                Row { name: p.phase, wall_us: p.wall_us, figures: Some((records, bytes, busiest)) }
            })
            .collect();
        let in_phases = rows.iter().map(|r| r.wall_us).sum::<u64>();
        rows.push(Row { name: "other", wall_us: self.wall_us.saturating_sub(in_phases), figures: None });
        let tenths = percent_tenths(&rows.iter().map(|r| r.wall_us).collect::<Vec<_>>());

        let mut out = format!("{:<12} {:>9}  {:>8} {:>13}", "phase", "wall s", "% of job", "records");
        if networked {
            out.push_str(&format!(" {:>11}  {:>14}", "net bytes", "busiest node s"));
        }
        out.push('\n');
        for (row, share) in rows.iter().zip(&tenths) {
            let mut line = format!("{:<12} {:>9.4}  {:>6}.{}", row.name, seconds(row.wall_us), share / 10, share % 10);
            if let Some((records, bytes, busiest)) = &row.figures {
                line.push_str(&format!(" {:>13}", grouped(*records)));
                if networked {
                    line.push_str(&format!(" {:>11}  {:>14.4}", human_bytes(*bytes), seconds(*busiest)));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str(&format!("{:<12} {:>9.4}  {:>8}\n", "total", seconds(self.wall_us), "100.0"));
        out.push_str(if networked {
            "records: (word, count) pairs sent, result lines in sort_output\n\
             net bytes: sent over TCP by the workers and the master; busiest node s: the slowest worker's time\n"
        } else {
            "records: words read in count, result lines in sort_output (one process, no network)\n"
        });
        let wall = seconds(self.wall_us);
        let rate = if wall > 0.0 { self.total_bytes as f64 / wall } else { 0.0 };
        let (n, unit) = match self.threads {
            Some(t) if !networked => (t, "thread"),
            _ => (self.workers, "worker"),
        };
        out.push_str(&format!(
            "{} words, {} distinct, {} in {wall:.3} s ({}/s), {n} {unit}{} → {}\n",
            grouped(self.total_words),
            grouped(self.distinct_words),
            human_bytes(self.total_bytes),
            human_bytes(rate as u64),
            if n == 1 { "" } else { "s" },
            self.output
        ));
        out
    }
}

/// A row of the table: a phase (with its records, net bytes and busiest
/// node's time) or `other`.
struct Row {
    name: &'static str,
    wall_us: u64,
    figures: Option<(u64, u64, u64)>,
}

/// Microseconds as seconds, for people.
fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Each part's share of the sum in tenths of a percent, rounded so that the
/// shares add up to exactly 1000 (largest remainders get the spare tenths).
fn percent_tenths(parts: &[u64]) -> Vec<u64> {
    let total: u128 = parts.iter().map(|&p| u128::from(p)).sum();
    if total == 0 {
        return vec![0; parts.len()];
    }
    let exact: Vec<(u64, u128)> = parts
        .iter()
        .map(|&p| {
            let scaled = u128::from(p) * 1000;
            ((scaled / total) as u64, scaled % total)
        })
        .collect();
    let mut shares: Vec<u64> = exact.iter().map(|e| e.0).collect();
    let spare = 1000 - shares.iter().sum::<u64>();
    let mut by_remainder: Vec<usize> = (0..parts.len()).collect();
    by_remainder.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1));
    for &i in by_remainder.iter().take(spare as usize) {
        shares[i] += 1;
    }
    shares
}

/// A number with its thousands grouped: `287,257,600`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
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
    fn bytes_and_numbers_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(4_303_552), "4.1 MiB");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(287_257_600), "287,257,600");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn percentages_add_up_to_100() {
        assert_eq!(percent_tenths(&[1, 1, 1]), [334, 333, 333]);
        assert_eq!(percent_tenths(&[0, 0]), [0, 0]);
        assert_eq!(percent_tenths(&[5, 0, 15]), [250, 0, 750]);
        let parts = [118_200, 3_700, 900, 1_800, 1_700, 1_100, 1_600];
        assert_eq!(percent_tenths(&parts).iter().sum::<u64>(), 1000);
    }

    #[test]
    fn the_table_names_its_columns_and_accounts_for_all_the_time() {
        let job = crate::config::JobConfig::new(vec!["in.txt".into()]);
        let mut m = JobMetrics::new("count", &job, 1, 4_303_552);
        m.threads = Some(2);
        m.total_words = 820_736;
        m.distinct_words = 32_163;
        m.wall_us = 1_000_000;
        m.phases = vec![
            PhaseMetrics::local("init", (0, 100_000), 0, 0),
            PhaseMetrics::local("count", (100_000, 700_000), 820_736, 32_163),
            PhaseMetrics::local("sort_output", (700_000, 950_000), 32_163, 32_163),
        ];
        let table = m.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["phase", "wall", "s", "%", "of", "job", "records"]
        );
        assert!(lines[2].starts_with("count") && lines[2].ends_with("820,736"), "{table}");
        assert_eq!(lines[4].split_whitespace().collect::<Vec<_>>(), ["other", "0.0500", "5.0"]);
        assert_eq!(lines[5].split_whitespace().collect::<Vec<_>>(), ["total", "1.0000", "100.0"]);
        assert!(lines[6].starts_with("records: words read in count"), "{table}");
        assert!(lines[7].starts_with("820,736 words, 32,163 distinct, 4.1 MiB in 1.000 s"), "{table}");
        assert!(lines[7].contains("2 threads"), "{table}");
    }
}

//! The `wordfreq` command line (clap): parses arguments into a `JobConfig`,
//! calls a driver, prints the metrics table or the one error line, and picks
//! the exit code (0 success, 1 failure, 2 bad arguments).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use wordfreq::config::{self, DEFAULT_OUTPUT, JobConfig};
use wordfreq::format::Format;
use wordfreq::memory::{MemoryLimit, MemorySetting};
use wordfreq::metrics::JobMetrics;
use wordfreq::output::Output;
use wordfreq::phase::central::Redistribute;
use wordfreq::secret::Secret;
use wordfreq::select::Select;
use wordfreq::tokenize::Tokenizer;
use wordfreq::{Error, Result, addrs, count, master, run, signals, status, worker};

/// Count the words of large text collections and write them sorted by
/// frequency, on one machine or across many.
#[derive(Parser, Debug)]
#[command(name = "wordfreq", version, propagate_version = true)]
#[command(after_help = "Examples:
  wordfreq run corpus/                      count on local worker processes, one per core
  wordfreq count -t 1 big.txt               one process, one thread (the baseline)
  wordfreq worker --listen 0.0.0.0:7000     serve jobs on every lab machine...
  wordfreq master --workers lab1:7000,lab2:7000 /shared/corpus   ...and run one from here
  wordfreq status --hosts workers.txt       is every worker up, idle or busy?

The result (default resultats.txt) has one `WORD COUNT` line per distinct word,
count descending, then word ascending by bytes.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a job on N local worker processes plus a master (the embedded default).
    Run {
        /// Number of local worker processes [default: one per core].
        #[arg(short, long, value_name = "N")]
        workers: Option<usize>,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        job: JobArgs,
    },
    /// Count in this one process, without a network (the single-machine baseline).
    Count {
        /// Compute threads [default: one per core].
        #[arg(short, long, value_name = "T")]
        threads: Option<usize>,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        job: JobArgs,
    },
    /// Run a job on workers already listening elsewhere.
    ///
    /// Input paths must be readable at the same path on every worker (a shared
    /// filesystem in a lab; trivially true on one machine), unless --ship
    /// sends the bytes.
    Master {
        /// Worker addresses in rank order, comma separated (HOST:PORT,...;
        /// spaces after the commas are fine).
        #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
        workers: Vec<String>,
        /// A file with one worker address per line (# starts a comment).
        #[arg(long, value_name = "FILE", conflicts_with = "workers")]
        hosts: Option<PathBuf>,
        /// Send each worker the input bytes it needs over its link, for
        /// workers that cannot read the inputs at the same path (no shared
        /// filesystem). Workers spool them in a temporary file that is
        /// removed when the job ends.
        #[arg(long)]
        ship: bool,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        job: JobArgs,
    },
    /// Ask workers whether they are up: one line per worker.
    ///
    /// Each line gives the address, `reachable` or `unreachable` (with the
    /// reason), the worker's version, its compute threads, `idle` or `busy`,
    /// the jobs it has served and its uptime. Exits 0 when every worker
    /// answered, 1 otherwise.
    Status {
        /// Worker addresses, comma separated (HOST:PORT,...).
        #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
        workers: Vec<String>,
        /// A file with one worker address per line (# starts a comment).
        #[arg(long, value_name = "FILE", conflicts_with = "workers")]
        hosts: Option<PathBuf>,
        /// Keep asking a worker that is not listening yet, for up to SECONDS
        /// (e.g. right after starting it).
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        wait: f64,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Draw charts (SVG) and the scaling summary from measured results.
    #[command(subcommand)]
    Plot(PlotCommand),
    /// Serve jobs as a worker, one after another, until killed.
    ///
    /// Prints `listening on HOST:PORT` on stdout once ready; with port 0 the
    /// system picks a free port.
    Worker {
        /// Address to listen on, e.g. 0.0.0.0:7000 or 127.0.0.1:0.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Compute threads [default: one per core].
        #[arg(short, long, value_name = "T")]
        threads: Option<usize>,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        secret: SecretArgs,
        /// Listen on a non-loopback address without a secret: anyone who can
        /// reach the port can run jobs and read what this worker can read.
        #[arg(long)]
        insecure: bool,
        #[command(flatten)]
        log: LogArgs,
    },
}

#[derive(Subcommand, Debug)]
enum PlotCommand {
    /// The scaling study: from amdahl.csv (scripts/amdahl.sh), write
    /// summary.md (speedup, efficiency, Karp-Flatt serial fraction, fitted
    /// Amdahl parallel fraction), speedup-*.svg and phases-*.svg.
    Scaling {
        /// The runs, one per row.
        #[arg(value_name = "AMDAHL_CSV")]
        csv: PathBuf,
        /// Where to write [default: the CSV's directory].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// One job's timeline from its --metrics file: a row per node, a bar per
    /// phase, so waiting shows as gaps.
    Timeline {
        #[arg(value_name = "METRICS_JSON")]
        metrics: PathBuf,
        /// The SVG to write [default: METRICS_JSON with .svg].
        #[arg(short, long, value_name = "SVG")]
        output: Option<PathBuf>,
    },
    /// The benchmark comparison from bench.csv (scripts/bench.sh): median
    /// throughput per program.
    Bench {
        #[arg(value_name = "BENCH_CSV")]
        csv: PathBuf,
        /// The SVG to write [default: BENCH_CSV with .svg].
        #[arg(short, long, value_name = "SVG")]
        output: Option<PathBuf>,
        /// The chart's title.
        #[arg(long, default_value = "wordfreq and the alternatives: median throughput")]
        title: String,
    },
}

#[derive(Args, Debug)]
struct JobArgs {
    /// Files or directories to count (`-` is standard input). A directory
    /// means every regular file below it, except names starting with `.` or
    /// `_` and the job's own output; a file named here is always read.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Where to write the result; replaced only when the job succeeds
    /// (`-` writes to stdout).
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_OUTPUT)]
    output: PathBuf,
    /// How bytes become words.
    #[arg(long, value_enum, default_value_t = Tokenizer::WhitespaceLower)]
    tokenizer: Tokenizer,
    /// How the result is written. In csv and json, a byte that is not
    /// UTF-8 is written `\xHH` and a backslash `\\` (reversible).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Txt)]
    format: Format,
    /// Keep only the N most frequent words (ties by word bytes, as in the
    /// result); applied on the workers, so only N lines cross the network.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    top: Option<u64>,
    /// Keep only the words counted at least C times.
    #[arg(long, value_name = "C", default_value_t = 1)]
    min_count: u64,
    /// Write per-phase, per-node metrics as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Largest unit of parallel work, in bytes (K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "2M", value_parser = config::parse_size)]
    split_size: u64,
    /// In directories, read only files whose path below the directory
    /// matches GLOB (`*` also matches `/`); may be repeated.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// In directories, skip files whose path below the directory matches
    /// GLOB; may be repeated.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    #[command(flatten)]
    log: LogArgs,
}

/// Options of the jobs that run on workers (`run`, `master`).
#[derive(Args, Debug)]
struct PlanArgs {
    /// How phase 4 balances the ranges: `histogram` (workers send the
    /// master frequency histograms; ranges move peer to peer) or `central`
    /// (the original system's plan: every pair goes through the master,
    /// which sorts and splits them; same result, kept to measure its cost).
    #[arg(long, value_enum, value_name = "PLAN", default_value_t = Redistribute::Histogram)]
    redistribute: Redistribute,
    /// How long a worker may stay silent before it is declared gone. Every
    /// link carries a heartbeat from the event loop, which keeps running
    /// while compute is busy, so a slow worker is never taken for a dead one.
    #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = config::parse_seconds)]
    heartbeat_timeout: std::time::Duration,
    /// When a worker is lost (killed, unreachable, stopped responding), run
    /// the job again on the workers that still answer, up to K times.
    #[arg(long, value_name = "K", default_value_t = 0)]
    retries: u32,
}

impl PlanArgs {
    fn apply(&self, job: JobConfig) -> JobConfig {
        JobConfig {
            redistribute: self.redistribute,
            heartbeat_timeout: self.heartbeat_timeout,
            retries: self.retries,
            ..job
        }
    }
}

/// How much memory the words may take (`count`, `run`, `worker`).
#[derive(Args, Debug)]
struct MemoryArgs {
    /// The most memory the word tables may take: a size (512M, 2G, 1.5GiB;
    /// binary units) or a share of the machine's memory (50%). Measured as
    /// the process's resident anonymous memory (mapped inputs do not
    /// count); past it the job fails with an error that says so, instead
    /// of the machine swapping or the kernel killing the process. `run`
    /// divides it equally among its workers. [default: 90% of the smaller
    /// of physical memory and the limit of the process's memory cgroup
    /// (memory.max, or memory.limit_in_bytes under cgroup v1)]
    #[arg(long, value_name = "SIZE", value_parser = MemorySetting::parse)]
    memory_limit: Option<MemorySetting>,
}

impl MemoryArgs {
    fn setting(&self) -> MemorySetting {
        self.memory_limit.unwrap_or_default()
    }
}

/// The shared secret every connection proves (see `wordfreq worker --help`).
#[derive(Args, Debug)]
struct SecretArgs {
    /// A file holding the secret the masters and workers share (private to
    /// its owner, at least 16 bytes). Default: the file named by
    /// WORDFREQ_SECRET_FILE, else ~/.wordfreq/secret if it exists, else none
    /// (then only nodes without a secret can connect). `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

impl SecretArgs {
    fn load(&self) -> Result<Secret> {
        Secret::load(self.secret_file.as_deref())
    }
}

#[derive(Args, Debug)]
struct LogArgs {
    /// Print nothing but errors.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Log more (-v info, -vv debug, -vvv trace); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

impl LogArgs {
    /// Starts logging for a process whose lines name it `source`.
    fn init(&self, source: &str) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        };
        wordfreq::logs::init(level, source);
    }

    /// The same verbosity, for child processes.
    fn flags(&self) -> Vec<&'static str> {
        match (self.quiet, self.verbose) {
            (false, 1) => vec!["-v"],
            (false, 2) => vec!["-vv"],
            (false, n) if n > 2 => vec!["-vvv"],
            _ => vec!["-q"],
        }
    }
}

impl JobArgs {
    fn config(&self, threads: Option<usize>) -> JobConfig {
        JobConfig {
            output: self.output.clone(),
            tokenizer: self.tokenizer,
            split_size: self.split_size,
            threads,
            progress: !self.log.quiet,
            format: self.format,
            select: Select { top: self.top.unwrap_or(u64::MAX), min_count: self.min_count },
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            ..JobConfig::new(self.paths.clone())
        }
    }

    /// Checks where the job's files go before any work: a metrics file that
    /// is the output itself is refused (the metrics would silently replace
    /// the result), and the metrics file's temporary is created beside it
    /// now, so a missing or unwritable directory fails at once rather than
    /// after the job. (The output is opened the same way by the drivers,
    /// before they read any input.)
    fn open_metrics(&self) -> Result<Option<Output>> {
        let Some(metrics) = &self.metrics else { return Ok(None) };
        if same_file(metrics, &self.output) {
            return Err(Error::Usage(format!(
                "--metrics and --output both name {}: the metrics would replace the result",
                metrics.display()
            )));
        }
        Output::create(metrics).map(Some).map_err(metrics_error)
    }

    /// Prints the table and writes the metrics file after a successful job.
    fn report(&self, metrics: &JobMetrics, file: Option<Output>) -> Result<()> {
        if let Some(mut file) = file {
            file.write(&metrics.to_json()?).and_then(|()| file.commit()).map_err(metrics_error)?;
        }
        if !self.log.quiet {
            eprint!("{}", metrics.table());
        }
        Ok(())
    }
}

/// An output error on the metrics file, said as such.
fn metrics_error(error: Error) -> Error {
    match error {
        Error::Output { path, source } => Error::io(format!("cannot write metrics {}", path.display()), source),
        other => other,
    }
}

/// Whether two paths name one file, whether it exists yet or not (the
/// directory is compared once resolved, then the name).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| {
        std::fs::canonicalize(p).ok().or_else(|| {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
        })
    };
    a == b || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

fn main() -> ExitCode {
    wordfreq::alloc::tune();
    // `--version` names the build's commit and its protocol version.
    let version = format!(
        "{} (commit {}, protocol {})",
        env!("CARGO_PKG_VERSION"),
        wordfreq::BUILD_COMMIT,
        wordfreq::wire::hello::VERSION
    );
    let matches = Cli::command()
        .version(&*Box::leak(version.into_boxed_str()))
        .get_matches_from(addrs::join_spaced_lists(std::env::args_os()));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // `wordfreq ... -o - | head`: the reader has what it wanted.
        Err(Error::Output { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wordfreq: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn positive(name: &str, n: Option<usize>) -> Result<usize> {
    match n {
        Some(0) => Err(Error::Usage(format!("{name} must be at least 1"))),
        Some(n) => Ok(n),
        None => Ok(config::cores()),
    }
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Worker { listen, threads, memory, secret, insecure, log } => {
            log.init("worker");
            signals::install()?;
            let limit = MemoryLimit::resolve(memory.setting());
            worker::serve(&listen, positive("--threads", threads)?, limit, secret.load()?, insecure)
        }
        Command::Count { threads, memory, job } => {
            job.log.init("count");
            signals::install()?;
            let file = job.open_metrics()?;
            let threads = positive("--threads", threads)?;
            let config = JobConfig { memory: memory.setting(), ..job.config(Some(threads)) };
            let metrics = count::run_count(&config, threads)?;
            job.report(&metrics, file)
        }
        Command::Run { workers, memory, plan, job } => {
            job.log.init("master");
            signals::install()?;
            let file = job.open_metrics()?;
            let workers = positive("--workers", workers)?;
            // Share the cores among the local workers.
            let threads = (config::cores() / workers).max(1);
            let config = JobConfig { memory: memory.setting(), ..plan.apply(job.config(Some(threads))) };
            let metrics = run::run_local(workers, threads, config, &job.log.flags())?;
            job.report(&metrics, file)
        }
        Command::Master { workers, hosts, ship, plan, secret, job } => {
            job.log.init("master");
            signals::install()?;
            let workers = addrs::worker_list(&workers, hosts.as_deref())?;
            let file = job.open_metrics()?;
            let config = JobConfig { ship, secret: secret.load()?, ..plan.apply(job.config(None)) };
            let metrics = master::run_job(&workers, &config, "master")?;
            job.report(&metrics, file)
        }
        Command::Plot(plot) => {
            LogArgs { quiet: false, verbose: 0 }.init("plot");
            match plot {
                PlotCommand::Scaling { csv, out } => {
                    let dir = out.unwrap_or_else(|| csv.parent().map(PathBuf::from).unwrap_or_default());
                    print!("{}", wordfreq::plot::scaling(&csv, &dir)?);
                    Ok(())
                }
                PlotCommand::Timeline { metrics, output } => {
                    wordfreq::plot::timeline(&metrics, &output.unwrap_or_else(|| metrics.with_extension("svg")))
                }
                PlotCommand::Bench { csv, output, title } => {
                    wordfreq::plot::bench(&csv, &title, &output.unwrap_or_else(|| csv.with_extension("svg")))
                }
            }
        }
        Command::Status { workers, hosts, wait, secret, log } => {
            log.init("status");
            let key = secret.load()?.key;
            let workers = addrs::worker_list(&workers, hosts.as_deref())?;
            if !(0.0..=86_400.0).contains(&wait) {
                return Err(Error::Usage(format!("--wait {wait}: give a number of seconds from 0 to 86400")));
            }
            let wait = std::time::Duration::from_secs_f64(wait);
            let answers: Vec<_> = std::thread::scope(|s| {
                let asks: Vec<_> = workers.iter().map(|w| s.spawn(|| status::query(w, wait, &key))).collect();
                asks.into_iter().map(|a| a.join().unwrap_or_else(|_| Err("the query failed".into()))).collect()
            });
            for (addr, answer) in workers.iter().zip(&answers) {
                println!("{}", status::line(addr, answer));
            }
            match answers.iter().position(|a| a.is_err()) {
                Some(rank) => Err(Error::Unreachable {
                    rank,
                    addr: workers[rank].clone(),
                    reason: format!(
                        "{} ({} of {} workers did not answer)",
                        answers[rank].as_ref().err().map_or("", String::as_str),
                        answers.iter().filter(|a| a.is_err()).count(),
                        workers.len()
                    ),
                }),
                None => Ok(()),
            }
        }
    }
}

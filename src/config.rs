//! Validated job settings, built once from the command line and passed
//! explicitly to the drivers (`count`, `master`, `run`).

use std::path::PathBuf;
use std::time::Duration;

use crate::format::Format;
use crate::memory::MemorySetting;
use crate::phase::central::Redistribute;
use crate::secret::Secret;
use crate::select::Select;
use crate::tokenize::Tokenizer;

/// The default output file, in the current directory.
pub const DEFAULT_OUTPUT: &str = "resultats.txt";
/// How long a job's link may stay silent before its other end is declared
/// gone (`--heartbeat-timeout`).
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(15);
/// The default split size: large enough that per-split overhead vanishes,
/// small enough that the threads finish their last splits together (with
/// 8 MiB splits, one thread was often left alone with the last split:
/// about 7 % of `count -t 2`'s counting time on 10 M distinct words).
pub const DEFAULT_SPLIT_SIZE: u64 = 2 << 20;

/// What a job counts and where its result goes.
#[derive(Clone, Debug)]
pub struct JobConfig {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    pub tokenizer: Tokenizer,
    /// Largest split in bytes (the unit of parallel work).
    pub split_size: u64,
    /// Compute threads per node, when set.
    pub threads: Option<usize>,
    /// Show the live progress line (when stderr is a terminal).
    pub progress: bool,
    /// The master sends the input bytes to the workers (`--ship`).
    pub ship: bool,
    /// Phase 4's plan (`--redistribute`).
    pub redistribute: Redistribute,
    /// How the result is written (`--format`).
    pub format: Format,
    /// Which records are kept (`--top`, `--min-count`).
    pub select: Select,
    /// Directory walks read only files matching one of these globs, when
    /// any is given (`--include`).
    pub include: Vec<String>,
    /// Directory walks skip files matching any of these globs (`--exclude`).
    pub exclude: Vec<String>,
    /// How long a link may stay silent (`--heartbeat-timeout`).
    pub heartbeat_timeout: Duration,
    /// How many times a job that lost a worker is run again on the others
    /// (`--retries`).
    pub retries: u32,
    /// What the master's connections prove (`--secret-file`).
    pub secret: Secret,
    /// How much memory `count`, or `run`'s workers together, may hold
    /// (`--memory-limit`; a worker started on its own has its own).
    pub memory: MemorySetting,
}

impl JobConfig {
    /// A job over `inputs` with every setting at its default.
    pub fn new(inputs: Vec<PathBuf>) -> JobConfig {
        JobConfig {
            inputs,
            output: PathBuf::from(DEFAULT_OUTPUT),
            tokenizer: Tokenizer::WhitespaceLower,
            split_size: DEFAULT_SPLIT_SIZE,
            threads: None,
            progress: false,
            ship: false,
            redistribute: Redistribute::Histogram,
            format: Format::Txt,
            select: Select::ALL,
            include: Vec::new(),
            exclude: Vec::new(),
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            retries: 0,
            secret: Secret::none(),
            memory: MemorySetting::default(),
        }
    }
}

/// Parses a byte size: a number with an optional `K`, `M` or `G` suffix
/// (binary multiples), e.g. `64K`, `8M`, `1G`, `4096`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 10),
        Some((i, 'm' | 'M')) => (&text[..i], 20),
        Some((i, 'g' | 'G')) => (&text[..i], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size like 4096, 64K, 8M or 1G"))?;
    if n == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a number of seconds (fractions allowed) into a duration within
/// `0.05..=86400` s.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let s: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.05..=86_400.0).contains(&s) {
        return Err(format!("`{text}`: give a number of seconds from 0.05 to 86400"));
    }
    Ok(Duration::from_secs_f64(s))
}

/// The number of cores, the default for thread counts and `run`'s workers.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("8m"), Ok(8 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}

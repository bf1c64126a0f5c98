//! Phase 1, init. The master cuts the inputs into splits, balances them
//! across workers by bytes and sends each worker a job spec: job id,
//! tokenizer, the peer list (rank → address) and its splits. A worker checks
//! the spec and the files its splits touch (or, with `--ship`, spools the
//! bytes the master sends: see `ship`), and then builds the mesh (see
//! `net::mesh`); the phase ends when every worker is linked to every other
//! and has its inputs.

use std::ffi::OsStr;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::JobConfig;
use crate::counts::hash_fingerprint;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::input::{self, InputFile, Split};
use crate::phase::central::Redistribute;
use crate::phase::ship::Spool;
use crate::select::Select;
use crate::tokenize::Tokenizer;
use crate::wire::message::{ArchivedJobSpec, FileSpec, JobSpec, SplitSpec};

/// Master side: one spec per worker, naming only the files its splits touch
/// (a corpus of a million files is not sent to every worker in full).
pub fn job_specs(
    job_id: u64,
    files: &[InputFile],
    plan: &[Vec<Split>],
    peers: &[String],
    job: &JobConfig,
) -> Vec<JobSpec> {
    plan.iter()
        .enumerate()
        .map(|(rank, splits)| {
            let mut own: Vec<FileSpec> = Vec::new();
            let mut last = None; // splits of one file are consecutive
            let splits = splits
                .iter()
                .map(|s| {
                    if last != Some(s.file) {
                        let f = &files[s.file as usize];
                        own.push(FileSpec { path: f.path.as_os_str().as_bytes().to_vec(), len: f.len });
                        last = Some(s.file);
                    }
                    SplitSpec { file: (own.len() - 1) as u32, start: s.start, end: s.end }
                })
                .collect();
            JobSpec {
                job_id,
                rank: rank as u32,
                peers: peers.to_vec(),
                tokenizer: job.tokenizer.code(),
                hash_fingerprint: hash_fingerprint(),
                files: own,
                splits,
                ship: job.ship,
                redistribute: job.redistribute.code(),
                format: job.format.code(),
                top: job.select.top,
                min_count: job.select.min_count,
                heartbeat_ms: u32::try_from(job.heartbeat_timeout.as_millis()).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

/// A worker's part of a job, ready to run.
#[derive(Debug)]
pub struct Setup {
    pub job_id: u64,
    pub rank: usize,
    pub peers: Vec<SocketAddr>,
    pub tokenizer: Tokenizer,
    /// The files this worker's splits touch.
    pub files: Vec<InputFile>,
    /// This worker's splits, indexing `files`.
    pub splits: Vec<Split>,
    /// With `--ship`: where the shipped bytes go (and `files` point).
    pub spool: Option<Spool>,
    pub redistribute: Redistribute,
    pub format: Format,
    pub select: Select,
    /// How long this job's links may stay silent.
    pub heartbeat_timeout: Duration,
}

/// How long the master lets a link stay silent, from its job spec (at
/// least 50 ms).
pub fn heartbeat_timeout(spec: &ArchivedJobSpec) -> Duration {
    Duration::from_millis(u64::from(spec.heartbeat_ms.to_native()).max(50))
}

/// Worker side: checks a spec and the files its splits touch.
pub fn open(spec: &ArchivedJobSpec) -> Result<Setup> {
    let bad = |what: String| Error::JobSpec(format!("invalid job spec: {what}"));
    if spec.hash_fingerprint.to_native() != hash_fingerprint() {
        return Err(Error::JobSpec(
            "this worker hashes words differently from the master; run the same wordfreq build on every node".into(),
        ));
    }
    let rank = spec.rank.to_native() as usize;
    if rank >= spec.peers.len() {
        return Err(bad(format!("rank {rank} of {} workers", spec.peers.len())));
    }
    let tokenizer =
        Tokenizer::from_code(spec.tokenizer).ok_or_else(|| bad(format!("unknown tokenizer {}", spec.tokenizer)))?;
    let mut peers = Vec::with_capacity(spec.peers.len());
    for addr in spec.peers.iter() {
        let resolved = addr
            .as_str()
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| Error::JobSpec(format!("cannot resolve peer address {}", addr.as_str())))?;
        peers.push(resolved);
    }
    // Keep only the files this worker's splits touch, renumbered in order,
    // and check now that each is readable with its planned length.
    let mut local = vec![None; spec.files.len()];
    let mut files: Vec<InputFile> = Vec::new();
    let mut splits = Vec::with_capacity(spec.splits.len());
    for s in spec.splits.iter() {
        let index = s.file.to_native() as usize;
        let file = spec.files.get(index).ok_or_else(|| bad(format!("split names file {index}")))?;
        let (start, end) = (s.start.to_native(), s.end.to_native());
        if start > end || end > file.len.to_native() {
            return Err(bad(format!("split {start}..{end} of a {}-byte file", file.len)));
        }
        let mapped = match local[index] {
            Some(i) => i,
            None => {
                let file =
                    InputFile::mapped(PathBuf::from(OsStr::from_bytes(file.path.as_slice())), file.len.to_native());
                if !spec.ship {
                    input::check(&file).map_err(|e| hint_ship(e, &file.path))?;
                }
                files.push(file);
                local[index] = Some(files.len() - 1);
                files.len() - 1
            }
        };
        splits.push(Split { file: mapped as u32, start, end });
    }
    let spool = if spec.ship {
        let (spool, spooled) = Spool::create(&files)?;
        files = spooled;
        Some(spool)
    } else {
        None
    };
    let redistribute = Redistribute::from_code(spec.redistribute)
        .ok_or_else(|| bad(format!("unknown redistribution plan {}", spec.redistribute)))?;
    let format = Format::from_code(spec.format).ok_or_else(|| bad(format!("unknown result format {}", spec.format)))?;
    let select = Select { top: spec.top.to_native(), min_count: spec.min_count.to_native() };
    let heartbeat_timeout = heartbeat_timeout(spec);
    Ok(Setup {
        job_id: spec.job_id.to_native(),
        rank,
        peers,
        tokenizer,
        files,
        splits,
        spool,
        redistribute,
        format,
        select,
        heartbeat_timeout,
    })
}

/// An input this worker cannot open may exist only on the master's machine
/// (unless it is there, and not a regular file).
fn hint_ship(error: Error, path: &std::path::Path) -> Error {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return error;
    }
    match error {
        Error::Input { path, reason } => Error::Input {
            path,
            reason: format!("{reason} (without a filesystem shared with the master, run the master with --ship)"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_spec_names_only_the_files_its_splits_touch() {
        let files: Vec<InputFile> = (0..6).map(|i| InputFile::mapped(format!("/data/f{i}"), 10 * (i + 1))).collect();
        let plan = input::assign(&files, 3, 7);
        let peers: Vec<String> = (0..3).map(|r| format!("127.0.0.1:{}", 7000 + r)).collect();
        let specs = job_specs(9, &files, &plan, &peers, &JobConfig::new(vec!["/data".into()]));
        for (spec, splits) in specs.iter().zip(&plan) {
            assert!(spec.files.len() < files.len());
            assert_eq!(spec.splits.len(), splits.len());
            for (sent, planned) in spec.splits.iter().zip(splits) {
                let named = &spec.files[sent.file as usize];
                let original = &files[planned.file as usize];
                assert_eq!(named.path, original.path.as_os_str().as_bytes());
                assert_eq!((named.len, sent.start, sent.end), (original.len, planned.start, planned.end));
            }
        }
    }
}

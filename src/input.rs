//! Inputs: the files a job reads and how. `walk` resolves the paths a user
//! gave into files (directories walked with Hadoop's filter); `assign`, here,
//! cuts them into byte-range splits balanced across workers; `read` reads a
//! split's words, through a mapping (`map`, with a file that shrinks
//! meanwhile caught by `sigbus`) or as a stream (`stream`), decompressing
//! what `compressed` recognises; `spool` copies inputs of unknown length for
//! a job on workers.
//!
//! The crate's `unsafe` blocks, each with its SAFETY note: mapping a file
//! (`map`), the SIGBUS handler and its installation (`sigbus`), asking
//! which filesystem a file is on (`walk::pseudo_file`), `run`'s code between
//! fork and exec, and `metrics::process_cpu_s`.
//!
//! A split owns every word that starts inside it (see `tokenize`), so splits
//! may be cut at any byte.

mod compressed;
mod map;
mod read;
mod sigbus;
mod spool;
mod stream;
mod walk;

use std::path::{Path, PathBuf};

pub use compressed::Codec;
pub use map::{Mapped, check, map};
pub use read::split_words;
pub use spool::spool_streams;
pub use walk::{Filter, resolve, resolve_with};

use crate::error::Error;

/// One regular file to read, with the length it had when the job was planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Absolute path, so that workers started elsewhere find the same file.
    pub path: PathBuf,
    /// Length in bytes (0 for a `Form::Stream`, whose length is not known).
    pub len: u64,
    pub form: Form,
}

/// How a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Bytes of a known length: cut into splits, each read through a mapping.
    Mapped,
    /// Compressed (by its magic bytes): one split, whole, decompressed as a
    /// stream from its mapping.
    Compressed(Codec),
    /// Read once from start to end as one unit of work: standard input, a
    /// FIFO, or a file whose size says nothing of its content (a /proc or
    /// /sys file: size 0 or 4096 whatever it holds, and sysfs refuses to be
    /// mapped). `count` reads it as a stream; a job on workers first copies
    /// it into a spool file (`spool`).
    Stream,
}

impl InputFile {
    /// A file read through mappings, of `len` bytes.
    pub fn mapped(path: impl Into<PathBuf>, len: u64) -> InputFile {
        InputFile { path: path.into(), len, form: Form::Mapped }
    }
}

/// A byte range `start..end` of `files[file]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub file: u32,
    pub start: u64,
    pub end: u64,
}

impl Split {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// True if it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

fn input_error(path: &Path, reason: String) -> Error {
    Error::Input { path: path.to_path_buf(), reason }
}

/// The most splits a job is cut into (beyond one per file boundary).
pub const MAX_SPLITS: u64 = 1 << 16;

/// Cuts the files into splits of at most `split_size` bytes and gives each of
/// `workers` a contiguous share of the bytes, as equal as a byte allows. A
/// file that is not `Form::Mapped` is one split, whole, for the worker whose
/// share holds its middle byte.
pub fn assign(files: &[InputFile], workers: usize, split_size: u64) -> Vec<Vec<Split>> {
    let total: u64 = files.iter().map(|f| f.len).sum();
    // A tiny split size on a large input would make millions of splits (and
    // job specs of hundreds of MB): the size is raised so a job has at most
    // about MAX_SPLITS, plus one per file boundary.
    let split_size = split_size.max(total.div_ceil(MAX_SPLITS)).max(1);
    let share_end = |r: usize| (total as u128 * r as u128 / workers as u128) as u64;
    let mut plan = vec![Vec::new(); workers];
    let mut file_start = 0u64; // global offset of the current file's first byte
    for (index, file) in files.iter().enumerate() {
        let file_end = file_start + file.len;
        if file.form != Form::Mapped {
            // One unit of work, for the worker whose share holds its middle.
            let middle = file_start + file.len / 2;
            let rank = (0..workers).find(|&r| middle < share_end(r + 1)).unwrap_or(workers - 1);
            plan[rank].push(Split { file: index as u32, start: 0, end: file.len });
            file_start = file_end;
            continue;
        }
        for (rank, splits) in plan.iter_mut().enumerate() {
            let lo = share_end(rank).max(file_start);
            let hi = share_end(rank + 1).min(file_end);
            let mut start = lo;
            while start < hi {
                let end = (start + split_size).min(hi);
                splits.push(Split { file: index as u32, start: start - file_start, end: end - file_start });
                start = end;
            }
        }
        file_start = file_end;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(lens: &[u64]) -> Vec<InputFile> {
        lens.iter().enumerate().map(|(i, &len)| InputFile::mapped(format!("/f{i}"), len)).collect()
    }

    #[test]
    fn splits_cover_every_byte_once_and_balance_workers() {
        for lens in [&[100u64][..], &[0, 7, 0, 33, 1], &[5, 5, 5], &[1_000_003]] {
            for workers in 1..=6 {
                for size in [1u64, 3, 10, 64, 1 << 20] {
                    let inputs = files(lens);
                    let plan = assign(&inputs, workers, size);
                    let mut covered: Vec<Vec<bool>> = lens.iter().map(|&l| vec![false; l as usize]).collect();
                    let total: u64 = lens.iter().sum();
                    for splits in &plan {
                        let bytes: u64 = splits.iter().map(Split::len).sum();
                        assert!(bytes.abs_diff(total / workers as u64) <= 1, "{lens:?} {workers} {size}");
                        for s in splits {
                            assert!(!s.is_empty() && s.len() <= size.max(total.div_ceil(MAX_SPLITS)));
                            for b in s.start..s.end {
                                let seen = &mut covered[s.file as usize][b as usize];
                                assert!(!*seen);
                                *seen = true;
                            }
                        }
                    }
                    assert!(covered.iter().flatten().all(|&b| b));
                }
            }
        }
    }

    #[test]
    fn files_read_whole_are_one_split_each_for_the_worker_holding_their_middle() {
        let mut inputs = files(&[100, 1000, 10, 0, 500]);
        inputs[1].form = Form::Compressed(Codec::Gzip);
        inputs[3].form = Form::Stream;
        inputs[4].form = Form::Compressed(Codec::Zstd);
        let plan = assign(&inputs, 3, 64);
        let whole: Vec<(usize, u32)> = plan
            .iter()
            .enumerate()
            .flat_map(|(rank, splits)| {
                splits.iter().filter(|s| s.file != 0 && s.file != 2).map(move |s| (rank, s.file))
            })
            .collect();
        // Bytes 0..1610: file 1 spans 100..1100 (middle 600: rank 1 of
        // 0..536..1073..1610), file 3 sits at 1110, file 4 at 1110..1610.
        assert_eq!(whole, [(1, 1), (2, 3), (2, 4)]);
        for (file, len) in [(1, 1000), (3, 0), (4, 500)] {
            let split = plan.iter().flatten().find(|s| s.file == file).unwrap();
            assert_eq!((split.start, split.end), (0, len));
        }
        let plain: u64 = plan.iter().flatten().filter(|s| s.file == 0 || s.file == 2).map(Split::len).sum();
        assert_eq!(plain, 110);
    }

    #[test]
    fn a_tiny_split_size_on_a_large_input_is_raised() {
        let inputs = files(&[30_000_000, 5]);
        let plan = assign(&inputs, 3, 1);
        let splits: usize = plan.iter().map(Vec::len).sum();
        assert!(splits as u64 <= MAX_SPLITS + 2 * 3, "{splits} splits");
        let bytes: u64 = plan.iter().flatten().map(Split::len).sum();
        assert_eq!(bytes, 30_000_005);
    }
}

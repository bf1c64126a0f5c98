//! Inputs: resolving the paths a user gave into files and cutting those
//! files into byte-range splits balanced across workers. Reading a split's
//! file is `map` (memory-mapped, with a file that shrinks meanwhile caught
//! by `sigbus`).
//!
//! The crate's `unsafe` blocks, each with its SAFETY note: mapping a file
//! (`map`), the SIGBUS handler and its installation (`sigbus`), `run`'s code
//! between fork and exec, and `metrics::process_cpu_s`.
//!
//! A split owns every word that starts inside it (see `tokenize`), so splits
//! may be cut at any byte.

mod map;
mod sigbus;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use map::{Mapped, check, map};

/// One regular file to read, with the length it had when the job was planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Absolute path, so that workers started elsewhere find the same file.
    pub path: PathBuf,
    /// Length in bytes.
    pub len: u64,
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

/// Resolves paths into the files to read, in order: a directory means every
/// regular file below it, sorted by path (symbolic links to files are
/// followed, links to directories are not walked, as Python's `os.walk`
/// does). A path given twice is read twice.
pub fn resolve(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|e| input_error(path, e.to_string()))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else if meta.is_file() {
            files.push(input_file(path, meta.len())?);
        } else {
            return Err(input_error(path, "not a regular file or directory".into()));
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<InputFile>) -> Result<()> {
    let mut entries = fs::read_dir(dir)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| input_error(dir, e.to_string()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| input_error(&path, e.to_string()))?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() || kind.is_symlink() {
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(input_file(&path, meta.len())?),
                Ok(_) => {}                       // a link to a directory or a device
                Err(_) if kind.is_symlink() => {} // a dangling link: os.walk skips it too
                Err(e) => return Err(input_error(&path, e.to_string())),
            }
        }
    }
    Ok(())
}

fn input_file(path: &Path, len: u64) -> Result<InputFile> {
    // Opening now reports an unreadable file before any worker is involved.
    File::open(path).map_err(|e| input_error(path, e.to_string()))?;
    let path = std::path::absolute(path).map_err(|e| input_error(path, e.to_string()))?;
    Ok(InputFile { path, len })
}

fn input_error(path: &Path, reason: String) -> Error {
    Error::Input { path: path.to_path_buf(), reason }
}

/// The most splits a job is cut into (beyond one per file boundary).
pub const MAX_SPLITS: u64 = 1 << 16;

/// Cuts the files into splits of at most `split_size` bytes and gives each of
/// `workers` a contiguous share of the bytes, as equal as a byte allows.
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
        lens.iter().enumerate().map(|(i, &len)| InputFile { path: format!("/f{i}").into(), len }).collect()
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
    fn a_tiny_split_size_on_a_large_input_is_raised() {
        let inputs = files(&[30_000_000, 5]);
        let plan = assign(&inputs, 3, 1);
        let splits: usize = plan.iter().map(Vec::len).sum();
        assert!(splits as u64 <= MAX_SPLITS + 2 * 3, "{splits} splits");
        let bytes: u64 = plan.iter().flatten().map(Split::len).sum();
        assert_eq!(bytes, 30_000_005);
    }

    #[test]
    fn resolve_walks_directories_in_path_order_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for name in ["b/c/z", "b/a", "a", "c"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let found = resolve(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.path.strip_prefix(dir.path()).unwrap().to_owned()).collect();
        let expected: Vec<PathBuf> = ["a", "b/a", "b/c/z", "c"].iter().map(PathBuf::from).collect();
        assert_eq!(names, expected);

        let missing = dir.path().join("nope");
        let err = resolve(std::slice::from_ref(&missing)).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("cannot read input"), "{err}");
    }
}

//! Inputs: resolving the paths a user gave into files and cutting those
//! files into byte-range splits balanced across workers. Reading a split's
//! file is `map` (memory-mapped, with a file that shrinks meanwhile caught
//! by `sigbus`).
//!
//! The crate's `unsafe` blocks, each with its SAFETY note: mapping a file
//! (`map`), the SIGBUS handler and its installation (`sigbus`), asking
//! which filesystem a file is on (`pseudo_file`, here), `run`'s code between
//! fork and exec, and `metrics::process_cpu_s`.
//!
//! A split owns every word that starts inside it (see `tokenize`), so splits
//! may be cut at any byte.

mod map;
mod sigbus;
mod spool;
mod stream;

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use map::{Mapped, check, map};
pub use spool::spool_streams;

use crate::tokenize::Tokenizer;

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
    /// Read once from start to end as one unit of work, because its size
    /// says nothing of its content: a /proc or /sys file (size 0 or 4096
    /// whatever it holds, and sysfs refuses to be mapped). `count` reads it
    /// as a stream; a job on workers first copies it into a spool file
    /// (`spool`).
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
            files.push(input_file(path)?);
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
                Ok(meta) if meta.is_file() => files.push(input_file(&path)?),
                Ok(_) => {}                       // a link to a directory or a device
                Err(_) if kind.is_symlink() => {} // a dangling link: os.walk skips it too
                Err(e) => return Err(input_error(&path, e.to_string())),
            }
        }
    }
    Ok(())
}

fn input_file(path: &Path) -> Result<InputFile> {
    // Opening now reports an unreadable file before any worker is involved.
    let (handle, meta) = map::open_regular(path)?;
    let form = if pseudo_file(&handle, meta.len()) { Form::Stream } else { Form::Mapped };
    let len = if form == Form::Stream { 0 } else { meta.len() };
    let path = std::path::absolute(path).map_err(|e| input_error(path, e.to_string()))?;
    Ok(InputFile { path, len, form })
}

/// True for a file whose size says nothing of its content: one on procfs or
/// sysfs, or one of size 0 that has bytes to read all the same.
fn pseudo_file(handle: &File, len: u64) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    // SAFETY: fstatfs writes a statfs into the zeroed value it is given,
    // for a descriptor that `handle` keeps open.
    let fs_type = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(handle.as_raw_fd(), &mut stat) != 0 {
            return false;
        }
        stat.f_type as i64
    };
    if fs_type == PROC_SUPER_MAGIC || fs_type == SYSFS_MAGIC {
        return true;
    }
    // An empty file (the usual kind of size 0) costs one read to tell apart.
    len == 0 && handle.read_at(&mut [0u8; 1], 0).is_ok_and(|n| n > 0)
}

fn input_error(path: &Path, reason: String) -> Error {
    Error::Input { path: path.to_path_buf(), reason }
}

/// Calls `word(head, bytes)` with every word that starts in `split` (see
/// `Tokenizer::words`), reading the split's file as its form says.
pub fn split_words(
    files: &[InputFile],
    split: &Split,
    tokenizer: Tokenizer,
    mut word: impl FnMut(u64, &[u8]),
) -> Result<()> {
    let file = &files[split.file as usize];
    let not_utf8 = |offset| Error::NotUtf8 { path: file.path.clone(), offset };
    match file.form {
        Form::Stream => {
            let handle = File::open(&file.path).map_err(|e| input_error(&file.path, e.to_string()))?;
            match stream::words(handle, tokenizer, word) {
                Ok(_) => Ok(()),
                Err(stream::StreamError::NotUtf8 { offset }) => Err(not_utf8(offset)),
                Err(stream::StreamError::Read(e)) => Err(input_error(&file.path, format!("cannot read it: {e}"))),
            }
        }
        Form::Mapped => {
            let range = split.start as usize..split.end as usize;
            map(file)?.read(|data| tokenizer.words(data, range, &mut word))?.map_err(|bad| not_utf8(bad.offset as u64))
        }
    }
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

//! Reading an input file through a memory mapping, safely against a file
//! that changes under the job: a file that grew is read up to the length
//! the job planned; a file deleted while mapped reads on (the mapping keeps
//! its bytes); a file that shrank fails the job with an error naming it,
//! whether it shrank before it was opened (the length check) or while it
//! was read (a fault caught by `sigbus`, or the length seen afterwards).
//! Opening never blocks, and anything but a regular file is refused: a
//! FIFO named in a job spec must not freeze a worker's event loop.

use std::fs::{File, Metadata};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, MmapOptions};

use super::{InputFile, input_error, sigbus};
use crate::error::{Error, Result};

/// A file's first `len` bytes, memory-mapped, ready to be read with
/// [`Mapped::read`].
#[derive(Debug)]
pub struct Mapped {
    path: PathBuf,
    /// The length the job planned with; the mapping's length.
    len: u64,
    /// Kept open to see the file's length after reading.
    handle: File,
    /// None for an empty file (there is nothing to map).
    map: Option<Mmap>,
}

/// Checks that `file` can be opened and still has at least the planned length.
pub fn check(file: &InputFile) -> Result<()> {
    open_checked(file).map(drop)
}

/// Opens `path` for reading without ever blocking (a FIFO or a device would
/// block `open` itself, and a worker opens its inputs on its event loop) and
/// refuses anything but a regular file.
pub(super) fn open_regular(path: &Path) -> Result<(File, Metadata)> {
    let handle = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| input_error(path, e.to_string()))?;
    let meta = handle.metadata().map_err(|e| input_error(path, e.to_string()))?;
    if !meta.is_file() {
        return Err(input_error(path, "not a regular file".into()));
    }
    Ok((handle, meta))
}

fn open_checked(file: &InputFile) -> Result<File> {
    let (handle, meta) = open_regular(&file.path)?;
    let len = meta.len();
    if len < file.len {
        return Err(shrank(&file.path, file.len, len, "before it was read"));
    }
    Ok(handle)
}

fn shrank(path: &Path, planned: u64, now: u64, when: &str) -> Error {
    input_error(path, format!("it changed {when} (it shrank from {planned} to {now} bytes)"))
}

/// Maps the first `file.len` bytes of `file` (the planned length: bytes
/// appended since are not read).
pub fn map(file: &InputFile) -> Result<Mapped> {
    let handle = open_checked(file)?;
    let map = if file.len == 0 {
        None
    } else {
        // SAFETY: the file is opened read-only and mapped privately for
        // reading. Another process may still change it under us: a change
        // in place is read as it comes (as `read` would), and pages past a
        // new, shorter end would raise SIGBUS, which `Mapped::read` absorbs
        // (see `sigbus`) and reports as an error.
        let map = unsafe { MmapOptions::new().len(file.len as usize).map(&handle) }
            .map_err(|e| input_error(&file.path, format!("cannot map it into memory: {e}")))?;
        // Advice is only a hint; a kernel that ignores it changes nothing.
        let _ = map.advise(Advice::Sequential);
        Some(map)
    };
    Ok(Mapped { path: file.path.clone(), len: file.len, handle, map })
}

impl Mapped {
    /// Runs `read` over the mapped bytes. If the file shrank meanwhile, the
    /// result is thrown away and the error names the file.
    pub fn read<T>(&self, read: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let Some(map) = self.map.as_deref() else {
            return Ok(read(&[]));
        };
        crate::failpoint::pause_reading(&self.path);
        let (value, faults) = sigbus::guarded(map, || read(map));
        let now = self.handle.metadata().map_err(|e| input_error(&self.path, e.to_string()))?.len();
        if faults > 0 || now < self.len {
            return Err(shrank(&self.path, self.len, now, "while being read"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &Path) -> InputFile {
        InputFile::mapped(path, std::fs::metadata(path).unwrap().len())
    }

    #[test]
    fn a_file_that_grew_is_read_up_to_its_planned_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "first part").unwrap();
        let planned = input(&path);
        std::fs::write(&path, "first part and more").unwrap();
        let mapped = map(&planned).unwrap();
        assert_eq!(mapped.read(<[u8]>::to_vec).unwrap(), b"first part");
    }

    #[test]
    fn a_file_that_shrank_fails_naming_it_before_or_while_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, vec![b'a'; 100_000]).unwrap();
        let planned = input(&path);
        let mapped = map(&planned).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_len(10).unwrap();
        let err = mapped.read(|bytes| bytes.iter().filter(|&&b| b == b'a').count()).unwrap_err().to_string();
        assert!(err.contains("in.txt") && err.contains("shrank from 100000 to 10 bytes"), "{err}");
        assert!(err.contains("while being read"), "{err}");
        let err = map(&planned).unwrap_err().to_string();
        assert!(err.contains("before it was read") && err.contains("to 10 bytes"), "{err}");
    }

    #[test]
    fn a_file_deleted_while_mapped_reads_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        std::fs::write(&path, "still here").unwrap();
        let mapped = map(&input(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(mapped.read(<[u8]>::to_vec).unwrap(), b"still here");
    }
}

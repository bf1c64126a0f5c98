//! The result file: written to a temporary file beside the target and renamed
//! into place only when complete, so a failed job never leaves a partial or
//! stale-looking result. Dropping an uncommitted output removes the temporary.
//!
//! A target that is not a regular file — `-` (stdout), `/dev/null`, a pipe —
//! cannot be replaced by renaming; it is written straight through. A
//! symbolic link is followed, as `sort -o` and shell redirection do: the
//! file it points to is replaced, the link stays.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An output being written; `commit` makes it visible at its target path.
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    /// `None` once committed (or after a failed commit).
    state: Option<State>,
}

enum State {
    /// A regular file: written beside `dest` (the target with symbolic
    /// links followed), renamed onto it at commit; `written` bytes handed
    /// to the kernel, whose write-back was started up to `synced`.
    Atomic { temp: PathBuf, dest: PathBuf, file: BufWriter<File>, written: u64, synced: u64 },
    /// Stdout, a device or a pipe: written as it comes.
    Stream(BufWriter<Box<dyn Write + Send>>),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Atomic { temp, .. } => write!(f, "Atomic({})", temp.display()),
            State::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// The target that means standard output.
pub const STDOUT: &str = "-";

impl Output {
    /// Opens the output. For a regular file, creates the temporary beside
    /// `target`: this fails early, before any work, if the directory is not
    /// writable or the target is a directory.
    pub fn create(target: &Path) -> Result<Output> {
        let fail = |source| Error::Output { path: target.to_path_buf(), source };
        let stream = |w: Box<dyn Write + Send>| Some(State::Stream(BufWriter::with_capacity(1 << 20, w)));
        if target.as_os_str() == STDOUT {
            return Ok(Output { target: target.to_path_buf(), state: stream(Box::new(std::io::stdout())) });
        }
        match fs::metadata(target) {
            Ok(meta) if meta.is_dir() => return Err(fail(std::io::Error::other("it is a directory"))),
            Ok(meta) if !meta.is_file() => {
                let file = OpenOptions::new().write(true).open(target).map_err(fail)?;
                return Ok(Output { target: target.to_path_buf(), state: stream(Box::new(file)) });
            }
            _ => {}
        }
        let dest = follow_links(target);
        let name = dest.file_name().ok_or_else(|| fail(std::io::Error::other("no file name")))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.partial", std::process::id()));
        let temp = dest.with_file_name(temp_name);
        let file = OpenOptions::new().write(true).create_new(true).open(&temp).map_err(fail)?;
        let file = BufWriter::with_capacity(1 << 20, file);
        let state = Some(State::Atomic { temp, dest, file, written: 0, synced: 0 });
        Ok(Output { target: target.to_path_buf(), state })
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match self.state.as_mut() {
            Some(State::Atomic { file, written, synced, .. }) => file.write_all(bytes).map(|()| {
                *written += bytes.len() as u64;
                start_write_back(file, *written, synced);
            }),
            Some(State::Stream(w)) => w.write_all(bytes),
            None => Err(std::io::Error::other("output already closed")),
        };
        result.map_err(|source| Error::Output { path: self.target.clone(), source })
    }

    /// Makes the output complete: flushes, syncs and renames the temporary
    /// file onto the target (or flushes the stream).
    pub fn commit(mut self) -> Result<()> {
        let fail = |source| Error::Output { path: self.target.clone(), source };
        match self.state.take() {
            Some(State::Atomic { temp, dest, file, .. }) => {
                let done = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .and_then(|()| fs::rename(&temp, &dest));
                if done.is_err() {
                    let _ = fs::remove_file(&temp);
                }
                done.map_err(fail)
            }
            Some(State::Stream(mut w)) => w.flush().map_err(fail),
            None => Err(fail(std::io::Error::other("output already closed"))),
        }
    }
}

/// Bytes written between two starts of write-back.
const WRITE_BACK_STEP: u64 = 8 << 20;

/// Starts writing to disk what the kernel holds of `file` (`written` bytes
/// less what `file` still buffers) beyond `synced`, every few MiB, without
/// waiting: the commit's sync then waits for the last few MiB only, not for
/// the whole result (a large output took as long to sync as to compute).
fn start_write_back(file: &BufWriter<File>, written: u64, synced: &mut u64) {
    let in_kernel = written - file.buffer().len() as u64;
    if in_kernel < *synced + WRITE_BACK_STEP {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for as long as `file` lives; the
        // call only starts write-back of a range of it, and a failure is
        // harmless (the commit's sync_all reports any write error).
        unsafe {
            libc::sync_file_range(
                file.get_ref().as_raw_fd(),
                *synced as libc::off64_t,
                (in_kernel - *synced) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    *synced = in_kernel;
}

/// `path` with symbolic links followed to the file they name (which may not
/// exist yet), relative links resolved against the link's directory.
fn follow_links(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&path) {
            Ok(next) => path = path.parent().map_or_else(|| next.clone(), |dir| dir.join(&next)),
            Err(_) => break,
        }
    }
    path
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(State::Atomic { temp, .. }) = self.state.take() {
            let _ = fs::remove_file(&temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_committed_output_appears() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        fs::write(&target, "old").unwrap();
        let mut out = Output::create(&target).unwrap();
        out.write(b"new").unwrap();
        drop(out);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut out = Output::create(&target).unwrap();
        out.write(b"new").unwrap();
        out.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_are_written_through_not_replaced() {
        let mut out = Output::create(Path::new("/dev/null")).unwrap();
        out.write(b"discarded").unwrap();
        out.commit().unwrap();
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        fs::write(dir.path().join("real/out.txt"), "old").unwrap();
        // link -> hop -> real/out.txt, the second link relative.
        std::os::unix::fs::symlink(dir.path().join("hop"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("real/out.txt", dir.path().join("hop")).unwrap();
        let mut out = Output::create(&dir.path().join("link")).unwrap();
        out.write(b"new").unwrap();
        out.commit().unwrap();
        assert!(fs::symlink_metadata(dir.path().join("link")).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(dir.path().join("hop")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(dir.path().join("real/out.txt")).unwrap(), b"new");
        // A link to a file that does not exist yet creates it, as `>` does.
        std::os::unix::fs::symlink("real/new.txt", dir.path().join("dangling")).unwrap();
        let out = Output::create(&dir.path().join("dangling")).unwrap();
        out.commit().unwrap();
        assert!(dir.path().join("real/new.txt").is_file());
        assert!(fs::symlink_metadata(dir.path().join("dangling")).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_directory_or_missing_parent_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Output::create(dir.path()).is_err());
        assert!(Output::create(&dir.path().join("no/such/dir/out.txt")).is_err());
    }
}

//! The result file: written to a temporary file beside the target and renamed
//! into place only when complete, so a failed job never leaves a partial or
//! stale-looking result. Dropping an uncommitted output removes the temporary.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An output being written; `commit` makes it visible at its target path.
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    temp: PathBuf,
    /// `None` once committed (or after a failed commit removed the temporary).
    file: Option<BufWriter<File>>,
}

impl Output {
    /// Creates the temporary file beside `target`. Fails early, before any
    /// work, if the target's directory is not writable or the target is a
    /// directory.
    pub fn create(target: &Path) -> Result<Output> {
        let fail = |source| Error::Output { path: target.to_path_buf(), source };
        if target.is_dir() {
            return Err(fail(std::io::Error::other("it is a directory")));
        }
        let name = target.file_name().ok_or_else(|| fail(std::io::Error::other("no file name")))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.partial", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file = OpenOptions::new().write(true).create_new(true).open(&temp).map_err(fail)?;
        Ok(Output { target: target.to_path_buf(), temp, file: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Err(std::io::Error::other("output already closed")),
        };
        result.map_err(|source| Error::Output { path: self.target.clone(), source })
    }

    /// Flushes, syncs and renames the temporary file onto the target.
    pub fn commit(mut self) -> Result<()> {
        let fail = |source| Error::Output { path: self.target.clone(), source };
        let writer = self.file.take().ok_or_else(|| fail(std::io::Error::other("output already closed")))?;
        let file = writer.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        fs::rename(&self.temp, &self.target).map_err(fail)?;
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
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
    fn a_directory_or_missing_parent_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Output::create(dir.path()).is_err());
        assert!(Output::create(&dir.path().join("no/such/dir/out.txt")).is_err());
    }
}

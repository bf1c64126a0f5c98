//! Inputs of unknown length, for a job on workers. Workers read files by
//! byte ranges at planned lengths, so a file that can only be read as a
//! stream (`Form::Stream`) is first copied once, by the master, into a
//! spool file in a private temporary directory (mode 700, files 600), named
//! after the input inside it; the job plans on the copy (compressed or not,
//! as its first bytes say). The directory is
//! removed when the returned guard is dropped, however the job ends.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use super::{Form, InputFile, compressed, input_error, walk};
use crate::error::{Error, Result};

/// Replaces every `Form::Stream` file of `files` with a copy of its bytes;
/// returns the directory of the copies (None if nothing needed copying).
pub fn spool_streams(files: &mut [InputFile]) -> Result<Option<tempfile::TempDir>> {
    if files.iter().all(|f| f.form == Form::Mapped) {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("wordfreq-input-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| Error::io("cannot create a spool directory for inputs of unknown length", e))?;
    for (index, file) in files.iter_mut().enumerate().filter(|(_, f)| f.form == Form::Stream) {
        let folder = dir.path().join(index.to_string());
        let name = match file.path.file_name() {
            _ if file.path.as_os_str() == super::walk::STDIN => "stdin".into(),
            Some(name) => name.to_os_string(),
            None => "input".into(),
        };
        let path = folder.join(name);
        let spool_error = |e: io::Error| Error::io(format!("cannot write spool file {}", path.display()), e);
        std::fs::create_dir(&folder).map_err(spool_error)?;
        let mut copy =
            File::options().read(true).write(true).create_new(true).mode(0o600).open(&path).map_err(spool_error)?;
        let mut source = super::read::open_stream(&file.path)?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut len = 0u64;
        loop {
            let n = match source.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(input_error(&file.path, format!("cannot read it: {e}"))),
            };
            copy.write_all(&buffer[..n]).map_err(spool_error)?;
            len += n as u64;
        }
        tracing::info!("{} ({len} bytes) copied to {} for the workers", file.path.display(), path.display());
        let form = match compressed::detect(&walk::head(&copy, len)) {
            Some(codec) => Form::Compressed(codec),
            None => Form::Mapped,
        };
        *file = InputFile { path, len, form };
    }
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_files_are_copied_and_the_copies_go_with_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, "a b").unwrap();
        let mut files =
            vec![InputFile::mapped(&plain, 3), InputFile { path: "/proc/version".into(), len: 0, form: Form::Stream }];
        let guard = spool_streams(&mut files).unwrap().unwrap();
        assert_eq!(files[0], InputFile::mapped(&plain, 3));
        assert_eq!(files[1].form, Form::Mapped);
        assert!(files[1].path.starts_with(guard.path()) && files[1].path.ends_with("version"));
        let copied = std::fs::read(&files[1].path).unwrap();
        assert!(copied.starts_with(b"Linux version") && copied.len() as u64 == files[1].len);
        let copy = files[1].path.clone();
        drop(guard);
        assert!(!copy.exists());
        assert!(spool_streams(&mut files).unwrap().is_none());
    }
}

//! Which files a job reads: the paths on the command line, resolved into
//! files in order, with directories walked the way Hadoop's input filter
//! walks them, and each file classified by how it is read (`Form`).
//!
//! A file named on the command line is always read: a regular file, `-`
//! (standard input), a FIFO or a character device (the last three read as
//! streams). Inside a directory,
//! entries whose name starts with `.` or `_` are skipped (hidden files,
//! `.git`, `_SUCCESS` and `_logs` markers), and so are the job's own output
//! file (the same file, by device and inode), anything that is not a
//! regular file, and files that `--include` / `--exclude` globs leave out.
//! A file whose first bytes are a compression format's magic is read whole
//! and decompressed (`Form::Compressed`).
//! `-v` logs every file found and every entry skipped, with the reason; a
//! file that looks binary (a NUL byte in its first 8 KiB, as grep decides)
//! is counted, and named in one warning line.

use std::fs::{self, File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Form, InputFile, compressed, input_error, map};
use crate::config::JobConfig;
use crate::error::{Error, Result};

/// The path that means standard input.
pub const STDIN: &str = "-";
/// How much of a file is looked at to decide whether it looks binary.
const BINARY_PROBE: usize = 8 << 10;
/// How many binary-looking files the warning names before it says "and N more".
const BINARY_NAMED: usize = 5;

/// What a directory walk leaves out, beyond hidden names.
#[derive(Debug, Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    /// (device, inode) of the job's output file, if it exists.
    output: Option<(u64, u64)>,
}

impl Filter {
    /// The filter of `job`: its globs (a bad glob is a usage error) and its
    /// output file.
    pub fn new(job: &JobConfig) -> Result<Filter> {
        let set = |flag: &str, globs: &[String]| -> Result<Option<GlobSet>> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = GlobSetBuilder::new();
            for glob in globs {
                builder.add(Glob::new(glob).map_err(|e| Error::Usage(format!("{flag} {glob}: {e}")))?);
            }
            builder.build().map(Some).map_err(|e| Error::Usage(format!("{flag}: {e}")))
        };
        let output = if job.output.as_os_str() == "-" { None } else { fs::metadata(&job.output).ok() };
        Ok(Filter {
            include: set("--include", &job.include)?,
            exclude: set("--exclude", &job.exclude)?,
            output: output.map(|m| (m.dev(), m.ino())),
        })
    }

    /// Why a regular file found at `relative` below a directory named on
    /// the command line is left out, if it is.
    fn leaves_out(&self, relative: &Path, meta: &Metadata) -> Option<&'static str> {
        if self.output == Some((meta.dev(), meta.ino())) {
            Some("it is this job's output")
        } else if self.exclude.as_ref().is_some_and(|g| g.is_match(relative)) {
            Some("excluded by --exclude")
        } else if self.include.as_ref().is_some_and(|g| !g.is_match(relative)) {
            Some("not matched by --include")
        } else {
            None
        }
    }
}

/// The files of `job`, in order (see the module documentation). A
/// directory's entries are read sorted by name; symbolic links to files are
/// followed, links to directories are not walked (as Python's `os.walk`);
/// a path given twice is read twice.
pub fn resolve(job: &JobConfig) -> Result<Vec<InputFile>> {
    resolve_with(&job.inputs, &Filter::new(job)?)
}

/// `resolve` with an explicit filter.
pub fn resolve_with(paths: &[PathBuf], filter: &Filter) -> Result<Vec<InputFile>> {
    let mut walk = Walk { filter, files: Vec::new(), binary: Vec::new() };
    for path in paths {
        if path.as_os_str() == STDIN {
            tracing::info!("input - (standard input, read as a stream)");
            walk.files.push(InputFile { path: path.clone(), len: 0, form: Form::Stream });
            continue;
        }
        let meta = fs::metadata(path).map_err(|e| input_error(path, e.to_string()))?;
        let kind = meta.file_type();
        if meta.is_dir() {
            walk.dir(path, path)?;
        } else if meta.is_file() && !of_this_process(path) {
            walk.file(path)?;
        } else if meta.is_file() || kind.is_fifo() || kind.is_char_device() {
            // Not opened now: opening a FIFO waits for its writer, and
            // closing it again would cut the writer off.
            let absolute = std::path::absolute(path).map_err(|e| input_error(path, e.to_string()))?;
            tracing::info!("input {} (read as a stream)", path.display());
            walk.files.push(InputFile { path: absolute, len: 0, form: Form::Stream });
        } else {
            return Err(input_error(path, "not a regular file, directory, FIFO or character device".into()));
        }
    }
    if !walk.binary.is_empty() {
        let mut names: Vec<String> = walk.binary.iter().take(BINARY_NAMED).map(|p| p.display().to_string()).collect();
        if walk.binary.len() > BINARY_NAMED {
            names.push(format!("and {} more", walk.binary.len() - BINARY_NAMED));
        }
        tracing::warn!(
            "{} input{} look{} binary (a NUL byte in the first 8 KiB), counted all the same: {}",
            walk.binary.len(),
            if walk.binary.len() == 1 { "" } else { "s" },
            if walk.binary.len() == 1 { "s" } else { "" },
            names.join(", ")
        );
    }
    Ok(walk.files)
}

struct Walk<'a> {
    filter: &'a Filter,
    files: Vec<InputFile>,
    /// Files that look binary, for the warning.
    binary: Vec<PathBuf>,
}

impl Walk<'_> {
    /// Walks `dir`, below `root` (a directory named on the command line).
    fn dir(&mut self, root: &Path, dir: &Path) -> Result<()> {
        let mut entries = fs::read_dir(dir)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| input_error(dir, e.to_string()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_name().as_encoded_bytes().first().is_some_and(|b| matches!(b, b'.' | b'_')) {
                skipped(&path, "its name starts with '.' or '_'");
                continue;
            }
            let kind = entry.file_type().map_err(|e| input_error(&path, e.to_string()))?;
            if kind.is_dir() {
                self.dir(root, &path)?;
                continue;
            }
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(_) if kind.is_symlink() => {
                    skipped(&path, "a dangling symbolic link"); // os.walk skips it too
                    continue;
                }
                Err(e) => return Err(input_error(&path, e.to_string())),
            };
            if !meta.is_file() {
                skipped(&path, "not a regular file (a link to a directory, a FIFO, a device or a socket)");
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path);
            match self.filter.leaves_out(relative, &meta) {
                Some(reason) => skipped(&path, reason),
                None => self.file(&path)?,
            }
        }
        Ok(())
    }

    /// Adds the regular file at `path`.
    fn file(&mut self, path: &Path) -> Result<()> {
        // Opening now reports an unreadable file before any worker is involved.
        let (handle, meta) = map::open_regular(path)?;
        let absolute = std::path::absolute(path).map_err(|e| input_error(path, e.to_string()))?;
        if pseudo_file(&handle, meta.len()) {
            tracing::info!("input {} (read as a stream: its size is not known)", path.display());
            self.files.push(InputFile { path: absolute, len: 0, form: Form::Stream });
            return Ok(());
        }
        let len = meta.len();
        let head = head(&handle, len);
        let form = match compressed::detect(&head) {
            Some(codec) => {
                tracing::info!("input {} ({len} bytes, {codec}: read whole, decompressed)", path.display());
                Form::Compressed(codec)
            }
            None => {
                tracing::info!("input {} ({len} bytes)", path.display());
                if head.contains(&0) {
                    self.binary.push(path.to_path_buf());
                }
                Form::Mapped
            }
        };
        self.files.push(InputFile { path: absolute, len, form });
        Ok(())
    }
}

/// True for a path that names one of this process's own descriptors
/// (`/dev/stdin`, `/dev/fd/N`, `/proc/self/…`): another process, such as a
/// worker, would open its own.
fn of_this_process(path: &Path) -> bool {
    let Ok(path) = std::path::absolute(path) else { return false };
    ["/dev/stdin", "/dev/fd", "/proc/self", "/proc/thread-self"].iter().any(|p| path.starts_with(p))
}

fn skipped(path: &Path, reason: &str) {
    tracing::info!("skipped {}: {reason}", path.display());
}

/// The file's first bytes, up to 8 KiB: enough to recognise a compressed
/// file, and where a NUL byte makes a file look binary.
pub(super) fn head(handle: &File, len: u64) -> Vec<u8> {
    let mut head = vec![0u8; BINARY_PROBE.min(len as usize)];
    let mut got = 0;
    while got < head.len() {
        match handle.read_at(&mut head[got..], got as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head.truncate(got);
    head
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(root: &Path, files: &[InputFile]) -> Vec<String> {
        files.iter().map(|f| f.path.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    fn job(paths: &[PathBuf]) -> JobConfig {
        JobConfig { output: "-".into(), ..JobConfig::new(paths.to_vec()) }
    }

    #[test]
    fn resolve_walks_directories_in_path_order_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for name in ["b/c/z", "b/a", "a", "c"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let found = resolve(&job(&[dir.path().to_path_buf()])).unwrap();
        assert_eq!(names(dir.path(), &found), ["a", "b/a", "b/c/z", "c"]);

        let missing = dir.path().join("nope");
        let err = resolve(&job(std::slice::from_ref(&missing))).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("cannot read input"), "{err}");
    }

    #[test]
    fn walks_skip_hidden_names_the_output_and_globbed_files_but_never_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [".git/HEAD", "_SUCCESS", "_logs/x.txt", "a.txt", "b.log", "sub/.hidden", "sub/c.txt", "out.txt"] {
            let path = root.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, name).unwrap();
        }
        let all = |job: JobConfig| names(root, &resolve(&job).unwrap());
        let base = JobConfig { output: root.join("out.txt"), ..JobConfig::new(vec![root.to_path_buf()]) };
        assert_eq!(all(base.clone()), ["a.txt", "b.log", "sub/c.txt"]);
        assert_eq!(all(JobConfig { include: vec!["*.txt".into()], ..base.clone() }), ["a.txt", "sub/c.txt"]);
        assert_eq!(all(JobConfig { exclude: vec!["sub/*".into()], ..base.clone() }), ["a.txt", "b.log"]);
        // Named on the command line: read whatever the rules say.
        let named = vec![root.join("_SUCCESS"), root.join("sub/.hidden"), root.join("out.txt"), root.join("b.log")];
        let job = JobConfig { inputs: named, include: vec!["*.txt".into()], ..base.clone() };
        assert_eq!(all(job), ["_SUCCESS", "sub/.hidden", "out.txt", "b.log"]);
        let bad = JobConfig { include: vec!["a[".into()], ..base };
        assert!(matches!(resolve(&bad), Err(Error::Usage(_))));
    }

    #[test]
    fn a_nul_in_the_first_8_kib_looks_binary() {
        let dir = tempfile::tempdir().unwrap();
        let check = |bytes: &[u8]| {
            let path = dir.path().join("f");
            fs::write(&path, bytes).unwrap();
            head(&File::open(&path).unwrap(), bytes.len() as u64).contains(&0)
        };
        assert!(check(b"text\0more"));
        assert!(!check(b"plain text"));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert!(!check(&late));
    }
}

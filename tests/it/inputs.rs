//! What counts as an input and how it is read: files that are not regular
//! (a FIFO must never block a worker), files whose size says nothing of
//! their content (/proc, /sys), compared with the oracle on the bytes they
//! hold.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::oracle;
use crate::util::{BIN, Dir, Worker, addrs, assert_same, data, fails, ok};

/// Runs `wordfreq ARGS... PATHS...` in `dir`, which must succeed, with its
/// temporary files in `dir/tmp`; returns its result file.
fn result(dir: &Dir, args: &[&str], paths: &[&Path]) -> Vec<u8> {
    let mut cmd = dir.cmd(&[args, &["-q", "-o", "out.txt"]].concat());
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    cmd.args(paths).env("TMPDIR", tmp);
    ok(cmd);
    dir.read("out.txt")
}

/// A /proc file whose content does not change (its size says 0) and a
/// sysfs file (its size says 4096, and sysfs refuses to be mapped).
const PROC_FILE: &str = "/proc/filesystems";
const SYS_FILE: &str = "/sys/devices/system/cpu/online";

#[test]
fn proc_and_sys_files_are_read_not_mapped() {
    let dir = Dir::new();
    let workers = [Worker::start(), Worker::start()];
    let list = addrs(&workers);
    for file in [PROC_FILE, SYS_FILE] {
        let path = Path::new(file);
        let expected = oracle::expected_for(path);
        assert!(!expected.is_empty(), "{file} holds words");
        for args in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &list]] {
            let what = format!("{args:?} {file}");
            assert_same(&what, &result(&dir, args, &[path]), &expected);
        }
        // Beside a regular file, in every command.
        let plain = dir.write("plain.txt", "nodev proc extra words\n");
        let expected = oracle::expected(&[plain.clone(), PathBuf::from(file)], true);
        for args in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &list]] {
            assert_same(&format!("{args:?} plain + {file}"), &result(&dir, args, &[&plain, path]), &expected);
        }
    }
    // The copies the master made for its workers are gone.
    let left: Vec<_> = std::fs::read_dir(dir.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_fifo_in_a_job_spec_is_refused_and_the_worker_serves_the_next_job() {
    // The master sees a regular file; the worker, in its own mount
    // namespace, finds a FIFO at that path. Opening it must not block the
    // worker's event loop. Needs unshare(1) and the right to use it.
    let dir = Dir::new();
    let hidden = dir.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    let input = hidden.join("in.txt");
    std::fs::write(&input, "words on the master\n").unwrap();
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /mnt"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: this process may not create mount namespaces (unshare --mount needs root)");
        return;
    }
    let script = format!(
        "mount -t tmpfs none '{hidden}' && mkfifo '{fifo}' && exec '{BIN}' worker --listen 127.0.0.1:0 --threads 1",
        hidden = hidden.display(),
        fifo = input.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let mut workers = [Worker::spawn(cmd)];
    let stderr = fails(dir.cmd(&["master", "-q", "--workers", &addrs(&workers), input.to_str().unwrap()]), 1);
    let cause = format!("cannot read input {}: not a regular file", input.display());
    assert!(stderr.contains(&cause) && !stderr.contains("--ship"), "{stderr}");
    assert!(workers[0].is_alive());

    let next = dir.write("next.txt", "next job next\n");
    assert_same("next job", &result(&dir, &["master", "--workers", &addrs(&workers)], &[&next]), b"next 2\njob 1\n");
}

/// A corpus folder as people have them: hidden files, Hadoop markers, last
/// run's result, a binary file, and text in subfolders. Returns the files a
/// walk reads, in order: `a.txt`, `b.log`, `data.bin`, `resultats.txt` (last
/// run's result, read unless it is this job's output), `sub/c.txt`.
fn corpus(dir: &Dir) -> Vec<PathBuf> {
    dir.write("corpus/.git/HEAD", "ref: refs/heads/main\n");
    dir.write("corpus/.hidden.txt", "hidden words\n");
    dir.write("corpus/_SUCCESS", "");
    dir.write("corpus/_logs/history.txt", "log words\n");
    dir.write("corpus/sub/.cache", "cached words\n");
    let counted = [
        dir.write("corpus/a.txt", "the quick brown fox\n"),
        dir.write("corpus/b.log", "The log line the end\n"),
        dir.write("corpus/data.bin", b"bin\0ary the\n"),
        dir.write("corpus/resultats.txt", PREVIOUS),
        dir.write("corpus/sub/c.txt", "sub folder words the\n"),
    ];
    counted.to_vec()
}

/// Last run's result in the corpus.
const PREVIOUS: &str = "the 1000\nold 999\n";

/// The files of `all` at `indices`.
fn pick(all: &[PathBuf], indices: &[usize]) -> Vec<PathBuf> {
    indices.iter().map(|&i| all[i].clone()).collect()
}

#[test]
fn directory_walks_skip_hidden_names_markers_and_the_jobs_own_output() {
    let dir = Dir::new();
    let counted = corpus(&dir);
    let expected = oracle::expected(&pick(&counted, &[0, 1, 2, 4]), true);
    let workers = [Worker::start(), Worker::start()];
    let list = addrs(&workers);
    for args in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &list]] {
        // Twice in the folder itself: the second run does not count the first's result.
        for round in 1..=2 {
            let mut cmd = dir.cmd(&[args, &["-q", "."]].concat());
            cmd.current_dir(dir.join("corpus"));
            ok(cmd);
            let what = format!("{args:?} round {round}");
            assert_same(&what, &std::fs::read(dir.join("corpus/resultats.txt")).unwrap(), &expected);
        }
        std::fs::write(dir.join("corpus/resultats.txt"), PREVIOUS).unwrap();
    }
    // Named on the command line, hidden and marker files are read.
    let named = [dir.join("corpus/.hidden.txt"), dir.join("corpus/_logs/history.txt"), dir.join("corpus/a.txt")];
    let paths: Vec<&Path> = named.iter().map(PathBuf::as_path).collect();
    assert_same("named files", &result(&dir, &["count"], &paths), &oracle::expected(&named, true));
}

#[test]
fn include_and_exclude_globs_select_files_in_directories() {
    let dir = Dir::new();
    let counted = corpus(&dir);
    let workers = [Worker::start()];
    let list = addrs(&workers);
    let root = dir.join("corpus");
    let txt = oracle::expected(&pick(&counted, &[0, 3, 4]), true);
    let not_sub = oracle::expected(&counted[..4], true);
    let only_txt = oracle::expected(&pick(&counted, &[0, 3]), true);
    for args in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &list]] {
        let with = |globs: &[&str]| result(&dir, &[args, globs].concat(), &[&root]);
        assert_same(&format!("{args:?} --include"), &with(&["--include", "*.txt"]), &txt);
        assert_same(&format!("{args:?} --exclude"), &with(&["--exclude", "sub/*"]), &not_sub);
        let both = with(&["--include", "*.txt", "--include", "*.log", "--exclude", "sub/**", "--exclude", "*.log"]);
        assert_same(&format!("{args:?} both"), &both, &only_txt);
    }
    // A file named on the command line is read whatever the globs say.
    let named = result(&dir, &["count", "--include", "*.txt"], &[&counted[1]]);
    assert_same("named", &named, &oracle::expected(&counted[1..2], true));
    let stderr = fails(dir.cmd(&["count", "--include", "a[", "corpus"]), 2);
    assert!(stderr.contains("--include a["), "{stderr}");
}

#[test]
fn a_binary_looking_file_is_counted_and_named_in_one_warning_and_verbose_lists_inputs() {
    let dir = Dir::new();
    let counted = corpus(&dir);
    let out = ok(dir.cmd(&["count", "-o", "out.txt", "corpus"]));
    assert_same("with a binary file", &dir.read("out.txt"), &oracle::expected(&counted, true));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("binary")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("1 input looks binary") && warnings[0].contains("data.bin"), "{stderr}");
    let quiet = ok(dir.cmd(&["count", "-q", "-o", "out.txt", "corpus"]));
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));

    let verbose = ok(dir.cmd(&["count", "-v", "-o", "out.txt", "--exclude", "*.log", "corpus"]));
    let log = String::from_utf8_lossy(&verbose.stderr);
    for (name, says) in [
        ("corpus/a.txt", "input corpus/a.txt (20 bytes)"),
        ("corpus/sub/c.txt", "input corpus/sub/c.txt"),
        ("corpus/.git", "skipped corpus/.git: its name starts with '.' or '_'"),
        ("corpus/_SUCCESS", "skipped corpus/_SUCCESS: its name starts with '.' or '_'"),
        ("corpus/b.log", "skipped corpus/b.log: excluded by --exclude"),
        ("corpus/resultats.txt", "input corpus/resultats.txt"),
    ] {
        assert!(log.contains(says), "{name}: expected {says:?} in\n{log}");
    }
    let mut cmd = dir.cmd(&["count", "-v", "."]);
    cmd.current_dir(dir.join("corpus"));
    let log = String::from_utf8_lossy(&ok(cmd).stderr).into_owned();
    assert!(log.contains("skipped ./resultats.txt: it is this job's output"), "{log}");
}

/// Starts `cmd` with `feed` writing its standard input from a thread (so a
/// large input streams), and waits for it.
fn with_stdin(mut cmd: Command, feed: impl FnOnce(&mut dyn Write) + Send + 'static) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || feed(&mut stdin));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn succeeded(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn standard_input_and_fifos_are_read_by_every_command() {
    let dir = Dir::new();
    let text = std::fs::read(data("kjvbible.txt")).unwrap()[..1_500_000].to_vec();
    let copy = dir.write("copy.txt", &text);
    let other = dir.write("other.txt", "In the beginning again\n");
    let workers = [Worker::start(), Worker::start()];
    let list = addrs(&workers);
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for args in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &list]] {
        for (paths, expected) in [
            (&["-"][..], oracle::expected_for(&copy)),
            (&["/dev/stdin"], oracle::expected_for(&copy)),
            (&["other.txt", "-", "other.txt"], oracle::expected(&[other.clone(), copy.clone(), other.clone()], true)),
        ] {
            let mut cmd = dir.cmd(&[args, &["-q", "--split-size", "64K", "-o", "out.txt"], paths].concat());
            cmd.env("TMPDIR", &tmp);
            let fed = text.clone();
            succeeded(&with_stdin(cmd, move |stdin| stdin.write_all(&fed).unwrap()));
            assert_same(&format!("{args:?} {paths:?}"), &dir.read("out.txt"), &expected);
        }

        // A FIFO: the writer opens it once the command does.
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        mkfifo(&fifo);
        let fed = text.clone();
        let path = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::write(path, fed).unwrap());
        let mut cmd = dir.cmd(&[args, &["-q", "-o", "out.txt", "fifo"]].concat());
        cmd.env("TMPDIR", &tmp);
        ok(cmd);
        writer.join().unwrap();
        assert_same(&format!("{args:?} fifo"), &dir.read("out.txt"), &oracle::expected_for(&copy));
    }
    // The copies made for the workers are gone.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

#[test]
fn a_pipe_larger_than_the_memory_allowed_is_counted() {
    // 192 MiB through a pipe, with the process's private writable memory
    // (RLIMIT_DATA) capped at 96 MiB: holding the input would fail.
    const WORDS: [&str; 8] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    let block = format!("{}\n", WORDS.join(" ")).repeat(4096).into_bytes();
    let blocks = (192 << 20) / block.len();
    let mut sorted = WORDS.to_vec();
    sorted.sort();
    let expected: String = sorted.iter().map(|w| format!("{w} {}\n", 4096 * blocks)).collect();
    let dir = Dir::new();
    for args in ["count -t 1", "run -w 1"] {
        let script = format!("ulimit -d {} && exec '{BIN}' {args} -q -o out.txt -", 96 << 10);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]).current_dir(dir.path()).env("TMPDIR", dir.path());
        let block = block.clone();
        let out = with_stdin(cmd, move |stdin| {
            for _ in 0..blocks {
                stdin.write_all(&block).unwrap();
            }
        });
        succeeded(&out);
        assert_same(args, &dir.read("out.txt"), expected.as_bytes());
    }
}

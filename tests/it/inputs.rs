//! What counts as an input and how it is read: files that are not regular
//! (a FIFO must never block a worker), files whose size says nothing of
//! their content (/proc, /sys), compared with the oracle on the bytes they
//! hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::oracle;
use crate::util::{BIN, Dir, Worker, addrs, assert_same, fails, ok};

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

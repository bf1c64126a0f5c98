//! Inputs that change under a running job (issue 8 §2). The process is
//! paused at a known point, with the input mapped and about to be read
//! (`WORDFREQ_PAUSE_READING`: it reports on one FIFO and waits on another),
//! the test truncates, grows or deletes the file, and lets it go on. A file
//! that shrank fails the job with a clear error naming it — no crash, and a
//! worker serves the next job; one that grew or was deleted reads as it was
//! planned.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::oracle;
use crate::util::{Dir, Pause, Worker, addrs, assert_same};

/// Some megabytes of text in lines of words.
fn big_text() -> Vec<u8> {
    let mut text = Vec::new();
    let mut i = 0u64;
    while text.len() < 6 << 20 {
        text.extend_from_slice(format!("word{} Other{} x\n", i % 5000, i % 77).as_bytes());
        i += 1;
    }
    text
}

fn spawn(mut cmd: Command, pause: &Pause) -> Child {
    let (key, value) = pause.env();
    cmd.env(key, value).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// A job that failed with status 1 because `file` shrank while read.
fn assert_failed_on_shrink(out: &Output, file: &Path, planned: usize) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let cause = format!("{}: it changed while being read (it shrank from {planned} to 1000 bytes)", file.display());
    assert!(stderr.contains(&cause), "expected {cause:?} in:\n{stderr}");
}

fn truncate(path: &Path) {
    std::fs::File::options().write(true).open(path).unwrap().set_len(1000).unwrap();
}

#[test]
fn count_fails_cleanly_when_its_input_shrinks_while_read() {
    let dir = Dir::new();
    let text = big_text();
    let file = dir.write("big.txt", &text);
    let pause = Pause::new(&dir);
    let mut child = spawn(dir.cmd(&["count", "-q", "-t", "1", "--split-size", "1M", "big.txt"]), &pause);
    assert_eq!(pause.wait(&mut child), file.to_str().unwrap());
    truncate(&file);
    pause.resume();
    let out = finish(child);
    assert_failed_on_shrink(&out, &file, text.len());
    assert!(!dir.join("resultats.txt").exists());
}

#[test]
fn a_worker_survives_an_input_that_shrinks_while_read_and_serves_the_next_job() {
    let dir = Dir::new();
    let text = big_text();
    let pause = Pause::new(&dir);
    let (key, value) = pause.env();
    // One worker, one thread: the paused read is the only one.
    let mut cmd = Command::new(crate::util::BIN);
    cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1"]).env(key, value);
    let workers = [Worker::spawn(cmd)];
    let file = dir.write("big.txt", &text);
    let mut child = spawn(dir.cmd(&["master", "-q", "--workers", &addrs(&workers), "big.txt"]), &pause);
    pause.wait(&mut child);
    truncate(&file);
    pause.resume();
    let out = finish(child);
    assert_failed_on_shrink(&out, &file, text.len());
    assert!(!dir.join("resultats.txt").exists());

    // The same daemons, the next job: right.
    let again = dir.write("again.txt", &text[..100_000]);
    crate::util::ok(dir.cmd(&["master", "-q", "--workers", &addrs(&workers), "-o", "next.txt", "again.txt"]));
    assert_same("next job", &dir.read("next.txt"), &oracle::expected_for(&again));
}

#[test]
fn run_fails_cleanly_when_its_input_shrinks_while_a_worker_reads_it() {
    let dir = Dir::new();
    let text = big_text();
    let file = dir.write("big.txt", &text);
    let pause = Pause::new(&dir);
    let mut child = spawn(dir.cmd(&["run", "-q", "-w", "1", "big.txt"]), &pause);
    pause.wait(&mut child);
    truncate(&file);
    pause.resume();
    let out = finish(child);
    assert_failed_on_shrink(&out, &file, text.len());
}

#[test]
fn a_file_that_grows_while_read_is_read_up_to_its_planned_length() {
    let dir = Dir::new();
    let file = dir.write("big.txt", big_text());
    let expected = oracle::expected_for(&file);
    let pause = Pause::new(&dir);
    let mut child = spawn(dir.cmd(&["count", "-q", "-t", "2", "--split-size", "1M", "big.txt"]), &pause);
    pause.wait(&mut child);
    let mut appending = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut appending, b" appended words are not read\n").unwrap();
    pause.resume();
    let out = finish(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same("grown", &dir.read("resultats.txt"), &expected);
}

#[test]
fn a_file_deleted_while_mapped_reads_on_and_later_splits_name_it() {
    // One split: the mapping holds the file, which reads as it was.
    let dir = Dir::new();
    let file = dir.write("big.txt", big_text());
    let expected = oracle::expected_for(&file);
    let pause = Pause::new(&dir);
    let mut child = spawn(dir.cmd(&["count", "-q", "-t", "1", "--split-size", "64M", "big.txt"]), &pause);
    pause.wait(&mut child);
    std::fs::remove_file(&file).unwrap();
    pause.resume();
    let out = finish(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same("deleted", &dir.read("resultats.txt"), &expected);

    // Several splits: the next one cannot open the file, and says so.
    let file = dir.write("big.txt", big_text());
    let mut child =
        spawn(dir.cmd(&["count", "-q", "-t", "1", "--split-size", "1M", "-o", "second.txt", "big.txt"]), &pause);
    pause.wait(&mut child);
    std::fs::remove_file(&file).unwrap();
    pause.resume();
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot read input {}: No such file", file.display())), "{stderr}");
    assert!(!dir.join("second.txt").exists());
}

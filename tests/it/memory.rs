//! `--memory-limit`: a vocabulary that does not fit stops the job with an
//! error that names the limit, leaves no output (and an old one as it was),
//! and leaves workers ready for the next job; a generous limit changes
//! nothing.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{BIN, Dir, Worker, addrs, assert_same, data, fails, ok, without_secret};

/// `n` distinct words (hex of a scrambled counter, about 16 bytes), one a line.
fn distinct_words(n: u64) -> Vec<u8> {
    let mut text = Vec::with_capacity(n as usize * 17);
    for i in 0..n {
        writeln!(text, "{:x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).unwrap();
    }
    text
}

/// The result for words that are all distinct: each once, by their bytes
/// (the oracle's answer, in less time).
fn counted_once(text: &[u8]) -> Vec<u8> {
    let mut words: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    let mut out = Vec::with_capacity(text.len() + 2 * words.len());
    for word in words {
        out.extend_from_slice(word);
        out.extend_from_slice(b" 1\n");
    }
    out
}

/// The error says what happened, how far it got, the limit, and what to do.
fn assert_memory_error(stderr: &str, limit: &str) {
    for part in [
        "the vocabulary does not fit in memory: ",
        " in use after ",
        " distinct words, over the limit of ",
        &format!("{limit} (--memory-limit); use more workers"),
        "raise --memory-limit",
    ] {
        assert!(stderr.contains(part), "missing {part:?} in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The names in a directory, sorted.
fn listing(dir: &Dir) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn count_over_the_limit_fails_clearly_and_keeps_the_old_result() {
    let dir = Dir::new();
    let input = dir.write("distinct.txt", distinct_words(600_000));
    dir.write("out.txt", "old result\n");
    let path = input.to_str().unwrap();
    let small = ["count", "-q", "--memory-limit", "8M", "--split-size", "1M"];
    let stderr = fails(dir.cmd(&[&small[..], &["-o", "out.txt", path]].concat()), 1);
    assert_memory_error(&stderr, "8.00 MiB");
    assert_eq!(dir.read("out.txt"), b"old result\n");
    assert_eq!(listing(&dir), ["distinct.txt", "out.txt"], "a temporary file was left");
    // Without an old result, none is made.
    fails(dir.cmd(&[&small[..], &["-o", "new.txt", path]].concat()), 1);
    assert_eq!(listing(&dir), ["distinct.txt", "out.txt"]);
    // A generous limit (and the default) changes nothing.
    ok(dir.cmd(&["count", "-q", "--memory-limit", "1.5GiB", "-o", "out.txt", path]));
    assert_same("count under a generous limit", &dir.read("out.txt"), &counted_once(&dir.read("distinct.txt")));
}

#[test]
fn count_stops_inside_one_endless_split() {
    // Standard input is one split that never ends here: only a check
    // inside the split can stop it, and it must stop reading at once.
    let dir = Dir::new();
    let mut cmd = Command::new(BIN);
    without_secret(&mut cmd);
    cmd.args(["count", "-q", "--memory-limit", "32M", "-o", "out.txt", "-"]).current_dir(dir.path());
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (exited, wait_exit) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&distinct_words(2_000_000)); // fails once count has stopped reading
        // Keep the input open until count exits; a count that waits for
        // the end of its input is the failure (given up after 2 minutes).
        let gave_up = wait_exit.recv_timeout(Duration::from_secs(120)).is_err();
        drop(stdin);
        gave_up
    });
    let out = child.wait_with_output().unwrap();
    let _ = exited.send(());
    assert!(!writer.join().unwrap(), "count did not stop before its input ended");
    assert_eq!(out.status.code(), Some(1));
    assert_memory_error(&String::from_utf8_lossy(&out.stderr), "32.00 MiB");
    assert!(!dir.join("out.txt").exists());
}

#[test]
fn run_names_the_worker_over_its_share_of_the_limit() {
    let dir = Dir::new();
    let input = dir.write("distinct.txt", distinct_words(600_000));
    dir.write("out.txt", "old result\n");
    let args = ["run", "-q", "--workers", "2", "--memory-limit", "16M", "-o", "out.txt", input.to_str().unwrap()];
    let stderr = fails(dir.cmd(&args), 1);
    // Each of the two workers has half of it.
    assert_memory_error(&stderr, "8.00 MiB");
    assert!(stderr.contains("wordfreq: error: worker ") && stderr.contains(" (127.0.0.1:"), "{stderr}");
    assert_eq!(dir.read("out.txt"), b"old result\n");
    assert_eq!(listing(&dir), ["distinct.txt", "out.txt"]);
}

#[test]
fn a_worker_over_its_limit_fails_the_job_then_serves_the_next() {
    let workers: Vec<Worker> = (0..2)
        .map(|_| {
            let mut cmd = Command::new(BIN);
            // The next job (the sample text) peaks at about 12 MiB a worker,
            // which a limit of 12M left no room for when tests run side by side.
            cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "--memory-limit", "16M", "-v"]);
            Worker::spawn(cmd)
        })
        .collect();
    let dir = Dir::new();
    let input = dir.write("distinct.txt", distinct_words(1_200_000));
    let list = addrs(&workers);
    let stderr = fails(dir.cmd(&["master", "-q", "--workers", &list, "-o", "out.txt", input.to_str().unwrap()]), 1);
    assert_memory_error(&stderr, "16.00 MiB");
    let named = (0..2).any(|r| stderr.contains(&format!("worker {r} ({}) failed during ", workers[r].addr)));
    assert!(named, "{stderr}");
    assert!(!dir.join("out.txt").exists());
    // The workers let go of the failed job's tables and count the next one.
    let kjv = data("kjvbible.txt");
    ok(dir.cmd(&["master", "-q", "--workers", &list, "-o", "out.txt", kjv.to_str().unwrap()]));
    assert_same("the next job", &dir.read("out.txt"), &std::fs::read(data("kjvbible.expected.txt")).unwrap());
}

#[test]
fn a_limit_that_is_not_a_size_is_a_usage_error() {
    let dir = Dir::new();
    dir.write("in.txt", "a b a");
    for bad in ["0", "2X", "150%", "-1G"] {
        let stderr = fails(dir.cmd(&["count", "-q", &format!("--memory-limit={bad}"), "in.txt"]), 2);
        assert!(stderr.contains("--memory-limit"), "{bad}: {stderr}");
    }
    assert!(!dir.join("resultats.txt").exists());
    // Any memory is plenty for three words; a share of memory too.
    ok(dir.cmd(&["count", "-q", "--memory-limit", "50%", "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"a 2\nb 1\n");
}

//! SIGINT and SIGTERM mid-job. The process is stopped at a known point
//! (`WORDFREQ_CRASH_AT=ROLE:PHASE:stop`), sent the signal, and continued,
//! so the signal always lands in the middle of the job: the command exits
//! 128 + signal, leaves no output and no temporary file, and the workers
//! drop the job (`run`'s worker processes end); a worker sent SIGTERM
//! aborts its job, telling the master why, and exits.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, Worker, addrs, data, ok};

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// Waits until process `pid` is stopped (it stops itself at its fault point).
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
        if state == Some("T") {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} never stopped: {stat}");
        std::thread::sleep(Duration::from_millis(20)); // polling a state, not ordering events
    }
}

/// Stops `child` at its fault point, sends it `sig`, and lets it go on.
fn interrupt(child: &Child, sig: i32) {
    wait_stopped(child.id());
    signal(child.id(), sig);
    signal(child.id(), libc::SIGCONT);
}

/// Files in `dir` other than the ones named.
fn leftovers(dir: &Dir, expected: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect()
}

#[test]
fn an_interrupted_master_aborts_the_job_and_leaves_nothing() {
    let kjv = data("kjvbible.txt");
    let workers = [Worker::start(), Worker::start()];
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let dir = Dir::new();
        dir.write("resultats.txt", "previous\n");
        let mut cmd = dir.cmd(&["master", "-q", "--metrics", "m.json", "--workers", &addrs(&workers)]);
        cmd.arg(&kjv).env("WORDFREQ_CRASH_AT", "master:shuffle2:stop").stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        interrupt(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("stopped by SIG"), "{stderr}");
        assert_eq!(dir.read("resultats.txt"), b"previous\n");
        assert_eq!(leftovers(&dir, &["resultats.txt"]), Vec::<String>::new());
        // The workers log the abort on their own time: poll their logs.
        let deadline = Instant::now() + Duration::from_secs(20);
        for worker in &workers {
            while !worker.log().contains("the master aborted the job") {
                assert!(Instant::now() < deadline, "{}", worker.log());
                std::thread::sleep(Duration::from_millis(50)); // polling a log, not ordering events
            }
        }
    }
    let dir = Dir::new();
    dir.write("in.txt", "again\n");
    ok(dir.cmd(&["master", "-q", "--workers", &addrs(&workers), "in.txt"]));
}

#[test]
fn an_interrupted_run_ends_its_workers() {
    let kjv = data("kjvbible.txt");
    let dir = Dir::new();
    let marker = format!("signals-{}-{}", std::process::id(), line!());
    let mut cmd = dir.cmd(&["run", "-q", "-w", "2", "-o", "out.txt"]);
    cmd.arg(&kjv)
        .env("WORDFREQ_CRASH_AT", "master:sort_output:stop")
        .env("WORDFREQ_TEST_MARKER", &marker)
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    interrupt(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(leftovers(&dir, &[]), Vec::<String>::new());
    assert_eq!(crate::faults::processes_marked(&marker), Vec::<String>::new(), "workers left");
}

#[test]
fn a_worker_sent_sigterm_aborts_its_job_and_exits() {
    let kjv = data("kjvbible.txt");
    let mut workers = [Worker::start(), Worker::start_with(&[("WORDFREQ_CRASH_AT", "worker:shuffle1:stop")])];
    let dir = Dir::new();
    let mut cmd = dir.cmd(&["master", "-q", "--workers", &addrs(&workers)]);
    cmd.arg(&kjv).stderr(Stdio::piped());
    let master = cmd.spawn().unwrap();
    let pid = workers[1].pid();
    wait_stopped(pid);
    signal(pid, libc::SIGTERM);
    signal(pid, libc::SIGCONT);
    let out = master.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("worker 1") && stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert_eq!(workers[1].wait_exit(), Some(143), "{}", workers[1].log());
    assert!(!dir.join("resultats.txt").exists());
    let next = Dir::new();
    next.write("in.txt", "a\n");
    ok(next.cmd(&["master", "-q", "--workers", &workers[0].addr, "in.txt"]));
}

#[test]
fn an_interrupted_count_leaves_nothing() {
    let kjv = data("kjvbible.txt");
    let dir = Dir::new();
    let mut cmd = dir.cmd(&["count", "-q", "--split-size", "64K", "--metrics", "m.json"]);
    cmd.arg(&kjv).env("WORDFREQ_CRASH_AT", "count:shuffle1:stop").stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    interrupt(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(leftovers(&dir, &[]), Vec::<String>::new());
}

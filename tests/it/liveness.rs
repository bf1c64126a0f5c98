//! Liveness: a node that stops responding while its connections stay open
//! (a stopped process, a hung machine) is noticed within the heartbeat
//! timeout and named, in any phase; a node that is merely slow — a busy
//! worker, a master whose output is read slowly — is never taken for a
//! stopped one. Stops are deliberate (`WORDFREQ_CRASH_AT=ROLE:PHASE:stop`,
//! a SIGSTOP at a known point), not timed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::oracle;
use crate::util::{BIN, Dir, Pause, Worker, addrs, assert_same, data, fails, ok};

/// A job on these workers succeeds and is right.
fn assert_serves(workers: &[&Worker]) {
    let dir = Dir::new();
    dir.write("in.txt", "next job next\n");
    let list: Vec<&str> = workers.iter().map(|w| w.addr.as_str()).collect();
    ok(dir.cmd(&["master", "-q", "--workers", &list.join(","), "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"next 2\njob 1\n");
}

#[test]
fn a_stopped_worker_is_named_within_the_heartbeat_timeout_in_any_phase() {
    let kjv = data("kjvbible.txt");
    for phase in ["shuffle1", "local_count", "redistribute", "shuffle2", "sort_output"] {
        let stop = format!("worker:{phase}:stop");
        let mut workers = [Worker::start(), Worker::start_with(&[("WORDFREQ_CRASH_AT", &stop)])];
        let dir = Dir::new();
        dir.write("old.txt", "the previous result\n");
        let started = Instant::now();
        let stderr = fails(
            dir.cmd(&[
                "master",
                "--heartbeat-timeout",
                "2",
                "--workers",
                &addrs(&workers),
                "-o",
                "old.txt",
                kjv.to_str().unwrap(),
            ]),
            1,
        );
        let took = started.elapsed();
        let named = format!("worker 1 ({}) stopped responding during {phase}", workers[1].addr);
        assert!(stderr.contains(&named), "stop at {phase}: {stderr}");
        assert!(took < Duration::from_secs(12), "stop at {phase}: noticed after {took:?}");
        assert_eq!(dir.read("old.txt"), b"the previous result\n", "the old output is untouched");
        assert!(workers[1].is_alive(), "stopped, not dead");
        workers[1].kill();
        assert_serves(&[&workers[0]]);
    }
}

#[test]
fn a_job_whose_only_worker_stops_fails_within_the_heartbeat_timeout() {
    // With no other link to wake the master's loop, the silent link's
    // failure must still be reported (it once waited for the next event,
    // which never came).
    for phase in ["init", "shuffle1"] {
        let stop = format!("worker:{phase}:stop");
        let mut worker = Worker::start_with(&[("WORDFREQ_CRASH_AT", &stop)]);
        let dir = Dir::new();
        dir.write("in.txt", "a b a\n");
        let mut master = dir.cmd(&["master", "--heartbeat-timeout", "1", "--workers", &worker.addr, "in.txt"]);
        let mut master = master.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while master.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = master.kill();
                panic!("stop at {phase}: the master still runs after 30 s");
            }
            std::thread::sleep(Duration::from_millis(50)); // polling a process, not ordering events
        }
        let out = master.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "stop at {phase}: {stderr}");
        let named = format!("worker 0 ({}) stopped responding during {phase}", worker.addr);
        assert!(stderr.contains(&named), "stop at {phase}: {stderr}");
        assert!(!dir.join("resultats.txt").exists());
        worker.kill();
    }
}

#[test]
fn a_worker_that_never_answers_is_named_not_the_one_that_waits_with_it() {
    let workers = [Worker::start(), Worker::start()];
    // Stopped before any job: it accepts (the kernel does) but never says hello.
    // SAFETY: kill has no memory preconditions; the pid is our own child's.
    assert_eq!(unsafe { libc::kill(workers[1].pid() as i32, libc::SIGSTOP) }, 0);
    let dir = Dir::new();
    dir.write("in.txt", "a b a\n");
    let stderr = fails(dir.cmd(&["master", "--heartbeat-timeout", "1", "--workers", &addrs(&workers), "in.txt"]), 1);
    let named = format!("cannot reach worker 1 at {}", workers[1].addr);
    assert!(stderr.contains(&named), "{stderr}");
    assert!(!stderr.contains(&workers[0].addr), "the worker that answered is not to blame: {stderr}");
}

#[test]
fn workers_drop_the_job_of_a_stopped_master_and_serve_the_next() {
    let kjv = data("kjvbible.txt");
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    let mut master = dir.cmd(&["master", "-q", "--heartbeat-timeout", "2", "--workers", &addrs(&workers)]);
    master.arg(&kjv).env("WORDFREQ_CRASH_AT", "master:shuffle2:stop").stdout(Stdio::null()).stderr(Stdio::null());
    let mut master = master.spawn().unwrap();
    // Each worker notices the silence and goes back to idle by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    for worker in &workers {
        while !worker.log().contains("lost the master: stopped responding") {
            assert!(Instant::now() < deadline, "{} did not let the master go:\n{}", worker.addr, worker.log());
            std::thread::sleep(Duration::from_millis(50)); // polling a log, not ordering events
        }
        let out = ok(dir.cmd(&["status", "--workers", &worker.addr]));
        assert!(String::from_utf8_lossy(&out.stdout).contains("  idle  "), "{}", worker.log());
    }
    let _ = master.kill();
    let _ = master.wait();
    assert_serves(&[&workers[0], &workers[1]]);
    assert!(!dir.join("resultats.txt").exists());
}

#[test]
fn a_slow_reader_of_the_output_is_not_a_stopped_master() {
    let kjv = data("kjvbible.txt");
    let dir = Dir::new();
    let mut job = dir.cmd(&["run", "-q", "-w", "2", "--heartbeat-timeout", "2", "-o", "-"]);
    let mut job = job.arg(&kjv).stdout(Stdio::piped()).spawn().unwrap();
    // The reader takes its time (the scenario, not a synchronisation): the
    // master waits on a full pipe for over two heartbeat timeouts, its loop
    // still running.
    std::thread::sleep(Duration::from_secs(5));
    let mut out = Vec::new();
    job.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(job.wait().unwrap().success());
    crate::util::assert_same("a slowly read output", &out, &std::fs::read(data("kjvbible.expected.txt")).unwrap());
}

#[test]
fn busy_workers_are_not_taken_for_stopped_ones() {
    // One split per worker, each longer to tokenize than the timeout on a
    // busy machine: only heartbeats from loops that keep running save it.
    let dir = Dir::new();
    let kjv = std::fs::read(data("kjvbible.txt")).unwrap();
    let big = dir.write("big.txt", kjv.repeat(12));
    let args = ["run", "-q", "-w", "2", "--heartbeat-timeout", "2", "--split-size", "32M", "-o", "out.txt"];
    ok(dir.cmd(&[&args[..], &[big.to_str().unwrap()]].concat()));
    let expected = crate::oracle::expected(&[big], true);
    crate::util::assert_same("a job of busy workers", &dir.read("out.txt"), &expected);
}

#[test]
fn retries_run_the_job_again_on_the_workers_left() {
    let kjv = data("kjvbible.txt");
    let expected = std::fs::read(data("kjvbible.expected.txt")).unwrap();
    for (fault, timeout) in [("worker:shuffle2", "15"), ("worker:local_count:stop", "2")] {
        let mut workers = [Worker::start(), Worker::start_with(&[("WORDFREQ_CRASH_AT", fault)]), Worker::start()];
        let dir = Dir::new();
        let out = ok(dir.cmd(&[
            "master",
            "--retries",
            "1",
            "--heartbeat-timeout",
            timeout,
            "--metrics",
            "m.json",
            "--workers",
            &addrs(&workers),
            kjv.to_str().unwrap(),
        ]));
        crate::util::assert_same(fault, &dir.read("resultats.txt"), &expected);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("attempt 1 failed") && stderr.contains("2 of 3 workers"), "{fault}: {stderr}");
        let metrics: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
        assert_eq!((metrics["attempts"].as_u64(), metrics["workers"].as_u64()), (Some(2), Some(2)), "{fault}");
        workers[1].kill();
    }
}

#[test]
fn failures_that_would_repeat_are_not_retried() {
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    dir.write("bad.txt", b"ok \xff bad");
    let stderr = fails(
        dir.cmd(&["master", "--retries", "3", "--tokenizer", "alnum", "--workers", &addrs(&workers), "bad.txt"]),
        1,
    );
    assert!(stderr.contains("invalid UTF-8") && !stderr.contains("attempt"), "{stderr}");
}

#[test]
fn a_worker_keeps_beating_while_a_new_job_waits_for_the_last_jobs_compute() {
    let dir = Dir::new();
    let pause = Pause::new(&dir);
    let (key, value) = pause.env();
    // One compute thread, held by the first job's read until the test lets
    // it go (`WORDFREQ_PAUSE_READING`).
    let mut cmd = Command::new(BIN);
    cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "-v"]).env(key, value);
    let workers = [Worker::spawn(cmd)];
    dir.write("first.txt", "a b c\n".repeat(100_000));
    let mut first = dir.cmd(&["master", "-q", "--workers", &addrs(&workers), "-o", "first-out.txt", "first.txt"]);
    let mut first = first.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    pause.wait(&mut first);
    // The first job ends early (its master is gone) while its compute is
    // still paused; the next job's spec must wait for that compute.
    first.kill().unwrap();
    first.wait().unwrap();
    let next = dir.write("next.txt", "next job next\n");
    let timeout = 0.5;
    let mut second = dir.cmd(&["master", "-q", "--heartbeat-timeout", &timeout.to_string(), "-o", "out.txt"]);
    let second = second.args(["--workers", &addrs(&workers), "next.txt"]).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !workers[0].log().contains("the new job waits for the last job's compute to stop") {
        assert!(Instant::now() < deadline, "the spec never waited:\n{}", workers[0].log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // What is tested: the wait outlasts the master's heartbeat timeout four
    // times over, and the worker, beating meanwhile, is not dropped.
    std::thread::sleep(Duration::from_secs_f64(4.0 * timeout));
    pause.resume();
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\nworker:\n{}", workers[0].log());
    assert_same("the job that waited", &dir.read("out.txt"), &oracle::expected_for(&next));
}

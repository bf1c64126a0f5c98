//! Faults from real processes: a worker or the master crashing at a known
//! phase (`WORDFREQ_CRASH_AT`, an abrupt exit), a busy worker, and `run`
//! cleaning up after a failed job. A failed job names its cause, writes no
//! output, and leaves surviving workers ready for the next job.

use crate::util::{Dir, Worker, addrs, data, fails, ok};

const PHASES: [&str; 6] = ["init", "shuffle1", "local_count", "redistribute", "shuffle2", "sort_output"];

/// A job on these workers succeeds and is right.
fn assert_serves(workers: &[Worker]) {
    let dir = Dir::new();
    dir.write("in.txt", "next job next\n");
    ok(dir.cmd(&["master", "-q", "--workers", &addrs(workers), "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"next 2\njob 1\n");
}

#[test]
fn a_worker_crash_in_any_phase_fails_the_job_and_names_the_worker() {
    let kjv = data("kjvbible.txt");
    for phase in PHASES {
        let crash = format!("worker:{phase}");
        let mut workers = vec![Worker::start(), Worker::start_with(&[("WORDFREQ_CRASH_AT", &crash)]), Worker::start()];
        let dir = Dir::new();
        let stderr = fails(dir.cmd(&["master", "--workers", &addrs(&workers), kjv.to_str().unwrap()]), 1);
        assert!(stderr.contains("worker 1") && stderr.contains(phase), "crash at {phase}: {stderr}");
        assert!(!dir.join("resultats.txt").exists(), "crash at {phase} left an output");
        assert_eq!(workers[1].wait_exit(), Some(86), "{}", workers[1].log());
        let crashed = workers.remove(1);
        drop(crashed);
        workers.push(Worker::start());
        assert_serves(&workers);
    }
}

#[test]
fn a_master_crash_leaves_the_workers_ready_for_the_next_job() {
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    let kjv = data("kjvbible.txt");
    for phase in ["shuffle1", "shuffle2", "sort_output"] {
        let mut cmd = dir.cmd(&["master", "--workers", &addrs(&workers), kjv.to_str().unwrap()]);
        cmd.env("WORDFREQ_CRASH_AT", format!("master:{phase}"));
        fails(cmd, 86);
        assert!(!dir.join("resultats.txt").exists());
        assert_serves(&workers);
    }
}

#[test]
fn a_busy_worker_refuses_a_second_master_then_serves_it() {
    use std::io::{Read, Write};
    let workers = [Worker::start()];
    let mut first = crate::util::dial(&workers[0].addr, b"").unwrap();
    let hello = [b'W', b'F', b'Q', wordfreq::wire::hello::VERSION, 0, 255, 255, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0];
    first.write_all(&hello).unwrap();
    let mut reply = [0u8; 17];
    first.read_exact(&mut reply).unwrap();
    assert_eq!(&reply[..4], &[b'W', b'F', b'Q', wordfreq::wire::hello::VERSION]);

    let dir = Dir::new();
    dir.write("in.txt", "a");
    let stderr = fails(dir.cmd(&["master", "--workers", &workers[0].addr, "in.txt"]), 1);
    assert!(stderr.contains("busy"), "{stderr}");
    drop(first);
    assert_serves(&workers);
}

/// Processes whose environment holds `marker`.
pub fn processes_marked(marker: &str) -> Vec<String> {
    let needle = format!("WORDFREQ_TEST_MARKER={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn run_leaves_no_worker_behind_when_the_job_fails() {
    let dir = Dir::new();
    dir.write("bad.txt", b"ok \xff bad");
    let marker = format!("{}-{}", std::process::id(), line!());
    let mut cmd = dir.cmd(&["run", "-w", "3", "--tokenizer", "alnum", "bad.txt"]);
    cmd.env("WORDFREQ_TEST_MARKER", &marker);
    let stderr = fails(cmd, 1);
    assert!(stderr.contains("invalid UTF-8"), "{stderr}");
    assert_eq!(processes_marked(&marker), Vec::<String>::new());

    let mut cmd = dir.cmd(&["run", "-w", "3", "-q"]);
    cmd.arg(data("kjvbible.txt")).env("WORDFREQ_TEST_MARKER", &marker).env("WORDFREQ_CRASH_AT", "worker:shuffle2");
    fails(cmd, 1);
    assert_eq!(processes_marked(&marker), Vec::<String>::new());
    assert!(!dir.join("resultats.txt").exists());
}

#[test]
fn a_master_that_never_sends_a_job_is_let_go() {
    use std::io::{Read, Write};
    let workers = [Worker::start()];
    let mut silent = crate::util::dial(&workers[0].addr, b"").unwrap();
    silent
        .write_all(&[b'W', b'F', b'Q', wordfreq::wire::hello::VERSION, 0, 255, 255, 255, 255, 3, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    // The worker answers with its hello, then closes the link at its deadline.
    let _ = silent.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(rest.len() >= 17, "no hello: {rest:?}");
    assert!(waited >= std::time::Duration::from_secs(25) && waited < std::time::Duration::from_secs(60), "{waited:?}");
    assert_serves(&workers);
}

/// A process's (resident KiB, threads, open descriptors), from /proc.
fn footprint(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (field("VmRSS:"), field("Threads:"), fds)
}

#[test]
fn a_hundred_aborted_jobs_leak_nothing_on_the_workers() {
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    let words: String = (0..20_000).map(|i| format!("w{} ", i % 3000)).collect();
    dir.write("in.txt", &words);
    let crash = |i: usize| {
        let mut cmd = dir.cmd(&["master", "-q", "--split-size", "4K", "--workers", &addrs(&workers), "in.txt"]);
        cmd.env("WORDFREQ_CRASH_AT", format!("master:{}", PHASES[i % PHASES.len()]));
        fails(cmd, 86);
    };
    for i in 0..12 {
        crash(i);
    }
    assert_serves(&workers);
    let before: Vec<_> = workers.iter().map(|w| footprint(w.pid())).collect();
    for i in 0..100 {
        crash(i);
    }
    assert_serves(&workers);
    for (worker, (rss0, threads0, fds0)) in workers.iter().zip(before) {
        // The last job's links close gracefully after the master has its
        // result: a descriptor may still be draining for a moment. A leaked
        // one never closes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (rss, threads, fds) = loop {
            let now = footprint(worker.pid());
            if now.2 <= fds0 || std::time::Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(threads, threads0, "threads of {}", worker.addr);
        assert!(fds <= fds0, "descriptors of {}: {fds0} before, {fds} after", worker.addr);
        assert!(rss < rss0 + 8 * 1024, "{}: resident memory grew from {rss0} KiB to {rss} KiB", worker.addr);
    }
}

/// The state letter of process `pid` (`T` when stopped).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(") ").next().and_then(|rest| rest.chars().next()).unwrap_or('?')
}

/// The established loopback connection from process `pid` to `port`, as
/// (its local port, that port), from `ss`'s socket table.
fn connection_of(pid: u32, port: u16) -> Option<(u16, u16)> {
    let ss = std::process::Command::new("ss").args(["-tnpH", "state", "established"]).output().ok()?;
    let owner = format!("pid={pid},");
    String::from_utf8_lossy(&ss.stdout).lines().filter(|line| line.contains(&owner)).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local: u16 = fields.get(2)?.rsplit(':').next()?.parse().ok()?;
        let peer: u16 = fields.get(3)?.rsplit(':').next()?.parse().ok()?;
        (peer == port).then_some((local, peer))
    })
}

/// Phase 6 pulls every rank at once: while worker 0 is stopped at the start
/// of phase 6, worker 1 streams its whole range and reports; the master
/// holds it until worker 0's range is written, and the result is exact.
/// (When the master pulled the ranks in turn, worker 1 waited for worker 0.)
#[test]
fn a_later_rank_that_streams_first_is_written_in_its_turn() {
    let kjv = data("kjvbible.txt");
    let mut late = std::process::Command::new(crate::util::BIN);
    crate::util::without_secret(&mut late);
    late.args(["worker", "--listen", "127.0.0.1:0", "--threads", "2", "-vv"]);
    let workers = [Worker::start_with(&[("WORDFREQ_CRASH_AT", "worker:sort_output:stop")]), Worker::spawn(late)];
    let dir = Dir::new();
    let mut master = dir.cmd(&["master", "-q", "--heartbeat-timeout", "60", "--workers", &addrs(&workers)]);
    let master = master.arg(&kjv).stderr(std::process::Stdio::piped()).spawn().unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while process_state(workers[0].pid()) != 'T' || !workers[1].log().contains("sort_output done") {
        assert!(std::time::Instant::now() < deadline, "worker 1 never finished phase 6:\n{}", workers[1].log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        std::process::Command::new("kill").args(["-CONT", &workers[0].pid().to_string()]).status().unwrap().success()
    );
    let out = master.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), workers[0].log());
    assert_eq!(dir.read("resultats.txt"), crate::oracle::expected(std::slice::from_ref(&kjv), true));
}

/// A peer link cut (`ss -K`, as a firewall or a NAT timeout would) once
/// shuffle 2 is over is no failure, and the phase figures stay true: the
/// worker that reports after losing it used to count traffic over its live
/// links only, so its phase's bytes went backwards (an overflow panic on the
/// event loop in debug builds, garbage in release). Worker 0 stops at the
/// start of phase 6, the link is cut, and worker 0 continues.
#[test]
fn a_peer_link_cut_after_shuffle2_fails_nothing_and_keeps_the_traffic_figures() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: cutting a connection with ss -K needs root");
        return;
    }
    let kjv = data("kjvbible.txt");
    let workers = [Worker::start_with(&[("WORDFREQ_CRASH_AT", "worker:sort_output:stop")]), Worker::start()];
    let port = |w: &Worker| w.addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let dir = Dir::new();
    let mut master = dir.cmd(&[
        "master",
        "-q",
        "--heartbeat-timeout",
        "60",
        "--metrics",
        "m.json",
        "--workers",
        &addrs(&workers),
        kjv.to_str().unwrap(),
    ]);
    let master = master.stderr(std::process::Stdio::piped()).spawn().unwrap();

    while process_state(workers[0].pid()) != 'T' {
        assert!(workers[0].log().len() < 1 << 20 && process_state(workers[0].pid()) != '?', "{}", workers[0].log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The mesh has one link between the two: whichever of them dialed.
    let (pid, (local, peer)) = connection_of(workers[0].pid(), port(&workers[1]))
        .map(|c| (workers[0].pid(), c))
        .or_else(|| connection_of(workers[1].pid(), port(&workers[0])).map(|c| (workers[1].pid(), c)))
        .expect("a link between the workers");
    let cut = std::process::Command::new("ss")
        .args(["-K", "src", "127.0.0.1", "sport", "=", &format!(":{local}"), "dport", "=", &format!(":{peer}")])
        .output()
        .unwrap();
    assert!(cut.status.success(), "ss -K: {}", String::from_utf8_lossy(&cut.stderr));
    assert_eq!(connection_of(pid, peer), None, "the link is cut");
    assert!(
        std::process::Command::new("kill").args(["-CONT", &workers[0].pid().to_string()]).status().unwrap().success()
    );

    let out = master.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), workers[0].log());
    assert_eq!(dir.read("resultats.txt"), crate::oracle::expected(std::slice::from_ref(&kjv), true));
    let m: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
    let input = std::fs::metadata(&kjv).unwrap().len();
    for phase in m["phases"].as_array().unwrap() {
        for node in phase["nodes"].as_array().unwrap() {
            for field in ["bytes_sent", "bytes_received"] {
                let bytes = node[field].as_u64().unwrap();
                assert!(bytes < 2 * input, "{} of worker {} in {}: {bytes}", field, node["rank"], phase["phase"]);
            }
        }
    }
    // Each worker's phase 6 streamed its lines (at least 4 bytes each: a
    // letter, a space, a digit, a newline) to the master.
    for node in m["phases"][5]["nodes"].as_array().unwrap() {
        let (sent, lines) = (node["bytes_sent"].as_u64().unwrap(), node["records_sent"].as_u64().unwrap());
        assert!(lines > 0 && sent >= 4 * lines, "worker {}: {sent} bytes for {lines} lines", node["rank"]);
    }
    // Worker 0 (which would stop again at phase 6) is alive and idle, with
    // its job done; worker 1 serves the next job.
    let status = String::from_utf8(ok(dir.cmd(&["status", "--workers", &workers[0].addr])).stdout).unwrap();
    assert!(status.contains("  idle  jobs 1  "), "{status}\n{}", workers[0].log());
    assert_serves(&workers[1..]);
}

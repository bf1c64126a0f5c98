//! `wordfreq status` against live workers, and how a worker binds its port:
//! a port that frees up is taken after a retry, one that stays busy fails
//! with a clear error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use wordfreq::wire::hello::VERSION;

use crate::util::{BIN, Dir, Worker, fails, ok};

fn status(dir: &Dir, workers: &str) -> (bool, String) {
    let out = dir.cmd(&["status", "--workers", workers]).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn status_reports_idle_busy_jobs_and_unreachable_workers() {
    let worker = Worker::start();
    let dir = Dir::new();
    let (up, text) = status(&dir, &worker.addr);
    assert!(up, "{text}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.starts_with(&format!("{}  reachable  version {version}  threads 2  idle  jobs 0  uptime ", worker.addr))
    );

    dir.write("in.txt", "a b a\n");
    ok(dir.cmd(&["master", "-q", "--workers", &worker.addr, "in.txt"]));
    let (_, text) = status(&dir, &worker.addr);
    assert!(text.contains("  idle  jobs 1  "), "{text}");

    // A master linked to the worker makes it busy; status still answers.
    let mut master = crate::util::dial(&worker.addr, b"").unwrap();
    master.write_all(&[b'W', b'F', b'Q', VERSION, 0, 255, 255, 255, 255, 9, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    master.read_exact(&mut [0u8; 17]).unwrap();
    let (_, text) = status(&dir, &worker.addr);
    assert!(text.contains("  busy  jobs 1  "), "{text}");
    drop(master);

    // A port where nobody listens: one line saying so, and exit status 1.
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let both = format!("{},{free}", worker.addr);
    let (up, text) = status(&dir, &both);
    assert!(!up);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("reachable") && lines[1].starts_with(&format!("{free}  unreachable  ")), "{text}");
    let stderr = fails(dir.cmd(&["status", "--workers", &free]), 1);
    assert!(stderr.contains("1 of 1 workers did not answer"), "{stderr}");
}

#[test]
fn status_waits_for_a_worker_that_is_still_starting() {
    // The port is reserved, then given to a worker that binds it after a
    // retry: status --wait keeps asking until it answers.
    let blocker = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = blocker.local_addr().unwrap().to_string();
    let mut worker = Command::new(BIN)
        .args(["worker", "--listen", &addr, "--threads", "1", "-v"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(worker.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("is in use") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "the worker ended before retrying");
    }
    let dir = Dir::new();
    let waiting = dir.cmd(&["status", "--wait", "20", "--workers", &addr]).stdout(Stdio::piped()).spawn().unwrap();
    drop(blocker);
    let out = waiting.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("reachable"), "{text}");
    let mut rest = String::new();
    while !rest.contains("Socket bound to port") {
        assert!(log.read_line(&mut rest).unwrap() > 0, "no bind line in: {rest}");
    }
    let port = addr.rsplit(':').next().unwrap();
    assert!(rest.contains(&format!("Socket bound to port {port} after ")), "{rest}");
    assert!(!rest.contains("after 1 attempts"), "{rest}");
    let _ = worker.kill();
    let _ = worker.wait();
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    dir.write("in.txt", "a");
    for args in [
        &["run", "--workers", "0", "in.txt"][..],
        &["count", "--threads", "0", "in.txt"],
        &["worker", "--listen", "127.0.0.1:0", "--threads", "0"],
        &["status", "--workers", "127.0.0.1:1", "--wait", "-1"],
        &["count"],
    ] {
        let stderr = fails(dir.cmd(args), 2);
        assert!(!stderr.is_empty(), "{args:?} printed no reason");
    }
}

#[test]
fn status_gives_up_on_a_peer_that_answers_too_slowly() {
    // A peer that sends a valid hello, then one byte a second: status must
    // give up at its deadline, not wait for every byte.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let drip = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        peer.read_exact(&mut [0u8; 17]).unwrap();
        let _ = peer.write_all(&[b'W', b'F', b'Q', VERSION, 1, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
        let _ = peer.write_all(&[0xa0, 0x0f, 0, 0, 15]); // a Status frame of 4000 bytes
        while stopped.recv_timeout(std::time::Duration::from_secs(1)).is_err() {
            if peer.write_all(&[0]).is_err() {
                break;
            }
        }
    });
    let dir = Dir::new();
    let started = std::time::Instant::now();
    let stderr = fails(dir.cmd(&["status", "--workers", &addr]), 1);
    let took = started.elapsed();
    stop.send(()).unwrap();
    drip.join().unwrap();
    assert!(stderr.contains("no answer within 5 s"), "{stderr}");
    assert!(took < std::time::Duration::from_secs(9), "status took {took:?}");
}

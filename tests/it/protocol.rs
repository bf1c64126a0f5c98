//! Raw bytes against live processes: a worker refuses strangers, broken
//! frames and invalid payloads by closing that connection (never by
//! panicking) and stays up for the next job; a master facing a broken worker
//! fails the job with a clear error.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::util::{Dir, Worker, accept, dial, fails, ok};
use wordfreq::wire::hello::VERSION;

const MASTER_HELLO: [u8; 17] = [b'W', b'F', b'Q', VERSION, 0, 255, 255, 255, 255, 7, 0, 0, 0, 0, 0, 0, 0];

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

fn connect(worker: &Worker) -> TcpStream {
    let stream = TcpStream::connect(&worker.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream
}

/// A connection that has passed the handshake (no secret).
fn authenticated(worker: &Worker) -> TcpStream {
    dial(&worker.addr, b"").expect("the handshake passes")
}

/// Sends `bytes` to the worker (then ends our side if `end`) and returns
/// everything it answers until it closes. The read timeout only bounds a
/// failing test.
fn exchange_on(mut stream: TcpStream, bytes: &[u8], end: bool) -> Vec<u8> {
    stream.write_all(bytes).unwrap();
    if end {
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("the worker should close the connection");
    answer
}

fn exchange(worker: &Worker, bytes: &[u8]) -> Vec<u8> {
    exchange_on(connect(worker), bytes, true)
}

/// Greets the worker as a master, waits for its hello, then sends `bytes`
/// and returns what follows its hello until it closes the connection.
fn after_hello(worker: &Worker, bytes: &[u8], end: bool) -> Vec<u8> {
    let mut stream = authenticated(worker);
    stream.write_all(&MASTER_HELLO).unwrap();
    let mut hello = [0u8; 17];
    stream.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..5], &[b'W', b'F', b'Q', VERSION, 1], "the worker answers as a peer");
    exchange_on(stream, bytes, end)
}

fn assert_serves(worker: &mut Worker) {
    assert!(worker.is_alive(), "the worker died:\n{}", worker.log());
    let dir = Dir::new();
    dir.write("in.txt", "still here here\n");
    ok(dir.cmd(&["master", "-q", "--workers", &worker.addr, "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"here 2\nstill 1\n");
}

/// The kinds of the frames in `bytes`.
fn frame_kinds(bytes: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        kinds.push(rest[4]);
        rest = &rest[(5 + len).min(rest.len())..];
    }
    kinds
}

#[test]
fn strangers_are_closed_and_the_worker_stays_up() {
    let mut worker = Worker::start();
    assert!(exchange(&worker, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_empty());
    // Another version is told ours, then closed.
    let answer = exchange(&worker, b"WFQ\x63 wrong version");
    assert_eq!(&answer[..4], &[b'W', b'F', b'Q', VERSION], "{answer:?}");
    assert!(exchange(&worker, b"WF").is_empty(), "a cut preamble is dropped");
    let bad_role = [b"WFQ", &[VERSION, 9][..], &[0u8; 13]].concat();
    assert!(exchange_on(authenticated(&worker), &bad_role, true).is_empty(), "a bad role after the handshake");
    assert_serves(&mut worker);
    for reason in ["bad magic", "protocol version 99", "unknown role 9"] {
        assert!(worker.log().contains(reason), "{reason:?} is logged:\n{}", worker.log());
    }
}

#[test]
fn broken_frames_from_a_master_end_the_link_not_the_worker() {
    let mut worker = Worker::start();
    let too_long = [0xff, 0xff, 0xff, 0x7f, 1];
    assert!(after_hello(&worker, &too_long, false).is_empty(), "closed at the oversized header");
    assert!(after_hello(&worker, &frame(200, b""), false).is_empty(), "closed at the unknown kind");
    assert!(after_hello(&worker, &[10, 0, 0, 0, 1, 1, 2], true).is_empty(), "closed at the cut frame");
    assert_serves(&mut worker);
    let log = worker.log();
    for reason in ["exceeds the limit", "unknown message kind 200", "cut in the middle"] {
        assert!(log.contains(reason), "the worker should log {reason:?}:\n{log}");
    }
}

#[test]
fn invalid_payloads_are_refused_with_an_abort() {
    let mut worker = Worker::start();
    for (kind, payload) in [(1u8, &b"not an archive at all"[..]), (1, b""), (2, &[0u8; 16])] {
        let answer = after_hello(&worker, &frame(kind, payload), false);
        assert_eq!(frame_kinds(&answer), [13], "kind {kind}: an Abort, then the close");
    }
    assert_serves(&mut worker);
}

#[test]
fn frames_from_a_peer_without_a_job_are_refused() {
    let mut worker = Worker::start();
    let peer_hello = [b'W', b'F', b'Q', VERSION, 1, 3, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0];
    let answer = exchange_on(authenticated(&worker), &[&peer_hello[..], &frame(4, &[0u8; 32])].concat(), true);
    assert!(answer.is_empty());
    assert_serves(&mut worker);
    assert!(worker.log().contains("before its job started"), "{}", worker.log());
}

/// A fake worker that accepts one connection, passes the handshake if
/// `authenticate`, and answers the master's hello with `reply`.
fn fake_worker(reply: Vec<u8>, authenticate: bool) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        if authenticate {
            accept(&mut stream, b"").unwrap();
        }
        let mut hello = [0u8; 17];
        let _ = stream.read_exact(&mut hello);
        let _ = stream.write_all(&reply);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    (addr, handle)
}

#[test]
fn a_master_fails_cleanly_against_a_broken_worker() {
    let worker_hello = |job: u64| {
        let mut h = vec![b'W', b'F', b'Q', VERSION, 1, 255, 255, 255, 255];
        h.extend_from_slice(&job.to_le_bytes());
        h
    };
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), false, "bad magic"),
        (b"WFQ\x01".to_vec(), false, "protocol version 1 is not supported"),
        (Vec::new(), false, "worker 0"),
        (Vec::new(), true, "worker 0"),
        (worker_hello(1), true, "unexpected hello from a Peer of job 0000000000000001"),
    ];
    for (reply, authenticate, cause) in cases {
        let (addr, handle) = fake_worker(reply, authenticate);
        let dir = Dir::new();
        dir.write("in.txt", "a b");
        let stderr = fails(dir.cmd(&["master", "--workers", &addr, "in.txt"]), 1);
        assert!(stderr.contains(cause) && stderr.contains(&addr), "{stderr}");
        assert!(!dir.join("resultats.txt").exists());
        handle.join().unwrap();
    }
}

#[test]
fn a_worker_with_a_secret_survives_hostile_bytes_then_runs_a_correct_job() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let secret = dir.write("secret", "the secret of this test, 32 bytes\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = std::process::Command::new(crate::util::BIN);
    crate::util::without_secret(&mut cmd);
    cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "-v", "--secret-file"]).arg(&secret);
    let mut worker = Worker::spawn(cmd);
    // Random bytes (a fixed seed, so a failure can be replayed).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 7, 36, 69, 500, 5000] {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        exchange(&worker, &noise);
    }
    exchange(&worker, b"GET / HTTP/1.1\r\nHost: worker\r\n\r\n");
    // A failed proof, then a proven link that sends a huge length and a half frame.
    assert!(dial(&worker.addr, b"a wrong secret of enough length").is_err());
    let proven = |bytes: &[u8]| {
        let mut stream = dial(&worker.addr, b"the secret of this test, 32 bytes").expect("the secret passes");
        stream.write_all(&MASTER_HELLO).unwrap();
        stream.read_exact(&mut [0u8; 17]).unwrap();
        exchange_on(stream, bytes, true)
    };
    assert!(proven(&[0xff, 0xff, 0xff, 0xff, 1]).is_empty(), "a huge length closes the link");
    assert!(proven(&[200, 0, 0, 0, 1, 1, 2, 3]).is_empty(), "a half frame closes the link");
    assert!(worker.is_alive(), "{}", worker.log());
    let job = Dir::new();
    job.write("in.txt", "still here here\n");
    let mut master = job.cmd(&["master", "-q", "--workers", &worker.addr, "--secret-file"]);
    master.arg(&secret).arg("in.txt");
    ok(master);
    assert_eq!(job.read("resultats.txt"), b"here 2\nstill 1\n");
    let log = worker.log();
    for reason in ["bad magic", "authentication failed", "exceeds the limit", "cut in the middle"] {
        assert!(log.contains(reason), "{reason:?} is logged:\n{log}");
    }
}

#[test]
fn a_flood_of_silent_connections_costs_little_and_locks_nobody_out() {
    let mut worker = Worker::start();
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = rss(worker.pid());
    // 2,000 connections from another loopback address that never say a word.
    let target: std::net::SocketAddr = worker.addr.parse().unwrap();
    let silent: Vec<_> = (0..2000)
        .filter_map(|_| {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&"127.0.0.2:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
            socket.connect(&target.into()).ok().map(|()| socket)
        })
        .collect();
    assert!(silent.len() > 1000, "only {} connected", silent.len());
    // A job from another address still runs while they hang on.
    assert_serves(&mut worker);
    let after = rss(worker.pid());
    assert!(after < before + 16 * 1024, "2,000 silent connections took {} KiB", after.saturating_sub(before));
    assert!(worker.log().contains("too many connections"), "{}", worker.log());
    drop(silent);
}

#[test]
fn one_word_larger_than_a_frame_crosses_the_network() {
    // 260 MiB without a space: more than a frame (256 MiB) holds.
    let dir = Dir::new();
    let huge = vec![b'x'; 260 << 20];
    let mut text = huge.clone();
    text.extend_from_slice(b"\nb c b\n");
    dir.write("in.txt", &text);
    drop(text);
    // A debug build checks a 260 MiB archive on the event loop for seconds
    // on a loaded machine: this test is about frames, not liveness.
    ok(dir.cmd(&["run", "-q", "-w", "2", "--heartbeat-timeout", "300", "-o", "out.txt", "in.txt"]));
    let mut expected = b"b 2\nc 1\n".to_vec();
    expected.extend_from_slice(&huge);
    expected.extend_from_slice(b" 1\n");
    crate::util::assert_same("a 260 MiB word", &dir.read("out.txt"), &expected);
}

//! Authenticated links: a worker with a secret serves only masters (and
//! `status`) that prove the same secret; a failed proof closes that one
//! connection, is logged with the address, and disturbs nothing else; the
//! secret is found by flag, by WORDFREQ_SECRET_FILE or in ~/.wordfreq, and
//! a worker refuses to listen beyond loopback without one.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use crate::util::{BIN, Dir, Worker, dial, fails, ok, without_secret};
use wordfreq::net::handshake::Failure;
use wordfreq::wire::hello::VERSION;

const SECRET: &str = "a secret of the lab, long enough\n";

fn private(dir: &Dir, name: &str, text: &str) -> PathBuf {
    let path = dir.write(name, text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn worker_with_secret(file: &std::path::Path) -> Worker {
    let mut cmd = Command::new(BIN);
    without_secret(&mut cmd);
    cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "-v", "--secret-file"]).arg(file);
    Worker::spawn(cmd)
}

fn master(dir: &Dir, worker: &Worker, secret: Option<&std::path::Path>) -> Command {
    let mut cmd = dir.cmd(&["master", "-q", "--workers", &worker.addr, "in.txt"]);
    if let Some(file) = secret {
        cmd.arg("--secret-file").arg(file);
    }
    cmd
}

#[test]
fn only_masters_with_the_workers_secret_are_served() {
    let dir = Dir::new();
    let good = private(&dir, "good", SECRET);
    let wrong = private(&dir, "wrong", "another secret, just as long\n");
    dir.write("in.txt", "b a b\n");
    let mut worker = worker_with_secret(&good);

    let stderr = fails(master(&dir, &worker, None), 1);
    assert!(stderr.contains("authentication failed") && stderr.contains(&worker.addr), "{stderr}");
    let stderr = fails(master(&dir, &worker, Some(&wrong)), 1);
    assert!(stderr.contains("secret"), "{stderr}");
    assert!(!dir.join("resultats.txt").exists());
    let stderr = fails(dir.cmd(&["status", "--workers", &worker.addr]), 1);
    assert!(stderr.contains("authentication failed"), "{stderr}");

    ok(master(&dir, &worker, Some(&good)));
    assert_eq!(dir.read("resultats.txt"), b"b 2\na 1\n");
    let out = ok(dir.cmd(&["status", "--secret-file", good.to_str().unwrap(), "--workers", &worker.addr]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reachable"));
    assert!(worker.is_alive());
    let log = worker.log();
    assert!(log.contains("authentication failed") && log.contains("from 127.0.0.1:"), "{log}");
}

#[test]
fn a_failed_proof_disturbs_no_master_already_linked() {
    let dir = Dir::new();
    let good = private(&dir, "good", SECRET);
    let worker = worker_with_secret(&good);
    // A master linked (and so a job in the making): the worker is busy.
    let mut linked = dial(&worker.addr, SECRET.trim().as_bytes()).expect("the right secret passes");
    linked.write_all(&[b'W', b'F', b'Q', VERSION, 0, 255, 255, 255, 255, 5, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    linked.read_exact(&mut [0u8; 17]).unwrap();
    for secret in [&b""[..], b"not the secret at all, though long"] {
        assert_eq!(dial(&worker.addr, secret).err(), Some(Failure::WrongProof));
    }
    let out = ok(dir.cmd(&["status", "--secret-file", good.to_str().unwrap(), "--workers", &worker.addr]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("  busy  "), "the first master is still linked");
    drop(linked);
    dir.write("in.txt", "x\n");
    ok(master(&dir, &worker, Some(&good)));
    assert_eq!(dir.read("resultats.txt"), b"x 1\n");
}

#[test]
fn the_secret_is_found_by_variable_then_in_the_home() {
    let dir = Dir::new();
    private(&dir, "home/.wordfreq/secret", SECRET);
    let other = private(&dir, "other", "some other secret of enough length\n");
    dir.write("in.txt", "w\n");
    let home = dir.join("home");
    let mut cmd = Command::new(BIN);
    without_secret(&mut cmd);
    cmd.env("HOME", &home).args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "-v"]);
    let worker = Worker::spawn(cmd);

    let mut with_home = master(&dir, &worker, None);
    with_home.env("HOME", &home);
    ok(with_home);
    let mut with_var = master(&dir, &worker, None);
    with_var.env("HOME", &home).env("WORDFREQ_SECRET_FILE", &other);
    let stderr = fails(with_var, 1);
    assert!(stderr.contains("secret"), "the variable wins over the home: {stderr}");
}

#[test]
fn secrets_that_others_can_read_or_guess_are_refused() {
    let dir = Dir::new();
    let shared = dir.write("shared", SECRET);
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let short = private(&dir, "short", "pw\n");
    dir.write("in.txt", "x\n");
    for (file, why) in [(&shared, "readable by others"), (&short, "at least 16")] {
        let stderr = fails(
            dir.cmd(&["master", "--workers", "127.0.0.1:9", "--secret-file", file.to_str().unwrap(), "in.txt"]),
            2,
        );
        assert!(stderr.contains(why), "{stderr}");
    }
}

#[test]
fn a_worker_beyond_loopback_needs_a_secret_or_insecure() {
    let dir = Dir::new();
    let stderr = fails(dir.cmd(&["worker", "--listen", "0.0.0.0:0"]), 2);
    assert!(stderr.contains("without a secret") && stderr.contains("--insecure"), "{stderr}");
    let good = private(&dir, "good", SECRET);
    for extra in [vec!["--insecure".to_string()], vec!["--secret-file".into(), good.to_str().unwrap().into()]] {
        let mut cmd = dir.cmd(&["worker", "--listen", "0.0.0.0:0", "-q"]);
        cmd.args(&extra);
        let mut worker = Worker::spawn(cmd);
        assert!(worker.addr.starts_with("0.0.0.0:") && worker.is_alive(), "{extra:?}");
    }
}

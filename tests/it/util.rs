//! The harness: a scratch directory per test, the binary as a command whose
//! failures explain themselves, and worker daemons on free ports (waited on
//! by their `listening on` line, never by sleeping).

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use wordfreq::net::handshake::{Failure, Handshake};
use wordfreq::wire::auth::Key;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_wordfreq");

/// A shipped data file.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// A scratch directory, removed at the end of the test.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::Builder::new().prefix("wordfreq-it-").tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    /// A `wordfreq` command running in this directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path()).stdin(Stdio::null());
        without_secret(&mut cmd);
        cmd
    }
}

fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {cmd:?}\ncwd: {:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        cmd.get_current_dir(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed.
pub fn ok(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "expected success\n{}", describe(&cmd, &out));
    out
}

/// Runs a command that must fail with `code`; returns its stderr.
pub fn fails(mut cmd: Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(code), "expected exit status {code}\n{}", describe(&cmd, &out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails with the first differing line if two outputs differ.
pub fn assert_same(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let a: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    let e: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let line = a.iter().zip(&e).position(|(x, y)| x != y).unwrap_or(a.len().min(e.len()));
    panic!(
        "{what}: output differs from the oracle at line {} ({} vs {} bytes)\n  got:      {:?}\n  expected: {:?}",
        line + 1,
        actual.len(),
        expected.len(),
        a.get(line).map(|l| String::from_utf8_lossy(l)),
        e.get(line).map(|l| String::from_utf8_lossy(l)),
    );
}

/// Keeps the tester's own secret (`~/.wordfreq/secret`, WORDFREQ_SECRET_FILE)
/// out of a command: tests say which secret each process has.
pub fn without_secret(cmd: &mut Command) {
    cmd.env_remove("WORDFREQ_SECRET_FILE").env("HOME", "/nonexistent/wordfreq-test-home");
}

/// Connects to `addr` and proves `secret` (empty: none), as a master or a
/// peer would, one byte at a time so nothing after the handshake is read.
pub fn dial(addr: &str, secret: &[u8]) -> Result<TcpStream, Failure> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let (handshake, opening) = Handshake::dial().unwrap();
    stream.write_all(&opening).unwrap();
    finish(&mut stream, handshake, secret)?;
    Ok(stream)
}

/// The acceptor's side of the handshake on an accepted stream.
pub fn accept(stream: &mut TcpStream, secret: &[u8]) -> Result<(), Failure> {
    finish(stream, Handshake::accept().unwrap(), secret)
}

fn finish(stream: &mut TcpStream, mut handshake: Handshake, secret: &[u8]) -> Result<(), Failure> {
    let key = Key::derive(secret);
    let mut pending = Vec::new();
    while !handshake.is_done() {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return Err(Failure::Protocol(wordfreq::wire::ProtocolError::Truncated));
        }
        pending.push(byte[0]);
        match handshake.advance(&key, &pending) {
            Ok(step) => {
                pending.drain(..step.used);
                stream.write_all(&step.reply).unwrap();
            }
            Err(failed) => {
                let _ = stream.write_all(&failed.farewell);
                return Err(failed.why);
            }
        }
    }
    Ok(())
}

/// A worker daemon on a free port of 127.0.0.1, killed when dropped.
pub struct Worker {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Worker {
    pub fn start() -> Worker {
        Worker::start_with(&[])
    }

    /// Starts a worker with extra environment variables; it logs at info
    /// level, kept for failure messages.
    pub fn start_with(env: &[(&str, &str)]) -> Worker {
        let mut cmd = Command::new(BIN);
        without_secret(&mut cmd);
        cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "2", "-v"]).envs(env.iter().copied());
        Worker::spawn(cmd)
    }

    /// Starts `cmd`, a command that runs a worker (perhaps through a
    /// wrapper), and waits for its `listening on` line.
    pub fn spawn(mut cmd: Command) -> Worker {
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let addr =
            first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("worker said {first:?}")).to_string();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
        Worker { child, addr, log }
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the worker has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// True while the process runs.
    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself; returns its status code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Comma-separated addresses of some workers.
pub fn addrs(workers: &[Worker]) -> String {
    workers.iter().map(|w| w.addr.as_str()).collect::<Vec<_>>().join(",")
}

/// The FIFOs of `WORDFREQ_PAUSE_READING` in `dir/pause`.
pub struct Pause {
    dir: PathBuf,
}

impl Pause {
    pub fn new(dir: &Dir) -> Pause {
        let pause = dir.join("pause");
        std::fs::create_dir(&pause).unwrap();
        for name in ["paused", "resume"] {
            let path = CString::new(pause.join(name).as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo {name}");
        }
        Pause { dir: pause }
    }

    pub fn env(&self) -> (&'static str, &Path) {
        ("WORDFREQ_PAUSE_READING", &self.dir)
    }

    /// Waits until a process has paused before reading an input; returns
    /// the input's path. Gives up (killing `child`) after two minutes.
    pub fn wait(&self, child: &mut Child) -> String {
        let (tx, rx) = mpsc::channel();
        let paused = self.dir.join("paused");
        std::thread::spawn(move || {
            let _ = tx.send(std::fs::read_to_string(paused));
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(line)) => line.lines().next().unwrap_or_default().to_string(),
            other => {
                let _ = child.kill();
                panic!("the process never paused: {other:?}");
            }
        }
    }

    /// Lets the paused process go on.
    pub fn resume(&self) {
        drop(std::fs::OpenOptions::new().write(true).open(self.dir.join("resume")).unwrap());
    }
}

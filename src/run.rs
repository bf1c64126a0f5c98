//! `wordfreq run`: the embedded default. Starts N worker processes of this
//! same binary on 127.0.0.1 port 0, reads the address each one prints
//! (`listening on HOST:PORT`), runs the master against them, and stops them.
//! No worker outlives the run: they are killed when it ends, however it ends,
//! and the kernel kills them if this process dies first. The run makes a
//! fresh secret and hands it to each worker on its standard input, so it
//! never appears on a command line and no other process can join.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::master;
use crate::metrics::JobMetrics;
use crate::secret::Secret;

/// Runs the job on `workers` local worker processes of `threads` compute
/// threads each, which share the job's memory limit equally. `log_args`
/// (e.g. `-q` or `-v`) are passed to the workers.
pub fn run_local(workers: usize, threads: usize, job: JobConfig, log_args: &[&str]) -> Result<JobMetrics> {
    if workers == 0 {
        return Err(Error::Usage("--workers must be at least 1".into()));
    }
    let (secret, secret_text) = Secret::fresh()?;
    let job = JobConfig { secret, ..job };
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find the wordfreq executable", e))?;
    let mut cluster = Cluster { children: Vec::new() };
    let mut addrs = Vec::with_capacity(workers);
    for rank in 0..workers {
        let mut command = Command::new(&exe);
        command
            .args(["worker", "--listen", "127.0.0.1:0", "--threads", &threads.to_string(), "--secret-file", "-"])
            .args(["--memory-limit", &job.memory.divided(workers).to_string()])
            .args(log_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| Error::io(format!("cannot start worker {rank}"), e))?;
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        cluster.children.push(child);
        if let Some(mut stdin) = stdin {
            // Dropping it closes the pipe: the worker reads to its end.
            stdin
                .write_all(secret_text.as_bytes())
                .map_err(|e| Error::io(format!("cannot hand worker {rank} its secret"), e))?;
        }
        addrs.push(listening_address(rank, stdout)?);
    }
    master::run_job(&addrs, &job, "run")
}

/// The address in a worker's first stdout line, `listening on HOST:PORT`.
fn listening_address(rank: usize, stdout: Option<std::process::ChildStdout>) -> Result<String> {
    let mut line = String::new();
    if let Some(out) = stdout {
        BufReader::new(out).read_line(&mut line).map_err(|e| Error::io(format!("cannot read worker {rank}"), e))?;
    }
    line.trim().strip_prefix("listening on ").map(str::to_string).ok_or_else(|| Error::Unreachable {
        rank,
        addr: "a local process".into(),
        reason: format!("the worker did not start (it printed {:?})", line.trim()),
    })
}

/// Asks the kernel to kill the child if this process dies.
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe system calls (getppid, prctl).
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the parent exited"));
            }
            Ok(())
        });
    }
}

/// The local workers; dropping it kills and reaps them.
struct Cluster {
    children: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

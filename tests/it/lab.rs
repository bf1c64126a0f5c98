//! Deploying to machines over ssh, as on a lab network: `scripts/deploy.sh`
//! and `scripts/stop.sh` against a private sshd on 127.0.0.1, then
//! `scripts/lab.sh`'s virtual lab of three nodes (network namespaces on a
//! bridge, each with its own sshd and CPU budget) deployed to, running jobs
//! (the master on the host, with `--ship`, and inside node 1), and torn down
//! without leaving a namespace, link, cgroup or process behind.
//!
//! Needs root and OpenSSH (`/usr/sbin/sshd`, `ssh`, `ssh-keygen`); the lab
//! also needs iproute2 (`ip`, `tc`). Without them a test prints why and
//! passes without running (`.ci/run` installs them). The lab also needs a
//! cgroup CPU controller: without one, `lab.sh up` fails and the test with
//! it, saying why. The lab has fixed names (`wflab*`, `wordfreq-lab`,
//! 10.79.0.0/24), so only one test here builds one, and it fails if another
//! lab exists on the machine. Each test stops what it started even when it
//! fails: the sshd, the deployed workers, the lab (`lab.sh down`).

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::oracle;
use crate::util::{BIN, Dir, assert_same, data, fails, ok};

const SSHD: &str = "/usr/sbin/sshd";

/// Why these tests cannot run here, if they cannot: not root, or a tool
/// missing.
fn missing(tools: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (sshd, network namespaces, cgroups)".into());
    }
    if !Path::new(SSHD).exists() {
        return Some(format!("no {SSHD} (apt-get install openssh-server)"));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in tools {
        if !std::env::split_paths(&path).any(|d| d.join(tool).is_file()) {
            return Some(format!("{tool} is not on PATH"));
        }
    }
    None
}

fn script(name: &str) -> Command {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name));
    cmd.stdin(Stdio::null()).env_remove("SSH_OPTS");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `cmd`, which must succeed, and says how long it took.
fn timed(what: &str, cmd: Command) -> Output {
    let start = Instant::now();
    let out = ok(cmd);
    eprintln!("lab tests: {what} took {:.2} s", start.elapsed().as_secs_f64());
    out
}

/// A port nobody listens on right now, on every address.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

/// The processes whose command line contains `needle` (not this one).
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().map_while(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // A process may end while we look: what cannot be read is gone.
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = text(&cmdline).replace('\0', " ");
        if pid != me && cmdline.contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Kills, when dropped, every process whose command line mentions a path:
/// a failing test must not leave a deployed worker running.
struct KillLeftovers(PathBuf);

impl Drop for KillLeftovers {
    fn drop(&mut self) {
        for (pid, cmdline) in processes_mentioning(s(&self.0)) {
            eprintln!("lab tests: killing leftover process {pid}: {cmdline}");
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// Fails unless process `pid` has ended. A zombie has ended: deploy.sh
/// starts workers detached (setsid, nohup), so init reaps them, not this
/// test, which must not be the parent.
fn assert_gone(pid: u32, what: &str) {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return };
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let (state, parent) = (fields.first().copied().unwrap_or("?"), fields.get(1).copied().unwrap_or("?"));
    if state == "Z" {
        assert_ne!(parent, std::process::id().to_string(), "{what} (pid {pid}) is a zombie of this test");
        return;
    }
    let cmdline = text(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ");
    assert!(
        !(cmdline.contains("wordfreq") && cmdline.contains(" worker")),
        "{what} (pid {pid}) still runs, state {state}: {cmdline}"
    );
}

/// A private secret file for a lab's links.
fn write_secret(dir: &Dir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.write("secret", "lab secret for the tests, 32 bytes\n");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The `deployed (pid N)` or `stopped (pid N)` lines of a deploy.sh or
/// stop.sh table, as (host, pid), in order; fails on any other line.
fn table(out: &Output, state: &str) -> Vec<(String, u32)> {
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert!(lines.next().is_some_and(|l| l.split_whitespace().eq(["HOST", "STATE"])), "no header:\n{stdout}");
    lines
        .map(|line| {
            let (host, rest) = line.split_once("  ").unwrap_or_else(|| panic!("not a table line: {line}\n{stdout}"));
            let pid = rest
                .trim()
                .strip_prefix(&format!("{state} (pid "))
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{host} is not {state}: {line}\n{stdout}"));
            (host.trim().to_string(), pid)
        })
        .collect()
}

/// The pid recorded by deploy.sh for `host` in the remote dir.
fn pid_file(remote: &Path, host: &str) -> u32 {
    let path = remote.join(format!("worker-{host}.pid"));
    let pid = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pid.trim().parse().unwrap_or_else(|_| panic!("{}: not a pid: {pid:?}", path.display()))
}

/// A private sshd on 127.0.0.1 with its own host key and one authorized
/// key, run in the foreground as a child; killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    /// The client's private key.
    identity: PathBuf,
    known_hosts: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Sshd {
    fn start(dir: &Dir) -> Sshd {
        let d = dir.join("sshd");
        fs::create_dir_all(&d).unwrap();
        let keygen = |name: &str| {
            let mut cmd = Command::new("ssh-keygen");
            cmd.args(["-q", "-t", "ed25519", "-N", "", "-C", "wordfreq-it", "-f", s(&d.join(name))]);
            ok(cmd);
            fs::read_to_string(d.join(format!("{name}.pub"))).unwrap()
        };
        let host_key = keygen("host_key");
        let authorized = keygen("id");
        fs::write(d.join("authorized_keys"), authorized).unwrap();
        // sshd's privilege separation directory; scripts/lab.sh makes it too.
        if !Path::new("/run/sshd").exists() {
            fs::create_dir_all("/run/sshd").unwrap();
        }
        // A free port may be taken before sshd binds it: then try another.
        for _ in 0..5 {
            let port = free_port();
            let config = d.join("sshd_config");
            fs::write(
                &config,
                format!(
                    "ListenAddress 127.0.0.1:{port}\nHostKey {host}\nAuthorizedKeysFile {auth}\nPidFile {pid}\n\
                     StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\nPrintMotd no\n",
                    host = s(&d.join("host_key")),
                    auth = s(&d.join("authorized_keys")),
                    pid = s(&d.join("sshd.pid")),
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f", s(&config)])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let mut said = String::new();
            let mut line = String::new();
            while !line.contains("Server listening on") {
                line.clear();
                if stderr.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                said.push_str(&line);
            }
            if !line.contains("Server listening on") {
                let status = child.wait().unwrap();
                if said.contains("Address already in use") {
                    continue;
                }
                panic!("{SSHD} did not start ({status}):\n{said}");
            }
            // Keep reading its log: a full pipe would stop it, and the log
            // explains a failed login.
            let log = Arc::new(Mutex::new(said));
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
            let known_hosts = d.join("known_hosts");
            fs::write(&known_hosts, format!("[127.0.0.1]:{port} {}\n", key.join(" "))).unwrap();
            return Sshd { child, port, identity: d.join("id"), known_hosts, log };
        }
        panic!("{SSHD}: every port tried was in use");
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd`, which must succeed, adding the sshd's log to a failure.
fn ok_with_log(what: &str, mut cmd: Command, sshd: &Sshd) -> Output {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "expected success\ncommand: {cmd:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}\nsshd log:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr),
        sshd.log()
    );
    eprintln!("lab tests: {what} took {:.2} s", start.elapsed().as_secs_f64());
    out
}

#[test]
fn deploy_to_a_private_sshd_runs_a_job_and_stop_leaves_nothing() {
    if let Some(why) = missing(&["ssh", "ssh-keygen"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = Dir::new();
    let remote = dir.join("remote");
    let _leftovers = KillLeftovers(remote.clone());
    let sshd = Sshd::start(&dir);
    let hosts = dir.write("hosts", "127.0.0.1  # the private sshd\n");
    let workers = dir.join("workers.txt");
    let worker_port = free_port().to_string();
    let ssh_port = sshd.port.to_string();
    let secret = write_secret(&dir);
    let options = [
        "--secret-file",
        s(&secret),
        "--hosts",
        s(&hosts),
        "--ssh-port",
        &ssh_port,
        "--identity",
        s(&sshd.identity),
        "--worker-port",
        &worker_port,
        "--remote-dir",
        s(&remote),
        "--binary",
        BIN,
        "--out",
        s(&workers),
    ];
    // No known_hosts beside the hosts file: the host key comes from SSH_OPTS.
    let ssh_opts = format!(
        "-F /dev/null -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
        s(&sshd.known_hosts)
    );
    let with_opts = |name: &str| {
        let mut cmd = script(name);
        cmd.args(options).env("SSH_OPTS", &ssh_opts);
        cmd
    };

    let out = ok_with_log("deploy.sh", with_opts("deploy.sh"), &sshd);
    let deployed = table(&out, "deployed");
    assert_eq!(deployed.len(), 1, "{}", text(&out.stdout));
    let (host, pid) = deployed[0].clone();
    assert_eq!(host, "127.0.0.1");
    assert!(text(&out.stderr).contains("1 of 1 hosts deployed"), "{}", text(&out.stderr));
    let addr = format!("127.0.0.1:{worker_port}");
    assert_eq!(fs::read_to_string(&workers).unwrap(), format!("{addr}\n"));
    assert_eq!(pid_file(&remote, &host), pid);
    let cmdline = text(&fs::read(format!("/proc/{pid}/cmdline")).unwrap()).replace('\0', " ");
    let want = format!("{} worker --listen 0.0.0.0:{worker_port}", s(&remote.join("wordfreq")));
    assert!(cmdline.starts_with(&want), "pid {pid} is not the worker: {cmdline}");

    let out = ok(dir.cmd(&["status", "--secret-file", s(&secret), "--hosts", s(&workers)]));
    let status = text(&out.stdout);
    assert_eq!(status.lines().count(), 1, "{status}");
    assert!(status.starts_with(&format!("{addr}  reachable  ")), "{status}");

    let kjv = data("kjvbible.txt");
    let start = Instant::now();
    ok(dir.cmd(&["master", "-q", "--secret-file", s(&secret), "--hosts", s(&workers), "-o", "out.txt", s(&kjv)]));
    eprintln!("lab tests: the job took {:.2} s", start.elapsed().as_secs_f64());
    let expected = fs::read(data("kjvbible.expected.txt")).unwrap();
    assert_same("a job on a deployed worker", &dir.read("out.txt"), &expected);

    let out = ok_with_log("stop.sh", with_opts("stop.sh"), &sshd);
    assert_eq!(table(&out, "stopped"), deployed, "{}", text(&out.stdout));
    assert!(!remote.join(format!("worker-{host}.pid")).exists(), "stop.sh left the pid file");
    assert_gone(pid, "the deployed worker");
    fails(dir.cmd(&["status", "--workers", &addr]), 1);
    assert_eq!(processes_mentioning(s(&remote)), []);
    drop(sshd);
    assert_eq!(processes_mentioning(s(dir.path())), [], "processes left (sshd, ssh control masters)");
}

/// A lab built by `scripts/lab.sh up`; `down` when dropped, whatever
/// happened, unless the test took it down itself.
struct Lab {
    dir: PathBuf,
    up: bool,
}

impl Lab {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = script("lab.sh");
        cmd.args(&args[..1]).args(["--dir", s(&self.dir)]).args(&args[1..]);
        cmd
    }

    fn down(&mut self) -> Output {
        let out = timed("lab.sh down", self.cmd(&["down"]));
        self.up = false;
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.up {
            match self.cmd(&["down"]).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!("lab.sh down failed: {}\n{}{}", out.status, text(&out.stdout), text(&out.stderr)),
                Err(e) => eprintln!("lab.sh down: {e}"),
            }
        }
    }
}

/// About `len` bytes of words, half from a vocabulary of 500 and half from
/// 300,000 (a long tail of rare words), one in eight in capitals.
fn many_words(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let r = next();
        let mut n = 1 + if r & 1 == 0 { (r >> 1) % 500 } else { (r >> 1) % 300_000 };
        let upper = next() % 8 == 0;
        while n > 0 {
            let c = b'a' + (n % 26) as u8;
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            n /= 26;
        }
        out.push(match next() % 10 {
            0 => b'\n',
            1 => b'\t',
            _ => b' ',
        });
    }
    out
}

#[test]
fn a_lab_of_three_nodes_deploys_runs_and_tears_down() {
    if let Some(why) = missing(&["ssh", "ssh-keygen", "ip", "tc"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let started = Instant::now();
    let dir = Dir::new();
    let remote = dir.join("remote");
    let _leftovers = KillLeftovers(remote.clone());
    let mut lab = Lab { dir: dir.join("lab"), up: true };
    let out = timed("lab.sh up 3", lab.cmd(&["up", "3"]));
    let (lab_hosts, identity) = (lab.dir.join("hosts"), lab.dir.join("id"));
    let nodes = fs::read_to_string(&lab_hosts).unwrap();
    let nodes: Vec<&str> = nodes.lines().collect();
    assert_eq!(nodes, ["10.79.0.11", "10.79.0.12", "10.79.0.13"], "{}", text(&out.stdout));

    let workers = dir.join("workers.txt");
    let secret = write_secret(&dir);
    let options = [
        "--secret-file",
        s(&secret),
        "--hosts",
        s(&lab_hosts),
        "--identity",
        s(&identity),
        "--remote-dir",
        s(&remote),
        "--binary",
        BIN,
        "--out",
        s(&workers),
    ];
    let with_opts = |name: &str| {
        let mut cmd = script(name);
        cmd.args(options);
        cmd
    };
    // The nodes' host keys come from the known_hosts beside the hosts file.
    let out = timed("deploy.sh to 3 nodes", with_opts("deploy.sh"));
    let deployed = table(&out, "deployed");
    assert_eq!(deployed.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(), nodes, "{}", text(&out.stdout));
    let addrs: Vec<String> = nodes.iter().map(|n| format!("{n}:7000")).collect();
    assert_eq!(fs::read_to_string(&workers).unwrap(), format!("{}\n", addrs.join("\n")));
    for (host, pid) in &deployed {
        assert_eq!(pid_file(&remote, host), *pid);
    }

    let out = ok(dir.cmd(&["status", "--secret-file", s(&secret), "--hosts", s(&workers)]));
    let status = text(&out.stdout);
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), 3, "{status}");
    for (line, addr) in lines.iter().zip(&addrs) {
        assert!(line.starts_with(&format!("{addr}  reachable  ")), "{status}");
    }

    // The nodes share the host's filesystem: workers read the input there.
    let input = dir.write("input/words.txt", many_words(7, 3 << 20));
    let expected = oracle::expected(std::slice::from_ref(&input), true);
    // Workers on a lab network prove a secret, and refuse whoever has none.
    let stderr = fails(dir.cmd(&["master", "-q", "--hosts", s(&workers), "-o", "x.txt", s(&input)]), 1);
    assert!(stderr.contains("secret") && !dir.join("x.txt").exists(), "{stderr}");
    let job = ["master", "-q", "--secret-file", s(&secret), "--hosts", s(&workers), "--split-size", "256K", "-o"];
    timed("a job from the host", {
        let mut cmd = dir.cmd(&job);
        cmd.args(["out.txt", s(&input)]);
        cmd
    });
    assert_same("a job on the lab's workers", &dir.read("out.txt"), &expected);
    timed("a job with --ship", {
        let mut cmd = dir.cmd(&job);
        cmd.args(["shipped.txt", "--ship", s(&input)]);
        cmd
    });
    assert_same("a --ship job on the lab's workers", &dir.read("shipped.txt"), &expected);
    // The master in node 1, in its namespace and CPU budget.
    timed("a job from node 1", {
        let mut cmd = lab.cmd(&["exec", "1", BIN]);
        cmd.args(job).args([s(&dir.join("node1.txt")), s(&data("kjvbible.txt"))]);
        cmd
    });
    let kjv = fs::read(data("kjvbible.expected.txt")).unwrap();
    assert_same("a job whose master runs in node 1", &dir.read("node1.txt"), &kjv);

    let out = timed("stop.sh", with_opts("stop.sh"));
    assert_eq!(table(&out, "stopped"), deployed, "{}", text(&out.stdout));
    for (host, pid) in &deployed {
        assert!(!remote.join(format!("worker-{host}.pid")).exists(), "stop.sh left {host}'s pid file");
        assert_gone(*pid, &format!("the worker on {host}"));
    }
    let out = lab.down();
    assert!(text(&out.stdout).contains("removed"), "{}", text(&out.stdout));

    let netns = ok({
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "list"]);
        cmd
    });
    let netns = text(&netns.stdout);
    assert!(!netns.lines().any(|l| l.starts_with("wflab")), "namespaces left:\n{netns}");
    let links: Vec<String> = fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wflab"))
        .collect();
    assert_eq!(links, Vec::<String>::new(), "links left");
    for mount in fs::read_to_string("/proc/self/mounts").unwrap().lines() {
        let fields: Vec<&str> = mount.split_whitespace().collect();
        if fields.len() > 2 && fields[2].starts_with("cgroup") {
            let cg = Path::new(fields[1]).join("wordfreq-lab");
            assert!(!cg.exists(), "cgroup {} left", cg.display());
        }
    }
    assert_eq!(processes_mentioning(s(&lab.dir)), [], "processes of the lab left (sshds)");
    assert_eq!(processes_mentioning(s(&remote)), [], "workers left");
    fails(lab.cmd(&["status"]), 1);
    eprintln!("lab tests: the lab test took {:.2} s in all", started.elapsed().as_secs_f64());
}

#[test]
fn the_scaling_study_runs_on_local_workers_and_draws_its_charts() {
    // The quickest honest run of scripts/amdahl.sh: local processes (no lab,
    // so it needs no root and cannot clash with the lab test), two worker
    // counts, both plans, the strong and the weak sweep.
    let dir = Dir::new();
    let out = dir.join("study");
    let script = format!("{}/scripts/amdahl.sh", env!("CARGO_MANIFEST_DIR"));
    let result = Command::new("bash")
        .args([&script, "--local", "--quick", "--nodes", "1,2", "--corpus", "zipf", "--weak", "--out"])
        .arg(&out)
        .env("WORDFREQ_BIN", BIN)
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "amdahl.sh failed\n{stdout}\n{}", String::from_utf8_lossy(&result.stderr));
    assert!(stdout.contains("measures time-sharing"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("amdahl.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in
        ["init", "shuffle1", "local_count", "redistribute", "shuffle2", "sort_output", "wall_s", "master_cpu_s"]
    {
        assert!(header.contains(&column), "no {column} column in {header:?}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Per mode: one T1 row and two plans at two worker counts.
    assert_eq!(rows.len(), 2 * (1 + 2 * 2), "{csv}");
    assert!(rows.iter().all(|r| r.len() == header.len() && r[7] == "local"), "{csv}");
    // Every row has its main phase's time, the T1 rows (`count`, whose one
    // step is recorded as shuffle1) included.
    let shuffle1 = header.iter().position(|c| *c == "shuffle1").unwrap();
    assert!(rows.iter().all(|r| r[shuffle1].parse::<f64>().unwrap() > 0.0), "{csv}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("zipf corpus, central plan, strong scaling") && summary.contains("Amdahl fit"),
        "{summary}"
    );
    assert!(summary.contains("weak scaling"), "{summary}");
    for svg in [
        "speedup-zipf-strong.svg",
        "speedup-zipf-weak.svg",
        "phases-zipf-histogram-strong.svg",
        "timeline-zipf-central-strong-k2.svg",
    ] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap_or_else(|e| panic!("{svg}: {e}"));
        assert!(text.starts_with("<svg"), "{svg}");
    }
}

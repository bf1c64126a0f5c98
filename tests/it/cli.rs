//! The command line: help that teaches, clear one-line errors with known
//! exit codes, and no output created or replaced when a job fails.

use crate::util::{Dir, Worker, data, fails, ok};

#[test]
fn help_explains_the_commands() {
    let dir = Dir::new();
    let out = ok(dir.cmd(&["--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["run", "count", "master", "worker", "resultats.txt", "Examples"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let out = ok(dir.cmd(&["run", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["--workers", "--tokenizer", "whitespace-lower", "--metrics", "--split-size", "--output"] {
        assert!(help.contains(word), "run --help lacks {word}:\n{help}");
    }
    ok(dir.cmd(&["--version"]));
}

#[test]
fn bad_arguments_exit_2() {
    let dir = Dir::new();
    fails(dir.cmd(&["count"]), 2);
    fails(dir.cmd(&["count", "--tokenizer", "nope", "x"]), 2);
    fails(dir.cmd(&["count", "--split-size", "0", "x"]), 2);
    fails(dir.cmd(&["master", "x"]), 2);
    fails(dir.cmd(&["frobnicate"]), 2);
}

/// A failing job says why in one line and leaves the old output alone.
fn assert_fails_cleanly(dir: &Dir, args: &[&str], cause: &str) {
    dir.write("out.txt", "previous result\n");
    let stderr = fails(dir.cmd(args), 1);
    assert!(stderr.contains(cause), "stderr should name {cause:?}:\n{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected:\n{stderr}");
    assert!(stderr.starts_with("wordfreq: error: "), "{stderr}");
    assert_eq!(dir.read("out.txt"), b"previous result\n");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_missing_input_is_named_and_nothing_is_written() {
    let dir = Dir::new();
    dir.write("real.txt", "a b c");
    for mode in [&["count"][..], &["run", "--workers", "2"]] {
        let mut args = mode.to_vec();
        args.extend(["-o", "out.txt", "real.txt", "missing.txt"]);
        assert_fails_cleanly(&dir, &args, "missing.txt");
    }
    fails(dir.cmd(&["count", "-o", "fresh.txt", "missing.txt"]), 1);
    assert!(!dir.join("fresh.txt").exists());
}

#[test]
fn output_to_stdout_and_to_a_device() {
    let dir = Dir::new();
    dir.write("in.txt", "b a b\n");
    for mode in [&["count"][..], &["run", "--workers", "2"]] {
        let mut args = mode.to_vec();
        args.extend(["-q", "-o", "-", "in.txt"]);
        assert_eq!(ok(dir.cmd(&args)).stdout, b"b 2\na 1\n");
        let mut args = mode.to_vec();
        args.extend(["-q", "-o", "/dev/null", "in.txt"]);
        ok(dir.cmd(&args));
    }
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null must stay a device");
}

#[test]
fn an_unwritable_output_fails_before_any_work() {
    let dir = Dir::new();
    dir.write("in.txt", "a");
    let stderr = fails(dir.cmd(&["count", "-o", "no/such/dir/out.txt", "in.txt"]), 1);
    assert!(stderr.contains("cannot write output"), "{stderr}");
    let stderr = fails(dir.cmd(&["run", "-w", "2", "-o", ".", "in.txt"]), 1);
    assert!(stderr.contains("directory"), "{stderr}");
}

#[test]
fn an_unreachable_worker_is_named() {
    let dir = Dir::new();
    dir.write("in.txt", "a b c");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    assert_fails_cleanly(&dir, &["master", "--workers", &addr, "-o", "out.txt", "in.txt"], &addr);
    assert_fails_cleanly(
        &dir,
        &["master", "--workers", "no-such-host.invalid:7000", "-o", "out.txt", "in.txt"],
        "no-such-host",
    );
}

#[test]
fn invalid_utf8_under_alnum_and_words_names_the_file_and_its_first_bad_byte() {
    let dir = Dir::new();
    dir.write("bad.txt", b"fine words \xff\xfe here, and later \xc3 more \xff");
    // A file may start inside a char, too.
    dir.write("cut.txt", b"\x80\x80 text after");
    for tokenizer in ["alnum", "words"] {
        for mode in [&["count", "-t", "1"][..], &["count", "-t", "2"], &["run", "-w", "2"], &["run", "-w", "3"]] {
            for split in ["1", "4", "8M"] {
                for (file, offset) in [("bad.txt", 11), ("cut.txt", 0)] {
                    let mut args = mode.to_vec();
                    args.extend(["--tokenizer", tokenizer, "-o", "out.txt", "--split-size", split, file]);
                    assert_fails_cleanly(&dir, &args, &format!("{file}: invalid UTF-8 at byte offset {offset}"));
                }
            }
        }
    }
}

#[test]
fn master_takes_a_hosts_file() {
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    dir.write("in.txt", "x y x\n");
    dir.write("hosts", format!("# lab machines\n{}\n\n{}  # second\n", workers[0].addr, workers[1].addr));
    ok(dir.cmd(&["master", "-q", "--hosts", "hosts", "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"x 2\ny 1\n");
    dir.write("empty-hosts", "# nobody\n");
    let stderr = fails(dir.cmd(&["master", "--hosts", "empty-hosts", "in.txt"]), 2);
    assert!(stderr.contains("no worker"), "{stderr}");
    let twice = format!("{0},{0}", workers[0].addr);
    let stderr = fails(dir.cmd(&["master", "--workers", &twice, "in.txt"]), 2);
    assert!(stderr.contains("twice"), "{stderr}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let worker = Worker::start();
    let dir = Dir::new();
    let stderr = fails(dir.cmd(&["worker", "--listen", &worker.addr]), 1);
    assert!(stderr.contains("cannot listen on") && stderr.contains(&worker.addr), "{stderr}");
    assert!(stderr.contains("gave up after 6 attempts"), "{stderr}");
    let stderr = fails(dir.cmd(&["worker", "--listen", "not an address"]), 1);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn quiet_prints_nothing_and_the_table_names_every_phase() {
    let dir = Dir::new();
    let kjv = data("kjvbible.txt");
    let kjv = kjv.to_str().unwrap();
    let out = ok(dir.cmd(&["run", "-q", "-w", "2", "-o", "out.txt", kjv]));
    assert!(out.stderr.is_empty() && out.stdout.is_empty());
    let out = ok(dir.cmd(&["run", "-w", "2", "-o", "out.txt", kjv]));
    let table = String::from_utf8_lossy(&out.stderr);
    for phase in ["init", "shuffle1", "local_count", "redistribute", "shuffle2", "sort_output", "820,736 words"] {
        assert!(table.contains(phase), "the table lacks {phase}:\n{table}");
    }
}

#[test]
fn metrics_json_has_every_phase_and_node() {
    let dir = Dir::new();
    let kjv = data("kjvbible.txt");
    ok(dir.cmd(&["run", "-q", "-w", "3", "--metrics", "m.json", "-o", "out.txt", kjv.to_str().unwrap()]));
    let m: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
    assert_eq!(m["workers"], 3);
    assert_eq!(m["total_words"], 820_736);
    assert_eq!(m["distinct_words"], 32_163);
    assert_eq!(m["total_bytes"], 4_303_552);
    assert_eq!(m["tokenizer"], "whitespace-lower");
    let phases = m["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(names, ["init", "shuffle1", "local_count", "redistribute", "shuffle2", "sort_output"]);
    // The phases follow one another on the master's clock, each inside the
    // job, and each node's figures cover every worker.
    let mut previous_end = 0;
    for p in phases {
        assert_eq!(p["nodes"].as_array().unwrap().len(), 3);
        let (start, end, wall) =
            (p["start_us"].as_u64().unwrap(), p["end_us"].as_u64().unwrap(), p["wall_us"].as_u64().unwrap());
        assert!(start >= previous_end && end >= start, "phase {} runs from {start} to {end}", p["phase"]);
        assert_eq!(wall, end - start, "wall_us is end_us - start_us");
        previous_end = end;
        for node in p["nodes"].as_array().unwrap() {
            assert!(node["end_us"].as_u64().unwrap() >= node["start_us"].as_u64().unwrap());
            assert!(node["busy_us"].is_u64());
        }
    }
    assert!(previous_end <= m["wall_us"].as_u64().unwrap(), "the phases end before the job does");
    let shuffle1 = &phases[1]["nodes"];
    let sent: u64 = shuffle1.as_array().unwrap().iter().map(|n| n["words_sent"].as_u64().unwrap()).sum();
    assert_eq!(sent, 820_736);
    assert!(shuffle1.as_array().unwrap().iter().all(|n| n["bytes_sent"].as_u64().unwrap() > 0));
}

#[test]
fn the_central_plan_moves_every_pair_through_the_master() {
    let dir = Dir::new();
    let kjv = data("kjvbible.txt");
    let mut received = Vec::new();
    for plan in ["histogram", "central"] {
        let metrics = format!("{plan}.json");
        ok(dir.cmd(&[
            "run",
            "-q",
            "-w",
            "3",
            "--redistribute",
            plan,
            "--metrics",
            &metrics,
            "-o",
            "out.txt",
            kjv.to_str().unwrap(),
        ]));
        assert_eq!(dir.read("out.txt"), std::fs::read(data("kjvbible.expected.txt")).unwrap(), "{plan}");
        let m: serde_json::Value = serde_json::from_slice(&dir.read(&metrics)).unwrap();
        assert_eq!(m["redistribute"], plan);
        let phase4 = &m["phases"][3];
        assert_eq!(phase4["shares"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).sum::<u64>(), 32_163);
        received.push((
            phase4["master_bytes_received"].as_u64().unwrap(),
            m["phases"][4]["master_bytes_sent"].as_u64().unwrap(),
        ));
    }
    // Histograms and samples are small; the central plan carries all 32,163
    // pairs to the master in phase 4 and back out in phase 5.
    let (histogram, central) = (received[0], received[1]);
    assert!(central.0 > 10 * histogram.0 && central.0 > 32_163 * 8, "{received:?}");
    assert!(central.1 > 32_163 * 8 && histogram.1 < 1_000, "{received:?}");
}

#[test]
fn the_central_plan_survives_a_full_merger_in_shuffle_1() {
    // Regression: under the central plan, the links paused while shuffle
    // 1's merger was full were never resumed (the resume went to the
    // master link), and two one-thread workers waited on each other for
    // good. A million distinct words make the mergers fall behind.
    let dir = Dir::new();
    let mut text = Vec::with_capacity(17 << 20);
    for i in 0..1_000_000u64 {
        text.extend_from_slice(format!("{:x}\n", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).as_bytes());
    }
    let input = dir.write("distinct.txt", &text);
    let workers: Vec<Worker> = (0..2)
        .map(|_| {
            let mut cmd = std::process::Command::new(crate::util::BIN);
            cmd.args(["worker", "--listen", "127.0.0.1:0", "--threads", "1", "-q"]);
            Worker::spawn(cmd)
        })
        .collect();
    let path = input.to_str().unwrap();
    ok(dir.cmd(&["count", "-q", "-o", "count.txt", path]));
    let list = crate::util::addrs(&workers);
    // A hang is the failure here: give up after two minutes.
    let mut master = std::process::Command::new("timeout");
    master.args(["120", crate::util::BIN, "master", "-q", "--workers", &list, "--redistribute", "central"]);
    master.args(["-o", "central.txt", path]).current_dir(dir.path());
    ok(master);
    assert!(dir.read("central.txt") == dir.read("count.txt"), "central result differs from count");
}

#[test]
fn metrics_and_output_may_not_be_the_same_file() {
    let dir = Dir::new();
    dir.write("in.txt", "a b a");
    dir.write("x", "previous result");
    let stderr = fails(dir.cmd(&["count", "-q", "--metrics", "x", "-o", "x", "in.txt"]), 2);
    assert!(stderr.contains("both name x"), "{stderr}");
    assert_eq!(dir.read("x"), b"previous result");
    let stderr = fails(dir.cmd(&["count", "-q", "--metrics", "./x", "-o", "x", "in.txt"]), 2);
    assert!(stderr.contains("both name"), "{stderr}");
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_the_old_result() {
    // A 64 KiB tmpfs, mounted in a private mount namespace (root only).
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /mnt"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: this process may not create mount namespaces (unshare --mount needs root)");
        return;
    }
    let dir = Dir::new();
    let full = dir.join("full");
    std::fs::create_dir(&full).unwrap();
    let kjv = data("kjvbible.txt");
    let script = format!(
        "mount -t tmpfs -o size=64k none '{full}' && echo previous > '{full}/out.txt' && \
         '{bin}' count -q -o '{full}/out.txt' '{kjv}'; echo \"exit=$?\"; cat '{full}/out.txt'; ls -A '{full}'",
        full = full.display(),
        bin = crate::util::BIN,
        kjv = kjv.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "exit=1\nprevious\nout.txt\n", "stderr: {stderr}");
    assert!(
        stderr.contains("cannot write output") && stderr.contains("out.txt") && stderr.contains("No space left"),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_metrics_destination_fails_before_any_work() {
    // Regression (issue 11 §5): `--metrics nodir/m.json` ran the whole job,
    // replaced the output, then failed.
    let worker = Worker::start();
    let dir = Dir::new();
    dir.write("in.txt", "a b a");
    std::fs::create_dir(dir.join("adir")).unwrap();
    for mode in [&["count"][..], &["run", "-w", "2"], &["master", "--workers", &worker.addr]] {
        for (metrics, cause) in
            [("nodir/m.json", "cannot write metrics nodir/m.json"), ("adir", "adir: it is a directory")]
        {
            let mut args = mode.to_vec();
            args.extend(["--metrics", metrics, "-o", "out.txt", "in.txt"]);
            assert_fails_cleanly(&dir, &args, cause);
        }
    }
    // A metrics file that exists keeps its old content when the job fails.
    dir.write("m.json", "old metrics");
    fails(dir.cmd(&["count", "--metrics", "m.json", "-o", "out.txt", "missing.txt"]), 1);
    assert_eq!(dir.read("m.json"), b"old metrics");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 4, "a temporary was left behind: {names:?}");
    // --metrics and -o naming one file that does not exist yet.
    let stderr = fails(dir.cmd(&["count", "-q", "--metrics", "./fresh", "-o", "fresh", "in.txt"]), 2);
    assert!(stderr.contains("both name"), "{stderr}");
}

#[test]
fn address_mistakes_are_usage_errors_that_say_where() {
    let worker = Worker::start();
    let dir = Dir::new();
    dir.write("in.txt", "x y x\n");
    dir.write("hosts.txt", format!("# lab\n{}\nlab2 7000\n", worker.addr));
    for command in [&["master", "in.txt"][..], &["status"]] {
        let stderr = fails(dir.cmd(&[command, &["--hosts", "hosts.txt"]].concat()), 2);
        assert!(stderr.contains("hosts.txt:3: \"lab2 7000\" is not HOST:PORT"), "{stderr}");
        let stderr = fails(dir.cmd(command), 2);
        assert!(stderr.contains("--workers") && stderr.contains("--hosts FILE"), "{stderr}");
    }
    for bad in ["lab2", "lab2:port", "::1:7000"] {
        let list = format!("{},{bad}", worker.addr);
        let stderr = fails(dir.cmd(&["master", "--workers", &list, "in.txt"]), 2);
        assert!(stderr.contains(&format!("--workers: \"{bad}\" is not HOST:PORT")), "{stderr}");
    }
    // Regression (issue 8 §7i): one worker under two names was refused as
    // busy when the master reached it the second time.
    let port = worker.addr.rsplit_once(':').unwrap().1;
    let twice = format!("{},localhost:{port}", worker.addr);
    let stderr = fails(dir.cmd(&["master", "--workers", &twice, "in.txt"]), 2);
    assert!(stderr.contains(&format!("localhost:{port} is listed twice: it is worker 0, {}", worker.addr)), "{stderr}");
    ok(dir.cmd(&["master", "-q", "--workers", &worker.addr, "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"x 2\ny 1\n");
}

#[test]
fn a_worker_list_may_have_spaces_after_its_commas() {
    let workers = [Worker::start(), Worker::start(), Worker::start()];
    let dir = Dir::new();
    dir.write("in.txt", "x y x\n");
    let spaced = format!("{}, {} ,{}", workers[0].addr, workers[1].addr, workers[2].addr);
    ok(dir.cmd(&["master", "-q", "--workers", &spaced, "-o", "quoted.txt", "in.txt"]));
    assert_eq!(dir.read("quoted.txt"), b"x 2\ny 1\n");
    // Unquoted, the shell cuts the list after each comma.
    let (a, b, c) = (format!("{},", workers[0].addr), format!("{},", workers[1].addr), workers[2].addr.as_str());
    ok(dir.cmd(&["master", "-q", "--workers", &a, &b, c, "-o", "cut.txt", "in.txt"]));
    assert_eq!(dir.read("cut.txt"), b"x 2\ny 1\n");
    let out = ok(dir.cmd(&["status", "--workers", &a, &b, c]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn logs_and_metrics_name_the_job_one_way_and_each_line_its_source() {
    let dir = Dir::new();
    let kjv = data("kjvbible.txt");
    let out = ok(dir.cmd(&["run", "-v", "-w", "3", "--metrics", "m.json", "-o", "out.txt", kjv.to_str().unwrap()]));
    let m: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
    let id = m["job_id"].as_str().unwrap();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    let logs = String::from_utf8_lossy(&out.stderr);
    for source in ["worker 0", "worker 1", "worker 2"] {
        assert!(logs.contains(&format!(" INFO {source} job {id}: job starts: rank")), "{source}:\n{logs}");
    }
    // Every log line names its source; none has a colour code (stderr is a pipe).
    let log_lines: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ") || l.contains(" WARN ")).collect();
    assert!(log_lines.len() >= 6, "{logs}");
    assert!(log_lines.iter().all(|l| l.contains(" INFO worker") || l.contains(" INFO master")), "{logs}");
    assert!(!logs.contains('\x1b'), "colour codes in a pipe:\n{logs}");
    // count names its one step `count` and has no job id.
    ok(dir.cmd(&["count", "-q", "--metrics", "c.json", "-o", "out.txt", kjv.to_str().unwrap()]));
    let c: serde_json::Value = serde_json::from_slice(&dir.read("c.json")).unwrap();
    let steps: Vec<&str> = c["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(steps, ["init", "count", "sort_output"]);
    assert!(c["job_id"].is_null());
    assert!(c["wall_us"].as_u64().unwrap() >= c["phases"][1]["wall_us"].as_u64().unwrap());
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    // `script` gives the command a pseudo-terminal for stderr.
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to make a terminal");
        return;
    }
    let dir = Dir::new();
    dir.write("in.txt", "a b a");
    let on_terminal = |no_color: Option<&str>| {
        let mut cmd = std::process::Command::new("script");
        let line = format!("'{}' run -v -w 1 -o out.txt in.txt", crate::util::BIN);
        cmd.args(["-qec", &line, "/dev/null"]).current_dir(dir.path()).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        String::from_utf8_lossy(&ok(cmd).stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\x1b[32m INFO\x1b[0m worker 0 job "), "{coloured:?}");
    // NO_COLOR reaches the workers too. (The progress line still redraws
    // itself with `ESC [2K`, which is no colour.)
    let plain = on_terminal(Some("1"));
    assert!(plain.contains(" INFO worker 0 job "), "{plain:?}");
    assert!(!plain.contains("\x1b[3") && !plain.contains("\x1b[0m"), "colour despite NO_COLOR: {plain:?}");
}

#[test]
fn version_names_the_commit_and_the_protocol() {
    let dir = Dir::new();
    let out = ok(dir.cmd(&["--version"]));
    let version = String::from_utf8_lossy(&out.stdout);
    let protocol = format!("protocol {})", wordfreq::wire::hello::VERSION);
    assert!(
        version.starts_with("wordfreq 0.") && version.contains("(commit ") && version.contains(&protocol),
        "{version}"
    );
    let commit = version.split("(commit ").nth(1).unwrap().split(',').next().unwrap();
    assert!(commit == "unknown" || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())), "{commit}");
    let out = ok(dir.cmd(&["worker", "--version"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&protocol));
}

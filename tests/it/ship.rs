//! `master --ship`: the master sends each worker the bytes its splits need,
//! and the result is the same, byte for byte, as when workers read the
//! files themselves. Workers here could read the files, but a shipping job
//! never opens them (its spec says so); the last test hides the inputs from
//! the workers with a mount namespace to show it.

use std::path::PathBuf;
use std::process::Command;

use crate::oracle;
use crate::util::{BIN, Dir, Worker, addrs, assert_same, data, fails, ok};

/// Text with every kind of edge a split can land on: words of 1 to 40
/// bytes, runs of each whitespace byte, multibyte UTF-8, uppercase.
fn mixed_text(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let pieces: [&[u8]; 12] = [
        b" ",
        b"\n",
        b"\t\r\n",
        b"\x0b\x0c",
        b"Word",
        b"caf\xc3\xa9",
        b"\xe2\x82\xac",
        b"x",
        b"ABC",
        b"zz",
        b"1",
        b"\xf0\x9f\x98\x80",
    ];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let piece = pieces[next() % pieces.len()];
        for _ in 0..1 + next() % 3 {
            out.extend_from_slice(piece);
        }
    }
    out
}

fn master(dir: &Dir, workers: &[Worker], extra: &[&str], inputs: &[PathBuf]) -> Vec<u8> {
    let mut args = vec!["master", "-q", "--ship", "--workers"];
    let list = addrs(workers);
    args.push(&list);
    args.extend(["-o", "out.txt"]);
    args.extend(extra);
    let mut cmd = dir.cmd(&args);
    cmd.args(inputs);
    ok(cmd);
    dir.read("out.txt")
}

#[test]
fn shipped_jobs_match_the_oracle_at_every_split_size() {
    let workers = [Worker::start(), Worker::start(), Worker::start()];
    let dir = Dir::new();
    let a = dir.write("a.txt", mixed_text(1, 5_000));
    let empty = dir.write("empty.txt", b"");
    let b = dir.write("b.txt", mixed_text(2, 777));
    let spaces = dir.write("spaces.txt", b"   \n\n  ");
    let one_word = dir.write("one.txt", vec![b'q'; 3000]);
    let inputs = vec![a.clone(), empty, b, spaces, one_word, a];
    for tokenizer in ["whitespace-lower", "whitespace"] {
        let expected = oracle::expected(&inputs, tokenizer == "whitespace-lower");
        for n in 1..=3 {
            for split in ["1", "7", "100", "8M"] {
                let out = master(&dir, &workers[..n], &["--tokenizer", tokenizer, "--split-size", split], &inputs);
                assert_same(&format!("--ship, {n} workers, {tokenizer}, split {split}"), &out, &expected);
            }
        }
    }
}

#[test]
fn a_shipped_input_is_named_by_its_own_path_in_errors() {
    let workers = [Worker::start()];
    let dir = Dir::new();
    let bad = dir.write("bad.txt", b"fine words \xff\xfe here");
    let list = addrs(&workers);
    let stderr = fails(
        dir.cmd(&["master", "-q", "--ship", "--tokenizer", "alnum", "--workers", &list, bad.to_str().unwrap()]),
        1,
    );
    assert!(stderr.contains(&format!("{}: invalid UTF-8 at byte offset 11", bad.display())), "{stderr}");
    assert!(!stderr.contains("wordfreq-spool"), "{stderr}");
}

#[test]
fn shipped_alnum_jobs_match_count() {
    let workers = [Worker::start(), Worker::start()];
    let dir = Dir::new();
    let input = dir.write("a.txt", mixed_text(3, 4_000));
    ok(dir.cmd(&["count", "-q", "--tokenizer", "alnum", "-o", "count.txt", input.to_str().unwrap()]));
    let expected = dir.read("count.txt");
    for split in ["1", "5", "64", "8M"] {
        let out =
            master(&dir, &workers, &["--tokenizer", "alnum", "--split-size", split], std::slice::from_ref(&input));
        assert_same(&format!("--ship alnum split {split}"), &out, &expected);
    }
}

#[test]
fn shipped_words_jobs_get_the_bytes_before_a_split_that_words_need() {
    // Under `words`, whether a word starts at a split's first byte can depend
    // on more than the 8 bytes before it: a long word, a mark-laden one, a
    // run of ideographs or flags. The master ships back to a safe point.
    let workers = [Worker::start(), Worker::start(), Worker::start()];
    let dir = Dir::new();
    // Most bytes here sit in long runs of marks, where a split's start shows
    // nothing of the word it is in.
    let marks = |mark: &str| mark.repeat(30);
    let pieces = [
        format!("a{}.{}b ", marks("\u{301}"), marks("\u{301}")),
        format!("x{}y\n", marks("\u{93e}")),
        "internationalization.localization ".to_string(),
        "日本語テキスト漢字仮名交じり文".to_string(),
        "🇫🇷🇩🇪🇮🇹🇪🇸x ".to_string(),
        "CAFE\u{301}S café\r\n".to_string(),
    ];
    let text: String = (0..30).map(|i| pieces[(i * 7) % pieces.len()].as_str()).collect();
    let input = dir.write("w.txt", text);
    let expected = oracle::expected_by(std::slice::from_ref(&input), oracle::unicode_words);
    for n in [1, 2, 3] {
        for split in ["1", "5", "64", "8M"] {
            let out = master(
                &dir,
                &workers[..n],
                &["--tokenizer", "words", "--split-size", split],
                std::slice::from_ref(&input),
            );
            assert_same(&format!("--ship words, {n} workers, split {split}"), &out, &expected);
        }
    }
}

#[test]
fn shipped_inputs_reach_workers_that_cannot_see_them() {
    // The inputs live in a directory that each worker's mount namespace
    // covers with an empty tmpfs. Needs unshare(1) and the right to use it.
    let dir = Dir::new();
    let hidden = dir.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    let input = hidden.join("kjv.txt");
    std::fs::copy(data("kjvbible.txt"), &input).unwrap();
    let script =
        format!("mount -t tmpfs none '{}' && exec '{BIN}' worker --listen 127.0.0.1:0 --threads 1", hidden.display());
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /mnt"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: this process may not create mount namespaces (unshare --mount needs root)");
        return;
    }
    let workers: Vec<Worker> = (0..2)
        .map(|_| {
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
            Worker::spawn(cmd)
        })
        .collect();
    let list = addrs(&workers);
    let path = input.to_str().unwrap();
    let stderr = fails(dir.cmd(&["master", "-q", "--workers", &list, "-o", "out.txt", path]), 1);
    assert!(stderr.contains("kjv.txt") && stderr.contains("--ship"), "{stderr}");
    assert!(!dir.join("out.txt").exists());
    ok(dir.cmd(&["master", "-q", "--ship", "--workers", &list, "--split-size", "64K", "-o", "out.txt", path]));
    let expected = std::fs::read(data("kjvbible.expected.txt")).unwrap();
    assert_same("--ship to workers that cannot see the input", &dir.read("out.txt"), &expected);
}

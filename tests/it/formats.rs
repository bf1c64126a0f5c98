//! Result formats and filters (issue 11 §6): csv and json read back by
//! standard parsers (the `csv` crate, `serde_json`) and compared with the
//! oracle, words that are not UTF-8 decoded by the documented escape; tsv
//! byte for byte; `--top` and `--min-count` against the full result
//! filtered, the same on 1 to 3 workers as in one process, with only the
//! kept lines crossing the network.

use std::path::Path;

use crate::oracle;
use crate::util::{Dir, assert_same, data, ok};

/// The ways to run a job that must all give the same result.
const MODES: &[&[&str]] = &[
    &["count", "--threads", "2"],
    &["run", "--workers", "1"],
    &["run", "--workers", "2"],
    &["run", "--workers", "3"],
    &["run", "--workers", "3", "--redistribute", "central"],
];

/// A corpus with the words formats find hard: commas, quotes, backslashes,
/// control bytes, bytes that are not UTF-8, and UTF-8 that is.
fn hard_words(dir: &Dir) -> std::path::PathBuf {
    let mut text = std::fs::read(data("kjvbible.txt")).unwrap();
    text.truncate(200_000);
    for round in 0..3 {
        for word in [
            &b"a,b"[..],
            b"\"quoted\"",
            b"say,\"hi\"",
            b"back\\slash",
            b"\\x41",
            b"\\\\",
            b"caf\xc3\xa9",
            b"caf\xe9",
            b"\xff\xfe",
            b"half\xe2\x82",
            b"bell\x07ctl\x1f",
            b"\xf0\x9f\x98\x80",
            b"tab\xc2\xa0nbsp",
        ] {
            for _ in 0..=round {
                text.extend_from_slice(word);
                text.push(b' ');
            }
        }
    }
    dir.write("hard.txt", text)
}

/// The oracle's records: (word bytes, count), in result order.
fn oracle_records(input: &Path) -> Vec<(Vec<u8>, u64)> {
    oracle::expected_for(input)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let space = line.iter().rposition(|&b| b == b' ').unwrap();
            (line[..space].to_vec(), std::str::from_utf8(&line[space + 1..]).unwrap().parse().unwrap())
        })
        .collect()
}

/// The README's decoding of a csv or json word: `\\` is a backslash and
/// `\xHH` the byte HH; every other char stands for its UTF-8 bytes.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or_else(|_| panic!("bad escape in {text:?}")));
            }
            other => panic!("bad escape {other:?} in {text:?}"),
        }
    }
    out
}

fn read_csv(bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
    let mut reader = csv::Reader::from_reader(bytes);
    assert_eq!(reader.headers().unwrap(), vec!["word", "count"]);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.len(), 2, "{r:?}");
            (unescape(&r[0]), r[1].parse().unwrap())
        })
        .collect()
}

fn read_json(bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o.as_object().unwrap().len(), 2, "{o}");
            (unescape(o["word"].as_str().unwrap()), o["count"].as_u64().unwrap())
        })
        .collect()
}

fn txt(records: &[(Vec<u8>, u64)], separator: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for (word, count) in records {
        out.extend_from_slice(word);
        out.push(separator);
        out.extend_from_slice(format!("{count}\n").as_bytes());
    }
    out
}

/// Runs `mode` with `extra` options and returns the result's bytes.
fn result(dir: &Dir, mode: &[&str], extra: &[&str], input: &Path) -> Vec<u8> {
    let mut args = mode.to_vec();
    args.extend(["-q", "-o", "out", "--split-size", "64K"]);
    args.extend(extra);
    let mut cmd = dir.cmd(&args);
    cmd.arg(input);
    ok(cmd);
    dir.read("out")
}

#[test]
fn every_format_reads_back_as_the_oracle() {
    let dir = Dir::new();
    let input = hard_words(&dir);
    let expected = oracle_records(&input);
    assert!(expected.iter().any(|(w, _)| std::str::from_utf8(w).is_err()), "the corpus needs non-UTF-8 words");
    for mode in MODES {
        let what = |f: &str| format!("{} --format {f}", mode.join(" "));
        assert_same(&what("txt"), &result(&dir, mode, &["--format", "txt"], &input), &txt(&expected, b' '));
        assert_same(&what("tsv"), &result(&dir, mode, &["--format", "tsv"], &input), &txt(&expected, b'\t'));
        let csv = result(&dir, mode, &["--format", "csv"], &input);
        assert!(read_csv(&csv) == expected, "{}: csv differs from the oracle", what("csv"));
        let json = result(&dir, mode, &["--format", "json"], &input);
        assert!(read_json(&json) == expected, "{}: json differs from the oracle", what("json"));
    }
}

#[test]
fn an_empty_result_is_still_a_valid_document() {
    let dir = Dir::new();
    let input = dir.write("in.txt", "a b a\n");
    for mode in MODES {
        assert_eq!(result(&dir, mode, &["--format", "csv", "--min-count", "3"], &input), b"word,count\n");
        assert_eq!(result(&dir, mode, &["--format", "json", "--min-count", "3"], &input), b"[\n]\n");
        assert_eq!(result(&dir, mode, &["--format", "txt", "--min-count", "3"], &input), b"");
    }
}

#[test]
fn top_and_min_count_keep_a_prefix_of_the_full_result() {
    let dir = Dir::new();
    let input = data("kjvbible.txt");
    let full = oracle_records(&input);
    for (top, min_count) in [(Some(1), None), (Some(5000), Some(3)), (None, Some(50)), (Some(40_000), None)] {
        let mut extra = Vec::new();
        let (top_s, min_s) = (top.map(|t: usize| t.to_string()), min_count.map(|c: u64| c.to_string()));
        if let Some(t) = &top_s {
            extra.extend(["--top", t.as_str()]);
        }
        if let Some(c) = &min_s {
            extra.extend(["--min-count", c.as_str()]);
        }
        let kept: Vec<_> = full
            .iter()
            .filter(|(_, c)| *c >= min_count.unwrap_or(0))
            .take(top.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        for mode in MODES {
            let what = format!("{} {}", mode.join(" "), extra.join(" "));
            assert_same(&what, &result(&dir, mode, &extra, &input), &txt(&kept, b' '));
        }
        let json = result(&dir, &["run", "-w", "3"], &[&extra[..], &["--format", "json"]].concat(), &input);
        assert!(read_json(&json) == kept, "{extra:?} --format json differs");
    }
}

#[test]
fn top_moves_only_the_kept_lines_to_the_master() {
    let dir = Dir::new();
    let input = data("kjvbible.txt");
    let input = input.to_str().unwrap();
    for plan in ["histogram", "central"] {
        ok(dir.cmd(&[
            "run",
            "-q",
            "-w",
            "3",
            "--top",
            "100",
            "--redistribute",
            plan,
            "--metrics",
            "m.json",
            "-o",
            "out",
            input,
        ]));
        let m: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
        assert_eq!((m["top"].as_u64(), m["distinct_words"].as_u64()), (Some(100), Some(32_163)));
        let sort_output = &m["phases"][5];
        assert_eq!(sort_output["phase"], "sort_output");
        let lines: Vec<u64> =
            sort_output["nodes"].as_array().unwrap().iter().map(|n| n["records_sent"].as_u64().unwrap()).collect();
        assert_eq!(lines.iter().sum::<u64>(), 100, "{plan}: {lines:?}");
        // 100 short lines, not the 32,163 of the vocabulary (~300 KiB).
        let received = sort_output["master_bytes_received"].as_u64().unwrap();
        assert!(received < 4_000, "{plan}: the master received {received} bytes in sort_output");
        assert_eq!(dir.read("out").split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(), 100);
    }
}

#[test]
fn bad_filter_values_are_usage_errors() {
    let dir = Dir::new();
    dir.write("in.txt", "a");
    for bad in [&["--top", "0"][..], &["--top", "x"], &["--min-count", "-1"], &["--format", "xml"]] {
        let mut args = vec!["count", "in.txt"];
        args.extend(bad);
        crate::util::fails(dir.cmd(&args), 2);
    }
}

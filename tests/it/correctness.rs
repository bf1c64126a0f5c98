//! Byte-for-byte results: every edge of DESIGN §1, through `count` and
//! through `run` on 1, 2, 3 and 5 workers (and on 2 and 5 under the central
//! plan of phase 4), with default and tiny splits.

use std::path::PathBuf;

use crate::oracle;
use crate::util::{Dir, assert_same, data, ok};

/// The ways to run a job that must all give the same bytes.
const MODES: &[&[&str]] = &[
    &["count", "--threads", "1"],
    &["count", "--threads", "2"],
    &["run", "--workers", "1"],
    &["run", "--workers", "2"],
    &["run", "--workers", "3"],
    &["run", "--workers", "5"],
    &["run", "--workers", "2", "--redistribute", "central"],
    &["run", "--workers", "5", "--redistribute", "central"],
];

/// Runs every mode on `inputs` (with each split size) and compares with `expected`.
fn check(dir: &Dir, inputs: &[PathBuf], extra: &[&str], splits: &[&str], expected: &[u8]) {
    for mode in MODES {
        for split in splits {
            let mut args: Vec<&str> = mode.to_vec();
            args.extend(["-q", "-o", "out.txt", "--split-size", split]);
            args.extend(extra);
            let mut cmd = dir.cmd(&args);
            cmd.args(inputs);
            ok(cmd);
            assert_same(&format!("{} --split-size {split}", mode.join(" ")), &dir.read("out.txt"), expected);
        }
    }
}

/// Writes `bytes` as one input and checks it against the oracle.
fn check_text(bytes: &[u8]) {
    let dir = Dir::new();
    let input = dir.write("input.txt", bytes);
    let expected = oracle::expected_for(&input);
    check(&dir, &[input], &[], &["1", "7", "8M"], &expected);
}

#[test]
fn the_sample_text_matches_the_golden_result() {
    let dir = Dir::new();
    let expected = std::fs::read(data("kjvbible.expected.txt")).unwrap();
    assert_same("oracle", &oracle::expected_for(&data("kjvbible.txt")), &expected);
    check(&dir, &[data("kjvbible.txt")], &[], &["8M", "100K"], &expected);
}

#[test]
fn empty_input_gives_an_empty_result() {
    check_text(b"");
}

#[test]
fn whitespace_only_gives_an_empty_result() {
    check_text(b" \t\n\x0b\x0c\r \r\n\n\n   ");
}

#[test]
fn the_six_whitespace_bytes_and_crlf_separate_words() {
    check_text(b"a\tb\nc\x0bd\x0ce\rf g\r\nA\r\nB  \t\tc\r\n\r\nd\x1ce\x1ff\x00g\x85h\xa0i");
}

#[test]
fn non_utf8_and_non_ascii_bytes_neither_split_nor_lowercase() {
    check_text(
        "\u{c9}COLE \u{e9}cole \u{c9}cole ÉCOLE Straße STRASSE x\u{2003}y x\u{a0}y Ωmega ωMEGA"
            .as_bytes()
            .iter()
            .chain(b" \xff\xfe \xff\xfe \xc3 \xc3\x28 \x80abc \x80ABC \xe2\x80 z\x00z Z\x00Z")
            .copied()
            .collect::<Vec<u8>>()
            .as_slice(),
    );
}

#[test]
fn ties_are_ordered_by_word_bytes() {
    let mut text = String::new();
    for round in 0..3 {
        for i in (0..400).rev() {
            text.push_str(&format!("w{} ", (i * 7919 + round) % 400));
        }
        text.push_str("\nZ z B b _ ~ 1 10 9 \n");
    }
    check_text(text.as_bytes());
}

#[test]
fn no_trailing_newline_keeps_the_last_word() {
    check_text(b"alpha beta\ngamma beta alpha\nlast");
}

#[test]
fn words_crossing_split_edges_are_counted_once() {
    let text: String = (0..3000).map(|i| format!("{}{} ", "word".repeat(i % 5 + 1), i % 17)).collect();
    let dir = Dir::new();
    let input = dir.write("input.txt", &text);
    let expected = oracle::expected_for(&input);
    check(&dir, &[input], &[], &["1", "2", "3", "13", "64", "1000"], &expected);
}

#[test]
fn one_very_long_word() {
    // Longer than a batch (1 MiB) and than an output chunk, across many splits.
    let mut text = b"short words first ".to_vec();
    text.extend(std::iter::repeat_n(b'X', 3 << 20));
    text.extend(b" short ");
    text.extend(std::iter::repeat_n(b'x', 3 << 20));
    text.extend(b"\nwords last");
    let dir = Dir::new();
    let input = dir.write("input.txt", &text);
    let expected = oracle::expected_for(&input);
    check(&dir, &[input], &[], &["64K", "8M"], &expected);
}

#[test]
fn all_distinct_words() {
    let text: String = (0..150_000u64).map(|i| format!("{:x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
    let dir = Dir::new();
    let input = dir.write("input.txt", &text);
    let expected = oracle::expected_for(&input);
    check(&dir, &[input], &[], &["256K"], &expected);
}

#[test]
fn several_files_a_directory_and_the_same_file_twice() {
    let dir = Dir::new();
    dir.write("corpus/a.txt", "one two three\n");
    dir.write("corpus/sub/b.txt", "Two three three\n");
    dir.write("corpus/sub/deeper/c.txt", "THREE four");
    dir.write("corpus/empty.txt", "");
    let single = dir.write("single.txt", "one one four\n");
    let inputs = vec![dir.join("corpus"), single.clone(), single];
    let expected = oracle::expected(&inputs, true);
    assert_same("sanity", &expected, b"one 5\nthree 4\nfour 3\ntwo 2\n");
    check(&dir, &inputs, &[], &["1", "8M"], &expected);
}

#[test]
fn the_whitespace_tokenizer_keeps_case() {
    let dir = Dir::new();
    let input = dir.write("input.txt", "The the THE tHe the\nA a A\n");
    let expected = oracle::expected(std::slice::from_ref(&input), false);
    assert_same("sanity", &expected, b"A 2\nthe 2\nTHE 1\nThe 1\na 1\ntHe 1\n");
    check(&dir, &[input], &["--tokenizer", "whitespace"], &["3", "8M"], &expected);
}

#[test]
fn the_alnum_tokenizer_splits_on_punctuation_and_lowercases_unicode() {
    let dir = Dir::new();
    let input = dir.write("input.txt", "Don't STOP—don't stop!\nÜber über ÜBER 42 x42 İ\n");
    // Worked out by hand from char::is_alphanumeric and char::to_lowercase.
    let expected = "über 3\ndon 2\nstop 2\nt 2\n42 1\ni\u{307} 1\nx42 1\n";
    check(&dir, &[input], &["--tokenizer", "alnum"], &["1", "5", "8M"], expected.as_bytes());
}

#[test]
fn the_words_tokenizer_keeps_words_whole_and_normalises_them() {
    let dir = Dir::new();
    let input = dir.write("input.txt", "Don't STOP—don't stop! 3.14 (3.14) café CAFE\u{301} 👍 — 日本\n");
    // Worked out by hand from UAX #29, lowercase and NFC.
    let expected = "3.14 2\ncafé 2\ndon't 2\nstop 2\n日 1\n本 1\n";
    check(&dir, &[input], &["--tokenizer", "words"], &["1", "5", "8M"], expected.as_bytes());
}

/// Multilingual text: words of many scripts, precomposed and decomposed,
/// in several cases; numbers, contractions, emoji and punctuation; joined
/// by assorted whitespace, or by nothing.
fn multilingual_text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "The",
        "quick",
        "BROWN",
        "fox",
        "can't",
        "don’t",
        "3.14",
        "1,000",
        "e.g.",
        "U.S.A.",
        "_id",
        "snake_case",
        "café",
        "cafe\u{301}",
        "CAFÉ",
        "naïve",
        "nai\u{308}ve",
        "Straße",
        "STRASSE",
        "ΟΔΟΣ",
        "οδός",
        "Ελληνικά",
        "русский",
        "ЯЗЫК",
        "日本語",
        "のテキスト",
        "中文字",
        "한국어",
        "한국어",
        "العربية",
        "١٢٣",
        "हिन्दी",
        "עברית",
        "צה\"ל",
        "👍",
        "👍🏽",
        "🇫🇷",
        "—",
        "...",
        "«",
        "»",
        "(",
        ")",
        "!",
        "?",
        ",",
        ";",
        ":",
        "x:y",
        "İstanbul",
        "ǅ",
        "ﬁ",
        "\u{2126}",
        "http://example.com/a_b",
        "ก\u{e31}บ",
        "x\u{200d}👍",
    ];
    const GAPS: &[&str] = &[" ", " ", " ", "  ", "\n", "\r\n", "\t", "\u{3000}", "\u{a0}", ""];
    let mut state = seed;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let mut out = String::new();
    while out.len() < len {
        out.push_str(WORDS[next(WORDS.len())]);
        out.push_str(GAPS[next(GAPS.len())]);
    }
    out.into_bytes()
}

#[test]
fn alnum_and_words_match_their_references_on_multilingual_text() {
    let dir = Dir::new();
    let inputs = vec![dir.write("a.txt", multilingual_text(1, 5000)), dir.write("b.txt", multilingual_text(2, 700))];
    for tokenizer in ["alnum", "words"] {
        let words = if tokenizer == "alnum" { oracle::alnum } else { oracle::unicode_words };
        let expected = oracle::expected_by(&inputs, words);
        check(&dir, &inputs, &["--tokenizer", tokenizer], &["1", "7", "64", "8M"], &expected);
    }
}

#[test]
fn more_files_than_a_process_may_map_at_once() {
    // Linux allows 65,530 mappings per process by default: inputs must not
    // all be mapped at the same time.
    let dir = Dir::new();
    for i in 0..70_000 {
        dir.write(&format!("corpus/{:02}/f{i}.txt", i % 50), format!("w{} shared\n", i % 7));
    }
    let expected = oracle::expected(&[dir.join("corpus")], true);
    for mode in [&["count"][..], &["run", "--workers", "2"]] {
        let mut args = mode.to_vec();
        args.extend(["-q", "-o", "out.txt", "corpus"]);
        ok(dir.cmd(&args));
        assert_same(&mode.join(" "), &dir.read("out.txt"), &expected);
    }
}

#[test]
fn eight_workers_on_small_splits() {
    let dir = Dir::new();
    let expected = std::fs::read(data("kjvbible.expected.txt")).unwrap();
    let mut cmd = dir.cmd(&["run", "-q", "--workers", "8", "--split-size", "50K", "-o", "out.txt"]);
    cmd.arg(data("kjvbible.txt"));
    ok(cmd);
    assert_same("run --workers 8", &dir.read("out.txt"), &expected);
}

#[test]
fn the_default_output_is_resultats_txt_in_the_current_directory() {
    let dir = Dir::new();
    dir.write("in.txt", "b a b\n");
    ok(dir.cmd(&["run", "-q", "--workers", "2", "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"b 2\na 1\n");
    ok(dir.cmd(&["count", "-q", "in.txt"]));
    assert_eq!(dir.read("resultats.txt"), b"b 2\na 1\n");
}

//! Phase 4's promise, read from `--metrics`: every worker owns the same
//! number of distinct words within ±1 % of the mean (±1 word when tiny),
//! even when one count holds half the vocabulary or every word is distinct.

use crate::oracle;
use crate::util::{Dir, assert_same, ok};

/// Runs on `workers` workers and returns the phase-4 shares.
fn shares(dir: &Dir, workers: usize) -> Vec<u64> {
    ok(dir.cmd(&["run", "-q", "--workers", &workers.to_string(), "--metrics", "m.json", "-o", "out.txt", "in.txt"]));
    assert_same("result", &dir.read("out.txt"), &oracle::expected_for(&dir.join("in.txt")));
    let metrics: serde_json::Value = serde_json::from_slice(&dir.read("m.json")).unwrap();
    let phase = metrics["phases"].as_array().unwrap().iter().find(|p| p["phase"] == "redistribute").unwrap();
    let shares: Vec<u64> = phase["shares"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).collect();
    let shuffle2 = metrics["phases"].as_array().unwrap().iter().find(|p| p["phase"] == "shuffle2").unwrap();
    let owned: Vec<u64> =
        shuffle2["nodes"].as_array().unwrap().iter().map(|n| n["records_received"].as_u64().unwrap()).collect();
    assert_eq!(shares, owned, "phase 4 promised what shuffle 2 delivered");
    assert_eq!(shares.iter().sum::<u64>(), metrics["distinct_words"].as_u64().unwrap());
    shares
}

fn assert_balanced(shares: &[u64]) {
    let mean = shares.iter().sum::<u64>() as f64 / shares.len() as f64;
    let slack = (mean * 0.01).max(1.0);
    assert!(shares.iter().all(|&s| (s as f64 - mean).abs() <= slack), "shares {shares:?} vs mean {mean:.1}");
}

#[test]
fn zipf_input_with_half_the_vocabulary_at_count_one() {
    let n = 40_000u64;
    let mut text = String::new();
    for rank in 1..=n {
        let count = (n / 2 / rank).max(1);
        for _ in 0..count {
            text.push_str(&format!("z{:x} ", rank.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40));
        }
        if rank % 16 == 0 {
            text.push('\n');
        }
    }
    let dir = Dir::new();
    dir.write("in.txt", &text);
    let expected = oracle::expected_for(&dir.join("in.txt"));
    let ones = expected.split(|&b| b == b'\n').filter(|l| l.ends_with(b" 1")).count();
    let lines = expected.iter().filter(|&&b| b == b'\n').count();
    assert!(ones * 2 >= lines, "{ones} of {lines} words have count 1");
    for workers in [2, 3, 4] {
        assert_balanced(&shares(&dir, workers));
    }
}

#[test]
fn every_word_distinct() {
    let text: String = (0..120_000u64).map(|i| format!("d{}\n", i.wrapping_mul(0x9e37_79b9) % 1_000_000_007)).collect();
    let dir = Dir::new();
    dir.write("in.txt", &text);
    for workers in [3, 5] {
        assert_balanced(&shares(&dir, workers));
    }
}

#[test]
fn tiny_inputs_balance_to_one_word() {
    let dir = Dir::new();
    dir.write("in.txt", "a b c d e f g a b c\n");
    let shares = shares(&dir, 3);
    assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1, "{shares:?}");
}

//! Inputs shared by the benches: the shipped sample text, and all-distinct
//! words. Generated in memory; nothing is read from outside the project.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shipped sample text (4.3 MB, 820,736 words, 32,163 distinct).
pub fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/kjvbible.txt")
}

pub fn sample() -> Vec<u8> {
    std::fs::read(sample_path()).expect("tests/data/kjvbible.txt is shipped with the project")
}

/// `n` distinct words (hex of a scrambled counter), one per line.
pub fn distinct_text(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 17);
    for i in 0..n {
        out.extend_from_slice(format!("{:x}\n", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).as_bytes());
    }
    out
}

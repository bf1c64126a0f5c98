//! The tests' own oracle: the slow, obviously correct answer for the
//! whitespace tokenizers, written independently of the engine. It matches
//! the project's Python reference (`bytes.lower().split()`, counted, sorted
//! by count descending then word ascending).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Every regular file under `paths`, directories walked recursively.
fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            out.extend(files(&entries));
        } else {
            out.push(path.clone());
        }
    }
    out
}

/// The expected output for `paths`.
pub fn expected(paths: &[PathBuf], lower: bool) -> Vec<u8> {
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for file in files(paths) {
        let data = fs::read(&file).unwrap();
        for word in data.split(|b| b" \t\n\x0b\x0c\r".contains(b)).filter(|w| !w.is_empty()) {
            let word = if lower { word.to_ascii_lowercase() } else { word.to_vec() };
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut sorted: Vec<(Vec<u8>, u64)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = Vec::new();
    for (word, count) in sorted {
        out.extend_from_slice(&word);
        out.extend_from_slice(format!(" {count}\n").as_bytes());
    }
    out
}

/// The expected output for one path.
pub fn expected_for(path: &Path) -> Vec<u8> {
    expected(&[path.to_path_buf()], true)
}

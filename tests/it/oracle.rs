//! The tests' own oracle: the slow, obviously correct answer for every
//! tokenizer, written independently of the engine. For the whitespace rules
//! it matches the project's Python reference (`bytes.lower().split()`,
//! counted, sorted by count descending then word ascending). For `alnum`
//! and `words` it applies the README's definition to each whole file at
//! once: no ranges, no safe points, no fast paths (`words` segments with the
//! same UAX #29 crate the engine uses, since no standard library does it).

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

/// The expected output for `paths` under a whitespace rule.
pub fn expected(paths: &[PathBuf], lower: bool) -> Vec<u8> {
    expected_by(paths, |data| {
        data.split(|b| b" \t\n\x0b\x0c\r".contains(b))
            .filter(|w| !w.is_empty())
            .map(|w| if lower { w.to_ascii_lowercase() } else { w.to_vec() })
            .collect()
    })
}

/// The words of a UTF-8 file under `alnum`: maximal runs of alphanumeric
/// chars, each char lowercased.
pub fn alnum(data: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(data).expect("the oracle takes UTF-8 only");
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().flat_map(char::to_lowercase).collect::<String>().into_bytes())
        .collect()
}

/// The words of a UTF-8 file under `words`: UAX #29 segments of the whole
/// text that hold an alphanumeric char and do not start with whitespace,
/// lowercased, then in NFC.
pub fn unicode_words(data: &[u8]) -> Vec<Vec<u8>> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_segmentation::UnicodeSegmentation;
    let text = std::str::from_utf8(data).expect("the oracle takes UTF-8 only");
    text.split_word_bounds()
        .filter(|s| !s.starts_with(char::is_whitespace) && s.chars().any(char::is_alphanumeric))
        .map(|s| s.to_lowercase().nfc().collect::<String>().into_bytes())
        .collect()
}

/// The expected output for `paths`, with `words` giving a file's words.
pub fn expected_by(paths: &[PathBuf], words: impl Fn(&[u8]) -> Vec<Vec<u8>>) -> Vec<u8> {
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for file in files(paths) {
        for word in words(&fs::read(&file).unwrap()) {
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

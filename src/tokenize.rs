//! The three word rules of DESIGN §1: which bytes make a word, how a word is
//! normalised, and which words belong to a byte range of a file. Pure
//! functions from bytes to words; no I/O, no allocation per word.
//!
//! A range owns every word that *starts* inside it. Its last word is read past
//! the range's end, and a word that started before the range is skipped, so
//! cutting a file anywhere never breaks a word or counts it twice.

use std::ops::Range;

use crate::counts::head_of;

/// How bytes become words. The same rule must be used on every node of a job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Tokenizer {
    /// Runs of bytes other than ASCII whitespace, with `A`-`Z` lowercased
    /// (Python's `data.lower().split()` on bytes).
    #[default]
    WhitespaceLower,
    /// Runs of bytes other than ASCII whitespace, kept as they are.
    Whitespace,
    /// Runs of Unicode alphanumeric chars, lowercased; the input must be UTF-8.
    Alnum,
}

/// The `alnum` tokenizer met a byte sequence that is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Offset of the first byte of the bad sequence, from the start of the data.
    pub offset: usize,
}

impl Tokenizer {
    /// The name used on the command line and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::WhitespaceLower => "whitespace-lower",
            Tokenizer::Whitespace => "whitespace",
            Tokenizer::Alnum => "alnum",
        }
    }

    /// The tokenizer's code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Tokenizer::WhitespaceLower => 0,
            Tokenizer::Whitespace => 1,
            Tokenizer::Alnum => 2,
        }
    }

    /// The tokenizer with this wire code, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Tokenizer::WhitespaceLower),
            1 => Some(Tokenizer::Whitespace),
            2 => Some(Tokenizer::Alnum),
            _ => None,
        }
    }

    /// Calls `word(head, bytes)` with every normalised word that starts in
    /// `data[range]`, where `head` is the word's first 8 bytes packed as
    /// `counts::head_of` packs them.
    ///
    /// `data` is a whole file, so that words crossing the range's edges can be
    /// recognised; offsets in errors are offsets into `data`.
    pub fn words(self, data: &[u8], range: Range<usize>, word: impl FnMut(u64, &[u8])) -> Result<(), InvalidUtf8> {
        let end = range.end.min(data.len());
        let start = range.start.min(end);
        match self {
            Tokenizer::WhitespaceLower => whitespace_words::<true>(data, start, end, word),
            Tokenizer::Whitespace => whitespace_words::<false>(data, start, end, word),
            Tokenizer::Alnum => return alnum_words(data, start, end, word),
        }
        Ok(())
    }
}

/// True for the six ASCII whitespace bytes that separate words.
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

// The whitespace rules read 8 bytes at a time (SWAR: SIMD within a register).
// Every mask below has 0x80 set in exactly the bytes it selects; no sum
// carries from one byte into the next because high bits are cleared first.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// 0x80 in each byte of `x` whose value is in `lo..=hi` (both below 0x80).
#[inline]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & !HIGH;
    let at_least_lo = low7 + (0x80 - u64::from(lo)) * ONES;
    let above_hi = low7 + (0x7F - u64::from(hi)) * ONES;
    at_least_lo & !above_hi & !x & HIGH
}

/// 0x80 in each whitespace byte of `x`.
#[inline]
fn space_mask(x: u64) -> u64 {
    in_range(x, 0x09, 0x0D) | in_range(x, b' ', b' ')
}

/// `x` with the bytes `A`-`Z` lowercased.
#[inline]
fn lowercase(x: u64) -> u64 {
    x | (in_range(x, b'A', b'Z') >> 2)
}

/// 8 bytes of `data` from `i`, little-endian; past the end reads as spaces,
/// so the end of the data ends a word.
#[inline]
fn load(data: &[u8], i: usize) -> u64 {
    let mut bytes = [b' '; 8];
    match data.get(i..i + 8) {
        Some(chunk) => bytes.copy_from_slice(chunk),
        None => {
            let rest = &data[i.min(data.len())..];
            bytes[..rest.len()].copy_from_slice(rest);
        }
    }
    u64::from_le_bytes(bytes)
}

/// Index of the first selected byte of a non-zero mask.
#[inline]
fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

fn whitespace_words<const LOWER: bool>(data: &[u8], start: usize, end: usize, mut word: impl FnMut(u64, &[u8])) {
    let mut i = start;
    // A word running into the range from before belongs to the previous range.
    if i > 0 && !is_space(data[i - 1]) {
        while i < data.len() && !is_space(data[i]) {
            i += 1;
        }
    }
    let normal = |x: u64| if LOWER { lowercase(x) } else { x };
    let mut lowered = Vec::new();
    loop {
        // Skip spaces to the next word's first byte.
        loop {
            if i >= end {
                return;
            }
            let starts = !space_mask(load(data, i)) & HIGH;
            if starts != 0 {
                i += first(starts);
                break;
            }
            i += 8;
        }
        // Words from `i`, each found with one load; the same load shows
        // where the next word starts when it starts close by.
        loop {
            if i >= end {
                return;
            }
            let x = load(data, i);
            let spaces = space_mask(x);
            if spaces == 0 {
                // 8 bytes or more: find the end, then go back to skipping.
                let first_byte = i;
                i += 8;
                loop {
                    let spaces = space_mask(load(data, i));
                    if spaces != 0 {
                        i += first(spaces);
                        break;
                    }
                    i += 8;
                }
                let raw = &data[first_byte..i];
                if LOWER && raw.iter().any(u8::is_ascii_uppercase) {
                    lowered.clear();
                    lowered.extend(raw.iter().map(u8::to_ascii_lowercase));
                    word(normal(x), &lowered);
                } else {
                    word(normal(x), raw);
                }
                break;
            }
            let len = first(spaces);
            let head = normal(x) & ((1u64 << (8 * len)) - 1);
            word(head, &head.to_le_bytes()[..len]);
            let next = !spaces & HIGH & (u64::MAX << (8 * len));
            if next == 0 {
                i += 8; // only spaces after the word in these 8 bytes
                break;
            }
            i += first(next);
        }
    }
}

fn alnum_words(data: &[u8], start: usize, end: usize, mut word: impl FnMut(u64, &[u8])) -> Result<(), InvalidUtf8> {
    let mut i = start;
    // Step off the middle of a char; the previous range decodes (and checks) it.
    while i < data.len() && i < start + 3 && is_continuation(data[i]) {
        i += 1;
    }
    if previous_char(data, i).is_some_and(char::is_alphanumeric) {
        while i < data.len() {
            let (c, len) = decode(data, i)?;
            if !c.is_alphanumeric() {
                break;
            }
            i += len;
        }
    }
    let mut current = String::new();
    let mut in_word = false;
    while i < data.len() {
        let (c, len) = decode(data, i)?;
        if c.is_alphanumeric() {
            if !in_word {
                if i >= end {
                    return Ok(());
                }
                in_word = true;
                current.clear();
            }
            current.extend(c.to_lowercase());
        } else {
            if in_word {
                word(head_of(current.as_bytes()), current.as_bytes());
                in_word = false;
            }
            if i >= end {
                return Ok(());
            }
        }
        i += len;
    }
    if in_word {
        word(head_of(current.as_bytes()), current.as_bytes());
    }
    Ok(())
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Decodes the char starting at `data[i]`, or says where the bad bytes start.
#[inline]
fn decode(data: &[u8], i: usize) -> Result<(char, usize), InvalidUtf8> {
    let b = data[i];
    if b < 0x80 {
        return Ok((b as char, 1));
    }
    let bad = InvalidUtf8 { offset: i };
    let len = match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return Err(bad),
    };
    let bytes = data.get(i..i + len).ok_or(bad)?;
    let c = std::str::from_utf8(bytes).ok().and_then(|s| s.chars().next()).ok_or(bad)?;
    Ok((c, len))
}

/// The char that ends just before `data[i]`, if it decodes.
fn previous_char(data: &[u8], i: usize) -> Option<char> {
    let mut first = i.checked_sub(1)?;
    while first > 0 && i - first < 4 && is_continuation(data[first]) {
        first -= 1;
    }
    match decode(data, first) {
        Ok((c, len)) if first + len == i => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn all(tok: Tokenizer, data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        tok.words(data, 0..data.len(), |head, w| {
            assert_eq!(head, head_of(w));
            out.push(w.to_vec())
        })
        .unwrap();
        out
    }

    /// Words of `data` taken range by range, cut every `step` bytes.
    fn by_ranges(tok: Tokenizer, data: &[u8], step: usize) -> Result<Vec<Vec<u8>>, InvalidUtf8> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let end = (start + step).min(data.len());
            tok.words(data, start..end, |head, w| {
                assert_eq!(head, head_of(w));
                out.push(w.to_vec())
            })?;
            start = end;
        }
        Ok(out)
    }

    fn python_split(data: &[u8], lower: bool) -> Vec<Vec<u8>> {
        let data = if lower { data.to_ascii_lowercase() } else { data.to_vec() };
        data.split(|&b| is_space(b)).filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn the_six_whitespace_bytes_split_and_nothing_else() {
        for b in 0..=255u8 {
            let data = [b'a', b, b'b'];
            let n = all(Tokenizer::Whitespace, &data).len();
            let expected = if b" \t\n\x0b\x0c\r".contains(&b) { 2 } else { 1 };
            assert_eq!(n, expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn byte_masks_agree_with_byte_rules_in_every_lane() {
        for b in 0..=255u8 {
            for fill in [0x00u8, 0x20, 0x41, 0x7F, 0x80, 0xFF] {
                for lane in 0..8 {
                    let mut bytes = [fill; 8];
                    bytes[lane] = b;
                    let x = u64::from_le_bytes(bytes);
                    let spaces = space_mask(x).to_le_bytes();
                    let lower = lowercase(x).to_le_bytes();
                    for i in 0..8 {
                        assert_eq!(spaces[i] == 0x80, is_space(bytes[i]), "byte {:#04x} lane {i}", bytes[i]);
                        assert_eq!(lower[i], bytes[i].to_ascii_lowercase(), "byte {:#04x} lane {i}", bytes[i]);
                    }
                }
            }
        }
    }

    #[test]
    fn lower_maps_only_ascii_letters() {
        let words = all(Tokenizer::WhitespaceLower, "HeLLo ÉCOLE \u{c4}x Z\r\nq".as_bytes());
        assert_eq!(
            words,
            vec![
                b"hello".to_vec(),
                "\u{c9}cole".as_bytes().to_vec(),
                "\u{c4}x".as_bytes().to_vec(),
                b"z".to_vec(),
                b"q".to_vec()
            ]
        );
        assert_eq!(all(Tokenizer::Whitespace, b"HeLLo")[0], b"HeLLo");
    }

    #[test]
    fn ranges_never_break_or_repeat_words() {
        let data = b"  alpha beta\tgamma\r\ndelta  epsilon zeta eta theta iota kappa lambda";
        let whole = all(Tokenizer::Whitespace, data);
        for step in 1..data.len() + 2 {
            assert_eq!(by_ranges(Tokenizer::Whitespace, data, step).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn alnum_splits_on_punctuation_and_lowercases_unicode() {
        let words = all(Tokenizer::Alnum, "Don't STOP—Ünïcode 42x; ΣΑΣ".as_bytes());
        let expected: Vec<Vec<u8>> =
            ["don", "t", "stop", "ünïcode", "42x", "σασ"].iter().map(|w| w.as_bytes().to_vec()).collect();
        assert_eq!(words, expected);
    }

    #[test]
    fn alnum_ranges_cut_inside_multibyte_chars() {
        let data = "été über ñandú 日本語 テキスト x".as_bytes();
        let whole = all(Tokenizer::Alnum, data);
        for step in 1..data.len() + 2 {
            assert_eq!(by_ranges(Tokenizer::Alnum, data, step).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn alnum_reports_the_offset_of_bad_utf8_whatever_the_cut() {
        let data = b"good words \xff here and more";
        assert_eq!(Tokenizer::Alnum.words(data, 0..data.len(), |_, _| {}), Err(InvalidUtf8 { offset: 11 }));
        for step in 1..data.len() + 2 {
            assert_eq!(by_ranges(Tokenizer::Alnum, data, step), Err(InvalidUtf8 { offset: 11 }), "step {step}");
        }
        let truncated = b"abc \xe6\x97";
        assert!(Tokenizer::Alnum.words(truncated, 0..truncated.len(), |_, _| {}).is_err());
    }

    proptest! {
        #[test]
        fn whitespace_rules_match_python_split(
            data in prop::collection::vec(
                prop_oneof![prop::sample::select(b" \t\n\x0b\x0c\rAaZz\xc3\xa9\xff".to_vec()), any::<u8>()],
                0..200,
            ),
            step in 1usize..40,
        ) {
            for (tok, lower) in [(Tokenizer::WhitespaceLower, true), (Tokenizer::Whitespace, false)] {
                prop_assert_eq!(by_ranges(tok, &data, step).unwrap(), python_split(&data, lower));
            }
        }

        #[test]
        fn alnum_ranges_agree_with_whole_text(text in "[a-zA-Z0-9 .,éÉß日本\u{130}-]{0,80}", step in 1usize..20) {
            let data = text.as_bytes();
            prop_assert_eq!(by_ranges(Tokenizer::Alnum, data, step).unwrap(), all(Tokenizer::Alnum, data));
        }
    }
}

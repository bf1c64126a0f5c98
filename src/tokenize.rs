//! The word rules of DESIGN §1 and the README: which bytes make a word, how
//! a word is normalised, and which words belong to a byte range of a file.
//! Pure functions from bytes to words; no I/O. Each rule has a file
//! (`whitespace`, `alnum`, `words`); this one holds the 8-bytes-at-a-time
//! helpers (SWAR) they share, and `utf8` the UTF-8 ones.
//!
//! A range owns every word that *starts* inside it. Its last word is read past
//! the range's end, and a word that started before the range is skipped, so
//! cutting a file anywhere never breaks a word or counts it twice. The
//! whitespace and `alnum` rules look at most `LOOK_BEHIND` bytes before a
//! range; `words` reads back to a point where the text may be cut
//! (`Tokenizer::cut_before`), usually the space before a word.

use std::ops::Range;

mod alnum;
mod utf8;
mod whitespace;
mod words;

/// How bytes become words. The same rule must be used on every node of a job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Tokenizer {
    /// Runs of bytes other than ASCII whitespace, A-Z lowercased, other
    /// bytes kept (Python's `data.lower().split()`): "Don't STOP." gives
    /// `don't` `stop.`
    #[default]
    WhitespaceLower,
    /// Runs of bytes other than ASCII whitespace, kept as they are
    /// (`data.split()`): "Don't STOP." gives `Don't` `STOP.`
    Whitespace,
    /// Runs of Unicode letters and digits (`char::is_alphanumeric`),
    /// lowercased; input must be UTF-8: "Don't STOP—Ünïcode 3.14" gives
    /// `don` `t` `stop` `ünïcode` `3` `14`
    Alnum,
    /// Unicode words (UAX #29 word boundaries) holding a letter or digit,
    /// lowercased and in NFC; input must be UTF-8: "Don't STOP—it's 3.14
    /// €, café 👍" gives `don't` `stop` `it's` `3.14` `café` (a decomposed
    /// "cafe\u{301}" too); CJK ideographs are one word each
    Words,
}

/// Bytes before a range's start that the whitespace and `alnum` rules read
/// (the char before the range, and the rest of a char the start cuts).
pub const LOOK_BEHIND: usize = 8;

/// The `alnum` or `words` tokenizer met a byte sequence that is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Offset of the first byte of the first bad sequence in the data (the
    /// same whichever range found it: see `utf8`).
    pub offset: usize,
}

impl Tokenizer {
    /// The name used on the command line and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::WhitespaceLower => "whitespace-lower",
            Tokenizer::Whitespace => "whitespace",
            Tokenizer::Alnum => "alnum",
            Tokenizer::Words => "words",
        }
    }

    /// The tokenizer's code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Tokenizer::WhitespaceLower => 0,
            Tokenizer::Whitespace => 1,
            Tokenizer::Alnum => 2,
            Tokenizer::Words => 3,
        }
    }

    /// The tokenizer with this wire code, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Tokenizer::WhitespaceLower),
            1 => Some(Tokenizer::Whitespace),
            2 => Some(Tokenizer::Alnum),
            3 => Some(Tokenizer::Words),
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
            Tokenizer::WhitespaceLower => whitespace::words::<true>(data, start, end, word),
            Tokenizer::Whitespace => whitespace::words::<false>(data, start, end, word),
            Tokenizer::Alnum => return alnum::words(data, start, end, word),
            Tokenizer::Words => return words::words(data, start, end, word),
        }
        Ok(())
    }

    /// The rule that makes this one's words but for lowercasing `A`-`Z`,
    /// and whether that lowercasing was left out: `whitespace-lower` is
    /// `whitespace` with ASCII lowercasing after. Lowercasing is a function
    /// of the word, so it commutes with counting: a counting table can
    /// lowercase each distinct word it saw once (see `WordCounts::counter`)
    /// instead of the tokenizer lowercasing every occurrence.
    pub fn without_lowercasing(self) -> (Tokenizer, bool) {
        match self {
            Tokenizer::WhitespaceLower => (Tokenizer::Whitespace, true),
            other => (other, false),
        }
    }

    /// The last offset `k <= pos` where a text that starts with `data` may
    /// be cut in two without changing its words, whatever follows `data`:
    /// every word that starts before `k` ends by `k`, and the text from `k`
    /// on, read alone (as a file of its own), gives the words that start at
    /// `k` or later. Offset 0 always qualifies.
    ///
    /// A reader that gets a file in pieces can count `data[..k]` as a whole
    /// and carry `data[k..]` over to the next piece.
    pub fn cut_before(self, data: &[u8], pos: usize) -> usize {
        let mut k = pos.min(data.len());
        match self {
            Tokenizer::WhitespaceLower | Tokenizer::Whitespace => {
                while k > 0 && !is_space(data[k - 1]) {
                    k -= 1;
                }
                k
            }
            Tokenizer::Alnum => {
                let cut = |k: usize| {
                    !data.get(k).copied().is_some_and(utf8::is_continuation)
                        && utf8::previous(data, k).is_some_and(|c| !c.is_alphanumeric())
                };
                while k > 0 && !cut(k) {
                    k -= 1;
                }
                k
            }
            // A safe point needs the char after it, so it is not at the end.
            Tokenizer::Words => words::safe_before(data, k.min(data.len().saturating_sub(1))),
        }
    }

    /// The first byte of `data` that `self.words(data, pos..)` may read:
    /// what a copy of a file must hold before a range for the range's words
    /// to come out right. Offset 0 of `data` is taken as the file's start.
    pub fn reads_from(self, data: &[u8], pos: usize) -> usize {
        match self {
            // A safe point is recognised by the char before it.
            Tokenizer::Words => words::safe_before(data, pos).saturating_sub(4),
            _ => pos.min(data.len()).saturating_sub(LOOK_BEHIND),
        }
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

/// `x` with the bytes `A`-`Z` lowercased.
#[inline]
pub fn lowercase(x: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::whitespace::space_mask;
    use super::*;
    use crate::counts::head_of;

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

    /// Words of `data` taken range by range, cut at `cuts` (any offsets, in
    /// any order; out-of-range ones are clamped).
    fn by_cuts(tok: Tokenizer, data: &[u8], cuts: &[usize]) -> Result<Vec<Vec<u8>>, InvalidUtf8> {
        let mut edges: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
        edges.extend([0, data.len()]);
        edges.sort_unstable();
        edges.dedup();
        let mut out = Vec::new();
        for pair in edges.windows(2) {
            tok.words(data, pair[0]..pair[1], |head, w| {
                assert_eq!(head, head_of(w));
                out.push(w.to_vec())
            })?;
        }
        Ok(out)
    }

    /// The `alnum` rule read off its definition: the whole file decoded,
    /// split on every char that is not alphanumeric, chars lowercased one
    /// by one. An error is the offset Rust's UTF-8 decoder reports.
    fn alnum_reference(data: &[u8]) -> Result<Vec<Vec<u8>>, usize> {
        let text = std::str::from_utf8(data).map_err(|e| e.valid_up_to())?;
        Ok(text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.chars().flat_map(char::to_lowercase).collect::<String>().into_bytes())
            .collect())
    }

    /// The `words` rule read off its definition: the whole file segmented
    /// at once, kept segments lowercased and put in NFC (no safe points, no
    /// pieces, no ASCII path).
    fn words_reference(data: &[u8]) -> Result<Vec<Vec<u8>>, usize> {
        use unicode_normalization::UnicodeNormalization;
        use unicode_segmentation::UnicodeSegmentation;
        let text = std::str::from_utf8(data).map_err(|e| e.valid_up_to())?;
        Ok(text
            .split_word_bounds()
            .filter(|s| !s.starts_with(char::is_whitespace) && s.chars().any(char::is_alphanumeric))
            .map(|s| s.to_lowercase().nfc().collect::<String>().into_bytes())
            .collect())
    }

    fn strings(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn alnum_splits_on_punctuation_and_lowercases_unicode() {
        let words = all(Tokenizer::Alnum, "Don't STOP—Ünïcode 42x; ΣΑΣ".as_bytes());
        assert_eq!(words, strings(&["don", "t", "stop", "ünïcode", "42x", "σασ"]));
    }

    #[test]
    fn alnum_ranges_cut_inside_multibyte_chars() {
        let data = "été über ñandú 日本語 テキスト x ΆΣ𝟙".as_bytes();
        let whole = all(Tokenizer::Alnum, data);
        assert_eq!(alnum_reference(data), Ok(whole.clone()));
        for step in 1..data.len() + 2 {
            assert_eq!(by_ranges(Tokenizer::Alnum, data, step).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn bad_utf8_reports_the_first_bad_byte_of_the_file_whatever_the_cut() {
        let cases: [(&[u8], usize); 5] = [
            (b"good words \xff here and more", 11),
            (b"\x80abc def", 0),                   // the file starts inside a char
            (b"\xbf\xbf\xbf\xbf\xbf x", 0),        // and with more continuation bytes than a char has
            (b"ok caf\xc3 and later \xff too", 6), // a cut char; a later bad byte loses
            (b"abc \xe6\x97", 4),                  // the file ends inside a char
        ];
        for tok in [Tokenizer::Alnum, Tokenizer::Words] {
            for (data, offset) in cases {
                let bad = InvalidUtf8 { offset };
                assert_eq!(tok.words(data, 0..data.len(), |_, _| {}), Err(bad), "{tok:?} {data:?}");
                for step in 1..data.len() + 2 {
                    assert_eq!(by_ranges(tok, data, step), Err(bad), "{tok:?} {data:?} step {step}");
                }
            }
        }
    }

    #[test]
    fn words_follow_uax29_examples() {
        let cases: [(&str, &[&str]); 12] = [
            // UAX #29's own example sentence.
            (
                "The quick (“brown”) fox can’t jump 32.3 feet, right?",
                &["the", "quick", "brown", "fox", "can’t", "jump", "32.3", "feet", "right"],
            ),
            ("Don't STOP—it's 3.14 €, café 👍", &["don't", "stop", "it's", "3.14", "café"]),
            ("1,000.50 3,14 x.y:z e.g. U.S.A.", &["1,000.50", "3,14", "x.y:z", "e.g", "u.s.a"]),
            ("_foo foo_bar __ a_1", &["_foo", "foo_bar", "a_1"]),
            // Precomposed, decomposed, uppercase: one word.
            ("café cafe\u{301} CAFÉ CAFE\u{301}", &["café", "café", "café", "café"]),
            // Punctuation, symbols, emoji (with modifiers, flags, ZWJ) are not words.
            ("... — !!! € 👍🏽 🇫🇷 👨\u{200d}👩\u{200d}👧 ©", &[]),
            // Ideographs one by one, katakana runs, hiragana one by one.
            ("日本語のテキスト", &["日", "本", "語", "の", "テキスト"]),
            // Full lowercase: final sigma, dotted capital I.
            ("ΟΔΟΣ Σ İstanbul", &["οδος", "σ", "i\u{307}stanbul"]),
            // Hebrew with a gershayim written as a quote (WB7b, WB7c).
            ("צה\"ל", &["צה\"ל"]),
            // Numbers in other scripts; letters with marks.
            ("٣٤ हिन्दी ١٢٫٥", &["٣٤", "हिन्दी", "١٢٫٥"]),
            // A segment that starts with whitespace is no word, marks or not.
            ("a \u{93e}b \u{301}", &["a", "b"]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(all(Tokenizer::Words, text.as_bytes()), strings(expected), "{text:?}");
            assert_eq!(words_reference(text.as_bytes()), Ok(strings(expected)), "{text:?}");
        }
    }

    #[test]
    fn the_examples_in_the_help_and_the_readme_hold() {
        let cases: [(Tokenizer, &str, &[&str]); 8] = [
            (Tokenizer::WhitespaceLower, "Don't STOP.", &["don't", "stop."]),
            (Tokenizer::Whitespace, "Don't STOP.", &["Don't", "STOP."]),
            (Tokenizer::Alnum, "Don't STOP—Ünïcode 3.14", &["don", "t", "stop", "ünïcode", "3", "14"]),
            (Tokenizer::Alnum, "Don't STOP—Ünïcode 3.14, ΣΑΣ", &["don", "t", "stop", "ünïcode", "3", "14", "σασ"]),
            (Tokenizer::Words, "Don't STOP—it's 3.14 €, café 👍", &["don't", "stop", "it's", "3.14", "café"]),
            (
                Tokenizer::Words,
                "Don't STOP—it's 3.14 €, café cafe\u{301} 👍",
                &["don't", "stop", "it's", "3.14", "café", "café"],
            ),
            (Tokenizer::Words, "1,000.50 e.g. x:y _id", &["1,000.50", "e.g", "x:y", "_id"]),
            (Tokenizer::Words, "ΟΔΟΣ İ 日本語のテキスト", &["οδος", "i\u{307}", "日", "本", "語", "の", "テキスト"]),
        ];
        for (tok, text, expected) in cases {
            assert_eq!(all(tok, text.as_bytes()), strings(expected), "{tok:?} {text:?}");
        }
    }

    #[test]
    fn words_ranges_cut_at_every_byte() {
        let text = "Über 3.14 «naïve» cafe\u{301}s can't 日本語 テキスト\r\n e.g. 🇫🇷🇩🇪 a\u{200d}👍 ΣΑΣ x";
        let data = text.as_bytes();
        let whole = words_reference(data).unwrap();
        for step in 1..data.len() + 2 {
            assert_eq!(by_ranges(Tokenizer::Words, data, step).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn words_take_the_same_path_on_ascii_as_on_other_text() {
        // A piece of pure ASCII takes the crate's ASCII path; the same text
        // with a non-ASCII line after it takes the general one.
        let ascii = "It's 3.14, e.g. a.b:c 1,000.5 _x x_ 'q' \"r\" a'b 1'2 a.1 1.a \r\n\t-x- ;;";
        let mut mixed = all(Tokenizer::Words, format!("{ascii}\n日").as_bytes());
        assert_eq!(mixed.pop(), Some("日".as_bytes().to_vec()));
        assert_eq!(all(Tokenizer::Words, ascii.as_bytes()), mixed);
    }

    /// Text from chars that exercise every UAX #29 rule.
    fn uax29_text(max: usize) -> impl Strategy<Value = String> {
        const PARTS: &[&str] = &[
            "a", "Z", "é", "e\u{301}", "É", "ß", "İ", "Σ", "ς", "א", "ש", "1", "٣", "𝟙", "_", " ", "  ", "\t", "\n",
            "\r", "\r\n", "\u{b}", "\u{85}", "\u{2028}", "\u{3000}", "\u{a0}", ".", ",", ";", ":", "'", "\"", "’",
            "\u{ff0c}", "-", "!", "(", "\u{301}", "\u{93e}", "\u{345}", "\u{ad}", "\u{200d}", "\u{200b}", "👍", "🏽",
            "🇫", "🇷", "©", "日", "本", "の", "ひ", "カ", "ー", "、", "。", "\u{1100}", "\u{1161}", "한", "ก",
            "\u{e31}",
        ];
        // Letters, digits and the marks between them half the time, so that
        // rules about chars in the middle of words meet cuts often.
        const CORE: &[&str] = &["a", "B", "é", "1", "2", ".", ",", ":", "'", "_", " "];
        let part = prop_oneof![prop::sample::select(CORE), prop::sample::select(PARTS)];
        prop::collection::vec(part, 0..max).prop_map(|parts| parts.concat())
    }

    /// Cut points anywhere in a text of `len` bytes.
    fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
        prop::collection::vec(any::<prop::sample::Index>(), 0..8)
    }

    fn at(cuts: &[prop::sample::Index], len: usize) -> Vec<usize> {
        cuts.iter().map(|c| c.index(len + 1)).collect()
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
        fn alnum_matches_its_reference_wherever_the_file_is_cut(text in uax29_text(60), cuts in cuts()) {
            let data = text.as_bytes();
            let expected = alnum_reference(data).map_err(|offset| InvalidUtf8 { offset });
            prop_assert_eq!(by_cuts(Tokenizer::Alnum, data, &at(&cuts, data.len())), expected);
        }

        #[test]
        fn words_match_whole_text_segmentation_wherever_the_file_is_cut(text in uax29_text(80), cuts in cuts()) {
            let data = text.as_bytes();
            let expected = words_reference(data).map_err(|offset| InvalidUtf8 { offset });
            prop_assert_eq!(by_cuts(Tokenizer::Words, data, &at(&cuts, data.len())), expected);
        }

        #[test]
        fn bad_utf8_is_reported_at_the_first_bad_byte(
            data in prop::collection::vec(
                prop_oneof![
                    3 => prop::sample::select(b"a \n.\xc3\xa9\xe6\x97\xa5\xf0\x9f\x91\x8d".to_vec()),
                    1 => any::<u8>(),
                ],
                0..120,
            ),
            cuts in cuts(),
        ) {
            let cuts = at(&cuts, data.len());
            let alnum = alnum_reference(&data).map_err(|offset| InvalidUtf8 { offset });
            prop_assert_eq!(by_cuts(Tokenizer::Alnum, &data, &cuts), alnum);
            let words = words_reference(&data).map_err(|offset| InvalidUtf8 { offset });
            prop_assert_eq!(by_cuts(Tokenizer::Words, &data, &cuts), words);
        }

        #[test]
        fn words_are_the_same_in_nfc_and_nfd(text in uax29_text(60)) {
            use unicode_normalization::UnicodeNormalization;
            let nfc: String = text.nfc().collect();
            let nfd: String = text.nfd().collect();
            prop_assert_eq!(all(Tokenizer::Words, nfc.as_bytes()), all(Tokenizer::Words, nfd.as_bytes()));
        }

        #[test]
        fn a_cut_splits_the_words_exactly(
            text in uax29_text(60),
            seen in any::<prop::sample::Index>(),
            pos in any::<prop::sample::Index>(),
        ) {
            // The cut is chosen from the first `seen` bytes only, as a reader
            // of a stream must.
            let data = text.as_bytes();
            let seen = &data[..seen.index(data.len() + 1)];
            for tok in [Tokenizer::WhitespaceLower, Tokenizer::Whitespace, Tokenizer::Alnum, Tokenizer::Words] {
                let k = tok.cut_before(seen, pos.index(seen.len() + 1));
                let mut halves = all(tok, &data[..k]);
                halves.extend(all(tok, &data[k..]));
                prop_assert_eq!(halves, all(tok, data), "{:?} cut at {}", tok, k);
            }
        }

        #[test]
        fn a_range_needs_no_byte_before_reads_from_nor_after_the_next_whitespace(
            text in uax29_text(80),
            range in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        ) {
            // What `master --ship` gives a worker: the bytes around a range,
            // zeros elsewhere.
            let data = text.as_bytes();
            let (a, b) = (range.0.index(data.len() + 1), range.1.index(data.len() + 1));
            let (start, end) = (a.min(b), a.max(b));
            for tok in [Tokenizer::WhitespaceLower, Tokenizer::Whitespace, Tokenizer::Alnum, Tokenizer::Words] {
                let from = tok.reads_from(data, start);
                let to = data[end..].iter().position(|&b| is_space(b)).map_or(data.len(), |p| end + p + 1);
                let mut shipped = vec![0u8; data.len()];
                shipped[from..to].copy_from_slice(&data[from..to]);
                let words = |data: &[u8]| {
                    let mut out = Vec::new();
                    tok.words(data, start..end, |_, w| out.push(w.to_vec())).map(|()| out)
                };
                prop_assert_eq!(words(&shipped), words(data), "{:?} {}..{} from {}", tok, start, end, from);
            }
        }
    }
}

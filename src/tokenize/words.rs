//! The `words` rule: Unicode word boundaries (UAX #29, as the
//! `unicode-segmentation` crate finds them). A word is a segment that holds
//! at least one char for which `char::is_alphanumeric` holds and does not
//! start with whitespace; it is lowercased with `str::to_lowercase` (full
//! Unicode lowercase, final sigma included) and then put in NFC, so
//! canonically equivalent spellings are one word. The input must be UTF-8.
//!
//! A range owns the words that start in it, but whether a word starts at a
//! byte depends on what comes before it. So a range is read from a *safe
//! point* at or before its start: an offset where the text can be cut
//! without changing any segment. The crate finds each segment from the end
//! of the previous one, looking at nothing before it, so an offset is safe
//! when a segment always ends there whatever precedes it. That holds after
//! a char that always begins its own segment and whose segment ends with it
//! unless the next char joins it (ASCII other than letters, digits, `_`,
//! `.`, `,`, `;`, `:`, `'` and `"`, which includes the whitespace; and Han
//! ideographs and hiragana, for texts without spaces), when the pair of
//! chars is split in two when read alone (not a space before a space, not
//! CR before LF, not a char before an extending mark). Segmenting from a
//! safe point therefore gives exactly the segments of the whole text from
//! there on; and since no segment crosses a safe point and none looks past
//! one to end, a range is read up to the first safe point at or after its
//! end. Spaces and newlines give a safe point before every word of
//! ordinary text, so a range reads back about one word.
//!
//! Text is segmented in pieces cut at safe points, so that a piece of pure
//! ASCII takes the crate's ASCII path; words are normalised only when they
//! are not ASCII.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
use unicode_segmentation::UnicodeSegmentation;

use super::InvalidUtf8;
use super::alnum::is_alphanumeric;
use super::utf8::{decode, first_invalid, is_continuation, previous};
use crate::counts::head_of;

/// About how many bytes one piece holds.
const PIECE: usize = 16 << 10;

/// Calls `word` with every word that starts in `data[start..end]`.
pub(super) fn words(
    data: &[u8],
    start: usize,
    end: usize,
    mut word: impl FnMut(u64, &[u8]),
) -> Result<(), InvalidUtf8> {
    let mut at = safe_before(data, start);
    let stop = safe_after(data, end);
    let mut buf = String::new();
    while at < stop {
        let to = safe_after(data, (at + PIECE).min(stop));
        let text = std::str::from_utf8(&data[at..to]).map_err(|e| first_invalid(data, at + e.valid_up_to()))?;
        let mut emit = |offset: usize, segment: &str| {
            let first_byte = at + offset;
            if first_byte >= start && first_byte < end {
                let normal = normalise(segment, &mut buf);
                word(head_of(normal), normal);
            }
            first_byte < end
        };
        if text.is_ascii() {
            // No ASCII segment that holds a letter or a digit starts with
            // whitespace: the crate's own filter is `is_word` here.
            for (offset, segment) in text.unicode_word_indices() {
                if !emit(offset, segment) {
                    return Ok(());
                }
            }
        } else {
            for (offset, segment) in text.split_word_bound_indices() {
                if is_word(segment) && !emit(offset, segment) {
                    return Ok(());
                }
            }
        }
        at = to;
    }
    Ok(())
}

/// True if `segment` counts as a word.
fn is_word(segment: &str) -> bool {
    segment.chars().next().is_some_and(|c| !c.is_whitespace()) && segment.chars().any(is_alphanumeric)
}

/// `segment` lowercased and in NFC, in `buf` unless it is already so.
fn normalise<'a>(segment: &'a str, buf: &'a mut String) -> &'a [u8] {
    if segment.is_ascii() {
        if !segment.bytes().any(|b| b.is_ascii_uppercase()) {
            return segment.as_bytes();
        }
        buf.clear();
        buf.push_str(segment);
        buf.make_ascii_lowercase();
        return buf.as_bytes();
    }
    let lower = segment.to_lowercase();
    if is_nfc_quick(lower.chars()) == IsNormalized::Yes {
        *buf = lower;
    } else {
        buf.clear();
        buf.extend(lower.nfc());
    }
    buf.as_bytes()
}

/// The last safe point at or before `pos` (the start of the data is one).
pub(super) fn safe_before(data: &[u8], pos: usize) -> usize {
    let mut p = pos.min(data.len());
    while !is_safe(data, p) {
        p -= 1;
    }
    p
}

/// The first safe point at or after `pos` (the end of the data is one).
pub(super) fn safe_after(data: &[u8], pos: usize) -> usize {
    let mut p = pos.min(data.len());
    while !is_safe(data, p) {
        p += 1;
    }
    p
}

/// True if the text may be cut before `data[p]` (see the module doc).
#[inline]
fn is_safe(data: &[u8], p: usize) -> bool {
    let (Some(before), Some(&b)) = (p.checked_sub(1), data.get(p)) else {
        return true; // the start or the end of the text
    };
    let a = data[before];
    if a < 0x80 && b < 0x80 {
        return starts_alone(a) && !(a == b' ' && b == b' ') && !(a == b'\r' && b == b'\n');
    }
    if is_continuation(b) || !(a < 0x80 && starts_alone(a) || is_continuation(a)) {
        return false;
    }
    let (Some(left), Some((right, _))) = (previous(data, p), decode(data, p)) else { return false };
    (left.is_ascii() || is_han_or_hiragana(left)) && split_between(left, right)
}

/// True for the ASCII bytes that always begin their own segment, and whose
/// segment ends with them unless the next char joins it: all but letters,
/// digits, `_` and the marks that can sit inside a word (`.`, `,`, `;`,
/// `:`, `'`, `"`).
#[inline]
fn starts_alone(a: u8) -> bool {
    !(a.is_ascii_alphanumeric() || matches!(a, b'_' | b'.' | b',' | b';' | b':' | b'\'' | b'"'))
}

/// Han ideographs (the URO and extension A) and hiragana letters: chars
/// that, like the ASCII of `starts_alone`, join nothing before them and
/// nothing after them but extending marks.
fn is_han_or_hiragana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// True if the two chars `left` `right`, read alone, are two segments.
fn split_between(left: char, right: char) -> bool {
    let mut pair = [0u8; 8];
    let split = left.len_utf8();
    left.encode_utf8(&mut pair);
    right.encode_utf8(&mut pair[split..]);
    std::str::from_utf8(&pair[..split + right.len_utf8()])
        .is_ok_and(|pair| pair.split_word_bound_indices().nth(1).is_some_and(|(offset, _)| offset == split))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chars standing for each word-break class.
    const CLASSES: &[&str] = &[
        "a",
        "1",
        "_",
        "カ",
        "א",
        ".",
        ",",
        ":",
        "'",
        "\"",
        "🇫",
        "\u{200d}",
        "\u{301}",
        "\u{ad}",
        " ",
        "\n",
        "\r",
        "日",
        "👍",
        "!",
        "a.",
        "1,",
        "א\"",
        "🇫🇷🇫",
    ];

    /// True if the segments of `text` have a boundary at `offset`.
    fn boundary_at(text: &str, offset: usize) -> bool {
        text.split_word_bound_indices().any(|(i, _)| i == offset)
    }

    #[test]
    fn the_ascii_shortcut_agrees_with_the_crate() {
        for a in 0..0x80u8 {
            for b in 0..0x80u8 {
                let expected = starts_alone(a) && split_between(char::from(a), char::from(b));
                assert_eq!(is_safe(&[a, b], 1), expected, "{a:#04x} {b:#04x}");
            }
        }
    }

    /// What a safe point rests on: after a char of these kinds, whether the
    /// segment goes on depends on the next char only, never on what came
    /// before the char.
    #[test]
    fn lone_chars_end_their_segment_whatever_came_before() {
        let ascii = (0..0x80u8).filter(|&a| starts_alone(a)).map(char::from);
        // Each block is one word-break class: its ends and a sample between.
        let cjk = ('\u{3000}'..='\u{A000}').filter(|&c| {
            let ends = ['\u{3041}', '\u{3096}', '\u{3400}', '\u{4DBF}', '\u{4E00}', '\u{9FFF}'];
            is_han_or_hiragana(c) && (ends.contains(&c) || u32::from(c) % 61 == 0)
        });
        for lone in ascii.chain(cjk) {
            for next in CLASSES.iter().filter_map(|s| s.chars().next()) {
                let alone = split_between(lone, next);
                for before in CLASSES {
                    let text = format!("{before}{lone}{next}");
                    let at = before.len() + lone.len_utf8();
                    assert_eq!(boundary_at(&text, at), alone, "{before:?} {lone:?} {next:?}");
                }
            }
        }
    }

    #[test]
    fn safe_points_are_found_around_words() {
        let text = "one two\n日本 Äb.c x  y";
        let data = text.as_bytes();
        let safe: Vec<usize> = (0..=data.len()).filter(|&p| is_safe(data, p)).collect();
        // After a space, a newline or an ideograph; not between two spaces,
        // not after a letter.
        let expected = [0, 4, 8, 11, 14, 15, 21, 24, 25];
        assert_eq!(safe, expected);
        assert_eq!(safe_before(data, 10), 8);
        assert_eq!(safe_after(data, 16), 21);
        assert_eq!(safe_after(data, 100), data.len());
    }
}

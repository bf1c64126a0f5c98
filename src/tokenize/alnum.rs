//! The `alnum` rule: a word is a maximal run of chars for which
//! `char::is_alphanumeric` holds, each char lowercased with
//! `char::to_lowercase`; the input must be UTF-8.
//!
//! ASCII is read 8 bytes at a time with the same masks as the whitespace
//! rules; a char is decoded only where a byte >= 0x80 appears. Every byte of
//! a range is checked, from the first byte of the char that holds the
//! range's start, so bad UTF-8 anywhere in a file fails whichever way the
//! file is cut.

use super::utf8::{decode, first_invalid, is_continuation, previous};
use super::{HIGH, InvalidUtf8, ONES, first, in_range, load, lowercase};
use crate::counts::head_of;

/// Chars below this are looked up in a bitmap built once from
/// `char::is_alphanumeric`; the standard library's lookup is a search that
/// costs more than the rest of the rule on text in Greek, Cyrillic, Arabic
/// or Devanagari.
const BITMAP_CHARS: usize = 0x3000;

/// `char::is_alphanumeric`, answered from a bitmap below `BITMAP_CHARS`.
#[inline]
pub(super) fn is_alphanumeric(c: char) -> bool {
    static BITMAP: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    let code = c as usize;
    if code >= BITMAP_CHARS {
        return c.is_alphanumeric();
    }
    let bitmap = BITMAP.get_or_init(|| {
        let mut bits = vec![0u64; BITMAP_CHARS / 64];
        for (code, c) in (0..BITMAP_CHARS as u32).filter_map(|u| char::from_u32(u).map(|c| (u as usize, c))) {
            if c.is_alphanumeric() {
                bits[code / 64] |= 1 << (code % 64);
            }
        }
        bits
    });
    bitmap[code / 64] >> (code % 64) & 1 == 1
}

/// 0x80 in each byte of `x` that is an ASCII letter or digit.
#[inline]
fn alnum_mask(x: u64) -> u64 {
    // Setting 0x20 maps `A`-`Z` onto `a`-`z` and no other byte onto them.
    in_range(x, b'0', b'9') | in_range(x | (0x20 * ONES), b'a', b'z')
}

/// The first index from `i` that is not an ASCII letter or digit (the end
/// of the data counts as one).
#[inline]
fn ascii_alnum_end(data: &[u8], mut i: usize) -> usize {
    loop {
        let other = !alnum_mask(load(data, i)) & HIGH;
        if other != 0 {
            return i + first(other);
        }
        i += 8;
    }
}

/// The first index from `i` that holds an ASCII letter or digit or a byte
/// >= 0x80, or the data's length.
#[inline]
fn ascii_separator_end(data: &[u8], mut i: usize) -> usize {
    while i < data.len() {
        let x = load(data, i);
        let stop = (alnum_mask(x) | x) & HIGH;
        if stop != 0 {
            return (i + first(stop)).min(data.len());
        }
        i += 8;
    }
    data.len()
}

/// Calls `word` with every word that starts in `data[start..end]`.
pub(super) fn words(
    data: &[u8],
    start: usize,
    end: usize,
    mut word: impl FnMut(u64, &[u8]),
) -> Result<(), InvalidUtf8> {
    // Back up to the first byte of the char that holds `start` (a fourth
    // continuation byte is bad UTF-8, and decoding it says so).
    let mut i = start;
    while i > 0 && start - i < 3 && data.get(i).copied().is_some_and(is_continuation) {
        i -= 1;
    }
    // A word running into the range from before belongs to the range it
    // starts in.
    let mut skip = previous(data, i).is_some_and(is_alphanumeric);
    let mut lowered = Vec::new();
    loop {
        if !skip {
            // Separators up to the next word's first char.
            loop {
                i = ascii_separator_end(data, i);
                if i >= data.len() {
                    return Ok(());
                }
                if data[i] < 0x80 {
                    break;
                }
                let Some((c, len)) = decode(data, i) else { return Err(first_invalid(data, i)) };
                if is_alphanumeric(c) {
                    break;
                }
                i += len;
            }
            if i >= end {
                return Ok(());
            }
            // A char that holds `start` but begins before it is not ours.
            skip = i < start;
            // Most words are short ASCII ones followed by ASCII: one load
            // finds the end, lowercases and packs the head, as in the
            // whitespace rules.
            let x = load(data, i);
            let stop = !alnum_mask(x) & HIGH;
            if !skip && stop != 0 && x.to_le_bytes()[first(stop)] < 0x80 {
                let len = first(stop);
                let head = lowercase(x) & ((1u64 << (8 * len)) - 1);
                word(head, &head.to_le_bytes()[..len]);
                i += len;
                continue;
            }
        }
        let first_byte = i;
        let mut ascii = true;
        loop {
            i = ascii_alnum_end(data, i);
            if i >= data.len() || data[i] < 0x80 {
                break;
            }
            let Some((c, len)) = decode(data, i) else { return Err(first_invalid(data, i)) };
            if !is_alphanumeric(c) {
                break;
            }
            ascii = false;
            i += len;
        }
        if !skip {
            let raw = &data[first_byte..i];
            if ascii && !raw.iter().any(u8::is_ascii_uppercase) {
                word(head_of(raw), raw);
            } else {
                lowered.clear();
                if ascii {
                    lowered.extend(raw.iter().map(u8::to_ascii_lowercase));
                } else {
                    // Decoded char by char above: this cannot fail.
                    let text = std::str::from_utf8(raw).map_err(|_| first_invalid(data, first_byte))?;
                    let mut buf = [0u8; 4];
                    for c in text.chars().flat_map(char::to_lowercase) {
                        lowered.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
                word(head_of(&lowered), &lowered);
            }
        }
        skip = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bitmap_is_the_standard_library() {
        for c in ('\0'..=char::MAX).step_by(7).chain('\0'..'\u{3100}') {
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
        }
    }
}

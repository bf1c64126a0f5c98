//! UTF-8 for the rules that read chars (`alnum`, `words`): decoding one char
//! forwards or backwards, and the offset an error reports.
//!
//! Every range that meets bad UTF-8 reports the offset of the first bad
//! sequence in the whole file, not the first one it happened to read, so the
//! error is the same however the file was cut and whichever range fails
//! first.

use super::InvalidUtf8;

/// True for the bytes `10xxxxxx` that continue a multi-byte char.
#[inline]
pub(super) fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The char starting at `data[i]` and its length in bytes, if the bytes
/// there are one UTF-8 char.
#[inline]
pub(super) fn decode(data: &[u8], i: usize) -> Option<(char, usize)> {
    let b = *data.get(i)?;
    // The second byte's range excludes overlong forms, surrogates and
    // values past U+10FFFF (RFC 3629's table).
    let (len, second) = match b {
        0x00..=0x7F => return Some((char::from(b), 1)),
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xE1..=0xEF => (3, 0x80..=0xBF),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return None,
    };
    let bytes = data.get(i..i + len)?;
    if !second.contains(&bytes[1]) || !bytes[2..].iter().all(|&b| is_continuation(b)) {
        return None;
    }
    let lead = u32::from(b) & (0x7F >> len);
    let code = bytes[1..].iter().fold(lead, |code, &b| (code << 6) | u32::from(b & 0x3F));
    Some((char::from_u32(code)?, len))
}

/// The char that ends just before `data[i]`, if the bytes there are one
/// UTF-8 char.
#[inline]
pub(super) fn previous(data: &[u8], i: usize) -> Option<char> {
    let mut first = i.checked_sub(1)?;
    while first > 0 && i - first < 4 && is_continuation(data[first]) {
        first -= 1;
    }
    match decode(data, first) {
        Some((c, len)) if first + len == i => Some(c),
        _ => None,
    }
}

/// The error for a bad sequence found at `found` by a scan that began on a
/// char boundary: the offset of the first bad sequence in all of `data`,
/// which is `found` unless the bytes before it hold an earlier one (what
/// Python's `bytes.decode` reports as the error's start, too).
#[cold]
pub(super) fn first_invalid(data: &[u8], found: usize) -> InvalidUtf8 {
    let found = found.min(data.len());
    let offset = match std::str::from_utf8(&data[..found]) {
        Ok(_) => found,
        Err(e) => e.valid_up_to(),
    };
    InvalidUtf8 { offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forwards_and_backwards() {
        let text = "aé日😀".as_bytes();
        assert_eq!(decode(text, 0), Some(('a', 1)));
        assert_eq!(decode(text, 1), Some(('é', 2)));
        assert_eq!(decode(text, 3), Some(('日', 3)));
        assert_eq!(decode(text, 6), Some(('😀', 4)));
        assert_eq!(decode(text, 2), None);
        assert_eq!(decode(text, 10), None);
        assert_eq!(decode(&text[..8], 6), None);
        assert_eq!(previous(text, 10), Some('😀'));
        assert_eq!(previous(text, 6), Some('日'));
        assert_eq!(previous(text, 1), Some('a'));
        assert_eq!(previous(text, 0), None);
        assert_eq!(previous(text, 5), None);
        assert_eq!(decode(b"\xed\xa0\x80", 0), None, "a surrogate is not a char");
        assert_eq!(decode(b"\xc0\x80", 0), None, "an overlong form is not a char");
    }

    #[test]
    fn decoding_agrees_with_the_standard_library() {
        let std_decode = |bytes: &[u8]| {
            let valid = match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
            };
            valid.chars().next().filter(|_| !valid.is_empty()).map(|c| (c, c.len_utf8()))
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                cases.push(vec![b0, b1]);
                if b0 >= 0xE0 {
                    for b2 in [0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF] {
                        cases.push(vec![b0, b1, b2]);
                        if b0 >= 0xF0 {
                            cases.extend([0x7F, 0x80, 0xBF, 0xC0].map(|b3| vec![b0, b1, b2, b3]));
                        }
                    }
                }
            }
        }
        for bytes in cases {
            assert_eq!(decode(&bytes, 0), std_decode(&bytes), "{bytes:x?}");
        }
    }

    #[test]
    fn the_first_bad_sequence_of_the_file_wins() {
        let data = b"ab\xffcd\xfe";
        assert_eq!(first_invalid(data, 5), InvalidUtf8 { offset: 2 });
        assert_eq!(first_invalid(data, 2), InvalidUtf8 { offset: 2 });
        assert_eq!(first_invalid(b"abc\xe6\x97", 3), InvalidUtf8 { offset: 3 });
    }
}

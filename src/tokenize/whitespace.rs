//! The whitespace rules: a word is a run of bytes other than the six ASCII
//! whitespace bytes, with `A`-`Z` lowercased or kept.
//!
//! The text is read a block of 64 bytes at a time into a bitmask of its
//! whitespace bytes (SSE2 on x86_64, eight 8-byte SWAR steps elsewhere).
//! Words start where a non-space follows a space, so one mask gives every
//! word of the block and its length with a couple of bit operations; each
//! word is then read with one unaligned 8-byte load, which is its head.

use super::{is_space, load, lowercase};

/// Bytes read into one mask.
const BLOCK: usize = 64;

/// 0x80 in each whitespace byte of `x`.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
pub(super) fn space_mask(x: u64) -> u64 {
    super::in_range(x, 0x09, 0x0D) | super::in_range(x, b' ', b' ')
}

/// Bit `k` set when `data[at + k]` is whitespace; bytes past the end of the
/// data count as whitespace, so the end ends a word.
#[inline(always)]
fn space_bits(data: &[u8], at: usize) -> u64 {
    match data.get(at..).and_then(<[u8]>::first_chunk::<BLOCK>) {
        Some(block) => block_bits(block),
        None => {
            let mut padded = [b' '; BLOCK];
            let rest = &data[at.min(data.len())..];
            padded[..rest.len()].copy_from_slice(rest);
            block_bits(&padded)
        }
    }
}

/// The whitespace bits of a block, 16 bytes to an SSE2 compare.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_bits(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    let mut bits = 0u64;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of every x86_64 CPU; `lane` is 16 readable
        // bytes, and `loadu` needs no alignment.
        let mask = unsafe {
            let x = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            // 0x09..=0x0D is 0..=4 after subtracting 9 (other bytes wrap above).
            let t = _mm_sub_epi8(x, _mm_set1_epi8(0x09));
            let control = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(4)), t);
            let space = _mm_cmpeq_epi8(x, _mm_set1_epi8(b' ' as i8));
            _mm_movemask_epi8(_mm_or_si128(control, space)) as u32 & 0xFFFF
        };
        bits |= u64::from(mask) << (16 * k);
    }
    bits
}

/// The whitespace bits of a block, 8 bytes to a SWAR mask.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn block_bits_swar(block: &[u8; BLOCK]) -> u64 {
    let mut bits = 0u64;
    for (k, lane) in block.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(lane);
        // One bit a whitespace byte (bit 0 of its byte), gathered into the
        // top byte by a multiply: byte j's bit lands on bit 56 + j, and no
        // two partial products share a bit, so nothing carries.
        let ones = space_mask(u64::from_le_bytes(bytes)) >> 7;
        bits |= (ones.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    bits
}

#[cfg(not(target_arch = "x86_64"))]
use block_bits_swar as block_bits;

/// Calls `word(head, bytes)` with every word that starts in
/// `data[start..end]`, lowercased when `LOWER`.
pub(super) fn words<const LOWER: bool>(data: &[u8], start: usize, end: usize, mut word: impl FnMut(u64, &[u8])) {
    let mut at = start;
    // A word running into the range from before belongs to the previous range.
    if at > 0 && !is_space(data[at - 1]) {
        while at < data.len() && !is_space(data[at]) {
            at += 1;
        }
    }
    let mut lowered = Vec::new();
    // 1 when the byte before the block is whitespace, or there is none: at
    // the first block, the byte before `at` is a space unless `at` is one.
    let mut space_before = 1u64;
    while at < end {
        let spaces = space_bits(data, at);
        let mut starts = !spaces & (spaces << 1 | space_before);
        if end - at < BLOCK {
            starts &= (1u64 << (end - at)) - 1;
        }
        space_before = spaces >> 63;
        let mut next = at + BLOCK;
        while starts != 0 {
            let first = starts.trailing_zeros() as usize;
            starts &= starts - 1;
            let after = spaces >> first;
            let len = if after != 0 {
                after.trailing_zeros() as usize
            } else {
                // The block's last word runs past it: find its end, and go
                // on from there (a space, or the end of the data).
                let mut stop = next;
                loop {
                    let spaces = space_bits(data, stop);
                    if spaces != 0 {
                        stop += spaces.trailing_zeros() as usize;
                        break;
                    }
                    stop += BLOCK;
                }
                next = stop;
                space_before = 0;
                stop - (at + first)
            };
            emit::<LOWER>(data, at + first, len, &mut lowered, &mut word);
        }
        at = next;
    }
}

/// Calls `word` with the word of `len` bytes at `data[first_byte..]`;
/// `lowered` is room for a long word's lowercased copy.
#[inline(always)]
fn emit<const LOWER: bool>(
    data: &[u8],
    first_byte: usize,
    len: usize,
    lowered: &mut Vec<u8>,
    word: &mut impl FnMut(u64, &[u8]),
) {
    let x = load(data, first_byte);
    let head = if LOWER { lowercase(x) } else { x };
    let short;
    // One call for every case, so that `word` is inlined once.
    let (head, bytes) = if len < 8 {
        let head = head & ((1u64 << (8 * len)) - 1);
        short = head.to_le_bytes();
        (head, &short[..len])
    } else {
        let raw = &data[first_byte..first_byte + len];
        if LOWER && has_upper(raw) {
            lowered.clear();
            lowered.extend(raw.iter().map(u8::to_ascii_lowercase));
            (head, lowered.as_slice())
        } else {
            (head, raw)
        }
    };
    word(head, bytes);
}

/// True if `word` holds a byte `A`-`Z` (read 8 bytes at a time).
#[inline(always)]
fn has_upper(word: &[u8]) -> bool {
    (0..word.len()).step_by(8).any(|i| super::in_range(load(word, i), b'A', b'Z') != 0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bits_bytewise(block: &[u8; BLOCK]) -> u64 {
        block.iter().enumerate().filter(|(_, b)| is_space(**b)).fold(0, |bits, (k, _)| bits | 1 << k)
    }

    #[test]
    fn uppercase_is_found_in_any_place_of_a_long_word() {
        for len in 8..40 {
            assert!(!has_upper(&vec![b'a'; len]));
            for at in 0..len {
                let mut word = vec![b'z'; len];
                word[at] = b'Q';
                assert!(has_upper(&word), "{len} {at}");
            }
        }
    }

    #[test]
    fn every_byte_in_every_lane_is_classified_by_both_masks() {
        for b in 0..=255u8 {
            for fill in [0x00u8, 0x20, 0x41, 0x7F, 0x80, 0xFF] {
                let mut block = [fill; BLOCK];
                for (k, byte) in block.iter_mut().enumerate() {
                    if k % 3 == 0 {
                        *byte = b;
                    }
                }
                assert_eq!(block_bits(&block), bits_bytewise(&block), "byte {b:#04x} fill {fill:#04x}");
                assert_eq!(block_bits_swar(&block), bits_bytewise(&block), "byte {b:#04x} fill {fill:#04x}");
            }
        }
    }

    proptest! {
        #[test]
        fn block_masks_match_byte_rules(bytes in prop::collection::vec(
            prop::sample::select(vec![b' ', b'\t', b'\n', 0x0B, 0x0C, b'\r', 0x08, 0x0E, 0x1F, 0x21, b'a', 0xA0, 0x89, 0xFF]),
            BLOCK,
        )) {
            let block: [u8; BLOCK] = bytes.try_into().expect("64 bytes");
            prop_assert_eq!(block_bits(&block), bits_bytewise(&block));
            prop_assert_eq!(block_bits_swar(&block), bits_bytewise(&block));
        }
    }
}

//! Words from a stream of bytes (a /proc file, a pipe, a decompressor),
//! in bounded memory: the stream is read in chunks, and each chunk is
//! tokenized up to its last *safe cut*, a point no word crosses; the bytes
//! after it (a partial word) are carried into the next chunk. The words are
//! those of tokenizing the whole stream at once, through the tokenizer's
//! public `Tokenizer::words`.
//!
//! Memory is a chunk plus the longest stretch without a safe cut
//! (`Tokenizer::cut_before`): for the whitespace tokenizers and `alnum`, the
//! longest word; for `words`, about the longest word too (a cut needs a
//! space, most ASCII punctuation or an ideograph before it).

use std::io::{self, Read};

use crate::tokenize::Tokenizer;

/// Bytes read from the stream at a time.
pub const CHUNK: usize = 1 << 20;

/// Why a stream could not be counted.
#[derive(Debug)]
pub enum StreamError {
    /// Reading failed.
    Read(io::Error),
    /// The `alnum` tokenizer met bytes that are not UTF-8, at this offset
    /// from the stream's start.
    NotUtf8 { offset: u64 },
}

/// Calls `word(head, bytes)` with every word of the stream, as
/// `Tokenizer::words` would over all its bytes; returns the stream's length.
pub fn words(reader: impl Read, tokenizer: Tokenizer, word: impl FnMut(u64, &[u8])) -> Result<u64, StreamError> {
    words_in_chunks(reader, tokenizer, CHUNK, word)
}

/// `words`, reading `chunk` bytes at a time.
fn words_in_chunks(
    mut reader: impl Read,
    tokenizer: Tokenizer,
    chunk: usize,
    mut word: impl FnMut(u64, &[u8]),
) -> Result<u64, StreamError> {
    let mut buffer: Vec<u8> = Vec::with_capacity(chunk);
    let mut offset = 0u64; // the stream offset of buffer[0]
    loop {
        let kept = buffer.len();
        buffer.resize(kept + chunk, 0);
        let got = fill(&mut reader, &mut buffer[kept..]).map_err(StreamError::Read)?;
        buffer.truncate(kept + got);
        let end = got < chunk;
        let cut = if end { buffer.len() } else { safe_cut(tokenizer, &buffer) };
        tokenizer
            .words(&buffer[..cut], 0..cut, &mut word)
            .map_err(|bad| StreamError::NotUtf8 { offset: offset + bad.offset as u64 })?;
        if end {
            return Ok(offset + buffer.len() as u64);
        }
        buffer.drain(..cut);
        offset += cut as u64;
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The end of the last byte of `data` that no word of `tokenizer` spans
/// (0 if there is none): words that start before it end before it, and the
/// text after it tokenizes alone, whatever follows `data`.
fn safe_cut(tokenizer: Tokenizer, data: &[u8]) -> usize {
    tokenizer.cut_before(data, data.len())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn whole(tokenizer: Tokenizer, data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        tokenizer.words(data, 0..data.len(), |_, w| out.push(w.to_vec())).unwrap();
        out
    }

    /// The words of `data` read `step` bytes at a time in chunks of `chunk`.
    fn streamed(tokenizer: Tokenizer, data: &[u8], step: usize, chunk: usize) -> Result<Vec<Vec<u8>>, StreamError> {
        let mut out = Vec::new();
        let len = words_in_chunks(Trickle { data, step }, tokenizer, chunk, |head, w| {
            assert_eq!(head, crate::counts::head_of(w));
            out.push(w.to_vec())
        })?;
        assert_eq!(len, data.len() as u64);
        Ok(out)
    }

    #[test]
    fn words_across_many_chunks_match_the_whole_text() {
        // Several chunks, words and lines of every length across their edges.
        let mut text = Vec::new();
        let mut i = 0usize;
        while text.len() < 3 * CHUNK + 12_345 {
            text.extend_from_slice(format!("Word{i} ").as_bytes());
            text.extend(std::iter::repeat_n(b'x', i % 97));
            text.push(if i.is_multiple_of(7) { b'\n' } else { b'\t' });
            i += 1;
        }
        text.extend_from_slice("été, über—ñandú".as_bytes());
        for tokenizer in [Tokenizer::WhitespaceLower, Tokenizer::Whitespace, Tokenizer::Alnum, Tokenizer::Words] {
            assert_eq!(streamed(tokenizer, &text, 100_000, CHUNK).unwrap(), whole(tokenizer, &text), "{tokenizer:?}");
        }
    }

    #[test]
    fn a_word_longer_than_a_chunk_stays_whole() {
        let mut text = b"a ".to_vec();
        text.extend(std::iter::repeat_n(b'y', 2 * CHUNK + 3));
        text.extend_from_slice(b" b");
        let got = streamed(Tokenizer::Whitespace, &text, CHUNK, CHUNK).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].len(), 2 * CHUNK + 3);
    }

    #[test]
    fn bad_utf8_is_reported_at_its_offset_in_the_stream() {
        let mut text = "mot ".repeat(CHUNK / 2).into_bytes();
        let at = text.len() + 3;
        text.extend_from_slice(b"abc\xffdef");
        match streamed(Tokenizer::Alnum, &text, 4096, CHUNK) {
            Err(StreamError::NotUtf8 { offset }) => assert_eq!(offset, at as u64),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn any_text_streams_as_it_tokenizes_whole(
            text in "[a-zA-Z0-9 \n\t.,éß日本\u{130}-]{0,300}",
            step in 1usize..50,
            chunk in 1usize..40,
        ) {
            for tokenizer in [Tokenizer::WhitespaceLower, Tokenizer::Whitespace, Tokenizer::Alnum, Tokenizer::Words] {
                let got = streamed(tokenizer, text.as_bytes(), step, chunk).unwrap();
                prop_assert_eq!(got, whole(tokenizer, text.as_bytes()));
            }
        }
    }
}

//! Compressed inputs: gzip, bzip2, xz and zstd, recognised by their magic
//! bytes (never by the file name) and decompressed as a stream by the
//! formats' own crates. Every decoder reads concatenated streams to the end
//! (a multi-member gzip file, as `cat a.gz b.gz` or pigz make, is all read),
//! so the words are those of the decompressed bytes. None of these formats
//! can be entered in the middle without an index, so a compressed file is
//! one unit of work.

use std::fmt;
use std::io::Read;

/// A compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
        })
    }
}

/// Bytes of a file's head that `detect` needs.
pub const MAGIC_LEN: usize = 10;

/// The format whose magic bytes `head` (a file's first bytes) starts with.
pub fn detect(head: &[u8]) -> Option<Codec> {
    // gzip: ID1 ID2 and CM = 8 (deflate, the only method in use).
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Some(Codec::Gzip);
    }
    // xz: its 6-byte header magic.
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Some(Codec::Xz);
    }
    // zstd: a frame's magic number, little-endian.
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Codec::Zstd);
    }
    // bzip2: "BZh", a block size digit, then a block's magic (the digits
    // of pi) or the end-of-stream magic (sqrt(pi)) of an empty stream; the
    // 4-byte prefix alone could start a text file.
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    if head.len() >= MAGIC_LEN && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        let next = &head[4..MAGIC_LEN];
        if next == BLOCK || next == END {
            return Some(Codec::Bzip2);
        }
    }
    None
}

/// A reader of the decompressed bytes of `source`, which holds `codec`
/// data from its first byte.
pub fn decoder<'a>(codec: Codec, source: impl Read + 'a) -> Box<dyn Read + 'a> {
    match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(source)),
        Codec::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(source)),
        Codec::Zstd => match zstd::stream::read::Decoder::new(source) {
            Ok(decoder) => Box::new(decoder),
            Err(e) => Box::new(Failed(Some(e))),
        },
    }
}

/// A reader that fails once with the error that kept it from starting.
struct Failed(Option<std::io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self.0.take().unwrap_or_else(|| std::io::Error::other("the decoder did not start")))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// `text` compressed with `codec`, as one stream.
    pub fn compress(codec: Codec, text: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(text).unwrap();
                e.finish().unwrap()
            }
            Codec::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(text).unwrap();
                e.finish().unwrap()
            }
            Codec::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(text).unwrap();
                e.finish().unwrap()
            }
            Codec::Zstd => zstd::stream::encode_all(text, 1).unwrap(),
        }
    }

    const ALL: [Codec; 4] = [Codec::Gzip, Codec::Bzip2, Codec::Xz, Codec::Zstd];

    #[test]
    fn each_format_is_recognised_and_concatenated_streams_are_all_read() {
        for codec in ALL {
            let (a, b) = (b"first stream words ".repeat(1000), b"and the second".to_vec());
            let mut both = compress(codec, &a);
            both.extend(compress(codec, &b));
            assert_eq!(detect(&both), Some(codec));
            let mut out = Vec::new();
            decoder(codec, &both[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, [a, b].concat(), "{codec}");
            let empty = compress(codec, b"");
            assert_eq!(detect(&empty), Some(codec), "{codec} of nothing");
        }
    }

    #[test]
    fn text_is_not_mistaken_for_a_format() {
        for text in [&b"BZh9 is a word"[..], b"plain text", b"", b"\x1f\x8b", b"BZh91AY&SX"] {
            assert_eq!(detect(text), None, "{text:?}");
        }
    }

    #[test]
    fn corrupt_or_cut_data_is_an_error() {
        for codec in ALL {
            let data = compress(codec, &b"some words to compress ".repeat(500));
            let n = data.len();
            let mut corrupt = data.clone();
            corrupt[n / 2..].fill(0x55);
            let mut out = Vec::new();
            assert!(decoder(codec, &corrupt[..]).read_to_end(&mut out).is_err(), "corrupt {codec}");
            assert!(decoder(codec, &data[..n - 5]).read_to_end(&mut out).is_err(), "cut {codec}");
        }
    }
}

//! Reading the words of a split, whatever its file is: a plain file through
//! a mapping (only the split's range); a compressed file, recognised by its
//! magic bytes, decompressed from its mapping as a stream (it is always one
//! whole split); a stream (standard input, a FIFO, a /proc file), read from
//! start to end and decompressed first if its first bytes say so. Mapped
//! bytes, compressed or not, are read under `Mapped::read`'s guard against a
//! file that shrinks.
//!
//! A compressed file or a stream is one split of any length, so its reading
//! asks `stop` before every read of its source and ends early when told (the
//! job failed or was interrupted); a mapped split is asked once.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use super::compressed::{self, Codec};
use super::{Form, InputFile, Split, input_error, map, stream, walk};
use crate::error::{Error, Result};
use crate::tokenize::Tokenizer;

/// Calls `word(head, bytes)` with every word that starts in `split` (see
/// `Tokenizer::words`); returns the input bytes read (for a compressed
/// file, its compressed bytes; for a stream, its length). Once `stop()` is
/// true, reading ends and the result is `Error::Cancelled`.
pub fn split_words(
    files: &[InputFile],
    split: &Split,
    tokenizer: Tokenizer,
    stop: &dyn Fn() -> bool,
    word: impl FnMut(u64, &[u8]),
) -> Result<u64> {
    let file = &files[split.file as usize];
    if stop() {
        return Err(Error::Cancelled);
    }
    let read = match file.form {
        Form::Stream => stream_words(&file.path, tokenizer, stop, word),
        Form::Mapped | Form::Compressed(_) => mapped_words(file, split, tokenizer, stop, word),
    };
    if stop() {
        return Err(Error::Cancelled);
    }
    read
}

/// Why reading words failed, before the file's path is attached.
enum Failure {
    NotUtf8(u64),
    Read(io::Error),
    Decompress(Codec, io::Error),
    /// A compressed file handed out in pieces.
    Cut(Codec),
}

impl Failure {
    fn from_stream(codec: Option<Codec>, error: stream::StreamError) -> Failure {
        match (error, codec) {
            (stream::StreamError::NotUtf8 { offset }, _) => Failure::NotUtf8(offset),
            (stream::StreamError::Read(e), Some(codec)) => Failure::Decompress(codec, e),
            (stream::StreamError::Read(e), None) => Failure::Read(e),
        }
    }

    fn error(self, path: &Path) -> Error {
        match self {
            Failure::NotUtf8(offset) => Error::NotUtf8 { path: path.to_path_buf(), offset },
            Failure::Read(e) => input_error(path, format!("cannot read it: {e}")),
            Failure::Decompress(codec, e) => input_error(path, format!("cannot decompress it as {codec}: {e}")),
            Failure::Cut(codec) => input_error(
                path,
                format!(
                    "it is {codec} data, which is read whole, but this worker was given a part of it (is the master another build?)"
                ),
            ),
        }
    }
}

fn mapped_words(
    file: &InputFile,
    split: &Split,
    tokenizer: Tokenizer,
    stop: &dyn Fn() -> bool,
    mut word: impl FnMut(u64, &[u8]),
) -> Result<u64> {
    let whole = split.start == 0 && split.end == file.len;
    let read = map::map(file)?.read(|data| match compressed::detect(data) {
        None => tokenizer
            .words(data, split.start as usize..split.end as usize, &mut word)
            .map_err(|bad| Failure::NotUtf8(bad.offset as u64)),
        Some(codec) if whole => {
            stream::words(compressed::decoder(codec, Stoppable { inner: data, stop }), tokenizer, &mut word)
                .map(drop)
                .map_err(|e| Failure::from_stream(Some(codec), e))
        }
        Some(codec) => Err(Failure::Cut(codec)),
    })?;
    read.map_err(|failure| failure.error(&file.path))?;
    Ok(split.len())
}

fn stream_words(
    path: &Path,
    tokenizer: Tokenizer,
    stop: &dyn Fn() -> bool,
    word: impl FnMut(u64, &[u8]),
) -> Result<u64> {
    let mut source = Counted { inner: Stoppable { inner: open_stream(path)?, stop }, read: 0 };
    let head = peek(&mut source, compressed::MAGIC_LEN).map_err(|e| Failure::Read(e).error(path))?;
    let codec = compressed::detect(&head);
    let bytes = Cursor::new(head).chain(&mut source);
    let words = match codec {
        Some(codec) => stream::words(compressed::decoder(codec, bytes), tokenizer, word),
        None => stream::words(bytes, tokenizer, word),
    };
    words.map_err(|e| Failure::from_stream(codec, e).error(path))?;
    Ok(source.read)
}

/// Opens an input read as a stream (`-` is standard input).
pub(super) fn open_stream(path: &Path) -> Result<Box<dyn Read>> {
    if path.as_os_str() == walk::STDIN {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|e| input_error(path, e.to_string()))?;
    Ok(Box::new(file))
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
fn peek(reader: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    reader.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A reader that fails once `stop()` is true.
struct Stoppable<'a, R> {
    inner: R,
    stop: &'a dyn Fn() -> bool,
}

impl<R: Read> Read for Stoppable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if (self.stop)() {
            return Err(io::Error::other("reading was stopped"));
        }
        self.inner.read(buf)
    }
}

/// A reader that counts the bytes it hands out.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

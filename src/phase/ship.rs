//! Phase 1's optional part, `master --ship`: the master sends each worker
//! the input bytes its splits need, for labs where workers cannot open the
//! master's paths (no shared filesystem).
//!
//! A worker's splits are one contiguous run of bytes per file, so it gets
//! one range per file: from the first byte the tokenizer reads before its
//! first split (`Tokenizer::reads_from`: 8 bytes, or for `words` back to a
//! point where the text may be cut, found by reading backwards) to the end
//! of its last split, then on to the first ASCII whitespace byte
//! (inclusive) or the end of the file, since a split's last word is read
//! past its end. No word holds ASCII whitespace under any tokenizer, and
//! none is decided by what follows one, so these are all the bytes any
//! tokenizer reads.
//!
//! The master reads the files in bounded chunks as the link drains
//! (`Shipper`); the worker writes them at their offsets into a sparse spool
//! file of the original length (`Spool`), maps that instead of the original,
//! and deletes the spool when the job ends, however it ends. The words, and
//! so the result, are the same as reading the original files.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::input::{InputFile, Split};
use crate::tokenize::{Tokenizer, is_space};
use crate::wire::Kind;
use crate::wire::message::{self, ArchivedShipChunk, ArchivedShipEnd, ShipChunk, ShipEnd};

/// Bytes of file data in one chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// How much is read at first when looking back from a worker's first split
/// for the bytes its tokenizer reads there.
const LOOK_BEHIND_STEP: usize = 4 << 10;
/// How much is read at a time while looking for the end of a split's last word.
const TAIL_STEP: usize = 64 << 10;

/// One file range still to send to a worker.
#[derive(Debug)]
struct Pending {
    /// The file's index in the worker's job spec.
    local: u32,
    path: PathBuf,
    len: u64,
    /// Next byte to send; until the file is opened, the start of the first
    /// split (the bytes the tokenizer reads before it are found then).
    pos: u64,
    /// The end of the last split; past it, bytes are sent up to the first
    /// whitespace byte.
    end: u64,
    handle: Option<File>,
    tokenizer: Tokenizer,
}

/// Master side: what every worker still needs, read a chunk at a time.
#[derive(Debug)]
pub struct Shipper {
    pending: Vec<VecDeque<Pending>>,
    /// (chunks, bytes) sent to each worker so far.
    sent: Vec<(u64, u64)>,
    /// Whether each worker has been sent its `ShipEnd`.
    ended: Vec<bool>,
    buffer: Vec<u8>,
}

impl Shipper {
    /// The ranges each worker of `plan` needs under `tokenizer`, numbered as
    /// `init::job_specs` numbers a worker's files (in the order its splits
    /// reach them).
    pub fn new(files: &[InputFile], plan: &[Vec<Split>], tokenizer: Tokenizer) -> Shipper {
        let pending = plan
            .iter()
            .map(|splits| {
                let mut ranges: VecDeque<Pending> = VecDeque::new();
                let mut last = None; // a worker's splits of one file are consecutive
                for s in splits {
                    if last == Some(s.file) {
                        if let Some(range) = ranges.back_mut() {
                            range.end = range.end.max(s.end);
                        }
                        continue;
                    }
                    last = Some(s.file);
                    let file = &files[s.file as usize];
                    ranges.push_back(Pending {
                        local: ranges.len() as u32,
                        path: file.path.clone(),
                        len: file.len,
                        pos: s.start,
                        end: s.end,
                        handle: None,
                        tokenizer,
                    });
                }
                ranges
            })
            .collect();
        let workers = plan.len();
        Shipper { pending, sent: vec![(0, 0); workers], ended: vec![false; workers], buffer: Vec::new() }
    }

    /// True once every worker has been sent everything and its `ShipEnd`.
    pub fn is_done(&self) -> bool {
        self.ended.iter().all(|&e| e)
    }

    /// The next frame for `rank`: a chunk of its data, then its `ShipEnd`,
    /// then nothing.
    pub fn next_frame(&mut self, rank: usize) -> Result<Option<Vec<u8>>> {
        if self.ended[rank] {
            return Ok(None);
        }
        while let Some(range) = self.pending[rank].front_mut() {
            let chunk = read_chunk(range, &mut self.buffer)?;
            if range.pos >= range.len || chunk.finished {
                self.pending[rank].pop_front();
            }
            if chunk.bytes == 0 {
                continue;
            }
            let offset = chunk.offset;
            let bytes = self.buffer[..chunk.bytes].to_vec();
            let sent = &mut self.sent[rank];
            sent.0 += 1;
            sent.1 += bytes.len() as u64;
            let msg = ShipChunk { file: chunk.local, offset, bytes };
            return Ok(Some(message::encode(Kind::ShipChunk, &msg)?));
        }
        self.ended[rank] = true;
        let (chunks, bytes) = self.sent[rank];
        Ok(Some(message::encode(Kind::ShipEnd, &ShipEnd { chunks, bytes })?))
    }
}

/// What one read produced.
struct Chunk {
    local: u32,
    offset: u64,
    bytes: usize,
    /// The range is complete (its tail reached whitespace).
    finished: bool,
}

/// Reads the next chunk of `range` into `buffer`.
fn read_chunk(range: &mut Pending, buffer: &mut Vec<u8>) -> Result<Chunk> {
    let fail = |reason: String| Error::Input { path: range.path.clone(), reason };
    if range.handle.is_none() {
        let handle = File::open(&range.path).map_err(|e| fail(e.to_string()))?;
        let len = handle.metadata().map_err(|e| fail(e.to_string()))?.len();
        if len < range.len {
            return Err(fail(format!("it changed before it was read (it shrank from {} to {len} bytes)", range.len)));
        }
        range.pos = reads_from(&handle, range.pos, range.len, range.tokenizer)
            .map_err(|e| fail(format!("cannot read it: {e}")))?;
        range.handle = Some(handle);
    }
    let in_tail = range.pos >= range.end;
    let want = if in_tail { TAIL_STEP as u64 } else { (range.end - range.pos).min(CHUNK_BYTES as u64) };
    let want = want.min(range.len - range.pos) as usize;
    buffer.resize(want, 0);
    let offset = range.pos;
    if let Some(handle) = range.handle.as_ref() {
        handle.read_exact_at(buffer, offset).map_err(|e| match handle.metadata() {
            Ok(meta) if meta.len() < range.len => {
                fail(format!("it changed while being read (it shrank from {} to {} bytes)", range.len, meta.len()))
            }
            _ => fail(format!("cannot read it: {e}")),
        })?;
    }
    let mut bytes = want;
    let mut finished = false;
    if in_tail && let Some(space) = buffer.iter().position(|&b| is_space(b)) {
        bytes = space + 1;
        finished = true;
    }
    range.pos += bytes as u64;
    Ok(Chunk { local: range.local, offset, bytes, finished })
}

/// The first byte `tokenizer` reads for a split that starts at `start` in
/// a file of `len` bytes, from windows read backwards until one shows it. A
/// window's first byte is taken for the file's start, so only an answer
/// after it is trusted; a window holds the char at `start` too, or its end
/// would be taken for the file's end.
fn reads_from(handle: &File, start: u64, len: u64, tokenizer: Tokenizer) -> std::io::Result<u64> {
    let mut window = LOOK_BEHIND_STEP as u64;
    let mut bytes = Vec::new();
    loop {
        let from = start.saturating_sub(window);
        bytes.resize((len.min(start + 4) - from) as usize, 0);
        handle.read_exact_at(&mut bytes, from)?;
        let first = tokenizer.reads_from(&bytes, (start - from) as usize) as u64;
        if first > 0 || from == 0 {
            return Ok(from + first);
        }
        window *= 4;
    }
}

/// Worker side: the shipped bytes, in sparse files of the original lengths
/// inside a temporary directory that is removed when the spool is dropped.
#[derive(Debug)]
pub struct Spool {
    dir: tempfile::TempDir,
    files: Vec<(File, u64)>,
    /// (spool path, the input's path on the master), for messages.
    names: Vec<(PathBuf, PathBuf)>,
    received: (u64, u64),
    complete: bool,
}

impl Spool {
    /// Creates one empty spool file per input file, readable by this user
    /// only (the inputs may be private), and returns the input files that
    /// stand for them.
    pub fn create(originals: &[InputFile]) -> Result<(Spool, Vec<InputFile>)> {
        let dir = tempfile::Builder::new()
            .prefix("wordfreq-spool-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| Error::io("cannot create a spool directory for shipped inputs", e))?;
        let mut files = Vec::with_capacity(originals.len());
        let mut inputs = Vec::with_capacity(originals.len());
        let mut names = Vec::with_capacity(originals.len());
        for (i, original) in originals.iter().enumerate() {
            let path = dir.path().join(format!("input-{i}"));
            let fail = |e| Error::io(format!("cannot create spool file {}", path.display()), e);
            let file = File::options().read(true).write(true).create_new(true).mode(0o600).open(&path).map_err(fail)?;
            file.set_len(original.len).map_err(fail)?;
            files.push((file, original.len));
            names.push((path.clone(), original.path.clone()));
            inputs.push(InputFile::mapped(path, original.len));
        }
        Ok((Spool { dir, files, names, received: (0, 0), complete: false }, inputs))
    }

    /// `error` with spool paths replaced by the inputs they stand for, so
    /// that a message names the user's file.
    pub fn explain(&self, error: Error) -> Error {
        let original = |path: PathBuf| {
            self.names.iter().find(|(spool, _)| *spool == path).map_or(path, |(_, original)| original.clone())
        };
        match error {
            Error::NotUtf8 { path, offset } => Error::NotUtf8 { path: original(path), offset },
            Error::Input { path, reason } => Error::Input { path: original(path), reason },
            other => other,
        }
    }

    /// Writes a chunk where it belongs, refusing one that does not fit.
    pub fn write(&mut self, chunk: &ArchivedShipChunk) -> Result<()> {
        let index = chunk.file.to_native() as usize;
        let offset = chunk.offset.to_native();
        let (file, len) = self
            .files
            .get(index)
            .ok_or_else(|| Error::JobSpec(format!("a shipped chunk names file {index} of {}", self.files.len())))?;
        if self.complete {
            return Err(Error::JobSpec("a shipped chunk arrived after the end of the shipment".into()));
        }
        let end = offset.checked_add(chunk.bytes.len() as u64);
        if end.is_none_or(|end| end > *len) {
            return Err(Error::JobSpec(format!(
                "a shipped chunk at {offset} does not fit file {index} of {len} bytes"
            )));
        }
        file.write_all_at(&chunk.bytes, offset)
            .map_err(|e| Error::io(format!("cannot write to the spool in {}", self.dir.path().display()), e))?;
        self.received.0 += 1;
        self.received.1 += chunk.bytes.len() as u64;
        Ok(())
    }

    /// The master has sent everything: the totals must match what arrived.
    pub fn end(&mut self, end: &ArchivedShipEnd) -> Result<()> {
        let claimed = (end.chunks.to_native(), end.bytes.to_native());
        if claimed != self.received {
            return Err(Error::JobSpec(format!(
                "the master says it shipped {} chunks ({} bytes) but {} chunks ({} bytes) arrived",
                claimed.0, claimed.1, self.received.0, self.received.1
            )));
        }
        self.complete = true;
        Ok(())
    }

    /// True once every shipped byte is in place.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame;

    fn payload(frame_bytes: &[u8]) -> rkyv::util::AlignedVec {
        let mut v = rkyv::util::AlignedVec::new();
        v.extend_from_slice(&frame_bytes[frame::HEADER_LEN..]);
        v
    }

    #[test]
    fn each_worker_gets_its_splits_plus_the_edges_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let text = b"alpha beta gamma delta epsilon zeta eta theta";
        std::fs::write(&path, text).unwrap();
        let files = [InputFile::mapped(path, text.len() as u64)];
        let plan = crate::input::assign(&files, 2, 5);
        let mut shipper = Shipper::new(&files, &plan, Tokenizer::Whitespace);
        for (rank, splits) in plan.iter().enumerate() {
            let (mut spool, inputs) = Spool::create(&files).unwrap();
            while let Some(frame) = shipper.next_frame(rank).unwrap() {
                let body = payload(&frame);
                match frame[4] {
                    k if k == Kind::ShipChunk as u8 => {
                        spool.write(message::access::<ArchivedShipChunk>(Kind::ShipChunk, &body).unwrap()).unwrap()
                    }
                    _ => spool.end(message::access::<ArchivedShipEnd>(Kind::ShipEnd, &body).unwrap()).unwrap(),
                }
            }
            assert!(spool.is_complete());
            let got = std::fs::read(&inputs[0].path).unwrap();
            let (lo, hi) = (splits[0].start, splits.last().unwrap().end);
            // Everything from 8 bytes before the first split to the first
            // space after the last one arrived; the rest is a hole of zeros.
            let from = lo.saturating_sub(8) as usize;
            let to = text[hi as usize..].iter().position(|&b| b == b' ').map_or(text.len(), |p| hi as usize + p + 1);
            assert_eq!(&got[from..to], &text[from..to]);
            assert!(got[..from].iter().chain(&got[to..]).all(|&b| b == 0), "rank {rank}: {got:?}");
        }
        assert!(shipper.is_done());
    }

    /// Ships `text` to `workers` and returns, for each, the spool's bytes.
    fn ship(text: &[u8], workers: usize, split_size: u64, tokenizer: Tokenizer) -> (Vec<Vec<Split>>, Vec<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, text).unwrap();
        let files = [InputFile::mapped(path, text.len() as u64)];
        let plan = crate::input::assign(&files, workers, split_size);
        let mut shipper = Shipper::new(&files, &plan, tokenizer);
        let mut spools = Vec::new();
        for rank in 0..workers {
            let (mut spool, inputs) = Spool::create(&files).unwrap();
            while let Some(frame) = shipper.next_frame(rank).unwrap() {
                let body = payload(&frame);
                match frame[4] {
                    k if k == Kind::ShipChunk as u8 => {
                        spool.write(message::access::<ArchivedShipChunk>(Kind::ShipChunk, &body).unwrap()).unwrap()
                    }
                    _ => spool.end(message::access::<ArchivedShipEnd>(Kind::ShipEnd, &body).unwrap()).unwrap(),
                }
            }
            spools.push(std::fs::read(&inputs[0].path).unwrap());
        }
        (plan, spools)
    }

    #[test]
    fn a_worker_under_words_gets_what_it_reads_before_its_splits() {
        // Long runs of marks: a split's start shows nothing of its word; the
        // safe point before it is far back, after a multi-byte char.
        let unit = format!("x{}y\n日{}.{}b ", "\u{93e}".repeat(700), "\u{301}".repeat(900), "\u{301}".repeat(900));
        let text = unit.repeat(3);
        let words = |data: &[u8], splits: &[Split]| {
            let mut out = Vec::new();
            for s in splits {
                Tokenizer::Words.words(data, s.start as usize..s.end as usize, |_, w| out.push(w.to_vec())).unwrap();
            }
            out
        };
        for workers in [2, 3, 5] {
            let (plan, spools) = ship(text.as_bytes(), workers, 1000, Tokenizer::Words);
            for (splits, spool) in plan.iter().zip(&spools) {
                assert_eq!(words(spool, splits), words(text.as_bytes(), splits), "{workers} workers");
                let shipped = spool.iter().filter(|&&b| b != 0).count();
                assert!(shipped < text.len(), "only what the splits need is shipped");
            }
        }
    }

    #[test]
    fn a_spool_refuses_chunks_that_do_not_fit_and_wrong_totals() {
        let (mut spool, spooled) = Spool::create(&[InputFile::mapped("/in", 4)]).unwrap();
        // Private: the inputs may not be everybody's to read.
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(spool.dir.path()), mode(&spooled[0].path)), (0o700, 0o600));
        let named = spool.explain(Error::NotUtf8 { path: spooled[0].path.clone(), offset: 3 });
        assert_eq!(named.to_string().split(':').next(), Some("/in"));
        let mut write = |file, offset, bytes: &[u8]| {
            let msg = ShipChunk { file, offset, bytes: bytes.to_vec() };
            let body = payload(&message::encode(Kind::ShipChunk, &msg).unwrap());
            spool.write(message::access::<ArchivedShipChunk>(Kind::ShipChunk, &body).unwrap())
        };
        assert!(write(1, 0, b"a").is_err());
        assert!(write(0, 3, b"ab").is_err());
        assert!(write(0, u64::MAX, b"ab").is_err());
        write(0, 0, b"abcd").unwrap();
        let end = payload(&message::encode(Kind::ShipEnd, &ShipEnd { chunks: 2, bytes: 4 }).unwrap());
        assert!(spool.end(message::access::<ArchivedShipEnd>(Kind::ShipEnd, &end).unwrap()).is_err());
        assert!(!spool.is_complete());
    }
}

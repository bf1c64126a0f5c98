//! The messages: their kinds on the wire and their rkyv layouts, plus the two
//! helpers every message goes through — `encode` (archive, then frame) and
//! `access` (validate, then read in place).
//!
//! Who sends what, in job order:
//!
//! | kind | from → to | when |
//! |---|---|---|
//! | `JobSpec` | master → worker | phase 1: rank, peers, tokenizer, splits |
//! | `ShipChunk` / `ShipEnd` | master → worker | phase 1 with `--ship`: the input bytes a worker needs |
//! | `Begin` | master → worker | starts phases 2, 3, 5, 6 |
//! | `Progress` | worker → master | bytes tokenized so far (phase 2) |
//! | `WordBatch` | worker → worker | phases 2 and 5: (word, count) records |
//! | `EndOfStream` | worker → worker | last frame of a shuffle on a link, with totals |
//! | `Histogram` | worker → master | phase 3: count → distinct words |
//! | `SampleRequest` / `Samples` | master ↔ worker | phase 4: words inside a count that must be cut |
//! | `Boundaries` | master → worker | phase 4: the first key of every range |
//! | `Pull` | master → worker | phase 6: stream your range now |
//! | `RangeChunk` | worker → master | phase 6: output lines |
//! | `PhaseDone` | worker → master | end of every phase, with the node's figures |
//! | `Abort` | either way | the job failed, with the reason |
//! | `Finish` | master → worker | the job is over; drop its state |
//! | `Status` | worker → `status` client | threads, busy or idle, jobs served, uptime |
//! | `Heartbeat` | any node → any node | a quiet link is still alive (handled by the event loop) |
//! | `Fragment` | any node → any node | the leading parts of a message larger than a frame (one huge word) |

use rkyv::api::high::{HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Portable, Serialize};

use super::frame;
use super::{EncodeError, ProtocolError};

/// Defines `Kind` and its decoding from one list, so that every kind that
/// exists also decodes: there is no second list to forget.
macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)+) => {
        /// The message kinds; the byte after a frame's length.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Kind {
            $($(#[$doc])* $name = $code,)+
        }

        impl TryFrom<u8> for Kind {
            type Error = ProtocolError;

            fn try_from(byte: u8) -> Result<Self, ProtocolError> {
                match byte {
                    $($code => Ok(Kind::$name),)+
                    other => Err(ProtocolError::UnknownKind(other)),
                }
            }
        }
    };
}

kinds! {
    JobSpec = 1,
    Begin = 2,
    Progress = 3,
    WordBatch = 4,
    EndOfStream = 5,
    Histogram = 6,
    SampleRequest = 7,
    Samples = 8,
    Boundaries = 9,
    Pull = 10,
    RangeChunk = 11,
    PhaseDone = 12,
    Abort = 13,
    Finish = 14,
    /// A worker's answer to a `status` connection.
    Status = 15,
    ShipChunk = 16,
    ShipEnd = 17,
    /// "Still here": sent on a quiet link, read and dropped by the event
    /// loop (`net::reactor`); never reaches a job. Empty payload.
    Heartbeat = 18,
    /// A leading part of a message too large for one frame; the last part
    /// comes in a frame of the message's own kind (`wire::frame`).
    Fragment = 19,
}

/// A message that can be archived: every message type, without spelling out
/// rkyv's serializer bound at each use.
pub trait Message: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>> {}

impl<T> Message for T where T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>> {}

/// One input file of a job.
#[derive(Archive, Serialize, Debug, Clone)]
pub struct FileSpec {
    /// The path's bytes (paths need not be UTF-8).
    pub path: Vec<u8>,
    pub len: u64,
}

/// A byte range of `files[file]`.
#[derive(Archive, Serialize, Debug, Clone, Copy)]
pub struct SplitSpec {
    pub file: u32,
    pub start: u64,
    pub end: u64,
}

/// Phase 1: everything a worker needs to take part in a job.
#[derive(Archive, Serialize, Debug)]
pub struct JobSpec {
    pub job_id: u64,
    /// This worker's rank; `peers[rank]` is its own address.
    pub rank: u32,
    /// Every worker's address, by rank.
    pub peers: Vec<String>,
    pub tokenizer: u8,
    /// The master's `counts::hash_fingerprint`; routing needs equal hashes.
    pub hash_fingerprint: u64,
    pub files: Vec<FileSpec>,
    /// This worker's splits.
    pub splits: Vec<SplitSpec>,
    /// The master ships the bytes (`ShipChunk`, then `ShipEnd`): the worker
    /// does not open `files` by path.
    pub ship: bool,
    /// Phase 4's plan: 0 histogram, 1 central (`phase::central`).
    pub redistribute: u8,
    /// The result's format (`format::Format::code`).
    pub format: u8,
    /// `--top` (`u64::MAX`: every record) and `--min-count`: the worker
    /// keeps only these records of its range (`select::Select`).
    pub top: u64,
    pub min_count: u64,
    /// The master's `--heartbeat-timeout`, in milliseconds: how long a link
    /// of this job may stay silent before its other end is declared gone.
    pub heartbeat_ms: u32,
}

/// Phase 1 with `--ship`: bytes of `files[file]` of the job spec, at `offset`.
#[derive(Archive, Serialize, Debug)]
pub struct ShipChunk {
    pub file: u32,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// Phase 1 with `--ship`: everything is sent; what was sent, to check.
#[derive(Archive, Serialize, Debug)]
pub struct ShipEnd {
    pub chunks: u64,
    pub bytes: u64,
}

/// Starts a phase on a worker.
#[derive(Archive, Serialize, Debug)]
pub struct Begin {
    pub phase: u8,
}

/// Bytes of input tokenized since the last progress message.
#[derive(Archive, Serialize, Debug)]
pub struct Progress {
    pub bytes: u64,
}

/// Records (word, count) in compact columns: `lens[i]` bytes of `bytes` make
/// word `i`, which has `counts[i]`.
#[derive(Archive, Serialize, Debug, Default)]
pub struct WordBatch {
    pub bytes: Vec<u8>,
    pub lens: Vec<u32>,
    pub counts: Vec<u64>,
}

/// The last frame of a shuffle on a link: what the sender sent on it.
#[derive(Archive, Serialize, Debug)]
pub struct EndOfStream {
    pub phase: u8,
    pub records: u64,
    pub words: u64,
}

/// Phase 3: a worker's frequency histogram, as parallel columns.
#[derive(Archive, Serialize, Debug)]
pub struct Histogram {
    pub counts: Vec<u64>,
    pub words: Vec<u64>,
}

/// Phase 4: send every `stride`-th word (in word order) of each of these counts.
#[derive(Archive, Serialize, Debug)]
pub struct SampleRequest {
    pub stride: u64,
    pub counts: Vec<u64>,
}

/// Phase 4: for each requested count, the worker's words at positions
/// 0, stride, 2·stride, … of its sorted words with that count.
#[derive(Archive, Serialize, Debug)]
pub struct Samples {
    pub groups: Vec<SampleGroup>,
}

/// The samples of one count.
#[derive(Archive, Serialize, Debug)]
pub struct SampleGroup {
    pub count: u64,
    pub words: WordBatch,
}

/// Phase 4: `cuts[r]` is the first key of rank `r + 1`'s range.
#[derive(Archive, Serialize, Debug)]
pub struct Boundaries {
    pub cuts: Vec<CutSpec>,
}

/// A key in result order (see `order::Cut`).
#[derive(Archive, Serialize, Debug)]
pub struct CutSpec {
    pub count: u64,
    pub word: Vec<u8>,
}

/// Phase 6: the master is ready for this worker's range, and wants at most
/// `max_lines` of its records (what `--top` leaves after the lower ranks).
#[derive(Archive, Serialize, Debug)]
pub struct Pull {
    pub rank: u32,
    pub max_lines: u64,
}

/// Phase 6: whole records of a worker's range, in order, in the job's format.
#[derive(Archive, Serialize, Debug)]
pub struct RangeChunk {
    pub text: Vec<u8>,
}

/// A node's figures for one phase.
#[derive(Archive, Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// When the phase started and ended on this node, in microseconds since
    /// the job reached it (the node's own monotonic clock).
    pub start_us: u64,
    pub end_us: u64,
    /// Microseconds from the phase's start message to this report.
    pub busy_us: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Records ((word, count) pairs, or output lines) sent and received.
    pub records_sent: u64,
    pub records_received: u64,
    /// Word occurrences (sum of counts) sent and received.
    pub words_sent: u64,
    pub words_received: u64,
    /// Distinct words the node holds at the end of the phase.
    pub distinct: u64,
    /// Heap bytes of the table holding them (shuffle 1: the owned table).
    pub table_bytes: u64,
    /// Phase 4: how many of this node's words each rank will own.
    pub shares: Vec<u64>,
}

/// The end of a phase on a worker.
#[derive(Archive, Serialize, Debug)]
pub struct PhaseDone {
    pub phase: u8,
    pub stats: NodeStats,
}

/// The job failed; `reason` says why, in one line.
#[derive(Archive, Serialize, Debug)]
pub struct Abort {
    pub reason: String,
}

/// The job is complete; the worker drops its state and closes the link.
#[derive(Archive, Serialize, Debug)]
pub struct Finish {
    pub job_id: u64,
}

/// A worker's state, the one frame it sends on a `status` connection.
#[derive(Archive, Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The worker's build (`CARGO_PKG_VERSION`).
    pub version: String,
    pub threads: u32,
    /// Whether a master is linked (a job is running or about to).
    pub busy: bool,
    /// Jobs that ran to the end on this worker since it started.
    pub jobs_served: u64,
    pub uptime_s: u64,
}

/// Archives `msg` and frames it as `kind`. `scratch` is a reusable buffer.
pub fn encode_with<T: Message>(kind: Kind, msg: &T, scratch: &mut AlignedVec) -> Result<Vec<u8>, EncodeError> {
    scratch.clear();
    let bytes = rkyv::api::high::to_bytes_in::<_, rancor::Error>(msg, std::mem::take(scratch))
        .map_err(|e| EncodeError::Archive { kind, reason: e.to_string() })?;
    let mut out = Vec::new();
    frame::encode_into(&mut out, kind, &bytes);
    *scratch = bytes;
    Ok(out)
}

/// Archives `msg` and frames it as `kind`.
pub fn encode<T: Message>(kind: Kind, msg: &T) -> Result<Vec<u8>, EncodeError> {
    encode_with(kind, msg, &mut AlignedVec::new())
}

/// Validates a payload as `T` and returns it for in-place reading.
pub fn access<T>(kind: Kind, payload: &[u8]) -> Result<&T, ProtocolError>
where
    T: Portable + for<'a> CheckBytes<HighValidator<'a, rancor::Error>>,
{
    rkyv::access::<T, rancor::Error>(payload).map_err(|e| {
        tracing::debug!("{kind:?} payload failed validation: {e}");
        ProtocolError::InvalidArchive(kind)
    })
}

impl WordBatch {
    /// Appends one record.
    pub fn push(&mut self, word: &[u8], count: u64) {
        self.bytes.extend_from_slice(word);
        self.lens.push(word.len() as u32);
        self.counts.push(count);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// True if it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Bytes it will take on the wire, roughly.
    pub fn wire_bytes(&self) -> usize {
        self.bytes.len() + 12 * self.lens.len()
    }

    /// Every (word, count).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        let mut at = 0;
        self.lens.iter().zip(&self.counts).map(move |(&len, &count)| {
            let word = &self.bytes[at..at + len as usize];
            at += len as usize;
            (word, count)
        })
    }
}

impl ArchivedWordBatch {
    /// Checks that the columns agree (one length and one count per record,
    /// lengths adding up to the bytes), then returns every (word, count).
    pub fn records(&self) -> Result<impl Iterator<Item = (&[u8], u64)>, ProtocolError> {
        let total: u64 = self.lens.iter().map(|l| u64::from(l.to_native())).sum();
        if self.lens.len() != self.counts.len() || total != self.bytes.len() as u64 {
            return Err(ProtocolError::InvalidArchive(Kind::WordBatch));
        }
        let mut at = 0usize;
        Ok(self.lens.iter().zip(self.counts.iter()).map(move |(len, count)| {
            let len = len.to_native() as usize;
            let word = &self.bytes[at..at + len];
            at += len;
            (word, count.to_native())
        }))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// True if it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }
}

impl From<&ArchivedNodeStats> for NodeStats {
    fn from(a: &ArchivedNodeStats) -> Self {
        NodeStats {
            start_us: a.start_us.to_native(),
            end_us: a.end_us.to_native(),
            busy_us: a.busy_us.to_native(),
            bytes_sent: a.bytes_sent.to_native(),
            bytes_received: a.bytes_received.to_native(),
            records_sent: a.records_sent.to_native(),
            records_received: a.records_received.to_native(),
            words_sent: a.words_sent.to_native(),
            words_received: a.words_received.to_native(),
            distinct: a.distinct.to_native(),
            table_bytes: a.table_bytes.to_native(),
            shares: a.shares.iter().map(|s| s.to_native()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(frame: &[u8]) -> AlignedVec {
        let mut v = AlignedVec::new();
        v.extend_from_slice(&frame[frame::HEADER_LEN..]);
        v
    }

    #[test]
    fn every_kind_byte_round_trips() {
        for b in 0..=255u8 {
            if let Ok(k) = Kind::try_from(b) {
                assert_eq!(k as u8, b);
            }
        }
        assert_eq!(Kind::try_from(0), Err(ProtocolError::UnknownKind(0)));
        assert_eq!(Kind::try_from(Kind::Status as u8), Ok(Kind::Status));
    }

    #[test]
    fn batches_round_trip_and_read_in_place() {
        let mut batch = WordBatch::default();
        batch.push(b"hello", 3);
        batch.push(b"", 1);
        batch.push(b"\xff\x00", 9);
        let wire = encode(Kind::WordBatch, &batch).unwrap();
        let bytes = payload(&wire);
        let archived = access::<ArchivedWordBatch>(Kind::WordBatch, &bytes).unwrap();
        let got: Vec<_> = archived.records().unwrap().map(|(w, c)| (w.to_vec(), c)).collect();
        assert_eq!(got, batch.iter().map(|(w, c)| (w.to_vec(), c)).collect::<Vec<_>>());
    }

    #[test]
    fn inconsistent_columns_are_refused() {
        let batch = WordBatch { bytes: b"abc".to_vec(), lens: vec![2], counts: vec![1] };
        let wire = encode(Kind::WordBatch, &batch).unwrap();
        let bytes = payload(&wire);
        let archived = access::<ArchivedWordBatch>(Kind::WordBatch, &bytes).unwrap();
        assert!(archived.records().is_err());
    }

    #[test]
    fn garbage_fails_validation_without_panicking() {
        let wire = encode(Kind::JobSpec, &Abort { reason: "x".repeat(40) }).unwrap();
        let mut bytes = payload(&wire);
        for i in 0..bytes.len() {
            bytes[i] ^= 0xA5;
            let _ = access::<ArchivedJobSpec>(Kind::JobSpec, &bytes);
            let _ = access::<ArchivedWordBatch>(Kind::WordBatch, &bytes);
            bytes[i] ^= 0xA5;
        }
        let empty = AlignedVec::<16>::new();
        assert!(access::<ArchivedJobSpec>(Kind::JobSpec, &empty).is_err());
    }
}

//! Frames: `len:u32le kind:u8 payload[len]`. The length is checked against
//! `MAX_FRAME` and the kind against the known kinds as soon as the 5-byte
//! header is in, before any payload is buffered or allocated. A complete
//! payload is copied into an `AlignedVec` of exactly its length, because the
//! header leaves it misaligned for in-place archive reads.
//!
//! A message larger than a frame (an archive holding one enormous word) is
//! sent as `Fragment` frames of `MAX_FRAME` bytes followed by one frame of
//! its own kind with the rest; the receiver joins them (`Assembly`). So no
//! single record is limited by the frame size, while every frame still is.

use rkyv::util::AlignedVec;

use super::{Kind, ProtocolError};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 5;
/// The largest payload any message may have (256 MiB). Batches are about
/// 1 MiB; only a single huge word comes near this.
pub const MAX_FRAME: u32 = 256 << 20;

/// The largest message fragments may add up to (16 GiB): far beyond any
/// real record, short of exhausting a node because a header said so.
pub const MAX_MESSAGE: u64 = 16 << 30;

/// One received message, its payload aligned for `rkyv::access`.
#[derive(Debug)]
pub struct Frame {
    pub kind: Kind,
    pub payload: AlignedVec,
}

/// The checked header at the start of `buf`, if all five bytes are there.
fn header(buf: &[u8]) -> Result<Option<(Kind, usize)>, ProtocolError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if len > MAX_FRAME {
        return Err(ProtocolError::FrameTooLarge { len });
    }
    let kind = Kind::try_from(head[4])?;
    Ok(Some((kind, len as usize)))
}

/// Total bytes of the frame starting `buf`, when its header is complete
/// and valid (so a reader can reserve room for it).
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    match header(buf) {
        Ok(Some((_, len))) => Some(HEADER_LEN + len),
        _ => None,
    }
}

/// Parses the frame at the start of `buf`: `Ok(None)` while incomplete, the
/// frame and the bytes it used once complete, an error as soon as the header
/// is invalid. Incomplete is not invalid.
pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let Some((kind, len)) = header(buf)? else {
        return Ok(None);
    };
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    let mut payload = AlignedVec::with_capacity(len);
    payload.extend_from_slice(body);
    Ok(Some((Frame { kind, payload }, HEADER_LEN + len)))
}

/// Appends the frames of a message with this kind and payload to `out`:
/// one frame, or fragments and a last frame when the payload is larger
/// than a frame. Order must match `parse` and `Assembly`.
pub fn encode_into(out: &mut Vec<u8>, kind: Kind, payload: &[u8]) {
    encode_in_parts(out, kind, payload, MAX_FRAME as usize);
}

fn encode_in_parts(out: &mut Vec<u8>, kind: Kind, payload: &[u8], part: usize) {
    out.reserve(payload.len() + HEADER_LEN * (1 + payload.len() / part));
    let mut rest = payload;
    while rest.len() > part {
        let (head, tail) = rest.split_at(part);
        push_frame(out, Kind::Fragment, head);
        rest = tail;
    }
    push_frame(out, kind, rest);
}

fn push_frame(out: &mut Vec<u8>, kind: Kind, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
}

/// Joins the frames of a fragmented message as they arrive.
#[derive(Debug, Default)]
pub struct Assembly {
    parts: Vec<u8>,
}

impl Assembly {
    /// Takes a received frame: `None` while it is a fragment (kept), the
    /// whole message once the last part arrives.
    pub fn join(&mut self, frame: Frame) -> Result<Option<Frame>, ProtocolError> {
        if self.parts.len() as u64 + frame.payload.len() as u64 > MAX_MESSAGE {
            return Err(ProtocolError::MessageTooLarge);
        }
        if frame.kind == Kind::Fragment {
            self.parts.extend_from_slice(&frame.payload);
            return Ok(None);
        }
        if self.parts.is_empty() {
            return Ok(Some(frame));
        }
        let mut payload = AlignedVec::with_capacity(self.parts.len() + frame.payload.len());
        payload.extend_from_slice(&std::mem::take(&mut self.parts));
        payload.extend_from_slice(&frame.payload);
        Ok(Some(Frame { kind: frame.kind, payload }))
    }

    /// True while a message is half received.
    pub fn is_partial(&self) -> bool {
        !self.parts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_one_byte_at_a_time() {
        let mut wire = Vec::new();
        encode_into(&mut wire, Kind::Progress, b"abcdefgh");
        encode_into(&mut wire, Kind::Finish, b"");
        for n in 0..HEADER_LEN + 8 {
            assert!(parse(&wire[..n]).unwrap().is_none());
        }
        let (first, used) = parse(&wire).unwrap().unwrap();
        assert_eq!((first.kind, &first.payload[..], used), (Kind::Progress, &b"abcdefgh"[..], 13));
        assert_eq!(first.payload.as_ptr() as usize % 16, 0);
        let (second, used2) = parse(&wire[used..]).unwrap().unwrap();
        assert_eq!((second.kind, second.payload.len(), used2), (Kind::Finish, 0, 5));
    }

    #[test]
    fn bad_headers_are_refused_before_the_payload_arrives() {
        let huge = (MAX_FRAME + 1).to_le_bytes();
        let head = [huge[0], huge[1], huge[2], huge[3], Kind::WordBatch as u8];
        assert_eq!(parse(&head).unwrap_err(), ProtocolError::FrameTooLarge { len: MAX_FRAME + 1 });
        assert_eq!(parse(&[1, 0, 0, 0, 200]).unwrap_err(), ProtocolError::UnknownKind(200));
    }

    proptest::proptest! {
        /// Arbitrary bytes, and valid frames with bytes flipped or cut,
        /// parse or fail without a panic, and never yield more than they hold.
        #[test]
        fn hostile_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            flip in proptest::prelude::any::<(usize, u8)>(),
            cut in proptest::prelude::any::<usize>(),
        ) {
            if let Ok(Some((frame, used))) = parse(&bytes) {
                proptest::prop_assert!(used <= bytes.len() && frame.payload.len() + HEADER_LEN == used);
            }
            let mut wire = Vec::new();
            encode_into(&mut wire, Kind::WordBatch, &payload);
            let at = flip.0 % wire.len();
            wire[at] ^= flip.1;
            wire.truncate(cut % (wire.len() + 1));
            if let Ok(Some((frame, used))) = parse(&wire) {
                proptest::prop_assert!(used <= wire.len() && frame.payload.len() + HEADER_LEN == used);
            }
        }
    }

    #[test]
    fn a_message_larger_than_a_frame_travels_in_fragments() {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for part in [1, 7, 999, 1000, 4096] {
            let mut wire = Vec::new();
            encode_in_parts(&mut wire, Kind::RangeChunk, &payload, part);
            let (mut rest, mut assembly, mut got) = (&wire[..], Assembly::default(), None);
            while let Some((frame, used)) = parse(rest).unwrap() {
                rest = &rest[used..];
                assert!(frame.payload.len() <= part);
                if let Some(whole) = assembly.join(frame).unwrap() {
                    got = Some(whole);
                }
            }
            let whole = got.expect("the last part completes the message");
            assert_eq!((whole.kind, &whole.payload[..]), (Kind::RangeChunk, &payload[..]), "parts of {part}");
            assert!(rest.is_empty() && !assembly.is_partial());
            assert_eq!(whole.payload.as_ptr() as usize % 16, 0);
        }
    }
}

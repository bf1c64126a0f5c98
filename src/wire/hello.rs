//! The hello that opens every connection: magic, version, the sender's role,
//! its rank and the job it belongs to. Fixed layout, not an archive, so a
//! stranger's bytes are refused before anything else is read.

use super::ProtocolError;

/// The first bytes of every connection.
pub const MAGIC: [u8; 3] = *b"WFQ";
/// Bumped whenever any message layout changes.
pub const VERSION: u8 = 4;
/// Bytes in an encoded hello.
pub const HELLO_LEN: usize = 17;

/// Who is speaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The master of a job.
    Master = 0,
    /// A worker (towards the master or another worker).
    Peer = 1,
    /// `wordfreq status`: asks a worker how it is, then leaves.
    Status = 2,
}

/// The opening message of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    pub role: Role,
    /// The sender's rank in the job (`NO_RANK` for the master, or for a worker
    /// answering a master before it has a job).
    pub rank: u32,
    pub job_id: u64,
}

/// Checks as much of `WFQ` and the version byte as `buf` holds: the start
/// of both the handshake's preamble and the hello. A stranger or a node of
/// another version is refused at its first wrong byte.
pub fn check_start(buf: &[u8]) -> Result<(), ProtocolError> {
    let magic_seen = buf.len().min(MAGIC.len());
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        return Err(ProtocolError::BadMagic);
    }
    match buf.get(MAGIC.len()) {
        Some(&got) if got != VERSION => Err(ProtocolError::VersionMismatch { got }),
        _ => Ok(()),
    }
}

/// The rank field of a node that has none.
pub const NO_RANK: u32 = u32::MAX;

impl Hello {
    /// The hello's bytes. Order must match `decode`.
    pub fn encode(&self) -> [u8; HELLO_LEN] {
        let mut out = [0u8; HELLO_LEN];
        out[0..3].copy_from_slice(&MAGIC);
        out[3] = VERSION;
        out[4] = self.role as u8;
        out[5..9].copy_from_slice(&self.rank.to_le_bytes());
        out[9..17].copy_from_slice(&self.job_id.to_le_bytes());
        out
    }

    /// Reads a hello from the start of `buf`: `Ok(None)` if more bytes are
    /// needed, an error as soon as the bytes present cannot be a hello.
    pub fn decode(buf: &[u8]) -> Result<Option<Hello>, ProtocolError> {
        check_start(buf)?;
        if buf.len() < HELLO_LEN {
            return Ok(None);
        }
        let role = match buf[4] {
            0 => Role::Master,
            1 => Role::Peer,
            2 => Role::Status,
            other => return Err(ProtocolError::BadRole(other)),
        };
        let rank = u32::from_le_bytes([buf[5], buf[6], buf[7], buf[8]]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&buf[9..17]);
        Ok(Some(Hello { role, rank, job_id: u64::from_le_bytes(id) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_input() {
        let h = Hello { role: Role::Peer, rank: 3, job_id: 0xdead_beef_0102 };
        let bytes = h.encode();
        assert_eq!(Hello::decode(&bytes), Ok(Some(h)));
        for n in 0..HELLO_LEN {
            assert_eq!(Hello::decode(&bytes[..n]), Ok(None));
        }
    }

    #[test]
    fn strangers_are_refused_early() {
        assert_eq!(Hello::decode(b"GET / HTTP/1.1"), Err(ProtocolError::BadMagic));
        assert_eq!(Hello::decode(b"W"), Ok(None));
        assert_eq!(Hello::decode(b"WX"), Err(ProtocolError::BadMagic));
        assert_eq!(Hello::decode(b"WFQ\x09"), Err(ProtocolError::VersionMismatch { got: 9 }));
        let mut bytes = Hello { role: Role::Master, rank: 0, job_id: 1 }.encode();
        bytes[4] = 7;
        assert_eq!(Hello::decode(&bytes), Err(ProtocolError::BadRole(7)));
    }

    proptest::proptest! {
        /// Any bytes decode to a hello, to "more needed" or to an error,
        /// never a panic; a hello that decodes re-encodes to the same bytes.
        #[test]
        fn hostile_hellos_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Ok(Some(hello)) = Hello::decode(&bytes) {
                proptest::prop_assert_eq!(&hello.encode()[..], &bytes[..HELLO_LEN]);
            }
        }
    }
}

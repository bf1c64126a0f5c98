//! The handshake that opens every connection, before any hello: each side
//! proves it knows the shared secret by a keyed BLAKE3 over both sides'
//! fresh nonces, without sending the secret. Bytes, in order:
//!
//! | from | bytes |
//! |---|---|
//! | dialer | preamble: `WFQ`, version, dialer nonce (32) |
//! | acceptor | preamble: `WFQ`, version, acceptor nonce (32), then its proof (32) |
//! | dialer | its proof (32) |
//! | acceptor | verdict: 1 accepted, 0 refused |
//!
//! A proof is the keyed hash of a label naming the side, the protocol
//! version and both nonces (dialer's first), so a proof cannot be replayed
//! on another connection nor reflected back to its sender. Proofs are
//! compared in constant time (`blake3::Hash`'s equality). Nodes without a
//! secret use the key of the empty secret: they interoperate with each
//! other and with no node that has one.

use super::ProtocolError;
use super::hello::{MAGIC, VERSION, check_start};

/// Bytes of a nonce and of a proof.
pub const NONCE_LEN: usize = 32;
pub const PROOF_LEN: usize = 32;
/// Bytes of a preamble: magic, version, nonce.
pub const PREAMBLE_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;
/// The acceptor's verdict on the dialer's proof.
pub const ACCEPTED: u8 = 1;
pub const REFUSED: u8 = 0;

/// A fresh random value, one per connection and side.
pub type Nonce = [u8; NONCE_LEN];

/// Which end of the connection a proof speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Dialer,
    Acceptor,
}

/// The key both sides derive from the shared secret.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)") // never the key itself, not even in a debug log
    }
}

impl Key {
    /// The key of `secret` (the empty secret when none is configured).
    pub fn derive(secret: &[u8]) -> Key {
        Key(blake3::derive_key("wordfreq 2026-11 link authentication", secret))
    }

    /// This side's proof for the connection with these nonces.
    pub fn proof(&self, side: Side, dialer: &Nonce, acceptor: &Nonce) -> [u8; PROOF_LEN] {
        *self.hash(side, dialer, acceptor).as_bytes()
    }

    /// True if `proof` is the other side's proof for these nonces.
    pub fn verify(&self, side: Side, dialer: &Nonce, acceptor: &Nonce, proof: &[u8]) -> bool {
        let Ok(proof) = <[u8; PROOF_LEN]>::try_from(proof) else {
            return false;
        };
        self.hash(side, dialer, acceptor) == blake3::Hash::from(proof)
    }

    fn hash(&self, side: Side, dialer: &Nonce, acceptor: &Nonce) -> blake3::Hash {
        let label: &[u8] = match side {
            Side::Dialer => b"dialer",
            Side::Acceptor => b"acceptor",
        };
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(label).update(&[VERSION]).update(dialer).update(acceptor);
        hasher.finalize()
    }
}

/// A fresh nonce from the operating system's random source.
pub fn fresh_nonce() -> std::io::Result<Nonce> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(format!("no random bytes: {e}")))?;
    Ok(nonce)
}

/// The preamble carrying `nonce`.
pub fn preamble(nonce: &Nonce) -> [u8; PREAMBLE_LEN] {
    let mut out = [0u8; PREAMBLE_LEN];
    out[..3].copy_from_slice(&MAGIC);
    out[3] = VERSION;
    out[4..].copy_from_slice(nonce);
    out
}

/// Reads a preamble from the start of `buf`: `Ok(None)` while incomplete,
/// an error as soon as the bytes present cannot be one (a stranger, or a
/// node of another protocol version).
pub fn read_preamble(buf: &[u8]) -> Result<Option<Nonce>, ProtocolError> {
    check_start(buf)?;
    let Some(nonce) = buf.get(4..PREAMBLE_LEN) else {
        return Ok(None);
    };
    let mut out = [0u8; NONCE_LEN];
    out.copy_from_slice(nonce);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_need_the_secret_and_both_nonces() {
        let (a, b) = ([1u8; NONCE_LEN], [2u8; NONCE_LEN]);
        let key = Key::derive(b"s3cret");
        let proof = key.proof(Side::Dialer, &a, &b);
        assert!(key.verify(Side::Dialer, &a, &b, &proof));
        assert!(!key.verify(Side::Acceptor, &a, &b, &proof), "reflected back to its sender");
        assert!(!key.verify(Side::Dialer, &b, &a, &proof), "nonces swapped");
        assert!(!Key::derive(b"other").verify(Side::Dialer, &a, &b, &proof));
        assert!(!Key::derive(b"").verify(Side::Dialer, &a, &b, &proof));
        assert!(!key.verify(Side::Dialer, &a, &b, &proof[..31]));
    }

    #[test]
    fn preambles_round_trip_and_strangers_are_refused_early() {
        let nonce = fresh_nonce().unwrap();
        assert_ne!(nonce, fresh_nonce().unwrap());
        let bytes = preamble(&nonce);
        assert_eq!(read_preamble(&bytes), Ok(Some(nonce)));
        for n in 0..PREAMBLE_LEN {
            assert_eq!(read_preamble(&bytes[..n]), Ok(None));
        }
        assert_eq!(read_preamble(b"GET / HTTP/1.1"), Err(ProtocolError::BadMagic));
        assert_eq!(read_preamble(b"WFQ\x01"), Err(ProtocolError::VersionMismatch { got: 1 }));
    }
}

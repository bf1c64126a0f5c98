//! One connection's side of the authentication handshake (`wire::auth`), as
//! a state machine over received bytes: it says how many bytes it used and
//! what to send back, and knows nothing of sockets, so the event loop and
//! the blocking `status` client drive the same code. Nothing but handshake
//! bytes may flow until it is done.

use std::fmt;

use crate::wire::ProtocolError;
use crate::wire::auth::{self, ACCEPTED, Key, Nonce, PREAMBLE_LEN, PROOF_LEN, REFUSED, Side};

/// Where this side is in the handshake.
#[derive(Debug)]
pub enum Handshake {
    /// Dialer: our preamble is sent; the acceptor's preamble and proof are due.
    AwaitAcceptor { ours: Nonce },
    /// Dialer: our proof is sent; the verdict is due.
    AwaitVerdict,
    /// Acceptor: the dialer's preamble is due.
    AwaitDialer { ours: Nonce },
    /// Acceptor: our preamble and proof are sent; the dialer's proof is due.
    AwaitProof { dialer: Nonce, ours: Nonce },
    /// Both sides are proven: hellos and frames may flow.
    Done,
}

/// Why a handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The bytes are not our protocol (or another version of it).
    Protocol(ProtocolError),
    /// The other side's proof is wrong: it does not hold our secret.
    WrongProof,
    /// The other side found our proof wrong.
    Refused,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Protocol(e) => write!(f, "{e}"),
            Failure::WrongProof => f.write_str(
                "authentication failed: it does not prove the secret this node holds (check --secret-file on both sides)",
            ),
            Failure::Refused => f.write_str(
                "authentication refused: it does not hold the secret this node proved (check --secret-file on both sides)",
            ),
        }
    }
}

/// A failed handshake and the last bytes owed to the other side (a verdict,
/// or our preamble so that a node of another version learns ours).
#[derive(Debug)]
pub struct Failed {
    pub why: Failure,
    pub farewell: Vec<u8>,
}

/// What one step did.
#[derive(Debug, Default)]
pub struct Step {
    /// Bytes of the input used up.
    pub used: usize,
    /// Bytes to send, in order.
    pub reply: Vec<u8>,
}

impl Handshake {
    /// The dialer's start, with the preamble to send first.
    pub fn dial() -> std::io::Result<(Handshake, Vec<u8>)> {
        let ours = auth::fresh_nonce()?;
        Ok((Handshake::AwaitAcceptor { ours }, auth::preamble(&ours).to_vec()))
    }

    /// The acceptor's start: it speaks once the dialer has.
    pub fn accept() -> std::io::Result<Handshake> {
        Ok(Handshake::AwaitDialer { ours: auth::fresh_nonce()? })
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Handshake::Done)
    }

    /// Uses what it can of `input` (everything received and not yet used).
    /// Stops at `Done`: bytes after the handshake are the caller's.
    pub fn advance(&mut self, key: &Key, input: &[u8]) -> Result<Step, Failed> {
        let mut step = Step::default();
        loop {
            let rest = &input[step.used..];
            match self {
                Handshake::Done => return Ok(step),
                Handshake::AwaitDialer { ours } => {
                    let dialer = match auth::read_preamble(rest) {
                        Ok(Some(nonce)) => nonce,
                        Ok(None) => return Ok(step),
                        Err(error) => {
                            // Tell a node of another version which one we speak.
                            let farewell = match error {
                                ProtocolError::VersionMismatch { .. } => auth::preamble(&[0; 32]).to_vec(),
                                _ => Vec::new(),
                            };
                            return Err(Failed { why: Failure::Protocol(error), farewell });
                        }
                    };
                    let ours = *ours;
                    step.used += PREAMBLE_LEN;
                    step.reply.extend_from_slice(&auth::preamble(&ours));
                    step.reply.extend_from_slice(&key.proof(Side::Acceptor, &dialer, &ours));
                    *self = Handshake::AwaitProof { dialer, ours };
                }
                Handshake::AwaitAcceptor { ours } => {
                    let acceptor = match auth::read_preamble(rest) {
                        Ok(Some(nonce)) => nonce,
                        Ok(None) => return Ok(step),
                        Err(error) => return Err(Failed { why: Failure::Protocol(error), farewell: Vec::new() }),
                    };
                    let Some(proof) = rest.get(PREAMBLE_LEN..PREAMBLE_LEN + PROOF_LEN) else {
                        return Ok(step);
                    };
                    if !key.verify(Side::Acceptor, ours, &acceptor, proof) {
                        // Our proof still goes, so the acceptor logs the failure too.
                        let farewell = key.proof(Side::Dialer, ours, &acceptor).to_vec();
                        return Err(Failed { why: Failure::WrongProof, farewell });
                    }
                    step.used += PREAMBLE_LEN + PROOF_LEN;
                    step.reply.extend_from_slice(&key.proof(Side::Dialer, ours, &acceptor));
                    *self = Handshake::AwaitVerdict;
                }
                Handshake::AwaitProof { dialer, ours } => {
                    let Some(proof) = rest.get(..PROOF_LEN) else {
                        return Ok(step);
                    };
                    if !key.verify(Side::Dialer, dialer, ours, proof) {
                        return Err(Failed { why: Failure::WrongProof, farewell: vec![REFUSED] });
                    }
                    step.used += PROOF_LEN;
                    step.reply.push(ACCEPTED);
                    *self = Handshake::Done;
                }
                Handshake::AwaitVerdict => match rest.first() {
                    None => return Ok(step),
                    Some(&ACCEPTED) => {
                        step.used += 1;
                        *self = Handshake::Done;
                    }
                    Some(&REFUSED) => return Err(Failed { why: Failure::Refused, farewell: Vec::new() }),
                    Some(&other) => {
                        let why = Failure::Protocol(ProtocolError::BadVerdict(other));
                        return Err(Failed { why, farewell: Vec::new() });
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `side` the bytes in `input`, `chunk` at a time, as they would
    /// arrive; returns what it sent back, or how it failed.
    fn feed(side: &mut Handshake, key: &Key, input: &[u8], chunk: usize) -> Result<Vec<u8>, Failed> {
        let (mut pending, mut out) = (Vec::new(), Vec::new());
        for piece in input.chunks(chunk.max(1)) {
            pending.extend_from_slice(piece);
            let step = side.advance(key, &pending)?;
            pending.drain(..step.used);
            out.extend(step.reply);
        }
        Ok(out)
    }

    /// A whole exchange: (dialer's outcome, acceptor's outcome).
    fn exchange(dialer_key: &Key, acceptor_key: &Key, chunk: usize) -> (Result<(), Failure>, Result<(), Failure>) {
        let (mut dialer, first) = Handshake::dial().unwrap();
        let mut acceptor = Handshake::accept().unwrap();
        let reply = match feed(&mut acceptor, acceptor_key, &first, chunk) {
            Ok(reply) => reply,
            Err(failed) => return (Err(Failure::Refused), Err(failed.why)),
        };
        let proof = match feed(&mut dialer, dialer_key, &reply, chunk) {
            Ok(proof) => proof,
            // The dialer leaves, with its proof as a farewell.
            Err(failed) => {
                let acceptor_result = feed(&mut acceptor, acceptor_key, &failed.farewell, chunk).map(|_| ());
                return (Err(failed.why), acceptor_result.map_err(|f| f.why));
            }
        };
        match feed(&mut acceptor, acceptor_key, &proof, chunk) {
            Ok(verdict) => {
                let dialer_result = feed(&mut dialer, dialer_key, &verdict, chunk).map(|_| ()).map_err(|f| f.why);
                assert!(acceptor.is_done() && dialer_result.is_ok() == dialer.is_done());
                (dialer_result, Ok(()))
            }
            Err(failed) => {
                let dialer_result =
                    feed(&mut dialer, dialer_key, &failed.farewell, chunk).map(|_| ()).map_err(|f| f.why);
                (dialer_result, Err(failed.why))
            }
        }
    }

    #[test]
    fn same_secret_passes_whatever_the_chunking() {
        let key = Key::derive(b"lab secret");
        for chunk in [1, 3, 36, 1000] {
            assert_eq!(exchange(&key, &key, chunk), (Ok(()), Ok(())));
        }
        let none = Key::derive(b"");
        assert_eq!(exchange(&none, &none, 7), (Ok(()), Ok(())));
    }

    #[test]
    fn a_different_secret_fails_at_the_first_proof_checked() {
        let (a, b) = (Key::derive(b"one"), Key::derive(b"two"));
        let both = (Err(Failure::WrongProof), Err(Failure::WrongProof));
        assert_eq!(exchange(&a, &b, 5), both);
        assert_eq!(exchange(&Key::derive(b""), &b, 5), both);
    }

    #[test]
    fn an_acceptor_refuses_a_wrong_proof_and_says_so() {
        let key = Key::derive(b"k");
        let (mut dialer, first) = Handshake::dial().unwrap();
        let mut acceptor = Handshake::accept().unwrap();
        let reply = feed(&mut acceptor, &key, &first, 100).unwrap();
        let mut proof = feed(&mut dialer, &key, &reply, 100).unwrap();
        proof[0] ^= 1;
        let failed = feed(&mut acceptor, &key, &proof, 100).unwrap_err();
        assert_eq!((failed.why, &failed.farewell[..]), (Failure::WrongProof, &[REFUSED][..]));
        assert_eq!(feed(&mut dialer, &key, &failed.farewell, 1).unwrap_err().why, Failure::Refused);
    }

    #[test]
    fn another_version_is_told_ours() {
        let mut acceptor = Handshake::accept().unwrap();
        let failed = acceptor.advance(&Key::derive(b""), b"WFQ\x01").unwrap_err();
        assert_eq!(failed.why, Failure::Protocol(ProtocolError::VersionMismatch { got: 1 }));
        assert_eq!(auth::read_preamble(&failed.farewell).map(|n| n.is_some()), Ok(true));
    }

    proptest::proptest! {
        /// Either side fed arbitrary bytes, or a valid exchange with a byte
        /// flipped, fails or waits — it never panics and never accepts a
        /// tampered proof.
        #[test]
        fn hostile_handshakes_never_panic_nor_pass(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..140),
            flip in proptest::prelude::any::<(usize, u8)>(),
        ) {
            let key = Key::derive(b"secret of the test");
            let mut acceptor = Handshake::accept().unwrap();
            let _ = acceptor.advance(&key, &bytes);
            let (mut dialer, _) = Handshake::dial().unwrap();
            let _ = dialer.advance(&key, &bytes);
            proptest::prop_assert!(!dialer.is_done() && !acceptor.is_done());

            // A real exchange with one byte of the acceptor's answer changed.
            let (mut dialer, first) = Handshake::dial().unwrap();
            let mut acceptor = Handshake::accept().unwrap();
            let mut reply = acceptor.advance(&key, &first).unwrap().reply;
            let at = flip.0 % reply.len();
            let change = flip.1.max(1);
            reply[at] ^= change;
            proptest::prop_assert!(dialer.advance(&key, &reply).is_err());
        }
    }
}

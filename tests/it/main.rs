//! Integration tests: they start the real `wordfreq` binary as separate
//! processes talking real TCP on 127.0.0.1, and compare its output byte for
//! byte with an independent oracle (`oracle`) or a golden file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod balance;
mod changing;
mod cli;
mod compressed;
mod correctness;
mod faults;
mod formats;
mod inputs;
mod lab;
mod liveness;
mod memory;
mod oracle;
mod properties;
mod protocol;
mod security;
mod ship;
mod signals;
mod status;
mod util;

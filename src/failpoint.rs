//! Crash hooks for fault tests. With `WORDFREQ_CRASH_AT=ROLE:PHASE` in its
//! environment (e.g. `worker:shuffle2`, `master:sort_output`), a process
//! exits abruptly, without closing anything, when it starts that phase —
//! the same as a crash or a `kill -9` at a known point, with no timing
//! involved. Unset, the hook costs one environment lookup per process.

use std::sync::OnceLock;

use crate::phase::Phase;

/// The exit status of a deliberate crash.
pub const CRASH_STATUS: i32 = 86;

/// Exits the process if the environment asks to crash `role` at `phase`.
pub fn crash_point(role: &str, phase: Phase) {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    let spec = SPEC.get_or_init(|| std::env::var("WORDFREQ_CRASH_AT").ok());
    if let Some(spec) = spec
        && spec.split_once(':') == Some((role, phase.name()))
    {
        eprintln!("wordfreq: crashing at {role}:{phase} as WORDFREQ_CRASH_AT asks");
        std::process::exit(CRASH_STATUS);
    }
}

//! The live progress line on a terminal (indicatif): the current phase,
//! bytes tokenized of the total, and how many workers have finished the
//! phase (or, for `count`, how many threads work). Silent with `-q` or when
//! stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::phase::Phase;

/// A progress line, or nothing when disabled.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    /// The workers that finish each phase, or `count`'s threads.
    parts: usize,
}

impl Progress {
    /// A line for a job over `total_bytes` on `workers` workers; shown only if
    /// `wanted` and stderr is a terminal.
    pub fn new(wanted: bool, total_bytes: u64, workers: usize) -> Self {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} ({binary_bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, parts: workers }
    }

    /// A line for `count`, one process on `threads` threads.
    pub fn on_threads(wanted: bool, total_bytes: u64, threads: usize) -> Self {
        Progress { parts: threads, ..Progress::new(wanted, total_bytes, 1) }
    }

    /// A new phase has started; `done` workers have finished it so far.
    pub fn phase(&self, phase: Phase, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(phase.name());
            bar.set_message(format!("{done}/{} workers done", self.parts));
        }
    }

    /// `count`'s step `name` has started, on every thread.
    pub fn step(&self, name: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(name);
            bar.set_message(format!("on {} thread{}", self.parts, if self.parts == 1 { "" } else { "s" }));
        }
    }

    /// More input bytes were tokenized.
    pub fn tokenized(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

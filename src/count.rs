//! `wordfreq count`: the whole job in one process, without a network — the
//! single-machine baseline (T1 of the Amdahl experiments). It reuses the
//! tokenizer, counting table, result order and output of the engine: splits
//! are counted in parallel on a rayon pool, the tables merged, the entries
//! sorted and written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::config::JobConfig;
use crate::counts::WordCounts;
use crate::error::{Error, Result};
use crate::format::ResultWriter;
use crate::input::{self, Form};
use crate::metrics::{JobMetrics, PhaseMetrics, micros_since};
use crate::output::Output;
use crate::phase::Phase;
use crate::phase::shuffle1::count_split;
use crate::phase::sort_output::CHUNK_BYTES;
use crate::progress::Progress;

/// The name of the step that reads, tokenizes and counts, between `init`
/// and `sort_output`, in metrics and on the progress line.
pub const STEP: &str = "count";

/// Counts the job's inputs on `threads` threads and writes the result.
pub fn run_count(job: &JobConfig, threads: usize) -> Result<JobMetrics> {
    let clock = Instant::now();
    let mut phases = Vec::new();
    let mut lap = |phase: &'static str, start: u64, records: u64, distinct: u64| {
        let end = micros_since(clock);
        phases.push(PhaseMetrics::local(phase, (start, end), records, distinct));
        end
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::io(format!("cannot start {threads} threads"), std::io::Error::other(e)))?;

    let files = input::resolve(job)?;
    let mut output = ResultWriter::new(Output::create(&job.output)?, job.format);
    let total_bytes: u64 = files.iter().map(|f| f.len).sum();
    let splits = input::assign(&files, 1, job.split_size).remove(0);
    let t = lap(Phase::Init.name(), 0, 0, 0);

    let progress = Progress::on_threads(job.progress, total_bytes, threads);
    progress.step(STEP);
    // Bytes read from streams, whose length was not known before.
    let streamed = AtomicU64::new(0);
    crate::failpoint::crash_point("count", Phase::Shuffle1);
    let table = pool.install(|| {
        splits
            .par_iter()
            .try_fold(WordCounts::new, |mut table, split| {
                crate::signals::check()?;
                let read = count_split(&files, split, job.tokenizer, &mut table)?;
                if files[split.file as usize].form == Form::Stream {
                    streamed.fetch_add(read, Ordering::Relaxed);
                }
                progress.tokenized(split.len());
                Ok::<_, Error>(table)
            })
            .try_reduce(WordCounts::new, |a, b| {
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                big.merge(&small);
                Ok(big)
            })
    })?;
    progress.finish();
    let (total_words, distinct) = (table.total(), table.len() as u64);
    let t = lap(STEP, t, total_words, distinct);

    let mut entries = table.into_entries();
    pool.install(|| entries.sort_selected(job.select));
    for chunk in entries.records(CHUNK_BYTES, job.format) {
        output.write(&chunk)?;
    }
    crate::signals::check()?;
    output.commit()?;
    lap(Phase::SortOutput.name(), t, entries.len() as u64, distinct);

    Ok(JobMetrics {
        threads: Some(threads),
        total_words,
        distinct_words: distinct,
        wall_us: micros_since(clock),
        master_cpu_us: crate::metrics::process_cpu_us(),
        phases,
        ..JobMetrics::new("count", job, files.len(), total_bytes + streamed.into_inner())
    })
}

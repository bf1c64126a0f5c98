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
use crate::metrics::{JobMetrics, NodeMetrics, PhaseMetrics};
use crate::output::Output;
use crate::phase::Phase;
use crate::phase::shuffle1::count_split;
use crate::phase::sort_output::CHUNK_BYTES;
use crate::progress::Progress;

/// Counts the job's inputs on `threads` threads and writes the result.
pub fn run_count(job: &JobConfig, threads: usize) -> Result<JobMetrics> {
    let clock = Instant::now();
    let mut phases = Vec::new();
    let mut lap = |phase: Phase, start: f64, records: u64, distinct: u64| {
        let end = clock.elapsed().as_secs_f64();
        phases.push(PhaseMetrics {
            phase: phase.name(),
            start_s: start,
            end_s: end,
            wall_s: end - start,
            master_bytes_sent: 0,
            master_bytes_received: 0,
            nodes: vec![NodeMetrics {
                rank: 0,
                start_s: start,
                end_s: end,
                busy_s: end - start,
                bytes_sent: 0,
                bytes_received: 0,
                records_sent: records,
                records_received: 0,
                words_sent: 0,
                words_received: 0,
                distinct,
                table_bytes: 0,
            }],
            shares: None,
        });
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
    let t = lap(Phase::Init, 0.0, 0, 0);

    let progress = Progress::new(job.progress, total_bytes, 1);
    progress.phase(Phase::Shuffle1, 0);
    // Bytes read from streams, whose length was not known before.
    let streamed = AtomicU64::new(0);
    let table = pool.install(|| {
        splits
            .par_iter()
            .try_fold(WordCounts::new, |mut table, split| {
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
    let t = lap(Phase::Shuffle1, t, total_words, distinct);

    let mut entries = table.into_entries();
    pool.install(|| entries.sort_selected(job.select));
    for chunk in entries.records(CHUNK_BYTES, job.format) {
        output.write(&chunk)?;
    }
    output.commit()?;
    lap(Phase::SortOutput, t, entries.len() as u64, distinct);

    Ok(JobMetrics {
        threads: Some(threads),
        total_words,
        distinct_words: distinct,
        wall_s: clock.elapsed().as_secs_f64(),
        master_cpu_s: crate::metrics::process_cpu_s(),
        phases,
        ..JobMetrics::new("count", job, files.len(), total_bytes + streamed.into_inner())
    })
}

//! `wordfreq count`: the whole job in one process, without a network — the
//! single-machine baseline (T1 of the Amdahl experiments). It reuses the
//! tokenizer, counting table, result order and output of the engine: splits
//! are counted in parallel on a rayon pool, the tables merged, the entries
//! sorted and written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::config::JobConfig;
use crate::counts::WordCounts;
use crate::entries::Entries;
use crate::error::{Error, Result};
use crate::format::ResultWriter;
use crate::input::{self, Form, InputFile, Split};
use crate::memory::MemoryLimit;
use crate::metrics::{JobMetrics, PhaseMetrics, micros_since};
use crate::output::Output;
use crate::phase::Phase;
use crate::phase::shuffle1::{Watch, combining_is_poor, count_split, stage_split};
use crate::phase::sort_output::CHUNK_BYTES;
use crate::progress::Progress;
use crate::shared_counts::SharedCounts;

/// Counts every split on the current rayon pool. Each thread combines into
/// its own table (a small vocabulary stays in cache), and the few tables
/// merge into the largest at the end. When combining does not pay (nearly
/// every word distinct), the threads count straight into one table split in
/// parts by hash instead, so no thread merges another's words and no table
/// grows all at once.
fn count_splits(
    files: &[InputFile],
    splits: &[Split],
    job: &JobConfig,
    limit: &MemoryLimit,
    progress: &Progress,
    streamed: &AtomicU64,
) -> Result<Entries> {
    let shared = SharedCounts::new();
    let direct = AtomicBool::new(false);
    let interrupted = || crate::signals::check().is_err();
    let watch = Watch { limit, cancelled: &interrupted };
    let mut tables = splits
        .par_iter()
        .try_fold(WordCounts::new, |mut table, split| {
            crate::signals::check()?;
            let read = if direct.load(Ordering::Relaxed) {
                if !table.is_empty() {
                    table.fold_capitals();
                    shared.absorb(&std::mem::take(&mut table));
                }
                stage_split(files, split, job.tokenizer, &shared, watch).map_err(or_signal)?
            } else {
                let read = count_split(files, split, job.tokenizer, &mut table, watch).map_err(or_signal)?;
                if combining_is_poor(&table) {
                    direct.store(true, Ordering::Relaxed);
                }
                read
            };
            if files[split.file as usize].form == Form::Stream {
                streamed.fetch_add(read, Ordering::Relaxed);
            }
            progress.tokenized(split.len());
            Ok::<_, Error>(table)
        })
        .collect::<Result<Vec<_>>>()?;
    tables.par_iter_mut().for_each(WordCounts::fold_capitals);
    if !direct.load(Ordering::Relaxed) {
        // Combining paid: the few per-thread tables merge into the largest.
        tables.sort_unstable_by_key(|t| std::cmp::Reverse(t.len()));
        let mut tables = tables.into_iter();
        let mut all = tables.next().unwrap_or_default();
        for table in tables {
            all.merge(&table);
        }
        return Ok(all.into_entries());
    }
    tables.par_iter().for_each(|table| shared.absorb(table));
    Ok(shared.into_entries())
}

/// A read stopped by SIGINT or SIGTERM, said as that signal.
fn or_signal(error: Error) -> Error {
    match (error, crate::signals::check()) {
        (Error::Cancelled, Err(signal)) => signal,
        (error, _) => error,
    }
}

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

    let limit = MemoryLimit::resolve(job.memory);
    tracing::info!("memory limit: {}", limit.describe());
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
    let entries = pool.install(|| count_splits(&files, &splits, job, &limit, &progress, &streamed))?;
    progress.finish();
    let (total_words, distinct) = (entries.total(), entries.len() as u64);
    let t = lap(STEP, t, total_words, distinct);

    let mut entries = entries;
    pool.install(|| entries.sort_selected(job.select));
    pool.install(|| entries.write_records(CHUNK_BYTES, job.format, |text| output.write(text)))?;
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

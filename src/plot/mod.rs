//! `wordfreq plot`: the scaling study's analysis and every chart the
//! project publishes, made by the project's own code (SVG, no Python):
//! `scaling` turns `amdahl.csv` into `summary.md` and speedup and
//! per-phase charts, `timeline` draws one job from its `--metrics` file,
//! `bench` draws the benchmark comparison from `bench.csv`.

pub mod charts;
pub mod scaling;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `DIR/summary.md`, `DIR/speedup-CORPUS-MODE.svg` and
/// `DIR/phases-CORPUS-PLAN-MODE.svg` from `csv`; returns the summary.
pub fn scaling(csv: &Path, dir: &Path) -> Result<String> {
    let runs = scaling::read_runs(csv)?;
    let series = scaling::analyse(&runs);
    if series.is_empty() {
        return Err(Error::Input { path: csv.to_path_buf(), reason: "it holds no run with workers".into() });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let text = scaling::summary(&series);
    let summary = dir.join("summary.md");
    std::fs::write(&summary, &text).map_err(|source| Error::Output { path: summary, source })?;
    let mut curves: BTreeMap<(&str, &str), Vec<&scaling::Series>> = BTreeMap::new();
    for s in &series {
        curves.entry((s.corpus.as_str(), s.mode.as_str())).or_default().push(s);
        let title = format!("{} corpus, {} plan: time per phase ({} scaling)", s.corpus, s.plan, s.mode);
        charts::phases(s, &title, &dir.join(format!("phases-{}-{}-{}.svg", s.corpus, s.plan, s.mode)))?;
    }
    for ((corpus, mode), group) in curves {
        let first = group[0];
        let title = format!(
            "{corpus} corpus, {mode} scaling ({} cores per node, {}, {})",
            first.cpu_per_node, first.link_rate, first.setting
        );
        charts::speedup(&group, &title, &dir.join(format!("speedup-{corpus}-{mode}.svg")))?;
    }
    Ok(text)
}

/// The time `name` of a metrics object in seconds: `NAME_us` (whole
/// microseconds), or `NAME_s` in metrics written before times were.
pub(crate) fn seconds(object: &serde_json::Value, name: &str) -> f64 {
    match object[format!("{name}_us")].as_u64() {
        Some(us) => us as f64 / 1e6,
        None => object[format!("{name}_s")].as_f64().unwrap_or(0.0),
    }
}

/// Draws the timeline of the job whose metrics are in `metrics`.
pub fn timeline(metrics: &Path, out: &Path) -> Result<()> {
    let fail = |reason: String| Error::Input { path: metrics.to_path_buf(), reason };
    let text = std::fs::read(metrics).map_err(|e| fail(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
    let title = format!(
        "{} on {} workers ({} plan): {:.3} s",
        value["command"].as_str().unwrap_or("job"),
        value["workers"],
        value["redistribute"].as_str().unwrap_or("histogram"),
        seconds(&value, "wall")
    );
    charts::timeline(&value, &title, out)
}

/// Draws the median throughput of each program in `bench.sh`'s CSV.
pub fn bench(csv: &Path, title: &str, out: &Path) -> Result<()> {
    let fail = |reason: String| Error::Input { path: csv.to_path_buf(), reason };
    let mut reader = csv::Reader::from_path(csv).map_err(|e| fail(e.to_string()))?;
    let mut rates: Vec<(String, Vec<f64>)> = Vec::new();
    for row in reader.deserialize::<BenchRow>() {
        let row = row.map_err(|e| fail(e.to_string()))?;
        match rates.iter_mut().find(|(p, _)| *p == row.program) {
            Some((_, v)) => v.push(row.mb_per_s),
            None => rates.push((row.program, vec![row.mb_per_s])),
        }
    }
    let mut bars: Vec<(String, f64)> = rates.into_iter().map(|(p, v)| (p, scaling::median(v))).collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    charts::throughput(&bars, title, out)
}

/// The columns of `bench.csv` a chart needs.
#[derive(Debug, serde::Deserialize)]
struct BenchRow {
    program: String,
    mb_per_s: f64,
}

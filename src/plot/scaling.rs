//! The scaling study's arithmetic, from the rows `scripts/amdahl.sh` writes
//! (one per run): medians per worker count, speedup S(k) = T1 / T(k)
//! (Gustafson's scaled speedup k·T1 / T(k) for a weak sweep, where the input
//! grows with k), efficiency S/k, the Karp–Flatt serial fraction
//! e(k) = (1/S − 1/k) / (1 − 1/k), and a least-squares fit of Amdahl's
//! parallel fraction p to S(k) = 1 / ((1 − p) + p/k).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::phase::Phase;

/// One run, as a row of `amdahl.csv`.
#[derive(Clone, Debug, Deserialize)]
pub struct Run {
    /// `zipf` (the sample text repeated) or `distinct` (high cardinality).
    pub corpus: String,
    /// `histogram`, `central`, or `t1` for the one-thread baseline.
    pub plan: String,
    /// `strong` (fixed input) or `weak` (input grows with the workers).
    pub mode: String,
    pub nodes: usize,
    pub rep: usize,
    pub cpu_per_node: f64,
    pub link_rate: String,
    /// Where it ran: `lab` or `local`.
    pub setting: String,
    pub input_bytes: u64,
    pub wall_s: f64,
    pub init: f64,
    pub shuffle1: f64,
    pub local_count: f64,
    pub redistribute: f64,
    pub shuffle2: f64,
    pub sort_output: f64,
    pub bytes_init: u64,
    pub bytes_shuffle1: u64,
    pub bytes_local_count: u64,
    pub bytes_redistribute: u64,
    pub bytes_shuffle2: u64,
    pub bytes_sort_output: u64,
    pub master_cpu_s: f64,
}

impl Run {
    /// The six phase walls, in job order.
    pub fn phases(&self) -> [f64; 6] {
        [self.init, self.shuffle1, self.local_count, self.redistribute, self.shuffle2, self.sort_output]
    }

    /// Bytes moved over the network in each phase, in job order.
    pub fn bytes(&self) -> [u64; 6] {
        [
            self.bytes_init,
            self.bytes_shuffle1,
            self.bytes_local_count,
            self.bytes_redistribute,
            self.bytes_shuffle2,
            self.bytes_sort_output,
        ]
    }
}

/// Reads `amdahl.csv`.
pub fn read_runs(path: &Path) -> Result<Vec<Run>> {
    let fail = |reason: String| Error::Input { path: path.to_path_buf(), reason };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    reader.deserialize().map(|row| row.map_err(|e| fail(e.to_string()))).collect()
}

/// The figures for one worker count of one series (medians over reps).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub k: usize,
    pub wall_s: f64,
    pub speedup: f64,
    pub efficiency: f64,
    /// Karp–Flatt; undefined (NaN) at k = 1.
    pub serial_fraction: f64,
    pub phases: [f64; 6],
    pub bytes: [u64; 6],
    pub master_cpu_s: f64,
    pub reps: usize,
}

/// One curve: a corpus, a plan and a mode, against its baseline.
#[derive(Clone, Debug)]
pub struct Series {
    pub corpus: String,
    pub plan: String,
    pub mode: String,
    pub setting: String,
    pub cpu_per_node: f64,
    pub link_rate: String,
    /// Median T1 (`count --threads 1` on the base input).
    pub t1: f64,
    pub points: Vec<Point>,
    /// Amdahl's parallel fraction fitted to the points (strong mode only).
    pub p: Option<f64>,
}

impl Series {
    /// The speedup Amdahl's law predicts at `k` with the fitted `p`.
    pub fn amdahl(&self, k: f64) -> Option<f64> {
        self.p.map(|p| 1.0 / ((1.0 - p) + p / k))
    }
}

/// The median of some numbers (NaN for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// The Karp–Flatt serial fraction for speedup `s` on `k` workers.
pub fn karp_flatt(s: f64, k: usize) -> f64 {
    if k < 2 {
        return f64::NAN;
    }
    let k = k as f64;
    (1.0 / s - 1.0 / k) / (1.0 - 1.0 / k)
}

/// Least squares for Amdahl's p: with x = 1 − 1/k and y = 1 − 1/S, the law
/// reads y = p·x, a line through the origin: p = Σxy / Σx², kept in [0, 1].
pub fn fit_parallel_fraction(points: &[(usize, f64)]) -> Option<f64> {
    let (mut xy, mut xx) = (0.0, 0.0);
    for &(k, s) in points {
        let (x, y) = (1.0 - 1.0 / k as f64, 1.0 - 1.0 / s);
        xy += x * y;
        xx += x * x;
    }
    (xx > 0.0).then(|| (xy / xx).clamp(0.0, 1.0))
}

/// Groups the runs into series with their baselines.
pub fn analyse(runs: &[Run]) -> Vec<Series> {
    let mut groups: BTreeMap<(String, String, String), Vec<&Run>> = BTreeMap::new();
    let mut baselines: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for run in runs {
        if run.plan == "t1" {
            baselines.entry((run.corpus.clone(), run.mode.clone())).or_default().push(run.wall_s);
        } else {
            groups.entry((run.corpus.clone(), run.plan.clone(), run.mode.clone())).or_default().push(run);
        }
    }
    let mut out = Vec::new();
    for ((corpus, plan, mode), runs) in groups {
        let t1 = median(baselines.get(&(corpus.clone(), mode.clone())).cloned().unwrap_or_default());
        let mut by_k: BTreeMap<usize, Vec<&Run>> = BTreeMap::new();
        for run in &runs {
            by_k.entry(run.nodes).or_default().push(run);
        }
        let weak = mode == "weak";
        let points: Vec<Point> = by_k
            .into_iter()
            .map(|(k, runs)| {
                let wall_s = median(runs.iter().map(|r| r.wall_s).collect());
                let speedup = if weak { k as f64 * t1 / wall_s } else { t1 / wall_s };
                let phases = std::array::from_fn(|i| median(runs.iter().map(|r| r.phases()[i]).collect()));
                let bytes = std::array::from_fn(|i| median(runs.iter().map(|r| r.bytes()[i] as f64).collect()) as u64);
                Point {
                    k,
                    wall_s,
                    speedup,
                    efficiency: speedup / k as f64,
                    serial_fraction: karp_flatt(speedup, k),
                    phases,
                    bytes,
                    master_cpu_s: median(runs.iter().map(|r| r.master_cpu_s).collect()),
                    reps: runs.len(),
                }
            })
            .collect();
        let fit: Vec<(usize, f64)> =
            points.iter().filter(|p| p.speedup.is_finite()).map(|p| (p.k, p.speedup)).collect();
        let first = runs[0];
        out.push(Series {
            p: if weak { None } else { fit_parallel_fraction(&fit) },
            corpus,
            plan,
            mode,
            setting: first.setting.clone(),
            cpu_per_node: first.cpu_per_node,
            link_rate: first.link_rate.clone(),
            t1,
            points,
        });
    }
    out
}

/// The summary as Markdown: one table per series.
pub fn summary(series: &[Series]) -> String {
    let mut out = String::from("# Scaling summary\n");
    for s in series {
        let speedup = if s.mode == "weak" { "scaled speedup" } else { "speedup" };
        out.push_str(&format!(
            "\n## {} corpus, {} plan, {} scaling\n\nT1 = {:.3} s (`count --threads 1`, base input); {} setting, {} cores per node, links {}.\n\n",
            s.corpus, s.plan, s.mode, s.t1, s.setting, s.cpu_per_node, s.link_rate
        ));
        out.push_str(&format!(
            "| k | T(k) s | {speedup} | efficiency | Karp–Flatt e | {} | master cpu s | net MB |\n",
            Phase::ALL.map(|p| p.name()).join(" | ")
        ));
        out.push_str(&format!("|{}\n", "---:|".repeat(13)));
        for p in &s.points {
            let e = if p.serial_fraction.is_nan() { "–".to_string() } else { format!("{:.3}", p.serial_fraction) };
            let phases: Vec<String> = p.phases.iter().map(|t| format!("{t:.3}")).collect();
            let mb = p.bytes.iter().sum::<u64>() as f64 / 1e6;
            out.push_str(&format!(
                "| {} | {:.3} | {:.2} | {:.2} | {e} | {} | {:.2} | {mb:.1} |\n",
                p.k,
                p.wall_s,
                p.speedup,
                p.efficiency,
                phases.join(" | "),
                p.master_cpu_s
            ));
        }
        if let Some(p) = s.p {
            let ceiling = if p < 1.0 { format!("{:.1}×", 1.0 / (1.0 - p)) } else { "unbounded".into() };
            out.push_str(&format!(
                "\nAmdahl fit: parallel fraction p = {p:.3}, serial 1 − p = {:.3}; predicted ceiling 1/(1 − p) = {ceiling}.\n",
                1.0 - p
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_known_parallel_fraction() {
        for p in [0.5, 0.9, 0.99, 1.0] {
            let points: Vec<(usize, f64)> =
                [1, 2, 4, 8].iter().map(|&k| (k, 1.0 / ((1.0 - p) + p / k as f64))).collect();
            let fitted = fit_parallel_fraction(&points).unwrap();
            assert!((fitted - p).abs() < 1e-9, "{p} → {fitted}");
        }
        assert_eq!(fit_parallel_fraction(&[(1, 1.0)]), None, "k = 1 alone says nothing");
    }

    #[test]
    fn karp_flatt_of_ideal_and_serial_runs() {
        assert!(karp_flatt(4.0, 4).abs() < 1e-12);
        assert!((karp_flatt(1.0, 4) - 1.0).abs() < 1e-12);
        assert!(karp_flatt(1.0, 1).is_nan());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    fn run(plan: &str, mode: &str, nodes: usize, wall_s: f64) -> Run {
        Run {
            corpus: "zipf".into(),
            plan: plan.into(),
            mode: mode.into(),
            nodes,
            rep: 1,
            cpu_per_node: 0.25,
            link_rate: "1gbit".into(),
            setting: "lab".into(),
            input_bytes: 100,
            wall_s,
            init: 0.1,
            shuffle1: wall_s - 0.2,
            local_count: 0.0,
            redistribute: 0.05,
            shuffle2: 0.0,
            sort_output: 0.05,
            bytes_init: 1,
            bytes_shuffle1: 2,
            bytes_local_count: 3,
            bytes_redistribute: 4,
            bytes_shuffle2: 5,
            bytes_sort_output: 6,
            master_cpu_s: 0.01,
        }
    }

    #[test]
    fn series_take_medians_against_their_baseline() {
        let runs = [
            run("t1", "strong", 1, 8.0),
            run("t1", "strong", 1, 8.4),
            run("t1", "strong", 1, 7.6),
            run("histogram", "strong", 2, 4.0),
            run("histogram", "strong", 2, 4.2),
            run("histogram", "strong", 4, 2.5),
            run("t1", "weak", 1, 2.0),
            run("histogram", "weak", 4, 2.5),
        ];
        let series = analyse(&runs);
        assert_eq!(series.len(), 2);
        let strong = series.iter().find(|s| s.mode == "strong").unwrap();
        assert_eq!(strong.t1, 8.0);
        assert_eq!(strong.points[0].k, 2);
        assert!((strong.points[0].speedup - 8.0 / 4.1).abs() < 1e-12);
        assert!((strong.points[1].efficiency - 8.0 / 2.5 / 4.0).abs() < 1e-12);
        assert!(strong.p.is_some_and(|p| p > 0.5 && p < 1.0));
        let weak = series.iter().find(|s| s.mode == "weak").unwrap();
        assert!((weak.points[0].speedup - 4.0 * 2.0 / 2.5).abs() < 1e-12, "scaled speedup");
        assert!(weak.p.is_none());
        let text = summary(&series);
        assert!(text.contains("| 2 | 4.100 | 1.95 |") && text.contains("Amdahl fit"), "{text}");
    }
}

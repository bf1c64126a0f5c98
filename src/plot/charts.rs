//! The charts, drawn as SVG with plotters (no fonts or system libraries
//! needed): speedup against workers with the ideal line and the fitted
//! Amdahl curve, per-phase time stacked per worker count, a job's timeline
//! (one row per node, one bar per phase), and a bar chart of throughputs
//! for the benchmark comparison.

use std::path::Path;

use plotters::prelude::*;
use serde_json::Value;

use super::scaling::Series;
use super::seconds;
use crate::error::{Error, Result};
use crate::phase::Phase;

type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// Colours of the six phases (in job order) and of time outside them.
const PHASE_COLOURS: [RGBColor; 7] = [
    RGBColor(0x8d, 0xa0, 0xcb),
    RGBColor(0x2b, 0x6c, 0xb0),
    RGBColor(0x66, 0xc2, 0xa5),
    RGBColor(0xfc, 0x8d, 0x62),
    RGBColor(0xe7, 0x8a, 0xc3),
    RGBColor(0xa6, 0xd8, 0x54),
    RGBColor(0xbb, 0xbb, 0xbb),
];

/// The colour of a plan's curve.
fn plan_colour(plan: &str) -> RGBColor {
    match plan {
        "central" => RGBColor(0xdd, 0x6b, 0x20),
        _ => RGBColor(0x2b, 0x6c, 0xb0),
    }
}

/// The series' legend in a light box at `position`.
fn legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

fn finish(path: &Path, drawn: Drawn) -> Result<()> {
    drawn.map_err(|e| Error::Output { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) })
}

/// Speedup against workers for every plan of one corpus and mode: measured
/// points joined by lines, the ideal line, and each plan's fitted Amdahl
/// curve (dashed).
pub fn speedup(series: &[&Series], title: &str, path: &Path) -> Result<()> {
    let max_k = series.iter().flat_map(|s| s.points.iter().map(|p| p.k)).max().unwrap_or(1).max(2) as f64;
    let max_s =
        series.iter().flat_map(|s| s.points.iter().map(|p| p.speedup)).filter(|s| s.is_finite()).fold(max_k, f64::max);
    let weak = series.first().is_some_and(|s| s.mode == "weak");
    let drawn = (|| -> Drawn {
        let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..max_k + 0.5, 0.0..max_s * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("workers k")
            .y_desc(if weak { "scaled speedup k·T1 / T(k)" } else { "speedup T1 / T(k)" })
            .draw()?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (max_k, max_k)], BLACK.mix(0.4)))?
            .label("ideal (S = k)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
        for s in series {
            let colour = plan_colour(&s.plan);
            let measured: Vec<(f64, f64)> = s.points.iter().map(|p| (p.k as f64, p.speedup)).collect();
            chart
                .draw_series(LineSeries::new(measured.clone(), colour.stroke_width(2)))?
                .label(format!("{} plan, measured", s.plan))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(measured.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
            if let Some(p) = s.p {
                let curve: Vec<(f64, f64)> = (0..=100)
                    .map(|i| 1.0 + (max_k - 1.0) * f64::from(i) / 100.0)
                    .filter_map(|k| s.amdahl(k).map(|v| (k, v)))
                    .collect();
                chart
                    .draw_series(DashedLineSeries::new(curve, 6, 4, colour.into()))?
                    .label(format!("{} plan, Amdahl fit p = {p:.3}", s.plan))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present()?;
        Ok(())
    })();
    finish(path, drawn)
}

/// Per-phase wall time stacked for each worker count of one series, with
/// the time outside the phases on top.
pub fn phases(series: &Series, title: &str, path: &Path) -> Result<()> {
    let n = series.points.len();
    let top = series.points.iter().map(|p| p.wall_s).fold(0.0, f64::max).max(1e-3);
    let ks: Vec<usize> = series.points.iter().map(|p| p.k).collect();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..top * 1.15)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                ks.get(i as usize).map_or(String::new(), |k| k.to_string())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(n.max(2) * 2 + 1)
            .x_label_formatter(&label)
            .disable_x_mesh()
            .x_desc("workers k")
            .y_desc("wall time s (median)")
            .draw()?;
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).chain(["other"]).collect();
        for (layer, name) in names.iter().enumerate() {
            let colour = PHASE_COLOURS[layer];
            let bars = series.points.iter().enumerate().map(move |(i, p)| {
                let below: f64 = p.phases[..layer.min(6)].iter().sum();
                let height =
                    if layer < 6 { p.phases[layer] } else { (p.wall_s - p.phases.iter().sum::<f64>()).max(0.0) };
                let x = i as f64;
                Rectangle::new([(x - 0.35, below), (x + 0.35, below + height)], colour.filled())
            });
            chart
                .draw_series(bars)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present()?;
        Ok(())
    })();
    finish(path, drawn)
}

/// One span of a timeline: a row, a phase, its start and end in seconds.
#[derive(Debug, PartialEq)]
pub struct Span {
    pub row: usize,
    pub phase: usize,
    pub start: f64,
    pub end: f64,
}

/// The spans of a `--metrics` file: row 0 is the master (its phase
/// barriers), row r + 1 is worker r (its own clock, from when the job
/// reached it). Returns the row names too.
pub fn timeline_spans(metrics: &Value) -> (Vec<String>, Vec<Span>) {
    let mut spans = Vec::new();
    let mut workers = 0;
    let phases = metrics["phases"].as_array().map_or(&[][..], Vec::as_slice);
    for phase in phases {
        // `count`'s one step is drawn as the phase it stands for.
        let name = match phase["phase"].as_str() {
            Some(crate::count::STEP) => Some(Phase::Shuffle1.name()),
            name => name,
        };
        let Some(index) = Phase::ALL.iter().position(|p| Some(p.name()) == name) else {
            continue;
        };
        let span = |row, v: &Value| Span { row, phase: index, start: seconds(v, "start"), end: seconds(v, "end") };
        spans.push(span(0, phase));
        for node in phase["nodes"].as_array().map_or(&[][..], Vec::as_slice) {
            let rank = node["rank"].as_u64().unwrap_or(0) as usize;
            workers = workers.max(rank + 1);
            spans.push(span(rank + 1, node));
        }
    }
    let rows = std::iter::once("master".to_string()).chain((0..workers).map(|r| format!("worker {r}"))).collect();
    (rows, spans)
}

/// A job's timeline from its `--metrics` JSON: where each node spends its
/// time, and where it waits for the others.
pub fn timeline(metrics: &Value, title: &str, path: &Path) -> Result<()> {
    let (rows, spans) = timeline_spans(metrics);
    let end = spans.iter().map(|s| s.end).fold(1e-3, f64::max);
    let height = 120 + 36 * rows.len() as u32;
    let drawn = (|| -> Drawn {
        let root = SVGBackend::new(path, (900, height.max(260))).into_drawing_area();
        root.fill(&WHITE)?;
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..end * 1.25, -0.5..n - 0.5)?;
        let name = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                rows.get(rows.len() - 1 - i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&name)
            .disable_y_mesh()
            .x_label_formatter(&|v| format!("{v:.2}"))
            .x_desc("seconds since the job started (workers: since it reached them)")
            .draw()?;
        for (index, phase) in Phase::ALL.iter().enumerate() {
            let colour = PHASE_COLOURS[index];
            let bars = spans.iter().filter(|s| s.phase == index).map(|s| {
                let y = n - 1.0 - s.row as f64;
                Rectangle::new([(s.start, y - 0.35), (s.end.max(s.start + end * 0.002), y + 0.35)], colour.filled())
            });
            chart
                .draw_series(bars)?
                .label(phase.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present()?;
        Ok(())
    })();
    finish(path, drawn)
}

/// Horizontal bars: each program's median throughput (MB/s), largest
/// first, wordfreq's own in blue.
pub fn throughput(bars: &[(String, f64)], title: &str, path: &Path) -> Result<()> {
    let top = bars.iter().map(|b| b.1).fold(1.0, f64::max);
    let n = bars.len();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::new(path, (820, 90 + 34 * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(200)
            .build_cartesian_2d(0.0..top * 1.2, -0.5..n as f64 - 0.5)?;
        let name = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                bars.get(n - 1 - i as usize).map_or(String::new(), |b| b.0.clone())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&name)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .disable_y_mesh()
            .x_desc("MB/s (median)")
            .draw()?;
        for (i, (program, value)) in bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour =
                if program.starts_with("wordfreq") { RGBColor(0x2b, 0x6c, 0xb0) } else { RGBColor(0xa0, 0xae, 0xc0) };
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.3), (*value, y + 0.3)], colour.filled())))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{value:.0}"),
                (*value + top * 0.01, y + 0.15),
                ("sans-serif", 13),
            )))?;
        }
        root.present()?;
        Ok(())
    })();
    finish(path, drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeline_has_a_row_for_the_master_and_each_worker() {
        let metrics = serde_json::json!({"phases": [
            {"phase": "init", "start_us": 0, "end_us": 100_000, "nodes": [
                {"rank": 0, "start_us": 0, "end_us": 50_000}, {"rank": 1, "start_us": 0, "end_us": 80_000}]},
            {"phase": "shuffle1", "start_us": 100_000, "end_us": 500_000, "nodes": [
                {"rank": 0, "start_us": 60_000, "end_us": 400_000}, {"rank": 1, "start_us": 90_000, "end_us": 490_000}]}
        ]});
        let (rows, spans) = timeline_spans(&metrics);
        assert_eq!(rows, ["master", "worker 0", "worker 1"]);
        assert_eq!(spans.len(), 6);
        assert_eq!(spans[4], Span { row: 1, phase: 1, start: 0.06, end: 0.4 });
        // Metrics written before times were whole microseconds.
        let old = serde_json::json!({"phases": [{"phase": "count", "start_s": 0.5, "end_s": 1.5, "nodes": []}]});
        assert_eq!(timeline_spans(&old).1, [Span { row: 0, phase: 1, start: 0.5, end: 1.5 }]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        timeline(&metrics, "a job", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("worker 1") && svg.contains("shuffle1"));
    }
}

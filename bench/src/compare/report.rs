//! What `spool-bench compare` writes: Markdown tables (one per durability and queue kind,
//! each target's msgs/s as a ratio to the best peer of the same row group), and SVG
//! plots (throughput by message size; latency percentiles by target).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{Durability, Kind, RunResult, SizeSpec, Workload};
use crate::BoxResult;

/// The targets Spool is compared with.
const PEERS: [&str; 3] = ["redis", "rabbitmq", "nats"];

fn is_peer(t: &str) -> bool {
    PEERS.contains(&t)
}

fn us(v: u64) -> String {
    if v >= 10_000_000 {
        format!("{:.1} s", v as f64 / 1e6)
    } else if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1e3)
    } else {
        format!("{v} µs")
    }
}

/// The best peer's msgs/s among `rows` of the same size.
fn best_peer<'a>(rows: &[&'a RunResult], size: &str) -> Option<&'a RunResult> {
    rows.iter()
        .copied()
        .filter(|r| r.size == size && is_peer(&r.target) && r.error.is_none())
        .max_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s))
}

fn table(out: &mut String, rows: &[&RunResult]) {
    out.push_str(
        "| size | target | msgs/s | MB/s | vs best peer | send-ack p50 / p99 | end-to-end p50 / \
         p99 / p99.9 | server CPU | server RssAnon | disk bytes per msg |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        if let Some(e) = &r.error {
            let _ = writeln!(
                out,
                "| {} | {} | failed: {} | | | | | | | |",
                r.size,
                r.target,
                e.replace('|', "/")
            );
            continue;
        }
        let ratio = match best_peer(rows, &r.size) {
            Some(b) if b.msgs_per_s > 0.0 => {
                format!("{:.2}× ({})", r.msgs_per_s / b.msgs_per_s, b.target)
            }
            _ => "–".into(),
        };
        // With rounds: the median's msgs/s, then the range over every round.
        let msgs = if r.rounds_msgs_per_s.len() > 1 {
            let lo = r.rounds_msgs_per_s.iter().copied().fold(f64::MAX, f64::min);
            let hi = r.rounds_msgs_per_s.iter().copied().fold(0.0, f64::max);
            format!("{:.0} ({:.0}–{:.0})", r.msgs_per_s, lo, hi)
        } else {
            format!("{:.0}", r.msgs_per_s)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} / {} | {} / {} / {} | {:.2} | {} MiB | {:.0} |",
            r.size,
            r.target,
            msgs,
            r.mb_per_s,
            ratio,
            us(r.send_ack_us.p50),
            us(r.send_ack_us.p99),
            us(r.end_to_end_us.p50),
            us(r.end_to_end_us.p99),
            us(r.end_to_end_us.p999),
            r.server_cpu,
            r.server_rss_bytes >> 20,
            r.disk_bytes_per_msg,
        );
    }
}

pub(crate) fn markdown(w: &Workload, results: &[RunResult], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Workload: {}\n", w.describe());
    for &d in &w.durabilities {
        for &k in &w.kinds {
            let rows: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.durability == d && r.kind == k && r.rate == w.rate)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let mut sorted = rows.clone();
            sorted.sort_by(|a, b| a.mean_size.total_cmp(&b.mean_size));
            let _ = writeln!(out, "### {d} durability, {k} queue\n");
            table(&mut out, &sorted);
            out.push('\n');
        }
    }
    let half: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.rate > 0 && r.rate != w.rate)
        .collect();
    if let Some(first) = half.first() {
        let _ = writeln!(
            out,
            "### Latency at {} msgs/s offered (half of spool-binary's peak), sync, standard, {}\n",
            first.rate, first.size
        );
        table(&mut out, &half);
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push_str("Notes:\n\n");
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// Writes the plots; returns their paths.
pub(crate) fn plots(w: &Workload, results: &[RunResult], dir: &Path) -> BoxResult<Vec<PathBuf>> {
    let mut written = Vec::new();
    for &d in &w.durabilities {
        for &k in &w.kinds {
            let path = dir.join(format!("throughput-{d}-{k}.svg"));
            if throughput_plot(w, results, d, k, &path)? {
                written.push(path);
            }
        }
    }
    // Latency: the half-peak runs if there are any, else the first size's closed-loop
    // sync standard runs.
    let mut rows: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.rate > 0 && r.rate != w.rate && r.error.is_none())
        .collect();
    let mut title = "End-to-end latency at half of spool-binary's peak".to_string();
    if rows.is_empty() {
        let size = w.sizes[0].label();
        rows = results
            .iter()
            .filter(|r| {
                r.rate == w.rate
                    && r.durability == w.durabilities[0]
                    && r.kind == w.kinds[0]
                    && r.size == size
                    && r.error.is_none()
            })
            .collect();
        title = format!(
            "End-to-end latency at peak, {} {} {}",
            w.durabilities[0], w.kinds[0], size
        );
    }
    if !rows.is_empty() {
        let path = dir.join("latency.svg");
        latency_plot(&rows, &title, &path)?;
        written.push(path);
    }
    Ok(written)
}

fn throughput_plot(
    w: &Workload,
    results: &[RunResult],
    d: Durability,
    k: Kind,
    path: &Path,
) -> BoxResult<bool> {
    let labels: Vec<String> = w.sizes.iter().map(SizeSpec::label).collect();
    let series: Vec<(String, Vec<(f64, f64)>)> = w
        .targets
        .iter()
        .map(|t| {
            let pts = labels
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    results
                        .iter()
                        .find(|r| {
                            &r.target == t
                                && r.durability == d
                                && r.kind == k
                                && &r.size == l
                                && r.rate == w.rate
                                && r.error.is_none()
                                && r.msgs_per_s > 0.0
                        })
                        .map(|r| (i as f64, r.msgs_per_s))
                })
                .collect();
            (t.clone(), pts)
        })
        .filter(|(_, p): &(String, Vec<(f64, f64)>)| !p.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let chart = LineChart {
        title: format!("msgs/s by message size, {d}, {k}"),
        x_labels: labels,
        x_desc: "message size",
        y_desc: "msgs/s (log)",
    };
    chart.draw(&series, path)?;
    Ok(true)
}

fn latency_plot(rows: &[&RunResult], title: &str, path: &Path) -> BoxResult<()> {
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let e = &r.end_to_end_us;
            let pts = [e.p50, e.p90, e.p99, e.p999, e.max]
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v.max(1) as f64))
                .collect();
            (r.target.clone(), pts)
        })
        .collect();
    let chart = LineChart {
        title: title.to_string(),
        x_labels: ["p50", "p90", "p99", "p99.9", "max"]
            .map(String::from)
            .to_vec(),
        x_desc: "percentile",
        y_desc: "µs (log)",
    };
    chart.draw(&series, path)
}

/// A line per series over categorical x positions 0..n (labelled), log-scale y.
struct LineChart {
    title: String,
    x_labels: Vec<String>,
    x_desc: &'static str,
    y_desc: &'static str,
}

impl LineChart {
    fn draw(&self, series: &[(String, Vec<(f64, f64)>)], path: &Path) -> BoxResult<()> {
        let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
        let max = ys().fold(1.0, f64::max);
        let min = ys().fold(max, f64::min);
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = self.x_labels.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.3f64..(n - 0.7),
                ((min / 2.0).max(1.0)..max * 2.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_labels(self.x_labels.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    self.x_labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(self.y_desc)
            .x_desc(self.x_desc)
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}

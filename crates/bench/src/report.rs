//! Results: the samples of each point, their medians and the table
//! (Markdown, so that it can go into BENCHMARKS.md as printed).

use std::fmt::Write;
use std::time::Duration;

/// One line of the table: one workload at one concurrency.
#[derive(Debug, Clone)]
pub struct Row {
    pub workload: &'static str,
    pub concurrency: usize,
    /// Messages per second of each repetition.
    pub rookery: Vec<f64>,
    pub dovecot: Vec<f64>,
    /// The ratio Rookery must reach, where the project set one.
    pub target: Option<f64>,
}

impl Row {
    pub fn new(workload: &'static str, concurrency: usize, target: Option<f64>) -> Row {
        Row { workload, concurrency, rookery: Vec::new(), dovecot: Vec::new(), target }
    }

    fn ratio(&self) -> Option<f64> {
        Some(median(&self.rookery)? / median(&self.dovecot)?)
    }
}

/// The median (mean of the middle two for an even count); `None` when
/// there are no samples.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The `fraction` percentile (nearest rank, e.g. 0.99 for p99); `None`
/// when there are no samples.
pub fn percentile(samples: &[Duration], fraction: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// The results table, in messages per second.
pub fn table(rows: &[Row]) -> String {
    table_in(rows, "msg/s")
}

/// The results table with figures in `unit`.
pub fn table_in(rows: &[Row], unit: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| workload | concurrency | rookery {unit} | dovecot {unit} | ratio | target |");
    out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
    for row in rows {
        let rate = |samples: &[f64]| {
            median(samples).map_or_else(
                || "-".to_owned(),
                |rate| if rate < 100.0 { format!("{rate:.2}") } else { format!("{rate:.0}") },
            )
        };
        let ratio = row.ratio().map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}"));
        let target = match (row.target, row.ratio()) {
            (None, _) => String::new(),
            (Some(target), None) => format!(">= {target:.1}"),
            (Some(target), Some(ratio)) => {
                format!(">= {target:.1} {}", if ratio >= target { "met" } else { "missed" })
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio} | {target} |",
            row.workload,
            row.concurrency,
            rate(&row.rookery),
            rate(&row.dovecot)
        );
    }
    out
}

#[cfg(test)]
mod tests;

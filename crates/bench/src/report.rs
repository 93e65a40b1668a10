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
    /// The figures Rookery is compared with: Dovecot's, or the relay
    /// suite's ceiling (a client sending straight to the sink).
    pub peer: Vec<f64>,
    /// The ratio Rookery must reach, where the project set one.
    pub target: Option<f64>,
}

impl Row {
    pub fn new(workload: &'static str, concurrency: usize, target: Option<f64>) -> Row {
        Row { workload, concurrency, rookery: Vec::new(), peer: Vec::new(), target }
    }

    fn ratio(&self) -> Option<f64> {
        Some(median(&self.rookery)? / median(&self.peer)?)
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

/// The results table against Dovecot with figures in `unit`.
pub fn table_in(rows: &[Row], unit: &str) -> String {
    table_against(rows, "dovecot", unit)
}

/// The results table, the second column of figures headed `peer`.
pub fn table_against(rows: &[Row], peer: &str, unit: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| workload | concurrency | rookery {unit} | {peer} {unit} | ratio | target |");
    out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
    for row in rows {
        let rate = |samples: &[f64]| {
            median(samples).map_or_else(
                || "-".to_owned(),
                |rate| if rate < 100.0 { format!("{rate:.2}") } else { format!("{rate:.0}") },
            )
        };
        let ratio = row.ratio().map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}"));
        // A fraction such as 0.70 needs its second digit; 2.0 and 1.5 do not.
        let shown = |target: f64| if target < 1.0 { format!("{target:.2}") } else { format!("{target:.1}") };
        let target = match (row.target, row.ratio()) {
            (None, _) => String::new(),
            (Some(target), None) => format!(">= {}", shown(target)),
            (Some(target), Some(ratio)) => {
                format!(">= {} {}", shown(target), if ratio >= target { "met" } else { "missed" })
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio} | {target} |",
            row.workload,
            row.concurrency,
            rate(&row.rookery),
            rate(&row.peer)
        );
    }
    out
}

#[cfg(test)]
mod tests;

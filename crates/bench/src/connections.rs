//! Counting TCP connections under load: a thread runs
//! `ss -Htn state established` several times a second and counts, for
//! each watched set of listeners, the established connections whose peer
//! is one of them (each connection once: from its connecting side). The
//! kernel filters by state, so the thousands of TIME_WAIT sockets a
//! login-per-session load leaves behind cost nothing to skip.

use crate::report::median;
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two samples.
const INTERVAL: Duration = Duration::from_millis(200);

/// Fails unless `ss` (iproute2) runs: checked before any server starts.
pub fn check_ss() -> anyhow::Result<()> {
    established().map(drop).context("the connection counts need `ss` (Debian package iproute2)")
}

/// Samples running in a thread until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<anyhow::Result<Vec<Vec<usize>>>>,
}

impl Sampler {
    /// Counts connections to each of `watches` (a set of listener
    /// addresses each) every [`INTERVAL`].
    pub fn start(watches: Vec<Vec<SocketAddr>>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = vec![Vec::new(); watches.len()];
            while !stopped.load(Ordering::Relaxed) {
                let next = Instant::now() + INTERVAL;
                let peers = established()?;
                for (watch, counts) in watches.iter().zip(&mut samples) {
                    counts.push(peers.iter().filter(|peer| watch.contains(peer)).count());
                }
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(samples)
        });
        Sampler { stop, thread }
    }

    /// Stops sampling; the counts of each watch, in the order given.
    pub fn finish(self) -> anyhow::Result<Vec<Counts>> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().map_err(|_| anyhow::anyhow!("the connection sampler panicked"))??;
        Ok(samples.iter().map(|counts| Counts::of(counts)).collect())
    }
}

/// What one watch saw over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub max: usize,
    pub median: f64,
    pub samples: usize,
}

impl Counts {
    pub(crate) fn of(samples: &[usize]) -> Counts {
        let as_f64: Vec<f64> = samples.iter().map(|&n| n as f64).collect();
        Counts {
            max: samples.iter().copied().max().unwrap_or(0),
            median: median(&as_f64).unwrap_or(0.0),
            samples: samples.len(),
        }
    }
}

/// The peer address of every established TCP connection on the machine.
fn established() -> anyhow::Result<Vec<SocketAddr>> {
    Ok(established_pairs()?.into_iter().map(|(_, peer)| peer).collect())
}

/// `(local, peer)` of every established TCP connection on the machine.
pub(crate) fn established_pairs() -> anyhow::Result<Vec<(SocketAddr, SocketAddr)>> {
    let output = Command::new("ss").args(["-Htn", "state", "established"]).output().context("running ss")?;
    if !output.status.success() {
        bail!("ss failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(pairs(&String::from_utf8_lossy(&output.stdout)))
}

/// The peer column of `ss -Htn state established` (Recv-Q, Send-Q,
/// local, peer); lines it cannot read are skipped.
#[cfg(test)]
fn peers(text: &str) -> Vec<SocketAddr> {
    pairs(text).into_iter().map(|(_, peer)| peer).collect()
}

/// The local and peer columns of `ss -Htn state established` (Recv-Q,
/// Send-Q, local, peer); lines it cannot read are skipped.
pub(crate) fn pairs(text: &str) -> Vec<(SocketAddr, SocketAddr)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip(2);
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests;

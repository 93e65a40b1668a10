//! The relay suite's second peer: the aiosmtpd sink of the tests
//! (`tests/clients/smtp_sink.py`, a Python SMTP server from PyPI), a real
//! SMTP implementation that keeps each message as a file, as a receiving
//! MTA would. It is the peer the outbound tests name; the bench's
//! own sink (`sink.rs`) is a null server that keeps nothing.
//!
//! The bench learns what arrived from the files: a message counts once its
//! file is renamed into place; [`PythonSink::take`] reads the new files
//! into a [`Tally`] (recipients from the sink's `X-Sink-To` line, the
//! serial from the bench Message-ID) and deletes them.

use crate::sink::Tally;
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the directory is looked at while waiting.
const POLL: Duration = Duration::from_millis(20);

pub struct PythonSink {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
    /// Messages taken since the start (their files are gone).
    taken: Mutex<u64>,
}

impl PythonSink {
    /// Starts the sink on a free port of `ip`; `repo` is the repository
    /// root, where the script lives.
    pub fn start(ip: &str, repo: &Path) -> anyhow::Result<PythonSink> {
        let script = repo.join("tests/clients/smtp_sink.py");
        let dir = tempfile::Builder::new().prefix("bench-aiosmtpd-").tempdir()?;
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--host", ip, "--dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} (needs python3 and aiosmtpd)", script.display()))?;
        let stdout = child.stdout.take().context("no stdout from the sink")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("sink: listening on ") else {
            let _ = child.kill();
            bail!("the aiosmtpd sink did not start: {line:?}");
        };
        let addr = addr.parse().with_context(|| format!("the sink's address {addr:?}"))?;
        Ok(PythonSink { addr, child, dir, taken: Mutex::new(0) })
    }

    fn files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else { return Vec::new() };
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
    }

    fn taken(&self) -> u64 {
        *self.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Messages received since the sink started.
    pub fn total(&self) -> u64 {
        self.taken() + self.files().len() as u64
    }

    /// What arrived since the last call; the files are removed.
    pub fn take(&self) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let files = self.files();
        for path in &files {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            tally.record(&recipients(&bytes), crate::sink::bench_serial(&bytes));
            std::fs::remove_file(path)?;
        }
        *self.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += files.len() as u64;
        Ok(tally)
    }

    /// Waits until [`PythonSink::total`] reaches `target`; fails when no
    /// message arrives for `stall_limit`.
    pub async fn wait_for(&self, target: u64, stall_limit: Duration) -> anyhow::Result<()> {
        let (mut have, mut progress) = (self.total(), Instant::now());
        while have < target {
            tokio::time::sleep(POLL).await;
            let now = self.total();
            if now > have {
                (have, progress) = (now, Instant::now());
            } else if progress.elapsed() > stall_limit {
                bail!("the aiosmtpd sink got no message for {stall_limit:?}; it has {have} of {target}");
            }
        }
        Ok(())
    }
}

impl Drop for PythonSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The recipients the sink wrote in its `X-Sink-To:` line.
fn recipients(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(&message[..message.len().min(4096)]);
    text.lines()
        .find_map(|line| line.strip_prefix("X-Sink-To: "))
        .map(|list| list.trim().split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_the_sinks_line() {
        let message = b"X-Sink-From: <a@b>\r\nX-Sink-To: c0@sink.example,c1@sink.example\r\nSubject: x\r\n\r\n";
        assert_eq!(recipients(message), ["c0@sink.example", "c1@sink.example"]);
        assert!(recipients(b"Subject: none\r\n\r\n").is_empty());
    }
}

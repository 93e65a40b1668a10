//! [`SmtpSink`]: `tests/clients/smtp_sink.py` (aiosmtpd) as a process, the
//! remote side of outbound tests: it keeps what it accepts as files, and
//! refuses on demand (see the script).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

/// One message the sink kept.
#[derive(Debug, Clone)]
pub struct SunkMessage {
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The message as received, without the sink's own header lines.
    pub content: String,
}

impl SmtpSink {
    /// Starts a sink on `host` (an address of 127.0.0.0/8) and a free port.
    pub fn start(host: &str) -> anyhow::Result<SmtpSink> {
        let dir = tempfile::tempdir()?;
        let script = crate::repo_root().join("tests/clients/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--host", host, "--dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the SMTP sink (python3 with aiosmtpd; test.sh installs it)")?;
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("sink: listening on ") else {
            let _ = child.kill();
            bail!("the SMTP sink did not start: {line:?}");
        };
        let addr = addr.parse().with_context(|| format!("sink address {addr:?}"))?;
        Ok(SmtpSink { addr, dir, child })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Answers 421 to every recipient until [`SmtpSink::up`].
    pub fn down(&self) {
        let _ = std::fs::write(self.dir().join("refuse-all"), b"");
    }

    pub fn up(&self) {
        let _ = std::fs::remove_file(self.dir().join("refuse-all"));
    }

    /// Every message kept so far, oldest first.
    pub fn messages(&self) -> Vec<SunkMessage> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files.iter().filter_map(|path| std::fs::read(path).ok()).map(|bytes| parse(&bytes)).collect()
    }
}

fn parse(bytes: &[u8]) -> SunkMessage {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut lines = text.splitn(3, "\r\n");
    let from = lines.next().unwrap_or_default();
    let to = lines.next().unwrap_or_default();
    let content = lines.next().unwrap_or_default().to_owned();
    let mail_from = from.trim_start_matches("X-Sink-From: <").trim_end_matches('>').to_owned();
    let recipients = to.trim_start_matches("X-Sink-To: ").split(',').filter(|s| !s.is_empty()).map(str::to_owned);
    SunkMessage { mail_from, recipients: recipients.collect(), content }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The test harness every integration test uses. [`TestServer`] runs a real
//! `rookery serve` process with a temporary data directory and every
//! listener on a free loopback port (port 0: the server prints the ports it
//! got), and can kill it with SIGKILL and start it again on the same data.
//! [`python`] runs the real-client scripts (smtplib, poplib) against it.
#![forbid(unsafe_code)]

pub mod browser;
pub mod dns;
pub mod etcd;
mod process;
mod sink;
pub mod slapd;
mod smtp_client;

pub use process::{Ports, TestServer, TestServerOptions};
pub use sink::{SmtpSink, SunkMessage};
pub use smtp_client::SmtpClient;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository root (where `tests/clients/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root exists")
}

/// Runs `python3 tests/clients/<script> args...`, returning its stdout;
/// fails with the script's stderr when it exits non-zero.
pub fn python(script: &str, args: &[String]) -> anyhow::Result<String> {
    let path = repo_root().join("tests/clients").join(script);
    let output = Command::new("python3").arg(&path).args(args).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        anyhow::bail!(
            "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// Polls `check` until it returns `Some`, or fails after `timeout`. Tests
/// never sleep to synchronise; they wait for the condition itself.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

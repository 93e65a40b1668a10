//! The demo's child processes: starting a `rookery serve` and reading the
//! addresses it prints, watching each child, reporting one that dies, and
//! stopping them all (SIGTERM, then SIGKILL after a grace period).
//!
//! Children run in their own process groups, so a Ctrl-C in the terminal
//! reaches the demo alone, which then stops them in order: frontends,
//! backends, the directory last.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A member has this long to print `rookery: ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// And this long to exit after SIGTERM (serve drains for up to 15 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(25);

/// A started `rookery serve`: what it listens on.
pub struct Started {
    pub child: Child,
    /// `smtp`, `imap`, `admin`, `cluster`... as the server printed them.
    pub listening: BTreeMap<String, SocketAddr>,
}

/// Starts `rookery --config CONFIG serve`, its output going to `log`, and
/// waits until it is ready.
pub async fn start_member(binary: &Path, config: &Path, log: &Path) -> anyhow::Result<Started> {
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file.try_clone()?)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().context("the child's stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut log_file = log_file;
    let mut listening = BTreeMap::new();
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            writeln!(log_file, "{line}")?;
            if line.starts_with("rookery: ready") {
                return Ok(true);
            }
            if let Some((service, addr)) = parse_listening(&line) {
                listening.insert(service, addr);
            }
        }
        Ok::<bool, std::io::Error>(false)
    })
    .await;
    match ready {
        Ok(Ok(true)) => {
            tokio::spawn(copy_rest(lines, log_file));
            Ok(Started { child, listening })
        }
        outcome => {
            let _ = child.kill().await;
            let why = match outcome {
                Err(_) => format!("not ready within {READY_TIMEOUT:?}"),
                Ok(Err(e)) => format!("reading its output: {e}"),
                Ok(Ok(_)) => "it exited".to_owned(),
            };
            bail!("{} did not start ({why}); its log:\n{}", config.display(), tail(log))
        }
    }
}

/// Keeps the child's stdout drained into its log after start-up.
async fn copy_rest(mut lines: tokio::io::Lines<BufReader<ChildStdout>>, mut log: std::fs::File) {
    while let Ok(Some(line)) = lines.next_line().await {
        if writeln!(log, "{line}").is_err() {
            return;
        }
    }
}

/// `rookery: imap listening on 127.0.0.2:10143` (admin: `http://addr`).
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let (service, addr) = line.strip_prefix("rookery: ")?.split_once(" listening on ")?;
    Some((service.to_owned(), addr.trim().trim_start_matches("http://").parse().ok()?))
}

/// The last lines of a log, for an error message.
/// Starts a server the demo needs (slapd, etcd) from `command`: in its own
/// process group, its output in `log_path`, killed with the demo; waits
/// until `ready` answers (polled every `poll`), or fails with the end of
/// its log when it exits or does not answer within `timeout`.
pub async fn spawn_service<F, Fut>(
    what: &str,
    mut command: Command,
    log_path: &Path,
    mut ready: F,
    poll: Duration,
    timeout: Duration,
) -> anyhow::Result<Child>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let log = std::fs::File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if ready().await {
            return Ok(child);
        }
        let exited = child.try_wait()?.is_some();
        if exited || tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            bail!("{what} did not start (is the address in use?); its log:\n{}", tail(log_path));
        }
        tokio::time::sleep(poll).await;
    }
}

pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A child under watch: a task waits for it to exit and reports it unless
/// the demo stopped it.
pub struct Watched {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Watched {
    pub fn new(name: String, mut child: Child, log: PathBuf) -> anyhow::Result<Watched> {
        let pid = child.id().context("the child has already been reaped")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let label = name;
        let task = tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    println!("demo: {label} (pid {pid}) exited unexpectedly ({status}); log: {}", log.display());
                    println!("demo: the other members keep running; Ctrl-C stops the demo");
                }
                _ = stopped => terminate(&label, pid, &mut child).await,
            }
        });
        Ok(Watched { stop: Some(stop), task })
    }

    /// Stops the child (if it still runs) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// SIGTERM, then SIGKILL if the child does not exit in time.
async fn terminate(name: &str, pid: u32, child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // std and tokio send only SIGKILL; a clean stop needs SIGTERM, and the
    // crate forbids the unsafe a libc call would need.
    let sent = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
    if !matches!(sent, Ok(status) if status.success()) {
        let _ = child.kill().await;
        return;
    }
    if tokio::time::timeout(STOP_TIMEOUT, child.wait()).await.is_err() {
        println!("demo: {name} (pid {pid}) did not stop within {STOP_TIMEOUT:?}; killing it");
        let _ = child.kill().await;
    }
}

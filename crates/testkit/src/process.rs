//! Starting, killing and restarting a `rookery serve` process.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Extra settings for a test server.
#[derive(Debug, Clone)]
pub struct TestServerOptions {
    /// Appended to the generated config file (TOML sections and keys that
    /// the generated file does not set).
    pub extra_config: String,
    pub fsync: bool,
    pub main_domain: String,
    /// `[smtp] idle_timeout`, e.g. "30s".
    pub smtp_idle_timeout: String,
    /// The keys of `[outbound]`. The default turns outbound delivery off,
    /// so that no test server ever tries to reach the Internet; tests of
    /// outbound mail point it at the test kit's DNS server and sinks.
    pub outbound: String,
}

impl Default for TestServerOptions {
    fn default() -> Self {
        Self {
            extra_config: String::new(),
            fsync: true,
            main_domain: "test.example".to_owned(),
            smtp_idle_timeout: "30s".to_owned(),
            outbound: "enabled = false".to_owned(),
        }
    }
}

/// The addresses the server reported for each listener.
#[derive(Debug, Clone)]
pub struct Ports {
    by_protocol: HashMap<String, SocketAddr>,
}

impl Ports {
    pub fn get(&self, protocol: &str) -> SocketAddr {
        *self.by_protocol.get(protocol).unwrap_or_else(|| panic!("no {protocol} listener"))
    }
    pub fn smtp(&self) -> SocketAddr {
        self.get("smtp")
    }
    pub fn submission(&self) -> SocketAddr {
        self.get("submission")
    }
    pub fn lmtp(&self) -> SocketAddr {
        self.get("lmtp")
    }
    pub fn pop3(&self) -> SocketAddr {
        self.get("pop3")
    }
    pub fn imap(&self) -> SocketAddr {
        self.get("imap")
    }
    pub fn admin(&self) -> SocketAddr {
        self.get("admin")
    }
}

/// A running `rookery serve` with its own temporary data directory.
pub struct TestServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    options: TestServerOptions,
    child: Option<Child>,
    pub ports: Ports,
    /// Everything the server printed on stdout at start-up.
    pub startup_output: String,
}

impl TestServer {
    /// Starts `binary` (the test's `env!("CARGO_BIN_EXE_rookery")`).
    pub fn start(binary: &str) -> anyhow::Result<TestServer> {
        Self::start_with(binary, TestServerOptions::default())
    }

    pub fn start_with(binary: &str, options: TestServerOptions) -> anyhow::Result<TestServer> {
        let dir = tempfile::Builder::new().prefix("rookery-test-").tempdir()?;
        let mut server = TestServer {
            binary: PathBuf::from(binary),
            dir,
            options,
            child: None,
            ports: Ports { by_protocol: HashMap::new() },
            startup_output: String::new(),
        };
        server.write_config()?;
        server.launch()?;
        Ok(server)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rookery.toml")
    }

    pub fn main_domain(&self) -> &str {
        &self.options.main_domain
    }

    /// The postmaster password made on first start.
    pub fn postmaster_password(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("postmaster.password"))
            .expect("postmaster.password exists after start")
            .trim()
            .to_owned()
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let config = format!(
            r#"data_dir = "{data}"
main_domain = "{domain}"

[smtp]
listen = ["127.0.0.1:0"]
idle_timeout = "{smtp_idle_timeout}"

[submission]
listen = ["127.0.0.1:0"]

[lmtp]
listen = ["127.0.0.1:0"]

[pop3]
listen = ["127.0.0.1:0"]

[imap]
listen = ["127.0.0.1:0"]

[admin]
listen = ["127.0.0.1:0"]

[webmail]
listen = ["127.0.0.1:0"]

[store]
fsync = {fsync}

[outbound]
{outbound}

{extra}
"#,
            data = self.data_dir().display(),
            domain = self.options.main_domain,
            fsync = self.options.fsync,
            smtp_idle_timeout = self.options.smtp_idle_timeout,
            outbound = self.options.outbound,
            extra = self.options.extra_config,
        );
        std::fs::write(self.config_path(), config)?;
        Ok(())
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let mut child = Command::new(&self.binary)
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .env("RUST_LOG", std::env::var("ROOKERY_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        self.child = Some(child);
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, lines_tx));
        let mut output = String::new();
        let mut ports = HashMap::new();
        loop {
            let line = match lines_rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => line,
                Err(_) => {
                    self.kill();
                    bail!("rookery did not become ready; it printed:\n{output}");
                }
            };
            output.push_str(&line);
            output.push('\n');
            if line.starts_with("rookery: ready") {
                break;
            }
            if let Some((protocol, addr)) = parse_listening(&line) {
                ports.insert(protocol, addr);
            }
        }
        self.ports = Ports { by_protocol: ports };
        self.startup_output = output;
        Ok(())
    }

    /// SIGKILL: no chance to flush or clean up, as in a power cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory. Listeners get
    /// new ports (see [`TestServer::ports`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.launch()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let child = self.child.as_mut().context("not running")?;
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let status = child.wait()?;
        self.child = None;
        Ok(status)
    }

    /// The process id, while it runs (to pause it with SIGSTOP).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.id())
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Runs `rookery <args>` as an admin command against this server.
    pub fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.admin_command(args).output()?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!("rookery {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(stdout)
    }

    /// The admin command, ready to run, for tests that look at failures.
    pub fn admin_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--config")
            .arg(self.config_path())
            .arg("--admin-url")
            .arg(format!("http://{}", self.ports.admin()))
            .args(args);
        command
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_lines(stdout: impl Read, lines: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if lines.send(line).is_err() {
            // The test stopped listening; keep draining so the server
            // never blocks on a full pipe.
            continue;
        }
    }
}

/// `rookery: smtp listening on 127.0.0.1:41234` (admin: `http://addr`).
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.strip_prefix("rookery: ")?;
    let (protocol, addr) = rest.split_once(" listening on ")?;
    let addr = addr.trim().trim_start_matches("http://");
    Some((protocol.to_owned(), addr.parse().ok()?))
}

//! Rookery, the server under test: the release binary started by
//! `testkit::TestServer` (`rookery serve`, free loopback ports, temporary
//! data, `[store] fsync = true`, connection limits raised for the IMAP
//! memory measurement's idle sessions), and its JSON admin API for
//! accounts, message counts and the queue. The relay suite starts its own,
//! with outbound mail going to the bench's sink.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use testkit::{TestServer, TestServerOptions};
use tokio::task::JoinSet;

/// Connection limits high enough for the idle IMAP sessions of the memory
/// measurement, all from 127.0.0.1 (the defaults are 4096 and 256).
const LIMITS: &str = "[limits]\nmax_connections = 20000\nmax_connections_per_ip = 20000\n";

/// Account creations in flight (each hashes a password).
const ACCOUNT_CONCURRENCY: usize = 4;

/// `rookery` next to this program: `target/release/rookery` when the bench
/// runs as `target/release/bench`.
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the bench program")?;
    let binary = exe.with_file_name("rookery");
    if !binary.exists() {
        bail!(
            "{} does not exist: build it with `cargo build --release -p rookery`, or pass --rookery-bin",
            binary.display()
        );
    }
    Ok(binary)
}

/// A running Rookery; stopped (SIGKILL) and its data removed when dropped.
pub struct Rookery {
    server: TestServer,
    admin: AdminApi,
}

/// A server's JSON admin API, as its postmaster.
pub struct AdminApi {
    http: reqwest::Client,
    api: String,
    postmaster: String,
    password: String,
}

impl Rookery {
    /// The server of the delivery, POP3 and IMAP suites (outbound mail
    /// off).
    pub async fn start(binary: &Path) -> anyhow::Result<Rookery> {
        Self::start_with(binary, TestServerOptions { extra_config: LIMITS.to_owned(), ..TestServerOptions::default() })
            .await
    }

    /// A server whose `[outbound]` section is `outbound` (TOML keys).
    pub async fn start_relaying(binary: &Path, outbound: String, fsync: bool) -> anyhow::Result<Rookery> {
        Self::start_with(binary, TestServerOptions { outbound, fsync, ..TestServerOptions::default() }).await
    }

    async fn start_with(binary: &Path, options: TestServerOptions) -> anyhow::Result<Rookery> {
        let binary = binary.to_str().context("the rookery path is not UTF-8")?.to_owned();
        // TestServer waits for the "ready" line with blocking reads.
        let server = tokio::task::spawn_blocking(move || TestServer::start_with(&binary, options)).await??;
        let admin = AdminApi::new(server.ports.admin(), server.main_domain(), server.postmaster_password());
        Ok(Rookery { server, admin })
    }

    pub fn domain(&self) -> &str {
        self.server.main_domain()
    }

    pub fn smtp(&self) -> SocketAddr {
        self.server.ports.smtp()
    }

    pub fn submission(&self) -> SocketAddr {
        self.server.ports.submission()
    }

    pub fn lmtp(&self) -> SocketAddr {
        self.server.ports.lmtp()
    }

    pub fn pop3(&self) -> SocketAddr {
        self.server.ports.pop3()
    }

    pub fn imap(&self) -> SocketAddr {
        self.server.ports.imap()
    }

    /// The server's process: the one started with this run's config file.
    pub fn pid(&self) -> anyhow::Result<u32> {
        let config = self.server.config_path();
        let config = config.to_str().context("the config path is not UTF-8")?;
        match crate::memory::with_argument(config)?[..] {
            [pid] => Ok(pid),
            ref pids => bail!("{} processes run with {config}", pids.len()),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.server.data_dir()
    }

    /// Creates `accounts` (no quota).
    pub async fn add_accounts(&self, accounts: &[String], password: &str) -> anyhow::Result<()> {
        self.admin.add_accounts(accounts, password).await
    }

    pub async fn queue_len(&self) -> anyhow::Result<usize> {
        self.admin.queue_len().await
    }

    pub async fn message_count(&self, account: &str) -> anyhow::Result<u64> {
        self.admin.message_count(account).await
    }
}

impl AdminApi {
    /// The API at `addr`, as `postmaster@<domain>` with `password`.
    pub fn new(addr: SocketAddr, domain: &str, password: String) -> AdminApi {
        AdminApi {
            http: reqwest::Client::new(),
            api: format!("http://{addr}/api/v1"),
            postmaster: format!("postmaster@{domain}"),
            password,
        }
    }

    /// Adds `domain` through `POST /api/v1/domains` (in a cluster: to the
    /// shared directory, so every member knows it).
    pub async fn add_domain(&self, domain: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}/domains", self.api))
            .basic_auth(&self.postmaster, Some(&self.password))
            .json(&serde_json::json!({ "name": domain }))
            .send()
            .await
            .with_context(|| format!("adding {domain}"))?;
        if !response.status().is_success() {
            bail!("adding {domain}: {} {}", response.status(), response.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// Creates `accounts` (no quota) through `POST /api/v1/accounts`.
    pub async fn add_accounts(&self, accounts: &[String], password: &str) -> anyhow::Result<()> {
        let mut requests = JoinSet::new();
        for account in accounts {
            if requests.len() >= ACCOUNT_CONCURRENCY {
                requests.join_next().await.expect("a request is in flight")??;
            }
            let request = self
                .http
                .post(format!("{}/accounts", self.api))
                .basic_auth(&self.postmaster, Some(&self.password))
                .json(&serde_json::json!({ "name": account, "password": password, "quota_bytes": null }));
            let account = account.clone();
            requests.spawn(async move {
                let response = request.send().await?;
                if !response.status().is_success() {
                    bail!("adding {account}: {} {}", response.status(), response.text().await.unwrap_or_default());
                }
                anyhow::Ok(())
            });
        }
        while let Some(result) = requests.join_next().await {
            result??;
        }
        Ok(())
    }

    /// The number of messages in the queue (`GET /api/v1/queue`).
    pub async fn queue_len(&self) -> anyhow::Result<usize> {
        let response = self
            .http
            .get(format!("{}/queue", self.api))
            .basic_auth(&self.postmaster, Some(&self.password))
            .send()
            .await
            .context("asking for the queue")?;
        if !response.status().is_success() {
            bail!("asking for the queue: {}", response.status());
        }
        let queue: serde_json::Value = response.json().await?;
        queue.as_array().map(Vec::len).with_context(|| format!("the queue is not a list: {queue}"))
    }

    /// The `messages` field of `GET /api/v1/accounts/{account}`.
    pub async fn message_count(&self, account: &str) -> anyhow::Result<u64> {
        let response = self
            .http
            .get(format!("{}/accounts/{account}", self.api))
            .basic_auth(&self.postmaster, Some(&self.password))
            .send()
            .await
            .with_context(|| format!("asking for {account}"))?;
        if !response.status().is_success() {
            bail!("asking for {account}: {}", response.status());
        }
        let detail: serde_json::Value = response.json().await?;
        detail["messages"].as_u64().with_context(|| format!("no `messages` in {detail}"))
    }
}

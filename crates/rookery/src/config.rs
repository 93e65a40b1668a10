//! The configuration file (TOML). Every key has a default that makes the
//! single server work on 127.0.0.1; `rookery.example.toml` at the
//! repository root documents each one. Unknown keys are errors, so a typo
//! is caught at start-up rather than silently ignored.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use types::DomainName;

mod cluster;
mod outbound;
mod webmail;
pub use cluster::{ClusterSection, DirectoryKind, DirectorySection, DynamicSection, Role};
pub use outbound::OutboundSection;
pub use webmail::WebmailSection;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where accounts, the queue, the directory and TLS files live.
    pub data_dir: PathBuf,
    /// This server's main domain; its postmaster administers the server.
    pub main_domain: String,
    /// The name this server gives itself in SMTP greetings and Received
    /// headers; defaults to the main domain.
    pub hostname: Option<String>,
    pub tls: TlsSection,
    pub smtp: SmtpSection,
    pub submission: SubmissionSection,
    pub lmtp: LmtpSection,
    pub pop3: Pop3Section,
    pub imap: ImapSection,
    pub admin: AdminSection,
    pub webmail: WebmailSection,
    pub queue: QueueSection,
    pub outbound: OutboundSection,
    pub directory: DirectorySection,
    pub cluster: ClusterSection,
    pub store: StoreSection,
    pub limits: LimitsSection,
    pub log: LogSection,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("rookery-data"),
            main_domain: "localhost".to_owned(),
            hostname: None,
            tls: TlsSection::default(),
            smtp: SmtpSection::default(),
            submission: SubmissionSection::default(),
            lmtp: LmtpSection::default(),
            pop3: Pop3Section::default(),
            imap: ImapSection::default(),
            admin: AdminSection::default(),
            webmail: WebmailSection::default(),
            queue: QueueSection::default(),
            outbound: OutboundSection::default(),
            directory: DirectorySection::default(),
            cluster: ClusterSection::default(),
            store: StoreSection::default(),
            limits: LimitsSection::default(),
            log: LogSection::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain; default `<data_dir>/tls/cert.pem`, made
    /// self-signed on first start when neither file exists.
    pub cert: Option<PathBuf>,
    /// PEM private key; default `<data_dir>/tls/key.pem`.
    pub key: Option<PathBuf>,
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().expect("default listen address parses")).collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSection {
    /// Addresses of the MX-role SMTP listener (STARTTLS offered).
    pub listen: Vec<SocketAddr>,
    /// The SIZE limit in bytes.
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Protocol errors after which the session is closed with 421.
    pub max_errors: usize,
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// More `Received:` headers than this is a mail loop (554 5.4.6).
    pub max_hops: usize,
}

impl Default for SmtpSection {
    fn default() -> Self {
        Self {
            listen: addrs(&["127.0.0.1:2525"]),
            max_message_size: 50 << 20,
            max_recipients: 1000,
            max_errors: 10,
            idle_timeout: Duration::from_secs(300),
            max_hops: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionSection {
    /// STARTTLS submission listeners (port 587 in production).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS submission listeners (port 465, RFC 8314).
    pub listen_tls: Vec<SocketAddr>,
    /// Allow AUTH without TLS from loopback clients (local tools).
    pub allow_plaintext_auth_on_loopback: bool,
    /// Allow AUTH without TLS from anywhere. Never in production.
    pub allow_plaintext_auth: bool,
}

impl Default for SubmissionSection {
    fn default() -> Self {
        Self {
            listen: addrs(&["127.0.0.1:2587"]),
            listen_tls: Vec::new(),
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmtpSection {
    /// LMTP listeners for local delivery by other tools. Keep them on
    /// loopback: LMTP has no authentication.
    pub listen: Vec<SocketAddr>,
}

impl Default for LmtpSection {
    fn default() -> Self {
        Self { listen: addrs(&["127.0.0.1:2424"]) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pop3Section {
    /// Plain POP3 listeners (STLS offered).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS POP3 listeners (port 995).
    pub listen_tls: Vec<SocketAddr>,
    pub allow_plaintext_auth_on_loopback: bool,
    pub allow_plaintext_auth: bool,
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for Pop3Section {
    fn default() -> Self {
        Self {
            listen: addrs(&["127.0.0.1:2110"]),
            listen_tls: Vec::new(),
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSection {
    /// Plain IMAP listeners (STARTTLS offered).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS IMAP listeners (port 993).
    pub listen_tls: Vec<SocketAddr>,
    pub allow_plaintext_auth_on_loopback: bool,
    pub allow_plaintext_auth: bool,
    /// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for ImapSection {
    fn default() -> Self {
        Self {
            listen: addrs(&["127.0.0.1:2143"]),
            listen_tls: Vec::new(),
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
            idle_timeout: Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    /// The JSON admin API (and later the web admin). Loopback by default.
    pub listen: Vec<SocketAddr>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self { listen: addrs(&["127.0.0.1:8010"]) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Deliveries in progress at once.
    pub delivery_concurrency: usize,
    /// Waits between attempts for a deferred recipient; the last repeats.
    #[serde(deserialize_with = "duration_list")]
    pub retry_schedule: Vec<Duration>,
    /// A recipient still deferred after this long fails for good.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// The sender is told once that a message is still deferred this long
    /// after it was queued; 0 never.
    #[serde(with = "humantime_serde")]
    pub delay_warning_after: Duration,
}

impl Default for QueueSection {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            delivery_concurrency: 64,
            retry_schedule: vec![minutes(5), minutes(15), minutes(30), minutes(60)],
            max_age: Duration::from_secs(5 * 24 * 3600),
            delay_warning_after: minutes(4 * 60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// fsync mail before acknowledging it. Turning this off loses
    /// acknowledged mail on a crash; only for throw-away test servers.
    pub fsync: bool,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { fsync: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Concurrent connections per listener.
    pub max_connections: usize,
    /// Concurrent connections per client IP address per listener.
    pub max_connections_per_ip: usize,
    /// Load balancers (addresses or networks) whose connections start
    /// with a HAProxy PROXY protocol header (v1 or v2) naming the client;
    /// limits and logs then see the client's address.
    pub proxy_protocol_from: Vec<String>,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let d = net::ListenerLimits::default();
        Self {
            max_connections: d.max_connections,
            max_connections_per_ip: d.max_per_ip,
            proxy_protocol_from: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// A tracing filter, e.g. `info,smtp=debug,store=warn`; `RUST_LOG`
    /// overrides it.
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self { filter: "info".to_owned() }
    }
}

/// A list of humantime durations (`["1m", "5m"]`).
fn duration_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let list: Vec<humantime_serde::Serde<Duration>> = Deserialize::deserialize(d)?;
    Ok(list.into_iter().map(|d| d.into_inner()).collect())
}

impl Config {
    /// Reads `path`, or returns the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        DomainName::parse(&self.main_domain).with_context(|| format!("main_domain {:?}", self.main_domain))?;
        if self.queue.retry_schedule.is_empty() {
            bail!("queue.retry_schedule must not be empty");
        }
        if self.queue.delivery_concurrency == 0 {
            bail!("queue.delivery_concurrency must be at least 1");
        }
        if self.smtp.max_hops == 0 {
            bail!("smtp.max_hops must be at least 1");
        }
        if self.smtp.max_recipients == 0 {
            bail!("smtp.max_recipients must be at least 1");
        }
        net::TrustedProxies::parse(&self.limits.proxy_protocol_from).context("limits.proxy_protocol_from")?;
        if self.outbound.connections_per_destination == 0 {
            bail!("outbound.connections_per_destination must be at least 1");
        }
        self.outbound.check_logins()?;
        self.webmail.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| anyhow::anyhow!("log.filter {:?}: {e}", self.log.filter))?;
        self.validate_cluster()?;
        // Routing errors name their key (`outbound.routes."x"`).
        routing::Router::check(&self.outbound.routing())?;
        Ok(())
    }

    fn validate_cluster(&self) -> anyhow::Result<()> {
        if self.directory.kind == DirectoryKind::Ldap {
            for (key, value) in [("url", &self.directory.url), ("base_dn", &self.directory.base_dn)] {
                if value.is_empty() {
                    bail!("directory.{key} must be set when directory.kind = \"ldap\"");
                }
            }
            self.validate_directory_urls()?;
        }
        if self.cluster.role != Role::Single {
            if self.directory.kind != DirectoryKind::Ldap {
                bail!("cluster.role needs directory.kind = \"ldap\": members share one directory");
            }
            let Some(link) = &self.cluster.link else { bail!("cluster.link must be set in a cluster") };
            link.validate().map_err(|e| anyhow::anyhow!("cluster.link.{}: {}", e.key, e.reason))?;
        }
        DomainName::parse(&self.server_name())
            .with_context(|| format!("cluster.server_name {:?}", self.server_name()))?;
        // Member names are server names, i.e. main domains (CM-2).
        for name in self.cluster.members.keys() {
            DomainName::parse(name).with_context(|| format!("cluster.members.{name:?}: not a server name"))?;
        }
        for name in &self.cluster.frontends {
            if !self.cluster.members.contains_key(name) && *name != self.server_name() {
                bail!("cluster.frontends: {name:?} is not in cluster.members");
            }
        }
        for name in self.cluster.services.keys() {
            DomainName::parse(name).with_context(|| format!("cluster.services.{name:?}: not a server name"))?;
        }
        self.validate_dynamic()?;
        let forward_to_frontends = self.outbound.forward_to.iter().any(|target| target.trim() == "*");
        if forward_to_frontends && self.cluster.role != Role::Frontend && self.cluster.frontends.is_empty() {
            bail!("outbound.forward_to = [\"*\"] sends mail to the frontends, but cluster.frontends names none");
        }
        Ok(())
    }

    fn validate_dynamic(&self) -> anyhow::Result<()> {
        for (name, peer) in &self.cluster.dynamic_clusters {
            DomainName::parse(name)
                .with_context(|| format!("cluster.dynamic_clusters.{name:?}: not a cluster name"))?;
            if peer.etcd.is_empty() {
                bail!("cluster.dynamic_clusters.{name:?}.etcd must name at least one etcd endpoint");
            }
        }
        let Some(dynamic) = &self.cluster.dynamic else { return Ok(()) };
        if !matches!(self.cluster.role, Role::Backend | Role::Symmetric) {
            bail!("cluster.dynamic needs cluster.role = \"backend\" or \"symmetric\": its members host accounts");
        }
        DomainName::parse(&dynamic.name).with_context(|| format!("cluster.dynamic.name {:?}", dynamic.name))?;
        if dynamic.name.eq_ignore_ascii_case(&self.server_name()) {
            bail!(
                "cluster.dynamic.name must differ from cluster.server_name: one names the cluster, the other this member"
            );
        }
        if dynamic.etcd.is_empty() {
            bail!("cluster.dynamic.etcd must name at least one etcd endpoint");
        }
        if dynamic.storage.as_os_str().is_empty() {
            bail!("cluster.dynamic.storage must name the storage root the members share");
        }
        if dynamic.lease_ttl < std::time::Duration::from_secs(2) {
            bail!("cluster.dynamic.lease_ttl must be at least 2s");
        }
        if dynamic.fence_margin.is_zero() || dynamic.fence_margin * 2 > dynamic.lease_ttl {
            bail!("cluster.dynamic.fence_margin must be above zero and at most half of lease_ttl");
        }
        Ok(())
    }

    /// The `hostServer` of the accounts this server makes: its dynamic
    /// cluster's name, or its own.
    pub fn hosted_name(&self) -> String {
        match &self.cluster.dynamic {
            Some(dynamic) => dynamic.name.clone(),
            None => self.server_name(),
        }
    }

    /// `directory.url` and each of `directory.replicas` is an LDAP URL,
    /// and no server is listed twice (a second entry would add nothing).
    fn validate_directory_urls(&self) -> anyhow::Result<()> {
        let url = &self.directory.url;
        directory::LdapOptions::check_url(url).map_err(|e| anyhow::anyhow!("directory.url {url:?}: {e}"))?;
        for (index, replica) in self.directory.replicas.iter().enumerate() {
            let key = format!("directory.replicas[{index}] {replica:?}");
            directory::LdapOptions::check_url(replica).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
            let mut earlier = std::iter::once(url).chain(&self.directory.replicas[..index]);
            if let Some(same) = earlier.find(|other| directory::LdapOptions::same_server(other, replica)) {
                bail!("{key}: the same server as {same:?} listed before it");
            }
        }
        Ok(())
    }

    /// This server's name in the directory's `hostServer`.
    pub fn server_name(&self) -> String {
        self.cluster.server_name.clone().unwrap_or_else(|| self.main_domain.clone())
    }

    pub fn main_domain(&self) -> DomainName {
        DomainName::parse(&self.main_domain).expect("validated at load")
    }

    pub fn hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(|| self.main_domain.clone())
    }
}

#[cfg(test)]
mod tests;

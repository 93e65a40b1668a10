//! `[outbound]`: delivery to other domains. The routing keys are those of
//! `routing::OutboundConfig` (where mail goes); the rest configure the
//! SMTP client (how it gets there).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSection {
    /// Deliver mail for other domains; when off it stays held in the queue.
    pub enabled: bool,
    /// The port of MX hosts (25; tests use others).
    pub smtp_port: u16,
    /// DNS servers to ask; empty: those of /etc/resolv.conf.
    pub dns_servers: Vec<SocketAddr>,
    /// Relay hosts ("smarthosts") that take all outbound mail, in order.
    pub relay: Vec<String>,
    /// "Forward to": like relay; `*` will mean all frontends of a cluster.
    pub forward_to: Vec<String>,
    /// Static routes: domain (or `*.domain`) to hosts.
    pub routes: BTreeMap<String, Vec<String>>,
    #[serde(with = "humantime_serde")]
    pub resolve_timeout: Duration,
    /// STARTTLS to other servers: "opportunistic", "required", "disabled".
    pub tls: TlsMode,
    /// Connections open at once to one destination address.
    pub connections_per_destination: usize,
    /// An idle connection to a destination is kept this long for the next
    /// message.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long to wait for a connection and for each reply (RFC 5321
    /// §4.5.3.2 suggests minutes; the end of data gets twice this).
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// Logins at servers that want one (a provider's relay host), by the
    /// server's name as routes, relay and forward_to give it.
    pub logins: BTreeMap<String, Login>,
}

/// `[outbound.logins."relay.example.net"]`: AUTH PLAIN (or LOGIN) after
/// STARTTLS; never sent without TLS except to a loopback address.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub user: String,
    #[serde(default)]
    pub password: Option<String>,
    /// A file whose first line is the password (kept out of the config).
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("user", &self.user).field("password_file", &self.password_file).finish()
    }
}

impl Login {
    fn password(&self, host: &str) -> anyhow::Result<String> {
        let key = format!("outbound.logins.{host:?}");
        match (&self.password, &self.password_file) {
            (Some(password), None) => Ok(password.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("{key}.password_file {}: {e}", path.display()))?;
                let password = text.lines().next().unwrap_or_default().to_owned();
                if password.is_empty() {
                    anyhow::bail!("{key}.password_file {} is empty", path.display());
                }
                Ok(password)
            }
            _ => anyhow::bail!("{key}: set exactly one of password and password_file"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Opportunistic,
    Required,
    Disabled,
}

impl Default for OutboundSection {
    fn default() -> Self {
        let routing = routing::OutboundConfig::default();
        Self {
            enabled: true,
            smtp_port: routing.smtp_port,
            dns_servers: routing.dns_servers,
            relay: routing.relay,
            forward_to: routing.forward_to,
            routes: routing.routes,
            resolve_timeout: routing.resolve_timeout,
            tls: TlsMode::Opportunistic,
            connections_per_destination: 4,
            idle_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(300),
            logins: BTreeMap::new(),
        }
    }
}

impl OutboundSection {
    pub fn routing(&self) -> routing::OutboundConfig {
        routing::OutboundConfig {
            smtp_port: self.smtp_port,
            dns_servers: self.dns_servers.clone(),
            relay: self.relay.clone(),
            forward_to: self.forward_to.clone(),
            routes: self.routes.clone(),
            resolve_timeout: self.resolve_timeout,
        }
    }

    /// Each login's password, read now: a missing password file is a
    /// start-up error naming its key, not a failed delivery later.
    pub fn check_logins(&self) -> anyhow::Result<()> {
        for (host, login) in &self.logins {
            login.password(host)?;
        }
        Ok(())
    }

    /// The client and pool settings, saying `helo_name` in EHLO.
    pub fn client(&self, helo_name: &str) -> anyhow::Result<(smtp_client::ClientConfig, smtp_client::PoolLimits)> {
        let mut client = smtp_client::ClientConfig::new(helo_name);
        for (host, login) in &self.logins {
            let credentials = smtp_client::Credentials { user: login.user.clone(), password: login.password(host)? };
            client.logins.insert(host.to_ascii_lowercase(), credentials);
        }
        client.tls_policy = match self.tls {
            TlsMode::Opportunistic => smtp_client::TlsPolicy::Opportunistic,
            TlsMode::Required => smtp_client::TlsPolicy::Required,
            TlsMode::Disabled => smtp_client::TlsPolicy::Disabled,
        };
        let mut timeouts = smtp_client::Timeouts::all(self.command_timeout);
        timeouts.connect = self.command_timeout.min(Duration::from_secs(30));
        timeouts.final_dot = self.command_timeout.saturating_mul(2);
        client.timeouts = timeouts;
        // Every connection the limit allows may stay idle for the next
        // message: closing and reopening them cost a third of the relay's
        // CPU under load (BENCHMARKS.md, relay).
        let limits = smtp_client::PoolLimits {
            per_destination: self.connections_per_destination,
            idle_timeout: self.idle_timeout,
            max_idle_per_destination: self.connections_per_destination,
            max_messages_per_connection: 1000,
        };
        Ok((client, limits))
    }
}

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

    /// The client and pool settings, saying `helo_name` in EHLO.
    pub fn client(&self, helo_name: &str) -> (smtp_client::ClientConfig, smtp_client::PoolLimits) {
        let mut client = smtp_client::ClientConfig::new(helo_name);
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
        (client, limits)
    }
}

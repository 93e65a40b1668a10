//! The `[outbound]` section of the configuration file.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// How outbound mail finds its next hop. The binary embeds this as
/// `[outbound]`; [`crate::Router::new`] validates it, naming the key of
/// any bad value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// The port of MX hosts, implicit-MX hosts, address literals and
    /// configured hosts written without a port. 25 in production.
    pub smtp_port: u16,
    /// DNS servers to ask (UDP, and TCP for long answers). Empty: the
    /// system's `/etc/resolv.conf`.
    pub dns_servers: Vec<SocketAddr>,
    /// Smarthosts, `host[:port]`, tried in order: when not empty, mail for
    /// every remote domain without a static route goes to them, with no
    /// MX lookup.
    pub relay: Vec<String>,
    /// CommuniGate's "forward to": the same effect as `relay`. `*` means
    /// "all frontends of the cluster", which this server does not know yet,
    /// so routing through it fails temporarily.
    pub forward_to: Vec<String>,
    /// Static routes: domain -> hosts `host[:port]` in order. A host
    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]` or a bare IP address is used
    /// without DNS. A key `*.example.com` matches every subdomain of
    /// example.com (not example.com itself); the most specific key wins.
    pub routes: BTreeMap<String, Vec<String>>,
    /// The longest one resolution may take, all its DNS queries together
    /// (e.g. "30s"); past it the domain fails temporarily.
    #[serde(with = "humantime_serde")]
    pub resolve_timeout: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            smtp_port: 25,
            dns_servers: Vec::new(),
            relay: Vec::new(),
            forward_to: Vec::new(),
            routes: BTreeMap::new(),
            resolve_timeout: Duration::from_secs(30),
        }
    }
}

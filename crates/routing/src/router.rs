//! [`Router`]: the rules in order, and the time limit around them.

use crate::config::OutboundConfig;
use crate::destination::{Destination, Destinations};
use crate::dns::{Dns, LookupFailure};
use crate::domain::{absolute_name, canonical_domain};
use crate::error::{ConfigError, RouteError};
use crate::host::{ForwardTarget, HostSpec, address_literal};
use crate::mx::route_by_mx;
use crate::route_table::{RouteTable, parse_hosts};
use hickory_resolver::proto::rr::Name;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One DNS query waits at most this long (less when `resolve_timeout` is
/// shorter), so that a server that does not answer leaves time to ask
/// again within the resolution's limit.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Decides where mail for a domain goes. Cheap to share (`&self`); the DNS
/// resolver inside runs its queries on the caller's tokio runtime.
pub struct Router {
    smtp_port: u16,
    routes: RouteTable,
    relay: Vec<HostSpec>,
    forward_to: Vec<ForwardTarget>,
    resolve_timeout: Duration,
    dns: Dns,
}

/// What a configuration says, checked.
struct Parsed {
    routes: RouteTable,
    relay: Vec<HostSpec>,
    forward_to: Vec<ForwardTarget>,
}

impl Router {
    /// Checks `config` and builds the resolver (reading resolv.conf when
    /// `dns_servers` is empty). Needs no runtime; [`Router::resolve`] does.
    pub fn new(config: &OutboundConfig) -> Result<Router, ConfigError> {
        let Parsed { routes, relay, forward_to } = Router::parse(config)?;
        Ok(Router {
            smtp_port: config.smtp_port,
            routes,
            relay,
            forward_to,
            resolve_timeout: config.resolve_timeout,
            dns: Dns::new(&config.dns_servers, config.resolve_timeout.min(QUERY_TIMEOUT))?,
        })
    }

    /// The checks of [`Router::new`] without building a resolver: for a
    /// configuration that is only being loaded (by an admin command, say).
    pub fn check(config: &OutboundConfig) -> Result<(), ConfigError> {
        Router::parse(config).map(|_| ())
    }

    fn parse(config: &OutboundConfig) -> Result<Parsed, ConfigError> {
        if config.smtp_port == 0 {
            return Err(ConfigError::new("outbound.smtp_port", "must be 1-65535"));
        }
        if config.resolve_timeout.is_zero() {
            return Err(ConfigError::new("outbound.resolve_timeout", "must be more than 0"));
        }
        let port = config.smtp_port;
        let relay =
            if config.relay.is_empty() { Vec::new() } else { parse_hosts("outbound.relay", &config.relay, port)? };
        let forward_to = config
            .forward_to
            .iter()
            .map(|target| {
                ForwardTarget::parse(target, port)
                    .ok_or_else(|| ConfigError::new("outbound.forward_to", format!("bad host {target:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !relay.is_empty() && !forward_to.is_empty() {
            // Both mean "send everything there"; which list wins would be
            // a guess.
            return Err(ConfigError::new("outbound.forward_to", "cannot be set together with outbound.relay"));
        }
        Ok(Parsed { routes: RouteTable::parse(&config.routes, port)?, relay, forward_to })
    }

    /// Where mail for `domain` goes, in the order to try: a static route
    /// for it; else the relay or forward-to hosts; else, for an address
    /// literal (`[192.0.2.1]`), that address; else the MX hosts, or the
    /// domain's own addresses when it has no MX. Never empty when `Ok`.
    pub async fn resolve(&self, domain: &str) -> Result<Vec<Destination>, RouteError> {
        let domain = domain.trim();
        let target = match address_literal(domain) {
            Some(ip) => Target::Literal(ip),
            None => Target::Domain(
                canonical_domain(domain)
                    .ok_or_else(|| RouteError::permanent("5.1.3", format!("{domain:?} is not a valid domain")))?,
            ),
        };
        match tokio::time::timeout(self.resolve_timeout, self.resolve_target(&target)).await {
            Ok(result) => result,
            Err(_) => Err(RouteError::temporary(
                "4.4.3",
                format!("the DNS lookups for {domain} took longer than {:?}", self.resolve_timeout),
            )),
        }
    }

    async fn resolve_target(&self, target: &Target) -> Result<Vec<Destination>, RouteError> {
        if let Target::Domain(domain) = target
            && let Some(hosts) = self.routes.find(domain)
        {
            return self.route_to_hosts(hosts, &format!("the route for {domain}")).await;
        }
        // A smarthost takes address literals too: where it is configured,
        // direct connections are often not allowed out.
        if !self.relay.is_empty() {
            return self.route_to_hosts(&self.relay, "outbound.relay").await;
        }
        if !self.forward_to.is_empty() {
            let mut hosts = Vec::new();
            for target in &self.forward_to {
                match target {
                    ForwardTarget::Host(host) => hosts.push(host.clone()),
                    // Trying only the named hosts would silently skip
                    // the frontends: wait until the cluster knows them.
                    ForwardTarget::AllFrontends => {
                        return Err(RouteError::temporary("4.3.5", "cluster frontends are not known on this server"));
                    }
                }
            }
            return self.route_to_hosts(&hosts, "outbound.forward_to").await;
        }
        match target {
            Target::Literal(ip) => {
                let addr = SocketAddr::new(*ip, self.smtp_port);
                Ok(vec![Destination { name: ip.to_string(), addr, preference: 0 }])
            }
            Target::Domain(domain) => route_by_mx(&self.dns, domain, self.smtp_port).await,
        }
    }

    /// Configured hosts, in order; names are looked up for addresses (not
    /// MX). A host without addresses is skipped; none at all is a
    /// temporary error, since the configuration, not the recipient's
    /// domain, is at fault.
    async fn route_to_hosts(&self, hosts: &[HostSpec], what: &str) -> Result<Vec<Destination>, RouteError> {
        // Positions line up with `hosts`; addresses need no lookup.
        let names: Vec<Option<Name>> = hosts
            .iter()
            .map(|host| match host {
                HostSpec::Name { name, .. } => absolute_name(name),
                HostSpec::Address(_) => None,
            })
            .collect();
        let to_look_up: Vec<Name> = names.iter().flatten().cloned().collect();
        let mut lookups = self.dns.addresses_of_all(&to_look_up).await.into_iter();
        let mut destinations = Destinations::default();
        let mut failures = Vec::new();
        for (position, (host, dns_name)) in hosts.iter().zip(&names).enumerate() {
            let preference = u16::try_from(position).unwrap_or(u16::MAX);
            match (host, dns_name) {
                (HostSpec::Address(addr), _) => {
                    destinations.add_host(&addr.ip().to_string(), preference, addr.port(), &[addr.ip()])
                }
                (HostSpec::Name { name, .. }, None) => failures.push(format!("{name} is not a DNS name")),
                (HostSpec::Name { name, port }, Some(_)) => match lookups.next() {
                    Some(Ok(addresses)) => destinations.add_host(name, preference, *port, &addresses),
                    Some(Err(LookupFailure::Temporary(why))) => failures.push(format!("{name}: {why}")),
                    Some(Err(LookupFailure::NxDomain)) => failures.push(format!("{name} does not exist")),
                    Some(Err(LookupFailure::NoRecords)) | None => failures.push(format!("{name} has no address")),
                },
            }
        }
        if destinations.is_empty() {
            return Err(RouteError::temporary(
                "4.4.3",
                format!("no host of {what} has an address ({})", failures.join("; ")),
            ));
        }
        Ok(destinations.into_vec())
    }
}

/// What a recipient's domain part names.
enum Target {
    /// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
    Literal(IpAddr),
    /// A domain in canonical form.
    Domain(String),
}

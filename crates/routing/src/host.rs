//! Configured next hops: `host[:port]` and address literals.

use crate::domain::canonical_domain;
use std::net::{IpAddr, SocketAddr};

/// One configured host, parsed from `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    /// A host name (canonical: ASCII, lower case), whose AAAA and A records
    /// are looked up (not its MX: the operator named the host itself).
    Name { name: String, port: u16 },
    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[2001:db8::1]:2525` or a bare
    /// IP address: used as is, without DNS.
    Address(SocketAddr),
}

impl HostSpec {
    /// Parses `host[:port]`; `default_port` when no port is given. `None`
    /// when the text is not a host name or address, or the port is not
    /// 1-65535.
    pub fn parse(text: &str, default_port: u16) -> Option<HostSpec> {
        let text = text.trim();
        if text.starts_with('[') {
            let end = text.find(']')?;
            let ip = address_literal(&text[..=end])?;
            let port = match &text[end + 1..] {
                "" => default_port,
                rest => parse_port(rest.strip_prefix(':')?)?,
            };
            return Some(HostSpec::Address(SocketAddr::new(ip, port)));
        }
        // A bare IPv6 address has colons of its own, so try the whole text
        // as an address before splitting off a port.
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(HostSpec::Address(SocketAddr::new(ip, default_port)));
        }
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, parse_port(port)?),
            None => (text, default_port),
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            // 2001:db8::1:25 was caught above; this is 192.0.2.1:2525.
            return Some(HostSpec::Address(SocketAddr::new(ip, port)));
        }
        Some(HostSpec::Name { name: canonical_domain(host)?, port })
    }
}

/// An RFC 5321 address literal, brackets included: `[192.0.2.1]` or
/// `[IPv6:2001:db8::1]`. A bracketed IPv6 address without the tag is also
/// taken, since operators write it that way in `host:port` lists.
pub(crate) fn address_literal(text: &str) -> Option<IpAddr> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let tagged_v6 = inner.get(..5).filter(|tag| tag.eq_ignore_ascii_case("IPv6:")).map(|_| &inner[5..]);
    match tagged_v6 {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        None => inner.parse::<IpAddr>().ok(),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    let all_digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u16>().ok().filter(|port| all_digits && *port != 0)
}

/// One entry of `outbound.forward_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardTarget {
    Host(HostSpec),
    /// `*`: every frontend of the cluster. This server does not know them
    /// yet, so a route through it fails temporarily.
    AllFrontends,
}

impl ForwardTarget {
    pub fn parse(text: &str, default_port: u16) -> Option<ForwardTarget> {
        if text.trim() == "*" {
            return Some(ForwardTarget::AllFrontends);
        }
        HostSpec::parse(text, default_port).map(ForwardTarget::Host)
    }
}

#[cfg(test)]
mod tests;

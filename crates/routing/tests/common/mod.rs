//! Shared by the routing tests: a router pointed at a test DNS server.
//! Routing only looks names up; nothing connects to the addresses in the
//! test zones (documentation ranges, RFC 5737 and RFC 3849).
#![allow(dead_code)]

use routing::{Destination, OutboundConfig, RouteError, Router};
use std::time::Duration;
use testkit::dns::DnsServer;

/// The port the tests configure instead of 25.
pub const PORT: u16 = 2525;

pub fn config(dns: &DnsServer) -> OutboundConfig {
    OutboundConfig {
        smtp_port: PORT,
        dns_servers: vec![dns.addr()],
        resolve_timeout: Duration::from_secs(10),
        ..OutboundConfig::default()
    }
}

pub fn router(dns: &DnsServer) -> Router {
    Router::new(&config(dns)).expect("test config is valid")
}

/// `name addr preference` per destination, for readable assertions.
pub fn describe(destinations: &[Destination]) -> Vec<String> {
    destinations.iter().map(|d| format!("{} {} {}", d.name, d.addr, d.preference)).collect()
}

pub async fn resolve_ok(router: &Router, domain: &str) -> Vec<String> {
    match router.resolve(domain).await {
        Ok(destinations) => describe(&destinations),
        Err(error) => panic!("resolving {domain}: {error}"),
    }
}

pub async fn resolve_err(router: &Router, domain: &str) -> RouteError {
    match router.resolve(domain).await {
        Ok(destinations) => panic!("resolving {domain} gave {:?}", describe(&destinations)),
        Err(error) => error,
    }
}

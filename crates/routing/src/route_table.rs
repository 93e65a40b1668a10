//! `outbound.routes`: static per-domain routes, exact and `*.domain`.

use crate::domain::canonical_domain;
use crate::error::ConfigError;
use crate::host::HostSpec;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    exact: HashMap<String, Vec<HostSpec>>,
    /// Keyed by the parent: `*.example.com` is stored as `example.com`.
    subdomains_of: HashMap<String, Vec<HostSpec>>,
}

impl RouteTable {
    pub(crate) fn parse(routes: &BTreeMap<String, Vec<String>>, default_port: u16) -> Result<RouteTable, ConfigError> {
        let mut table = RouteTable::default();
        for (key, hosts) in routes {
            let config_key = format!("outbound.routes.{key:?}");
            let parsed = parse_hosts(&config_key, hosts, default_port)?;
            let (map, domain) = match key.strip_prefix("*.") {
                Some(parent) => (&mut table.subdomains_of, parent),
                None => (&mut table.exact, key.as_str()),
            };
            let domain = canonical_domain(domain)
                .ok_or_else(|| ConfigError::new(&config_key, "the key must be a domain or *.domain"))?;
            // "Example.com" and "example.com" are the same key; two routes
            // for it would make the choice depend on map order.
            if map.insert(domain, parsed).is_some() {
                return Err(ConfigError::new(&config_key, "another key names the same domain"));
            }
        }
        Ok(table)
    }

    /// The route for a canonical domain: its exact key, else the closest
    /// `*.parent` key.
    pub(crate) fn find(&self, domain: &str) -> Option<&[HostSpec]> {
        if let Some(hosts) = self.exact.get(domain) {
            return Some(hosts);
        }
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(hosts) = self.subdomains_of.get(parent) {
                return Some(hosts);
            }
            rest = parent;
        }
        None
    }
}

/// A non-empty list of `host[:port]`, every entry valid.
pub(crate) fn parse_hosts(config_key: &str, hosts: &[String], default_port: u16) -> Result<Vec<HostSpec>, ConfigError> {
    if hosts.is_empty() {
        return Err(ConfigError::new(config_key, "no hosts"));
    }
    hosts
        .iter()
        .map(|host| {
            HostSpec::parse(host, default_port)
                .ok_or_else(|| ConfigError::new(config_key, format!("bad host {host:?}")))
        })
        .collect()
}

#[cfg(test)]
mod tests;

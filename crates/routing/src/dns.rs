//! The hickory resolver as routing uses it: MX records and a host's
//! addresses, with failures sorted into "does not exist", "has no such
//! records" and "try again".

use crate::error::ConfigError;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Responses hickory may cache (it honours each record's TTL). Bounded so
/// that mail to many distinct domains cannot grow memory without limit.
const CACHE_RESPONSES: u64 = 4096;

/// How one lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupFailure {
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// The name exists but has no records of this type (NODATA).
    NoRecords,
    /// SERVFAIL, a timeout, no server answering: the answer is unknown.
    Temporary(String),
}

impl From<NetError> for LookupFailure {
    fn from(error: NetError) -> LookupFailure {
        if error.is_nx_domain() {
            LookupFailure::NxDomain
        } else if error.is_no_records_found() {
            LookupFailure::NoRecords
        } else {
            LookupFailure::Temporary(error.to_string())
        }
    }
}

pub(crate) struct MxRecord {
    pub(crate) preference: u16,
    pub(crate) exchange: Name,
}

#[derive(Clone)]
pub(crate) struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// `servers` empty: the system's resolv.conf. `query_timeout` is for
    /// one query; the router bounds the whole resolution separately.
    pub(crate) fn new(servers: &[SocketAddr], query_timeout: Duration) -> Result<Dns, ConfigError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if servers.is_empty() {
            TokioResolver::builder(provider).map_err(|error| {
                ConfigError::new(
                    "outbound.dns_servers",
                    format!("not set, and the system resolver configuration could not be read: {error}"),
                )
            })?
        } else {
            let name_servers = servers
                .iter()
                .map(|server| {
                    let mut config = NameServerConfig::udp_and_tcp(server.ip());
                    for connection in &mut config.connections {
                        connection.port = server.port();
                    }
                    config
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(name_servers), provider)
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = query_timeout;
        options.cache_size = CACHE_RESPONSES;
        // Mail routing follows DNS only (as Postfix's smtp_host_lookup=dns
        // does); /etc/hosts is for the machine's own programs.
        options.use_hosts_file = ResolveHosts::Never;
        let resolver = builder
            .build()
            .map_err(|error| ConfigError::new("outbound.dns_servers", format!("cannot build the resolver: {error}")))?;
        Ok(Dns { resolver })
    }

    /// The MX records of `name` (CNAMEs followed by hickory). An answer
    /// without MX records (only a CNAME) counts as no records.
    pub(crate) async fn mx(&self, name: &Name) -> Result<Vec<MxRecord>, LookupFailure> {
        let lookup = self.resolver.mx_lookup(name.clone()).await?;
        let records: Vec<MxRecord> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some(MxRecord { preference: mx.preference, exchange: mx.exchange.clone() }),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(LookupFailure::NoRecords);
        }
        Ok(records)
    }

    /// The AAAA then A addresses of `name`, each family in answer order,
    /// queried at the same time. One family failing while the other has
    /// addresses still gives those addresses.
    pub(crate) async fn addresses(&self, name: &Name) -> Result<Vec<IpAddr>, LookupFailure> {
        let (v6, v4) = tokio::join!(self.resolver.ipv6_lookup(name.clone()), self.resolver.ipv4_lookup(name.clone()));
        let mut addresses = Vec::new();
        let mut failures = Vec::new();
        for result in [v6, v4] {
            match result {
                Ok(lookup) => addresses.extend(lookup.answers().iter().filter_map(|record| match &record.data {
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    _ => None,
                })),
                Err(error) => failures.push(LookupFailure::from(error)),
            }
        }
        if !addresses.is_empty() {
            return Ok(addresses);
        }
        // Nothing found: "try again" beats "no records", which beats
        // "does not exist" (both families must agree on that).
        if let Some(temporary) = failures.iter().find(|failure| matches!(failure, LookupFailure::Temporary(_))) {
            return Err(temporary.clone());
        }
        if failures.len() == 2 && failures.iter().all(|failure| *failure == LookupFailure::NxDomain) {
            return Err(LookupFailure::NxDomain);
        }
        Err(LookupFailure::NoRecords)
    }

    /// [`Dns::addresses`] of every name at once, in the order given: one
    /// slow name does not hold up the others' share of the time limit.
    pub(crate) async fn addresses_of_all(&self, names: &[Name]) -> Vec<Result<Vec<IpAddr>, LookupFailure>> {
        let mut lookups = tokio::task::JoinSet::new();
        for (index, name) in names.iter().enumerate() {
            let dns = self.clone();
            let name = name.clone();
            lookups.spawn(async move { (index, dns.addresses(&name).await) });
        }
        let mut results = vec![Err(LookupFailure::Temporary("the lookup task failed".to_owned())); names.len()];
        while let Some(joined) = lookups.join_next().await {
            if let Ok((index, result)) = joined {
                results[index] = result;
            }
        }
        results
    }
}

//! Routing by DNS (RFC 5321 §5.1): MX records by preference, equal
//! preferences shuffled, each host's addresses; no MX records means the
//! domain's own addresses (implicit MX); a null MX (RFC 7505) refuses mail.

use crate::destination::{Destination, Destinations, MAX_MX_HOSTS};
use crate::dns::{Dns, LookupFailure, MxRecord};
use crate::domain::{absolute_name, display_name};
use crate::error::RouteError;
use rand::seq::SliceRandom;
use std::collections::HashSet;

pub(crate) async fn route_by_mx(dns: &Dns, domain: &str, port: u16) -> Result<Vec<Destination>, RouteError> {
    let name = absolute_name(domain)
        .ok_or_else(|| RouteError::permanent("5.1.3", format!("{domain:?} is not a valid domain")))?;
    match dns.mx(&name).await {
        Ok(records) => route_to_exchangers(dns, domain, records, port).await,
        Err(LookupFailure::NoRecords) => implicit_mx(dns, domain, port).await,
        Err(LookupFailure::NxDomain) => Err(does_not_exist(domain)),
        Err(LookupFailure::Temporary(why)) => {
            Err(RouteError::temporary("4.4.3", format!("the DNS lookup of the MX records of {domain} failed: {why}")))
        }
    }
}

fn does_not_exist(domain: &str) -> RouteError {
    RouteError::permanent("5.1.2", format!("domain {domain} does not exist"))
}

async fn route_to_exchangers(
    dns: &Dns,
    domain: &str,
    records: Vec<MxRecord>,
    port: u16,
) -> Result<Vec<Destination>, RouteError> {
    let exchangers = order_exchangers(records)
        .ok_or_else(|| RouteError::permanent("5.1.10", format!("domain {domain} accepts no mail (null MX)")))?;
    let names: Vec<_> = exchangers.iter().map(|mx| mx.exchange.clone()).collect();
    let mut destinations = Destinations::default();
    let mut temporary_failure = None;
    for (mx, result) in exchangers.iter().zip(dns.addresses_of_all(&names).await) {
        let host = display_name(&mx.exchange);
        match result {
            Ok(addresses) => destinations.add_host(&host, mx.preference, port, &addresses),
            // An MX host without addresses is skipped (§5.1); the others
            // may still take the mail.
            Err(LookupFailure::Temporary(why)) => temporary_failure = Some(format!("{host}: {why}")),
            Err(LookupFailure::NoRecords | LookupFailure::NxDomain) => {}
        }
    }
    tracing::debug!(target: "routing", domain, n_exchangers = exchangers.len(), "routed by MX");
    if destinations.is_empty() {
        // The domain's operators may be fixing their zone: retry rather
        // than bounce.
        let detail = temporary_failure.map(|why| format!(" ({why})")).unwrap_or_default();
        return Err(RouteError::temporary("4.4.3", format!("no mail exchanger of {domain} has an address{detail}")));
    }
    Ok(destinations.into_vec())
}

/// The exchangers in the order to try: by preference, equal preferences in
/// random order so that senders spread their load (§5.1), each host once,
/// at most [`MAX_MX_HOSTS`]. `None` for a null MX: a single MX whose
/// exchange is the root. A root exchange among other records breaks
/// RFC 7505 and is only dropped.
fn order_exchangers(mut records: Vec<MxRecord>) -> Option<Vec<MxRecord>> {
    if let [only] = records.as_slice()
        && only.exchange.is_root()
    {
        return None;
    }
    records.retain(|mx| !mx.exchange.is_root());
    records.shuffle(&mut rand::rng());
    // Stable: the shuffled order survives within each preference.
    records.sort_by_key(|mx| mx.preference);
    // A set: a hostile answer may hold thousands of records.
    let mut seen = HashSet::new();
    records.retain(|mx| seen.insert(display_name(&mx.exchange)));
    records.truncate(MAX_MX_HOSTS);
    Some(records)
}

async fn implicit_mx(dns: &Dns, domain: &str, port: u16) -> Result<Vec<Destination>, RouteError> {
    let name = absolute_name(domain)
        .ok_or_else(|| RouteError::permanent("5.1.3", format!("{domain:?} is not a valid domain")))?;
    match dns.addresses(&name).await {
        Ok(addresses) => {
            let mut destinations = Destinations::default();
            destinations.add_host(domain, 0, port, &addresses);
            tracing::debug!(target: "routing", domain, "routed by implicit MX");
            Ok(destinations.into_vec())
        }
        Err(LookupFailure::NoRecords) => {
            Err(RouteError::permanent("5.4.4", format!("domain {domain} has no MX and no address records")))
        }
        Err(LookupFailure::NxDomain) => Err(does_not_exist(domain)),
        Err(LookupFailure::Temporary(why)) => {
            Err(RouteError::temporary("4.4.3", format!("the DNS lookup of the addresses of {domain} failed: {why}")))
        }
    }
}

//! This member's part in a dynamic cluster (CM-11..CM-14): every member
//! can open any account on the shared storage, and at most one has it
//! open at a time. Ownership lives in etcd (`coord`): opening an account
//! means owning its key under this member's lease.
//!
//! - [`Accounts`] is the member's table of the accounts it has open: the
//!   store asks it before opening or writing one (`store::Fence`), the
//!   locator and the login proxy ask it where an account is served, and
//!   it opens (acquires) and hands over (releases) accounts one at a time
//!   each.
//! - [`DynamicLocator`] answers "where does this account live" for the
//!   rest of the server: here once owned, else on its owner.
//! - [`upkeep`] drops every account when the lease is lost (self-fencing),
//!   releases accounts left idle, and publishes the member's queue size.
//! - [`controller`] is the cluster-wide singleton work of the member that
//!   wins the election (CM-12): the queues of dead members.

mod accounts;
pub mod controller;
mod locator;
mod lookup;
mod peers;
mod registry;
pub mod status;
pub mod upkeep;

#[cfg(test)]
mod tests;

pub use accounts::Accounts;
pub use locator::DynamicLocator;
pub use lookup::{DynamicBackends, PeerBackends};
pub use peers::PeerClusters;

use crate::config::{Config, DynamicSection};
use crate::member::reachable;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where an account whose `hostServer` names another server is: on that
/// server, or, when it names a dynamic cluster this member knows
/// (`peers`), on the member of it that serves the account.
pub async fn locate_on(
    peers: Option<&PeerClusters>,
    server: &types::DomainName,
    account: &types::AccountName,
) -> Result<cluster::Location, cluster::LocateError> {
    match peers.filter(|peers| peers.is_cluster(server)) {
        Some(peers) => match peers.member_for(server, account).await {
            Ok((member, _)) => Ok(cluster::Location::Elsewhere { server: member }),
            Err(reason) => Err(cluster::LocateError::Unavailable { account: account.clone(), reason }),
        },
        None => Ok(cluster::Location::Elsewhere { server: server.to_string() }),
    }
}

/// Where a dynamic member keeps what the members share.
pub struct SharedPaths {
    /// The account store's root: `<storage>/accounts`.
    pub accounts: PathBuf,
    /// This member's queue: `<storage>/queues/<member>`.
    pub queue: PathBuf,
    /// Every member's queue directory: `<storage>/queues`.
    pub queues: PathBuf,
}

impl SharedPaths {
    pub fn new(dynamic: &DynamicSection, member: &str) -> Self {
        let queues = dynamic.storage.join("queues");
        Self { accounts: dynamic.storage.join("accounts"), queue: queues.join(member), queues }
    }
}

/// The coordination settings of this member.
pub fn coord_config(config: &Config, dynamic: &DynamicSection) -> coord::CoordConfig {
    coord::CoordConfig {
        endpoints: dynamic.etcd.clone(),
        cluster: dynamic.name.clone(),
        member: config.server_name(),
        lease_ttl: dynamic.lease_ttl,
        fence_margin: dynamic.fence_margin,
    }
}

/// What this member tells the others about itself (the registry in etcd):
/// where its listeners are, as bound (`bound`: listener name and address;
/// a port chosen by the system is known only then), with an unspecified
/// IP replaced by the cluster link's.
pub fn member_info(config: &Config, bound: &[(&str, SocketAddr)], link: Option<SocketAddr>) -> coord::MemberInfo {
    let cluster_ip = link.map(|addr| addr.ip()).filter(|ip| !ip.is_unspecified());
    let first = |name: &str| {
        bound.iter().filter(|(listener, _)| *listener == name).find_map(|&(_, addr)| reachable(addr, cluster_ip))
    };
    coord::MemberInfo {
        role: format!("{:?}", config.cluster.role).to_lowercase(),
        link: link.and_then(|addr| reachable(addr, cluster_ip)),
        imap: first("imap"),
        pop3: first("pop3"),
        submission: first("submission"),
        http: first("admin"),
        web: first("webmail"),
        queue_messages: None,
    }
}

//! Where a dynamic member's login proxy sends a session: an account this
//! member has open (or opens now, nobody having it open) is served here
//! in process; one open on another member goes to that member's service
//! address from the registry in etcd (CM-13). Submission needs no open
//! account (it only queues), so it is always served here. Accounts of
//! other servers go where the static lookup says.

use super::Accounts;
use async_trait::async_trait;
use coord::Owner;
use directory::{CachedHosts, HostDirectory};
use proxy::{Backend, BackendLookup, DirectoryBackends, LookupError, Protocol};
use std::sync::Arc;
use types::{AccountName, DomainName};

pub struct DynamicBackends<H: HostDirectory> {
    accounts: Arc<Accounts>,
    hosts: Arc<CachedHosts<H>>,
    cluster: DomainName,
    others: PeerBackends<H>,
}

impl<H: HostDirectory> DynamicBackends<H> {
    pub fn new(accounts: Arc<Accounts>, cluster: DomainName, others: PeerBackends<H>) -> Self {
        let hosts = others.inner.hosts().clone();
        Self { accounts, hosts, cluster, others }
    }
}

#[async_trait]
impl<H: HostDirectory> BackendLookup for DynamicBackends<H> {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        let failed = |reason: String| LookupError { account: account.clone(), reason };
        match self.hosts.host_server(account).await {
            Ok(Some(host)) if host != self.cluster => return self.others.backend(account, protocol).await,
            Ok(_) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
        if protocol == Protocol::Submission {
            return Ok(Some(Backend::Here));
        }
        let owner = match self.accounts.open(account).await.map_err(|e| failed(e.to_string()))? {
            Owner::Me => return Ok(Some(Backend::Here)),
            Owner::Other(owner) => owner,
        };
        let info = self.accounts.member_info(&owner).await.map_err(|e| failed(e.to_string()))?;
        match info.and_then(|info| service(&info, protocol)) {
            Some(addr) => Ok(Some(Backend::There(addr))),
            // Its lease is ending: the account opens elsewhere once it has.
            None => Err(failed(format!("{owner}, which has the account open, publishes no {protocol} address"))),
        }
    }

    fn invalidate(&self, account: &AccountName) {
        self.hosts.invalidate(account);
    }

    /// The owner did not answer: it may have died. Its lease ends within
    /// the TTL, and with it its hold on the account; wait for that, and
    /// the login goes on to the member that opens it next (here, most
    /// likely) instead of failing.
    async fn unreachable(&self, account: &AccountName, backend: Backend) -> bool {
        match self.hosts.host_server(account).await {
            Ok(Some(host)) if host != self.cluster => return self.others.unreachable(account, backend).await,
            Err(_) => return false,
            Ok(_) => {}
        }
        let coord = self.accounts.coord();
        let patience = coord.config().lease_ttl + std::time::Duration::from_secs(1);
        matches!(coord.wait_released(&account.to_string(), patience).await, Ok(true))
    }
}

fn service(info: &coord::MemberInfo, protocol: Protocol) -> Option<std::net::SocketAddr> {
    match protocol {
        Protocol::Imap => info.imap,
        Protocol::Pop3 => info.pop3,
        Protocol::Submission => info.submission,
        Protocol::Web => info.web,
    }
}

/// The login proxy's lookup on a frontend (and for other servers' accounts
/// on a dynamic member): an account of a dynamic cluster behind this one
/// (CM-34) goes to the member that has it open, or to a live one that will
/// open it ([`super::PeerClusters`]); every other account where
/// `hostServer` and the service addresses say.
pub struct PeerBackends<H: HostDirectory> {
    inner: DirectoryBackends<H>,
    peers: Option<Arc<super::PeerClusters>>,
}

impl<H: HostDirectory> PeerBackends<H> {
    pub fn new(inner: DirectoryBackends<H>, peers: Option<Arc<super::PeerClusters>>) -> Self {
        Self { inner, peers }
    }
}

#[async_trait]
impl<H: HostDirectory> BackendLookup for PeerBackends<H> {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        let failed = |reason: String| LookupError { account: account.clone(), reason };
        if let Some(peers) = &self.peers {
            let host = self.inner.hosts().host_server(account).await.map_err(|e| failed(e.to_string()))?;
            if let Some(cluster) = host.filter(|host| peers.is_cluster(host)) {
                let (member, info) = peers.member_for(&cluster, account).await.map_err(failed)?;
                return match service(&info, protocol) {
                    Some(addr) => Ok(Some(Backend::There(addr))),
                    None => Err(failed(format!("{member} of {cluster} publishes no {protocol} address"))),
                };
            }
        }
        self.inner.backend(account, protocol).await
    }

    fn invalidate(&self, account: &AccountName) {
        self.inner.invalidate(account);
    }

    /// A dynamic cluster's member did not answer: wait (a while) until its
    /// registration ends with its lease, then ask again, which finds the
    /// account's new owner or another live member.
    async fn unreachable(&self, account: &AccountName, backend: Backend) -> bool {
        let (Some(peers), Backend::There(addr)) = (&self.peers, backend) else { return false };
        match self.inner.hosts().host_server(account).await {
            Ok(Some(cluster)) if peers.is_cluster(&cluster) => peers.wait_gone(&cluster, addr, PEER_PATIENCE).await,
            _ => false,
        }
    }
}

/// How long a frontend's login waits for a dead member of a dynamic
/// cluster behind it to lose its registration (its lease TTL; the
/// frontend does not know it, so a bound above the usual settings).
const PEER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

//! "Where does this account live" in a dynamic cluster: an account of
//! this cluster (its `hostServer` names the cluster, or nothing) is here
//! once this member owns it, or on the member that owns it; if nobody
//! does, this member opens it (CM-13). An account whose `hostServer`
//! names another server is that server's, as in a static cluster (a
//! cluster of clusters, CM-34).

use super::Accounts;
use async_trait::async_trait;
use cluster::{LocateError, Location, Locator};
use coord::Owner;
use directory::{CachedHosts, HostDirectory};
use std::sync::Arc;
use types::{AccountName, DomainName};

pub struct DynamicLocator<H: HostDirectory> {
    accounts: Arc<Accounts>,
    hosts: Arc<CachedHosts<H>>,
    cluster: DomainName,
    /// Other dynamic clusters (a cluster of clusters, CM-34).
    peers: Option<Arc<super::PeerClusters>>,
}

impl<H: HostDirectory> DynamicLocator<H> {
    pub fn new(
        accounts: Arc<Accounts>,
        hosts: Arc<CachedHosts<H>>,
        cluster: DomainName,
        peers: Option<Arc<super::PeerClusters>>,
    ) -> Self {
        Self { accounts, hosts, cluster, peers }
    }
}

#[async_trait]
impl<H: HostDirectory> Locator for DynamicLocator<H> {
    async fn locate(&self, account: &AccountName) -> Result<Location, LocateError> {
        let unavailable = |reason: String| LocateError::Unavailable { account: account.clone(), reason };
        match self.hosts.host_server(account).await {
            Ok(Some(host)) if host != self.cluster => {
                return super::locate_on(self.peers.as_deref(), &host, account).await;
            }
            Ok(_) => {}
            Err(e) => return Err(unavailable(e.to_string())),
        }
        match self.accounts.open(account).await {
            Ok(Owner::Me) => Ok(Location::Here),
            Ok(Owner::Other(member)) => Ok(Location::Elsewhere { server: member }),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }
}

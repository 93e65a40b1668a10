//! Dynamic clusters as the backends of a static cluster (a cluster of
//! clusters, CM-34): an account's `hostServer` names a dynamic cluster,
//! and a frontend (or any member) that knows that cluster's etcd
//! (`[cluster.dynamic_clusters."name"]`, read only) sends the account's
//! sessions, mail and admin calls straight to the member that has it
//! open, saving the hop through another member; when nobody has it open,
//! to a live member chosen by the account's name, which opens it. Each
//! cluster's registry is read at most every couple of seconds.

use super::registry::{Members, RegistryCache, find};
use coord::{MemberInfo, Reader};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use types::{AccountName, DomainName};

pub struct PeerClusters {
    clusters: BTreeMap<DomainName, Peer>,
}

struct Peer {
    reader: Reader,
    registry: RegistryCache,
}

impl PeerClusters {
    /// Connects to the etcd of every configured dynamic cluster; `None`
    /// when the config names none.
    pub async fn connect(config: &crate::config::Config) -> anyhow::Result<Option<PeerClusters>> {
        use anyhow::Context;
        if config.cluster.dynamic_clusters.is_empty() {
            return Ok(None);
        }
        let mut clusters = BTreeMap::new();
        for (name, peer) in &config.cluster.dynamic_clusters {
            let cluster =
                DomainName::parse(name).map_err(|e| anyhow::anyhow!("cluster.dynamic_clusters.{name:?}: {e}"))?;
            let reader = Reader::connect(peer.etcd.clone(), cluster.to_string()).await.with_context(|| {
                format!("cluster.dynamic_clusters.{name:?}: cannot reach etcd at {}", peer.etcd.join(", "))
            })?;
            clusters.insert(cluster, Peer { reader, registry: RegistryCache::default() });
        }
        Ok(Some(PeerClusters { clusters }))
    }

    pub fn is_cluster(&self, name: &DomainName) -> bool {
        self.clusters.contains_key(name)
    }

    /// The member of `cluster` that serves `account`: the one that has it
    /// open, else a live one chosen by the account's name (the same one
    /// every time while the members stay the same, so that the account is
    /// not opened here and there).
    pub async fn member_for(
        &self,
        cluster: &DomainName,
        account: &AccountName,
    ) -> Result<(String, MemberInfo), String> {
        let peer = self.clusters.get(cluster).ok_or_else(|| format!("{cluster} is not a known dynamic cluster"))?;
        let failed = |e: coord::CoordError| format!("etcd of {cluster}: {e}");
        if let Some(owner) = peer.reader.owner(&account.to_string()).await.map_err(failed)? {
            let found = peer.registry.find(&owner, || peer.reader.members()).await.map_err(failed)?;
            return found.ok_or_else(|| format!("{owner} of {cluster} has {account} open but is gone"));
        }
        let members = peer.registry(false).await.map_err(failed)?;
        if members.is_empty() {
            return Err(format!("no member of {cluster} is alive"));
        }
        let index = stable_hash(&account.to_string()) as usize % members.len();
        Ok(members[index].clone())
    }

    /// Waits until the member of `cluster` serving at `addr` is no longer
    /// registered (its lease expired: its accounts are free to open on
    /// another), reading the registry a few times a second; false when it
    /// still is after `timeout`.
    pub async fn wait_gone(&self, cluster: &DomainName, addr: std::net::SocketAddr, timeout: Duration) -> bool {
        let Some(peer) = self.clusters.get(cluster) else { return false };
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(members) = peer.registry(true).await
                && !members
                    .iter()
                    .any(|(_, info)| [info.imap, info.pop3, info.submission, info.web].contains(&Some(addr)))
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A member of any of the clusters, by its name (for its link address).
    pub async fn member_info(&self, member: &str) -> Option<MemberInfo> {
        for peer in self.clusters.values() {
            if let Ok(members) = peer.registry(false).await
                && let Some((_, info)) = find(&members, member)
            {
                return Some(info);
            }
        }
        None
    }
}

impl Peer {
    /// The live members, sorted by name (read again when `fresh`).
    async fn registry(&self, fresh: bool) -> Result<Members, coord::CoordError> {
        self.registry.members(fresh, || self.reader.members()).await
    }
}

/// FNV-1a: the same on every frontend and across restarts (the standard
/// library's hasher is seeded per process).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3))
}

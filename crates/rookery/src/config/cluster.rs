//! `[directory]` (where accounts are defined) and `[cluster]` (this
//! server's part in a static cluster: its role, its name in the
//! directory's `hostServer`, the other members and the cluster link).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    /// A redb file in the data directory: the single server.
    Embedded,
    /// OpenLDAP with the project's schema (`schema/`): a cluster.
    Ldap,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySection {
    pub kind: DirectoryKind,
    /// `ldap://host:port/`: the primary server, which takes every write
    /// and is asked first for reads.
    pub url: String,
    /// Further servers with replicas of the same directory (CM-36), asked
    /// for reads in this order while the ones before do not answer; writes
    /// go to `url` only (a consumer at `url` may refer them to one of
    /// these). Default: none.
    pub replicas: Vec<String>,
    /// The entry under which Rookery keeps `ou=domains`.
    pub base_dn: String,
    pub bind_dn: String,
    pub bind_password: String,
    /// A file holding the bind password, instead of `bind_password`.
    pub bind_password_file: Option<PathBuf>,
}

impl Default for DirectorySection {
    fn default() -> Self {
        Self {
            kind: DirectoryKind::Embedded,
            url: String::new(),
            replicas: Vec::new(),
            base_dn: String::new(),
            bind_dn: String::new(),
            bind_password: String::new(),
            bind_password_file: None,
        }
    }
}

impl DirectorySection {
    pub fn bind_password(&self) -> anyhow::Result<String> {
        match &self.bind_password_file {
            Some(path) => Ok(std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("directory.bind_password_file {}: {e}", path.display()))?
                .trim()
                .to_owned()),
            None => Ok(self.bind_password.clone()),
        }
    }
}

/// What this server is in a cluster (CM-1..CM-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not in a cluster: every account is here.
    Single,
    /// Hosts accounts (those whose `hostServer` is this server's name).
    Backend,
    /// Hosts nothing; hands every account's mail to its backend.
    Frontend,
    /// Both: serves its own accounts, hands the others to their hosts.
    Symmetric,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    pub role: Role,
    /// This server's name as the directory's `hostServer` names it;
    /// default: the main domain.
    pub server_name: Option<String>,
    /// The other members by name, with their cluster link addresses.
    pub members: BTreeMap<String, SocketAddr>,
    /// The cluster link (address, allow-list, secret...); required for
    /// every role but `single`.
    pub link: Option<cluster::link::LinkConfig>,
    /// Each backend's service addresses on the cluster network (CM-22),
    /// where a frontend takes its clients' sessions.
    pub services: BTreeMap<String, ServiceAddresses>,
    /// The members (names in `members`) that are frontends: where
    /// `[outbound] forward_to = ["*"]` sends a backend's outbound mail
    /// (CM-27).
    pub frontends: Vec<String>,
    /// This member's dynamic cluster (CM-11..CM-14): accounts on shared
    /// storage, opened by one member at a time through etcd.
    pub dynamic: Option<DynamicSection>,
    /// Dynamic clusters that are backends of this static cluster (CM-34),
    /// by the name their accounts' `hostServer` gives: where a frontend
    /// (or any member) finds their live members and the accounts' owners.
    pub dynamic_clusters: BTreeMap<String, DynamicPeer>,
}

/// `[cluster.dynamic]`: this member belongs to a dynamic cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicSection {
    /// The cluster's name: the `hostServer` of its accounts, and the etcd
    /// key prefix (`/rookery/<name>/`).
    pub name: String,
    /// etcd client endpoints (`host:port`), every node of the etcd cluster.
    pub etcd: Vec<String>,
    /// The storage root every member shares: `accounts/`, and
    /// `queues/<member>/` for each member's queue (so that the controller
    /// can deliver a dead member's mail, CM-17).
    pub storage: PathBuf,
    /// The member's etcd lease: how long after a member dies its accounts
    /// open elsewhere.
    #[serde(with = "humantime_serde", default = "default_lease_ttl")]
    pub lease_ttl: std::time::Duration,
    /// A member that cannot renew its lease stops serving this long before
    /// the lease could expire (self-fencing).
    #[serde(with = "humantime_serde", default = "default_fence_margin")]
    pub fence_margin: std::time::Duration,
    /// An account nobody has used for this long is closed and its
    /// ownership released, so that any member can open it directly.
    #[serde(with = "humantime_serde", default = "default_idle_release")]
    pub idle_release: std::time::Duration,
}

fn default_lease_ttl() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}

fn default_fence_margin() -> std::time::Duration {
    std::time::Duration::from_secs(1)
}

fn default_idle_release() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

/// `[cluster.dynamic_clusters."name"]`: how to reach a backend dynamic
/// cluster's coordination (read only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicPeer {
    pub etcd: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceAddresses {
    pub imap: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    /// The backend's web mail listener, where frontends forward requests.
    pub web: Option<SocketAddr>,
    /// The backend's admin listener, for `/Cluster/<member>/` (CM-19).
    pub admin: Option<SocketAddr>,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            role: Role::Single,
            server_name: None,
            members: BTreeMap::new(),
            link: None,
            services: BTreeMap::new(),
            frontends: Vec::new(),
            dynamic: None,
            dynamic_clusters: BTreeMap::new(),
        }
    }
}

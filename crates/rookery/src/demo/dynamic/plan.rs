//! Who is where in a dynamic demo: the directory servers and etcd on the
//! first address, the frontends from the first address on, then each
//! cluster's members, each on its own loopback address and all on the
//! static demo's ports (the base port plus 25, 587, 24, 110, 143, 80, 44);
//! the directory on +389 (its replica on the second address), etcd on
//! +379 (clients) and +380 (raft).

use crate::demo::layout::{self, MemberPlan, MemberRole, Service};
use crate::demo::slapd::{self, Replication};
use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

const LDAP_OFFSET: u16 = 389;
const ETCD_CLIENT_OFFSET: u16 = 379;
const ETCD_PEER_OFFSET: u16 = 380;
/// The largest port offset of any service (submission).
const MAX_OFFSET: u16 = 587;

/// One dynamic cluster: its name (the `hostServer` of its accounts), its
/// members and the storage root they share.
#[derive(Debug, Clone)]
pub struct ClusterPlan {
    pub name: String,
    pub members: Vec<MemberPlan>,
    pub storage: PathBuf,
}

/// A directory server: the only one, or the provider (`url` of every
/// member) or its consumer.
pub struct DirectoryPlan {
    pub kind: DirectoryKind,
    pub addr: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryKind {
    Single,
    Provider,
    Consumer,
}

impl DirectoryPlan {
    /// As printed, and the name of its directory under the demo's.
    pub fn role(&self) -> &'static str {
        match self.kind {
            DirectoryKind::Single => "directory",
            DirectoryKind::Provider => "provider",
            DirectoryKind::Consumer => "consumer",
        }
    }

    pub fn url(&self) -> String {
        format!("ldap://{}/", self.addr)
    }
}

pub struct DynPlan {
    pub dir: PathBuf,
    pub domain: String,
    pub clusters: Vec<ClusterPlan>,
    pub frontends: Vec<MemberPlan>,
    /// The provider first, then the consumer if the directory is replicated.
    pub directories: Vec<DirectoryPlan>,
    pub etcd_client: SocketAddr,
    pub etcd_peer: SocketAddr,
    pub retry_interval: String,
    pub lease_ttl: String,
}

pub struct DynPlanOptions<'a> {
    pub dir: &'a Path,
    pub domain: &'a str,
    pub first_address: Ipv4Addr,
    pub base_port: u16,
    pub clusters: usize,
    pub members_per_cluster: usize,
    pub frontends: usize,
    /// A syncrepl consumer beside the provider.
    pub replicated: bool,
    pub retry_interval: &'a str,
    pub lease_ttl: &'a str,
}

impl DynPlan {
    pub fn new(options: &DynPlanOptions) -> anyhow::Result<DynPlan> {
        if !options.first_address.is_loopback() {
            bail!("--first-address {} is not a loopback address (127.x.x.x)", options.first_address);
        }
        if options.base_port == 0 || options.base_port.checked_add(MAX_OFFSET).is_none() {
            bail!(
                "--base-port {} leaves no room for its services (at most {})",
                options.base_port,
                u16::MAX - MAX_OFFSET
            );
        }
        if options.members_per_cluster == 0 || options.clusters == 0 {
            bail!("the demo needs at least one member in each cluster");
        }
        let total = options.frontends + options.clusters * options.members_per_cluster;
        let first = u32::from(options.first_address);
        let last = first.checked_add(total.max(2) as u32).filter(|l| Ipv4Addr::from(*l).is_loopback());
        last.context("the members' addresses run past 127.255.255.255; choose a lower --first-address")?;
        let ip = |i: usize| Ipv4Addr::from(first + i as u32);
        let at = |i: usize, offset: u16| SocketAddr::V4(SocketAddrV4::new(ip(i), options.base_port + offset));
        let member = |name: String, role, i| MemberPlan::new(name, role, ip(i), options.base_port, options.dir);

        let frontends = (0..options.frontends)
            .map(|i| member(format!("fe{}.{}", i + 1, options.domain), MemberRole::Frontend, i))
            .collect();
        let mut next = options.frontends;
        let mut clusters = Vec::new();
        for c in 1..=options.clusters {
            let name = format!("dc{c}.{}", options.domain);
            let mut members = Vec::new();
            for m in 1..=options.members_per_cluster {
                members.push(member(format!("m{m}.{name}"), MemberRole::Backend, next));
                next += 1;
            }
            clusters.push(ClusterPlan { storage: options.dir.join(&name).join("storage"), name, members });
        }
        let mut directories = vec![DirectoryPlan {
            kind: if options.replicated { DirectoryKind::Provider } else { DirectoryKind::Single },
            addr: at(0, LDAP_OFFSET),
        }];
        if options.replicated {
            directories.push(DirectoryPlan { kind: DirectoryKind::Consumer, addr: at(1, LDAP_OFFSET) });
        }
        Ok(DynPlan {
            dir: options.dir.to_owned(),
            domain: options.domain.to_owned(),
            clusters,
            frontends,
            directories,
            etcd_client: at(0, ETCD_CLIENT_OFFSET),
            etcd_peer: at(0, ETCD_PEER_OFFSET),
            retry_interval: options.retry_interval.to_owned(),
            lease_ttl: options.lease_ttl.to_owned(),
        })
    }

    /// Every cluster's members, cluster by cluster.
    pub fn cluster_members(&self) -> impl Iterator<Item = &MemberPlan> {
        self.clusters.iter().flat_map(|c| c.members.iter())
    }

    /// Fails, naming the address, when any planned address is taken.
    pub fn check_free(&self) -> anyhow::Result<()> {
        let members = self.frontends.iter().chain(self.cluster_members()).flat_map(|m| Service::ALL.map(|s| m.addr(s)));
        let others = self.directories.iter().map(|d| d.addr).chain([self.etcd_client, self.etcd_peer]);
        for addr in others.chain(members) {
            std::net::TcpListener::bind(addr).with_context(|| {
                format!("{addr} is not free (another demo? choose another --first-address or --base-port)")
            })?;
        }
        Ok(())
    }

    /// The directory servers' specs, the provider first.
    pub fn directory_specs(&self) -> Vec<slapd::Spec> {
        let provider_url = self.directories[0].url();
        self.directories
            .iter()
            .map(|d| {
                let replication = match d.kind {
                    DirectoryKind::Single => Replication::None,
                    DirectoryKind::Provider => Replication::Provider,
                    DirectoryKind::Consumer => Replication::Consumer { provider_url: provider_url.clone() },
                };
                layout::directory_spec(&self.dir.join(d.role()), d.addr, &self.domain, replication)
            })
            .collect()
    }

    /// The URLs a member of a cluster uses: the provider (which takes
    /// every write), then the replicas for reads while it is down.
    pub fn member_directory(&self) -> (String, Vec<String>) {
        let urls: Vec<String> = self.directories.iter().map(DirectoryPlan::url).collect();
        (urls[0].clone(), urls[1..].to_vec())
    }

    /// The URLs frontend `index` uses: with a replica, the first frontend
    /// reads it first (the provider while it is down), the second reads
    /// the provider first; a write is referred to the provider either way.
    pub fn frontend_directory(&self, index: usize) -> (String, Vec<String>) {
        let mut urls: Vec<String> = self.directories.iter().map(DirectoryPlan::url).collect();
        let preferred = urls.len() - 1 - index % urls.len();
        let url = urls.remove(preferred);
        (url, urls)
    }

    /// The etcd endpoint of every cluster (one node holds them all, each
    /// under its own key prefix `/rookery/<name>/`).
    pub fn etcd_endpoints(&self) -> Vec<String> {
        vec![self.etcd_client.to_string()]
    }

    pub fn secret_path(&self) -> PathBuf {
        self.dir.join("cluster.secret")
    }

    pub fn ldap_password_path(&self) -> PathBuf {
        self.dir.join("ldap.password")
    }

    pub fn base_dn(&self) -> String {
        layout::base_dn(&self.domain)
    }

    pub fn bind_dn(&self) -> String {
        format!("cn=admin,{}", self.base_dn())
    }
}

//! Who is where in the demo cluster: each member on its own loopback
//! address, every member on the same ports (the base port plus the usual
//! last digits, so IMAP is on base+143), the directory on the first
//! member's address.

use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// A service of a member and its port offset from the base port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Smtp,
    Submission,
    Lmtp,
    Pop3,
    Imap,
    Admin,
    Web,
    Link,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Smtp,
        Service::Submission,
        Service::Lmtp,
        Service::Pop3,
        Service::Imap,
        Service::Admin,
        Service::Web,
        Service::Link,
    ];

    fn offset(self) -> u16 {
        match self {
            Service::Smtp => 25,
            Service::Submission => 587,
            Service::Lmtp => 24,
            Service::Pop3 => 110,
            Service::Imap => 143,
            Service::Admin => 80,
            Service::Web => 100,
            Service::Link => 44,
        }
    }

    /// The config section of the service's listener.
    pub fn section(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Lmtp => "lmtp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Admin => "admin",
            Service::Web => "webmail",
            Service::Link => "link",
        }
    }
}

/// The directory's port offset (LDAP's 389).
const LDAP_OFFSET: u16 = 389;
/// The largest offset: a base port above `u16::MAX - this` overflows.
const MAX_OFFSET: u16 = 587;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    Frontend,
    Backend,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Frontend => "frontend",
            MemberRole::Backend => "backend",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MemberPlan {
    /// Its main domain and `hostServer` name, e.g. `sv1.example.test`.
    pub name: String,
    pub role: MemberRole,
    pub ip: Ipv4Addr,
    /// Not started with the cluster: a backend to add to the running
    /// cluster later (CM-4). Declared in every config, unless `unlisted`.
    pub spare: bool,
    /// A spare that no other member's config names: the others find it
    /// through the directory, where it publishes its addresses when it
    /// starts, and admit it on their links by network.
    pub unlisted: bool,
    base_port: u16,
    dir: PathBuf,
}

impl MemberPlan {
    /// A member at `ip`, its files under `<dir>/<name>/`; not a spare.
    pub fn new(name: String, role: MemberRole, ip: Ipv4Addr, base_port: u16, dir: &Path) -> MemberPlan {
        MemberPlan { name, role, ip, spare: false, unlisted: false, base_port, dir: dir.to_owned() }
    }

    pub fn addr(&self, service: Service) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, self.base_port + service.offset()))
    }

    /// `<dir>/<name>/`: the config, the data directory and the log.
    pub fn home(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    pub fn config_path(&self) -> PathBuf {
        self.home().join("rookery.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.home().join("rookery.log")
    }
}

/// The whole cluster, before anything runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dir: PathBuf,
    /// The shared domain of the sample accounts.
    pub domain: String,
    pub ldap: SocketAddr,
    pub members: Vec<MemberPlan>,
    pub retry_interval: String,
}

pub struct PlanOptions<'a> {
    pub dir: &'a Path,
    pub domain: &'a str,
    pub first_address: Ipv4Addr,
    pub base_port: u16,
    pub frontends: usize,
    pub backends: usize,
    pub spare_backends: usize,
    /// Spares no other member's config names (after the declared ones).
    pub unlisted_backends: usize,
    pub retry_interval: &'a str,
}

impl Plan {
    pub fn new(options: &PlanOptions) -> anyhow::Result<Plan> {
        if !options.first_address.is_loopback() {
            bail!("--first-address {} is not a loopback address (127.x.x.x)", options.first_address);
        }
        if options.base_port.checked_add(MAX_OFFSET.max(LDAP_OFFSET)).is_none() || options.base_port == 0 {
            bail!(
                "--base-port {} leaves no room for its services (at most {})",
                options.base_port,
                u16::MAX - MAX_OFFSET
            );
        }
        let total = options.frontends + options.backends + options.spare_backends + options.unlisted_backends;
        let first = u32::from(options.first_address);
        let last = first.checked_add(total as u32).filter(|l| Ipv4Addr::from(*l).is_loopback());
        last.context("the members' addresses run past 127.255.255.255; choose a lower --first-address")?;
        let ip = |i: usize| Ipv4Addr::from(first + i as u32);
        let mut members = Vec::with_capacity(total);
        for i in 0..options.frontends {
            members.push((format!("fe{}", i + 1), MemberRole::Frontend, false, false));
        }
        let declared = options.backends + options.spare_backends;
        for i in 0..declared + options.unlisted_backends {
            members.push((format!("sv{}", i + 1), MemberRole::Backend, i >= options.backends, i >= declared));
        }
        let members = members
            .into_iter()
            .enumerate()
            .map(|(i, (label, role, spare, unlisted))| MemberPlan {
                name: format!("{label}.{}", options.domain),
                role,
                ip: ip(i),
                spare,
                unlisted,
                base_port: options.base_port,
                dir: options.dir.to_owned(),
            })
            .collect();
        Ok(Plan {
            dir: options.dir.to_owned(),
            domain: options.domain.to_owned(),
            ldap: SocketAddr::V4(SocketAddrV4::new(options.first_address, options.base_port + LDAP_OFFSET)),
            members,
            retry_interval: options.retry_interval.to_owned(),
        })
    }

    pub fn frontends(&self) -> impl Iterator<Item = &MemberPlan> {
        self.members.iter().filter(|m| m.role == MemberRole::Frontend)
    }

    /// Every backend, spares included.
    pub fn backends(&self) -> impl Iterator<Item = &MemberPlan> {
        self.members.iter().filter(|m| m.role == MemberRole::Backend)
    }

    /// The backends started with the cluster.
    pub fn running_backends(&self) -> impl Iterator<Item = &MemberPlan> {
        self.backends().filter(|m| !m.spare)
    }

    /// The smallest network holding every member's address: what the
    /// link allow-lists admit when some member is unlisted, so that it is
    /// admitted without being named (and no address far outside is).
    pub fn members_network(&self) -> String {
        let ips = self.members.iter().map(|m| u32::from(m.ip));
        let (low, high) = ips.fold((u32::MAX, 0), |(low, high), ip| (low.min(ip), high.max(ip)));
        let prefix = (low ^ high).leading_zeros().min(32);
        let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
        format!("{}/{prefix}", Ipv4Addr::from(low & mask))
    }

    /// Fails, naming the address, when any planned address is taken
    /// (another demo on the same ones, say): slapd answering on a port
    /// of someone else's would otherwise look like ours starting.
    pub fn check_free(&self) -> anyhow::Result<()> {
        let members = self.members.iter().flat_map(|m| Service::ALL.map(|s| m.addr(s)));
        for addr in std::iter::once(self.ldap).chain(members) {
            std::net::TcpListener::bind(addr).with_context(|| {
                format!("{addr} is not free (another demo? choose another --first-address or --base-port)")
            })?;
        }
        Ok(())
    }

    pub fn secret_path(&self) -> PathBuf {
        self.dir.join("cluster.secret")
    }

    pub fn ldap_password_path(&self) -> PathBuf {
        self.dir.join("ldap.password")
    }

    pub fn base_dn(&self) -> String {
        base_dn(&self.domain)
    }

    pub fn bind_dn(&self) -> String {
        format!("cn=admin,{}", self.base_dn())
    }

    /// The one directory server, on the first member's address.
    pub fn directory(&self) -> super::slapd::Spec {
        directory_spec(&self.dir.join("slapd"), self.ldap, &self.domain, super::slapd::Replication::None)
    }
}

/// A directory server for the domain's base DN, with its files in `dir`.
pub fn directory_spec(
    dir: &Path,
    addr: SocketAddr,
    domain: &str,
    replication: super::slapd::Replication,
) -> super::slapd::Spec {
    super::slapd::Spec {
        dir: dir.to_owned(),
        addr,
        base_dn: base_dn(domain),
        bind_dn: format!("cn=admin,{}", base_dn(domain)),
        first_label: domain.split('.').next().unwrap_or("rookery").to_owned(),
        replication,
    }
}

/// `dc=example,dc=test` for `example.test`.
pub fn base_dn(domain: &str) -> String {
    let labels: Vec<String> = domain.split('.').map(|l| format!("dc={l}")).collect();
    labels.join(",")
}

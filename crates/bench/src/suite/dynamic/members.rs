//! A three-member dynamic cluster for the bench (CM-11..CM-14): a private
//! slapd, a private one-node etcd, one shared storage root (a temporary
//! directory) and three `rookery serve` processes (`testkit::TestServer`),
//! each with its cluster link on its own loopback address, configured as
//! in `crates/rookery/tests/common/dynamic.rs`. A member is killed with
//! SIGKILL and restarted on the same data directory and link address; its
//! service listeners (on 127.0.0.1) get new ports on each start.

use anyhow::{Context, bail};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;
use testkit::etcd::Etcd;
use testkit::slapd::Slapd;
use testkit::{TestServer, TestServerOptions};

/// The cluster's name: the `hostServer` of its accounts.
pub const CLUSTER: &str = "dc.bench";
/// The shared domain of every account the suite makes.
pub const DOMAIN: &str = "dyn.bench";
/// Throwaway: the cluster lives on loopback for one run.
const SECRET: &str = "the bench dynamic cluster's secret";
/// How long the HTTP calls to a member's admin API may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The members' link addresses: 127.0.7.1 to 127.0.7.3.
pub fn member_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 7, index as u8 + 1))
}

/// How the members are set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub members: usize,
    pub lease_ttl: Duration,
    /// An account unused this long is closed and released.
    pub idle_release: Duration,
}

/// One member: its name, link address and process.
pub struct Member {
    pub name: String,
    pub link: SocketAddr,
    pub server: TestServer,
    admin: Admin,
}

/// The cluster; dropping it kills the members, then etcd and slapd.
pub struct DynCluster {
    // Dropped in this order: the members before etcd and the directory.
    pub members: Vec<Member>,
    etcd: Etcd,
    _slapd: Slapd,
    _storage: tempfile::TempDir,
}

impl DynCluster {
    /// Starts slapd, etcd and the members, then makes the shared domain.
    /// Blocking: call from `spawn_blocking` or before any load runs.
    pub fn start(binary: &Path, options: Options) -> anyhow::Result<DynCluster> {
        let binary = binary.to_str().context("the rookery path is not UTF-8")?;
        let slapd = Slapd::start().context("starting slapd")?;
        let etcd = Etcd::start().context("starting etcd")?;
        let storage = tempfile::Builder::new().prefix("bench-dynamic-storage-").tempdir()?;
        let links: Vec<SocketAddr> = (0..options.members)
            .map(|i| Ok(SocketAddr::new(member_ip(i), free_port(member_ip(i))?)))
            .collect::<anyhow::Result<_>>()?;
        let mut members = Vec::new();
        for (i, &link) in links.iter().enumerate() {
            let name = format!("m{}.{CLUSTER}", i + 1);
            let allow: Vec<String> =
                links.iter().filter(|other| **other != link).map(|other| format!("\"{}\"", other.ip())).collect();
            let config = member_config(&slapd, &etcd, storage.path(), link, &allow, options);
            let server = TestServer::start_with(
                binary,
                TestServerOptions { main_domain: name.clone(), extra_config: config, ..TestServerOptions::default() },
            )
            .with_context(|| format!("starting {name}"))?;
            let admin = Admin::new(&server, &name);
            members.push(Member { name, link, server, admin });
        }
        let first = members.first().context("a cluster needs a member")?;
        first.server.admin(&["domain", "add", DOMAIN, "--shared"])?;
        Ok(DynCluster { members, etcd, _slapd: slapd, _storage: storage })
    }

    /// SIGKILL of member `index`.
    pub fn kill(&mut self, index: usize) {
        self.members[index].server.kill();
    }

    /// Starts member `index` again on its data, with its link address.
    pub fn restart(&mut self, index: usize) -> anyhow::Result<()> {
        let member = &mut self.members[index];
        member.server.restart().with_context(|| format!("restarting {}", member.name))?;
        member.admin = Admin::new(&member.server, &member.name);
        Ok(())
    }

    /// The index of the member named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|member| member.name == name)
    }

    /// Every member's IMAP listener, in member order.
    pub fn imap(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|member| member.server.ports.imap()).collect()
    }

    pub fn links(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|member| member.link).collect()
    }

    /// The etcd process (one node), whose CPU the mix counts too.
    pub fn etcd_pid(&self) -> Option<u32> {
        self.etcd.pid(0)
    }

    pub fn admin(&self, index: usize) -> &Admin {
        &self.members[index].admin
    }
}

/// The `[directory]`, `[queue]` and `[cluster...]` sections of a member.
fn member_config(
    slapd: &Slapd,
    etcd: &Etcd,
    storage: &Path,
    link: SocketAddr,
    allow: &[String],
    options: Options,
) -> String {
    let endpoints: Vec<String> = etcd.endpoints().iter().map(|e| format!("\"{e}\"")).collect();
    // retry_schedule: mail a member could not hand to a dead owner is
    // retried every second, so that it lands soon after the failover.
    format!(
        "[directory]\nkind = \"ldap\"\nurl = \"{url}\"\nbase_dn = \"{base}\"\nbind_dn = \"{admin}\"\n\
         bind_password = \"{password}\"\n\n[queue]\nretry_schedule = [\"1s\"]\n\n\
         [limits]\nmax_connections = 20000\nmax_connections_per_ip = 20000\n\n\
         [cluster]\nrole = \"symmetric\"\n\n[cluster.link]\naddress = \"{link}\"\nallow = [{allow}]\n\
         secret = \"{SECRET}\"\n\n[cluster.dynamic]\nname = \"{CLUSTER}\"\netcd = [{endpoints}]\n\
         storage = \"{storage}\"\nlease_ttl = \"{ttl}ms\"\nfence_margin = \"1s\"\nidle_release = \"{idle}ms\"\n",
        url = slapd.url(),
        base = slapd.base_dn(),
        admin = slapd.admin_dn(),
        password = slapd.admin_password(),
        allow = allow.join(", "),
        endpoints = endpoints.join(", "),
        storage = storage.display(),
        ttl = options.lease_ttl.as_millis(),
        idle = options.idle_release.as_millis(),
    )
}

/// A member's JSON admin API as its postmaster (the parts this suite needs
/// beyond `crate::rookery::AdminApi`).
pub struct Admin {
    http: reqwest::Client,
    api: String,
    postmaster: String,
    password: String,
    /// For the calls `crate::rookery::AdminApi` already makes.
    pub common: crate::rookery::AdminApi,
}

impl Admin {
    fn new(server: &TestServer, name: &str) -> Admin {
        let password = server.postmaster_password();
        let addr = server.ports.admin();
        Admin {
            http: reqwest::Client::builder().timeout(ADMIN_TIMEOUT).build().unwrap_or_default(),
            api: format!("http://{addr}/api/v1"),
            postmaster: format!("postmaster@{name}"),
            password: password.clone(),
            common: crate::rookery::AdminApi::new(addr, name, password),
        }
    }

    /// The member that has `account` open (`None`: nobody), from
    /// `GET /api/v1/cluster/owners/{account}`.
    pub async fn owner(&self, account: &str) -> anyhow::Result<Option<String>> {
        let response = self
            .http
            .get(format!("{}/cluster/owners/{account}", self.api))
            .basic_auth(&self.postmaster, Some(&self.password))
            .send()
            .await
            .with_context(|| format!("asking for the owner of {account}"))?;
        if !response.status().is_success() {
            bail!("asking for the owner of {account}: {}", response.status());
        }
        let answer: serde_json::Value = response.json().await?;
        Ok(answer["owner"].as_str().map(str::to_owned))
    }
}

/// A port on `ip` that was free a moment ago (the link addresses must be
/// known to every member before any starts).
fn free_port(ip: IpAddr) -> anyhow::Result<u16> {
    Ok(TcpListener::bind((ip, 0)).with_context(|| format!("binding to {ip}"))?.local_addr()?.port())
}

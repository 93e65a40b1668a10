//! `rookery demo dynamic` and `rookery demo cluster-of-clusters`: dynamic
//! clusters (CM-11..CM-14, CM-34) on loopback, started like the static
//! demo. A private etcd coordinates the members (one node; each cluster
//! has its own key prefix in it), each cluster's members share a storage
//! root in the demo's directory, frontends route logins and mail through
//! the clusters' etcd, and sample accounts in one shared domain are made
//! through the members (their `hostServer` is their cluster's name). The
//! cluster of clusters adds a replicated directory: the members write to
//! the provider, the first frontend reads the consumer first.

pub(super) mod plan;
pub(super) mod render;

use super::accounts::{self, Group, SampleAccount};
use super::members::Watched;
use super::{Cluster, Home, MemberSummary, RunningMember, print_accounts, print_imap_try, print_member};
use anyhow::Context;
use clap::Args;
use plan::{DynPlan, DynPlanOptions};
use serde::Serialize;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// What both dynamic demos take.
#[derive(Args, Debug, Clone)]
pub struct CommonOptions {
    /// Where configs, data and logs go; it must be empty or absent, and
    /// is kept. Default: a temporary directory, removed at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The frontends, then each cluster's members, each take the next
    /// address from this one; the directory and etcd listen on this one
    /// too (the directory's replica on the next).
    #[arg(long, default_value = "127.0.0.2")]
    first_address: Ipv4Addr,
    /// The shared domain of the sample accounts; the clusters are named
    /// dc1.DOMAIN, dc2.DOMAIN, their members m1.dc1.DOMAIN...
    #[arg(long, default_value = "example.test")]
    domain: String,
    /// Sample accounts (user1@DOMAIN, password pw-user1, ...), spread over
    /// the clusters and their members.
    #[arg(long, default_value_t = 6)]
    accounts: usize,
    /// How long after a member dies its accounts open on another.
    #[arg(long, default_value = "5s")]
    lease_ttl: String,
    /// The queues' retry interval (short, so that failover shows quickly).
    #[arg(long, default_value = "3s")]
    retry_interval: String,
}

#[derive(Args, Debug, Clone)]
pub struct DynamicOptions {
    #[command(flatten)]
    common: CommonOptions,
    /// Every member listens on the same ports: this plus 25 (SMTP), 587
    /// (submission), 24 (LMTP), 110 (POP3), 143 (IMAP), 80 (admin), 44
    /// (cluster link); the directory on this plus 389, etcd on +379, +380.
    #[arg(long, default_value_t = 11000)]
    base_port: u16,
    /// Members of the cluster (m1.dc1.DOMAIN, ...), each on its own address.
    #[arg(long, default_value_t = 3)]
    members: usize,
}

#[derive(Args, Debug, Clone)]
pub struct ClustersOptions {
    #[command(flatten)]
    common: CommonOptions,
    /// Ports as for `demo dynamic`.
    #[arg(long, default_value_t = 12000)]
    base_port: u16,
    /// Members of each of the two clusters.
    #[arg(long, default_value_t = 2)]
    members: usize,
}

/// One cluster, one frontend, one directory server.
pub async fn run_dynamic(options: DynamicOptions) -> anyhow::Result<()> {
    run(&options.common, options.base_port, (1, options.members), 1, false).await
}

/// Two clusters, two frontends, a provider and a consumer.
pub async fn run_clusters(options: ClustersOptions) -> anyhow::Result<()> {
    run(&options.common, options.base_port, (2, options.members), 2, true).await
}

async fn run(
    options: &CommonOptions,
    base_port: u16,
    (clusters, members_per_cluster): (usize, usize),
    frontends: usize,
    replicated: bool,
) -> anyhow::Result<()> {
    types::DomainName::parse(&options.domain).with_context(|| format!("--domain {:?}", options.domain))?;
    for (flag, value) in [("--lease-ttl", &options.lease_ttl), ("--retry-interval", &options.retry_interval)] {
        humantime_serde::re::humantime::parse_duration(value).with_context(|| format!("{flag} {value:?}"))?;
    }
    let home = Home::new(options.dir.as_deref())?;
    let plan = DynPlan::new(&DynPlanOptions {
        dir: home.path(),
        domain: &options.domain,
        first_address: options.first_address,
        base_port,
        clusters,
        members_per_cluster,
        frontends,
        replicated,
        retry_interval: &options.retry_interval,
        lease_ttl: &options.lease_ttl,
    })?;
    plan.check_free()?;
    let cluster = Cluster::default();
    super::supervise(home, &cluster, start(&plan, options.accounts, &cluster)).await
}

/// Starts the directory, etcd, the members and the frontends, makes the
/// sample accounts and prints the summary.
async fn start(plan: &DynPlan, account_count: usize, cluster: &Cluster) -> anyhow::Result<()> {
    let binary = std::env::current_exe().context("finding the rookery binary")?;
    let ldap_password = crate::first_start::random_password();
    crate::first_start::write_secret(&plan.ldap_password_path(), &ldap_password)?;
    crate::first_start::write_secret(&plan.secret_path(), &crate::first_start::random_password())?;
    let mut directories = Vec::new();
    // The provider first: the consumer copies it from the start.
    for (spec, directory) in plan.directory_specs().iter().zip(&plan.directories) {
        let prepared = super::slapd::prepare(spec, &ldap_password).await?;
        let child = super::slapd::spawn(&prepared).await?;
        let pid = child.id().unwrap_or(0);
        cluster.push(Watched::new(format!("slapd ({})", directory.role()), child, prepared.dir.join("slapd.log"))?);
        directories.push(DirectorySummary {
            role: directory.role(),
            url: directory.url(),
            pid,
            log: prepared.dir.join("slapd.log"),
        });
    }
    let etcd_dir = plan.dir.join("etcd");
    let etcd = super::etcd::spawn(&etcd_dir, plan.etcd_client, plan.etcd_peer).await?;
    let etcd_summary = EtcdSummary {
        endpoint: plan.etcd_client.to_string(),
        pid: etcd.id().unwrap_or(0),
        log: etcd_dir.join("etcd.log"),
    };
    cluster.push(Watched::new("etcd".to_owned(), etcd, etcd_summary.log.clone())?);

    for dynamic in &plan.clusters {
        std::fs::create_dir_all(&dynamic.storage).with_context(|| format!("creating {}", dynamic.storage.display()))?;
        for member in &dynamic.members {
            write_config(member, &render::member(plan, dynamic, member)?)?;
        }
    }
    for (index, frontend) in plan.frontends.iter().enumerate() {
        write_config(frontend, &render::frontend(plan, index, frontend)?)?;
    }
    // Every cluster's members at once, then the frontends.
    let members = cluster.start_members(&binary, plan.cluster_members().cloned().collect()).await?;
    let frontends = cluster.start_members(&binary, plan.frontends.clone()).await?;

    let sample = plan_accounts(plan, account_count);
    println!("demo: making {} sample accounts in {} and their welcome messages...", sample.len(), plan.domain);
    let started = std::time::Instant::now();
    let groups = plan
        .cluster_members()
        .map(|member| {
            let mine = sample.iter().filter(|(m, _)| *m == member.name).map(|(_, a)| a.clone()).collect();
            Group::of(member, mine)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    accounts::create_groups(&plan.domain, &groups).await?;
    let created_in = started.elapsed();

    let administrators = groups
        .iter()
        .zip(plan.cluster_members())
        .map(|(group, member)| Administrator {
            name: format!("postmaster@{}", member.name),
            password: group.admin.password().to_owned(),
            admin_url: format!("http://{}", member.addr(super::layout::Service::Admin)),
        })
        .collect();
    let member_summary = |running: &RunningMember| {
        let mut summary = MemberSummary::of(running);
        summary.role = "member";
        summary
    };
    let summary = Summary {
        dir: plan.dir.clone(),
        domain: plan.domain.clone(),
        directories,
        etcd: etcd_summary,
        clusters: plan
            .clusters
            .iter()
            .map(|c| ClusterSummary {
                name: c.name.clone(),
                storage: c.storage.clone(),
                members: members
                    .iter()
                    .filter(|m| c.members.iter().any(|p| p.name == m.plan.name))
                    .map(member_summary)
                    .collect(),
            })
            .collect(),
        frontends: frontends.iter().map(MemberSummary::of).collect(),
        administrators,
        accounts: sample.into_iter().map(|(_, account)| account).collect(),
        accounts_made_in_ms: created_in.as_millis(),
    };
    let json_path = plan.dir.join("cluster.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summary)?)?;
    print_summary(&summary);
    println!("demo: ready ({} written; Ctrl-C stops the clusters)", json_path.display());
    std::io::stdout().flush()?;
    Ok(())
}

/// Writes the config and loads it: a bad key fails here, named, rather
/// than in a child.
fn write_config(member: &super::layout::MemberPlan, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(member.home())?;
    std::fs::write(member.config_path(), text)?;
    crate::config::Config::load(Some(&member.config_path()))
        .with_context(|| format!("the rendered config of {}", member.name))?;
    Ok(())
}

/// `user1@domain` ...: round-robin over the clusters, and within each
/// cluster over its members (the member each is made through); the
/// account's server is its cluster's name.
fn plan_accounts(plan: &DynPlan, count: usize) -> Vec<(String, SampleAccount)> {
    let width = count.to_string().len();
    (1..=count)
        .map(|n| {
            let cluster = &plan.clusters[(n - 1) % plan.clusters.len()];
            let member = &cluster.members[((n - 1) / plan.clusters.len()) % cluster.members.len()];
            let local = format!("user{n:0width$}");
            let account = SampleAccount {
                name: format!("{local}@{}", plan.domain),
                password: format!("pw-{local}"),
                server: cluster.name.clone(),
            };
            (member.name.clone(), account)
        })
        .collect()
}

/// `cluster.json` of the dynamic demos.
#[derive(Serialize)]
struct Summary {
    dir: PathBuf,
    domain: String,
    /// The provider first (or the only server).
    directories: Vec<DirectorySummary>,
    etcd: EtcdSummary,
    clusters: Vec<ClusterSummary>,
    frontends: Vec<MemberSummary>,
    /// Each member's postmaster and admin endpoint; any of them may run
    /// `rookery cluster status` for its cluster.
    administrators: Vec<Administrator>,
    accounts: Vec<SampleAccount>,
    accounts_made_in_ms: u128,
}

#[derive(Serialize)]
struct DirectorySummary {
    role: &'static str,
    url: String,
    pid: u32,
    log: PathBuf,
}

#[derive(Serialize)]
struct EtcdSummary {
    endpoint: String,
    pid: u32,
    log: PathBuf,
}

#[derive(Serialize)]
struct ClusterSummary {
    name: String,
    storage: PathBuf,
    members: Vec<MemberSummary>,
}

#[derive(Serialize)]
struct Administrator {
    name: String,
    password: String,
    admin_url: String,
}

fn print_summary(summary: &Summary) {
    println!();
    println!("Rookery dynamic clusters on loopback (configs, data and logs in {})", summary.dir.display());
    println!();
    for directory in &summary.directories {
        println!("directory  slapd ({})  {}  pid {}", directory.role, directory.url, directory.pid);
    }
    println!("etcd       {}  pid {}  (log {})", summary.etcd.endpoint, summary.etcd.pid, summary.etcd.log.display());
    for frontend in &summary.frontends {
        print_member(frontend);
    }
    for cluster in &summary.clusters {
        println!("cluster {}  (storage {})", cluster.name, cluster.storage.display());
        for member in &cluster.members {
            print_member(member);
        }
    }
    println!();
    print_accounts(&summary.domain, &summary.accounts, "in cluster");
    println!("administrators (each member's postmaster, at its admin endpoint):");
    for admin in &summary.administrators {
        println!("    {}  password {}  {}", admin.name, admin.password, admin.admin_url);
    }
    let imap = summary.frontends.first().and_then(|f| f.listening.get("imap"));
    if let (Some(imap), Some(account), Some(admin)) = (imap, summary.accounts.first(), summary.administrators.first()) {
        println!();
        println!("Try it, through a frontend:");
        print_imap_try(*imap, account);
        println!(
            "    rookery --admin-url {} --admin-user {} --admin-password {} cluster status",
            admin.admin_url, admin.name, admin.password
        );
    }
    println!();
}

//! `rookery demo static`: a complete static cluster on loopback addresses
//! for a newcomer to try, and the machinery of the end-to-end tests
//! (`tests/cluster_e2e.rs`). It starts a private slapd with the schema,
//! the frontends and backends as child `rookery serve` processes, each on
//! its own loopback address with a config rendered from `examples/`,
//! makes a shared domain with sample accounts spread over the backends,
//! prints where everything is (and writes it to `cluster.json`), and runs
//! until Ctrl-C or SIGTERM, then stops everything it started.
//!
//! `rookery demo dynamic` and `rookery demo cluster-of-clusters`
//! (`dynamic.rs`) do the same for dynamic clusters: a private etcd too,
//! members sharing one storage root, frontends in front of them.

mod accounts;
mod dynamic;
mod etcd;
mod layout;
mod members;
mod render;
mod slapd;
#[cfg(test)]
mod tests;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use layout::{MemberPlan, MemberRole, Plan, PlanOptions, Service};
use members::Watched;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DemoCommand {
    /// A static cluster: a private slapd, 2 frontends, 3 backends and a
    /// shared domain with sample accounts, until Ctrl-C.
    Static(StaticOptions),
    /// A dynamic cluster: a private slapd and etcd, 3 members sharing one
    /// storage root, a frontend, and sample accounts, until Ctrl-C.
    Dynamic(dynamic::DynamicOptions),
    /// Two dynamic clusters behind 2 frontends, with a replicated pair of
    /// directory servers (provider and consumer), until Ctrl-C.
    ClusterOfClusters(dynamic::ClustersOptions),
}

#[derive(Args, Debug, Clone)]
pub struct StaticOptions {
    /// Where configs, data and logs go; it must be empty or absent, and
    /// is kept. Default: a temporary directory, removed at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The frontends, then the backends, each take the next address from
    /// this one; the directory listens on this one too.
    #[arg(long, default_value = "127.0.0.2")]
    first_address: Ipv4Addr,
    /// Every member listens on the same ports: this plus 25 (SMTP), 587
    /// (submission), 24 (LMTP), 110 (POP3), 143 (IMAP), 80 (admin), 44
    /// (cluster link); the directory on this plus 389.
    #[arg(long, default_value_t = 10000)]
    base_port: u16,
    /// The shared domain of the sample accounts.
    #[arg(long, default_value = "example.test")]
    domain: String,
    /// Sample accounts (user1@DOMAIN, password pw-user1, ...).
    #[arg(long, default_value_t = 6)]
    accounts: usize,
    /// Frontends (fe1.DOMAIN, ...), each on its own address.
    #[arg(long, default_value_t = 2)]
    frontends: usize,
    /// Backends (sv1.DOMAIN, ...), each on its own address.
    #[arg(long, default_value_t = 3)]
    backends: usize,
    /// Backends declared in every member's config but not started, to be
    /// added to the running cluster (`rookery --config DIR/NAME/rookery.toml serve`).
    #[arg(long, default_value_t = 0)]
    spare_backends: usize,
    /// Backends not started and named in no other member's config: started
    /// later, one is found through the directory, where it publishes its
    /// addresses (CM-4); the links then admit the members' network.
    #[arg(long, default_value_t = 0)]
    unlisted_backends: usize,
    /// The queues' retry interval (short, so that failover shows quickly).
    #[arg(long, default_value = "3s")]
    retry_interval: String,
}

pub fn run(command: DemoCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        DemoCommand::Static(options) => runtime.block_on(run_static(options)),
        DemoCommand::Dynamic(options) => runtime.block_on(dynamic::run_dynamic(options)),
        DemoCommand::ClusterOfClusters(options) => runtime.block_on(dynamic::run_clusters(options)),
    }
}

/// Where the data lives: the given directory, kept, or a temporary one.
enum Home {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Home {
    /// `dir` when given (it must be empty or absent), else a temporary one.
    fn new(dir: Option<&Path>) -> anyhow::Result<Home> {
        match dir {
            Some(dir) => {
                let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
                if !empty {
                    bail!(
                        "{} is not empty: the demo starts from scratch; remove it or choose another --dir",
                        dir.display()
                    );
                }
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                Ok(Home::Kept(std::path::absolute(dir)?))
            }
            None => Ok(Home::Temporary(tempfile::Builder::new().prefix("rookery-demo-").tempdir()?)),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Home::Kept(path) => path,
            Home::Temporary(dir) => dir.path(),
        }
    }
}

async fn run_static(options: StaticOptions) -> anyhow::Result<()> {
    types::DomainName::parse(&options.domain).with_context(|| format!("--domain {:?}", options.domain))?;
    if options.frontends == 0 || options.backends == 0 {
        bail!("the demo needs at least one frontend and one backend");
    }
    let home = Home::new(options.dir.as_deref())?;
    let plan = Plan::new(&PlanOptions {
        dir: home.path(),
        domain: &options.domain,
        first_address: options.first_address,
        base_port: options.base_port,
        frontends: options.frontends,
        backends: options.backends,
        spare_backends: options.spare_backends,
        unlisted_backends: options.unlisted_backends,
        retry_interval: &options.retry_interval,
    })?;
    plan.check_free()?;
    let cluster = Cluster::default();
    supervise(home, &cluster, start(&plan, &options, &cluster)).await
}

/// Runs `start` (which puts what it starts in `cluster`), then waits for
/// Ctrl-C or SIGTERM, stops everything and removes a temporary home; the
/// home of a demo that failed to start is kept for its logs.
async fn supervise(
    home: Home,
    cluster: &Cluster,
    start: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    // Ctrl-C while starting stops the demo too (its children, in their
    // own process groups, never see the terminal's signal).
    let stop_signal = wait_for_signal();
    tokio::pin!(stop_signal);
    let started = tokio::select! {
        started = start => Some(started),
        signalled = &mut stop_signal => signalled.err().map(Err),
    };
    let outcome = match started {
        Some(Ok(())) => stop_signal.await,
        Some(Err(e)) => Err(e),
        None => {
            println!("demo: interrupted while starting");
            Ok(())
        }
    };
    println!("demo: stopping");
    cluster.stop().await;
    match (&outcome, &home) {
        (Ok(()), Home::Kept(dir)) => println!("demo: stopped; configs, data and logs are kept in {}", dir.display()),
        (Ok(()), Home::Temporary(_)) => println!("demo: stopped; its temporary directory is removed"),
        (Err(_), _) => println!("demo: logs are in {}", home.path().display()),
    }
    if outcome.is_err()
        && let Home::Temporary(dir) = home
    {
        // Keep the logs of a failed start: the error points at them.
        let _ = dir.keep();
    }
    outcome
}

/// Everything started, in start order.
#[derive(Default)]
struct Cluster {
    watched: std::sync::Mutex<Vec<Watched>>,
}

impl Cluster {
    fn push(&self, watched: Watched) {
        self.watched.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(watched);
    }

    /// In the reverse order of starting: frontends first, the directory
    /// last.
    async fn stop(&self) {
        loop {
            let last = self.watched.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
            let Some(watched) = last else { return };
            watched.stop().await;
        }
    }

    /// Starts `members` at once and waits until each is ready; those that
    /// started are watched even when another failed.
    async fn start_members(&self, binary: &Path, members: Vec<MemberPlan>) -> anyhow::Result<Vec<RunningMember>> {
        let mut starting = tokio::task::JoinSet::new();
        for member in members {
            let binary = binary.to_owned();
            starting.spawn(async move {
                let started = members::start_member(&binary, &member.config_path(), &member.log_path()).await;
                (member, started)
            });
        }
        let mut started_members = Vec::new();
        let mut failure = None;
        while let Some(joined) = starting.join_next().await {
            let (member, started) = joined.context("starting a member")?;
            match started {
                Ok(started) => started_members.push((member, started)),
                Err(e) => failure = Some(e.context(format!("starting {}", member.name))),
            }
        }
        started_members.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let mut running = Vec::new();
        for (member, started) in started_members {
            let pid = started.child.id().unwrap_or(0);
            self.push(Watched::new(member.name.clone(), started.child, member.log_path())?);
            running.push(RunningMember { plan: member, pid, listening: started.listening });
        }
        match failure {
            Some(failure) => Err(failure),
            None => Ok(running),
        }
    }
}

/// Starts everything, makes the sample accounts and prints the summary.
async fn start(plan: &Plan, options: &StaticOptions, cluster: &Cluster) -> anyhow::Result<()> {
    let binary = std::env::current_exe().context("finding the rookery binary")?;
    let ldap_password = crate::first_start::random_password();
    crate::first_start::write_secret(&plan.ldap_password_path(), &ldap_password)?;
    crate::first_start::write_secret(&plan.secret_path(), &crate::first_start::random_password())?;
    let prepared = slapd::prepare(&plan.directory(), &ldap_password).await?;
    let slapd = slapd::spawn(&prepared).await?;
    let slapd_pid = slapd.id().unwrap_or(0);
    cluster.push(Watched::new("slapd".to_owned(), slapd, prepared.dir.join("slapd.log"))?);

    for member in &plan.members {
        std::fs::create_dir_all(member.home())?;
        std::fs::write(member.config_path(), render::render(plan, member)?)?;
        // Fails here, with the key named, rather than in a child.
        crate::config::Config::load(Some(&member.config_path()))?;
    }
    // Backends first (they make their main domains and postmasters in
    // the directory), then the frontends; the members of a role start at
    // once.
    let mut running = Vec::new();
    for role in [MemberRole::Backend, MemberRole::Frontend] {
        let starting = plan.members.iter().filter(|m| m.role == role && !m.spare).cloned().collect();
        running.extend(cluster.start_members(&binary, starting).await?);
    }
    let accounts = accounts::plan_accounts(plan, options.accounts);
    println!("demo: making {} sample accounts in {} and their welcome messages...", accounts.len(), plan.domain);
    let started = std::time::Instant::now();
    accounts::create(plan, &accounts).await?;
    let created_in = started.elapsed();

    let administrators = plan
        .running_backends()
        .map(|b| Ok((format!("postmaster@{}", b.name), accounts::Admin::of(b)?.password().to_owned())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let summary = Summary {
        dir: plan.dir.clone(),
        domain: plan.domain.clone(),
        directory: DirectorySummary {
            url: format!("ldap://{}/", plan.ldap),
            pid: slapd_pid,
            base_dn: plan.base_dn(),
            bind_dn: plan.bind_dn(),
            password_file: plan.ldap_password_path(),
        },
        members: running.iter().map(MemberSummary::of).collect(),
        spares: plan.backends().filter(|m| m.spare).map(SpareSummary::of).collect(),
        administrators: administrators
            .iter()
            .map(|(name, password)| Credentials { name: name.clone(), password: password.clone() })
            .collect(),
        accounts,
        accounts_made_in_ms: created_in.as_millis(),
    };
    let json_path = plan.dir.join("cluster.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summary)?)?;
    print_summary(&summary);
    println!("demo: ready ({} written; Ctrl-C stops the cluster)", json_path.display());
    std::io::stdout().flush()?;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

struct RunningMember {
    plan: MemberPlan,
    pid: u32,
    listening: BTreeMap<String, SocketAddr>,
}

/// `cluster.json`: what the demo prints, for scripts and tests.
#[derive(Serialize)]
struct Summary {
    dir: PathBuf,
    domain: String,
    directory: DirectorySummary,
    members: Vec<MemberSummary>,
    spares: Vec<SpareSummary>,
    /// Each backend's postmaster; any of them also administers the
    /// frontends (which keep no passwords).
    administrators: Vec<Credentials>,
    accounts: Vec<accounts::SampleAccount>,
    accounts_made_in_ms: u128,
}

#[derive(Serialize)]
struct DirectorySummary {
    url: String,
    pid: u32,
    base_dn: String,
    bind_dn: String,
    password_file: PathBuf,
}

#[derive(Serialize)]
struct Credentials {
    name: String,
    password: String,
}

#[derive(Serialize)]
struct MemberSummary {
    name: String,
    role: &'static str,
    pid: u32,
    ip: Ipv4Addr,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
    /// Service (`imap`, `admin`, `cluster`...) to address, as printed by
    /// the member.
    listening: BTreeMap<String, SocketAddr>,
}

impl MemberSummary {
    fn of(member: &RunningMember) -> MemberSummary {
        let plan = &member.plan;
        MemberSummary {
            name: plan.name.clone(),
            role: plan.role.as_str(),
            pid: member.pid,
            ip: plan.ip,
            config: plan.config_path(),
            data: plan.data_dir(),
            log: plan.log_path(),
            listening: member.listening.clone(),
        }
    }
}

#[derive(Serialize)]
struct SpareSummary {
    name: String,
    /// Named in no other member's config (`--unlisted-backends`).
    unlisted: bool,
    ip: Ipv4Addr,
    config: PathBuf,
    data: PathBuf,
    /// Where it will listen once started.
    listening: BTreeMap<&'static str, SocketAddr>,
}

impl SpareSummary {
    fn of(member: &MemberPlan) -> SpareSummary {
        let listening = Service::ALL.into_iter().map(|s| (s.section(), member.addr(s))).collect();
        SpareSummary {
            name: member.name.clone(),
            unlisted: member.unlisted,
            ip: member.ip,
            config: member.config_path(),
            data: member.data_dir(),
            listening,
        }
    }
}

/// How many sample accounts are listed one by one.
const LISTED_ACCOUNTS: usize = 6;

/// A member's role, name, pid and log, then its listeners.
fn print_member(member: &MemberSummary) {
    println!("{:<9}  {}  pid {}  (log {})", member.role, member.name, member.pid, member.log.display());
    let services: Vec<String> = ["smtp", "submission", "imap", "pop3", "lmtp", "admin", "cluster"]
        .into_iter()
        .filter_map(|s| member.listening.get(s).map(|addr| format!("{s} {addr}")))
        .collect();
    println!("           {}", services.join("  "));
}

/// The sample accounts, the first few one by one; `place` says where each
/// lives ("on" its backend, "in cluster" its dynamic cluster).
fn print_accounts(domain: &str, accounts: &[accounts::SampleAccount], place: &str) {
    println!("shared domain {domain}: {} accounts, each with a welcome message", accounts.len());
    for account in accounts.iter().take(LISTED_ACCOUNTS) {
        println!("    {}  password {}  {place} {}", account.name, account.password, account.server);
    }
    if accounts.len() > LISTED_ACCOUNTS {
        println!("    ... and {} more like them (userN / pw-userN)", accounts.len() - LISTED_ACCOUNTS);
    }
}

/// A one-line IMAP login a newcomer can paste.
fn print_imap_try(imap: SocketAddr, account: &accounts::SampleAccount) {
    println!(
        "    python3 -c 'import imaplib; i=imaplib.IMAP4(\"{}\",{}); i.login(\"{}\",\"{}\"); print(i.select(\"INBOX\"))'",
        imap.ip(),
        imap.port(),
        account.name,
        account.password
    );
}

fn print_summary(summary: &Summary) {
    println!();
    println!("Rookery static cluster on loopback (configs, data and logs in {})", summary.dir.display());
    println!();
    println!(
        "directory  slapd  {}  pid {}  (base {})",
        summary.directory.url, summary.directory.pid, summary.directory.base_dn
    );
    for member in &summary.members {
        print_member(member);
    }
    for spare in &summary.spares {
        let named = if spare.unlisted { ", named in no other config" } else { "" };
        println!("spare      {}  not started{named}: rookery --config {} serve", spare.name, spare.config.display());
    }
    println!();
    print_accounts(&summary.domain, &summary.accounts, "on");
    println!("administrators (any of them also administers the frontends):");
    for admin in &summary.administrators {
        println!("    {}  password {}", admin.name, admin.password);
    }
    if let (Some(frontend), Some(account)) =
        (summary.members.iter().find(|m| m.role == "frontend"), summary.accounts.first())
        && let Some(imap) = frontend.listening.get("imap")
    {
        println!();
        println!("Try it, through a frontend:");
        print_imap_try(*imap, account);
        if let Some(smtp) = frontend.listening.get("smtp") {
            println!("    swaks --server {smtp} --to {}", account.name);
        }
        println!(
            "    rookery --config {} account list {}",
            summary
                .members
                .iter()
                .find(|m| m.role == "backend")
                .map_or_else(String::new, |m| m.config.display().to_string()),
            summary.domain
        );
    }
    println!();
}

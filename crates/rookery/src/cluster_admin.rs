//! `rookery cluster reassign|restore|adopt|release`: failover in the
//! shared directory (CM-10). When a backend's disks are attached to
//! another backend, either every account hosted on the first is
//! re-pointed at the second (`reassign`; `oldHostServer` remembers where
//! it belongs, `restore` undoes it), or the second adopts the first's
//! name (`adopt`, one write; `release` undoes it). Both work on the
//! directory itself, not through a server: the failed server may be the
//! one that would have answered.

use crate::config::{Config, DirectoryKind};
use anyhow::{Context, bail};
use clap::Subcommand;
use directory::HostDirectory;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use types::DomainName;

/// Shown by `rookery cluster --help`.
const FAILOVER_HELP: &str = "\
Two ways to fail over a backend whose storage has been attached to another:

  reassign/restore  rewrite every account record (hostServer, oldHostServer):
                    one write per account, batched in LDAP transactions
                    (500,000 accounts take tens of seconds). Accounts can
                    then be moved back one by one or all at once. Safe to
                    run again after an interruption: it picks up the records
                    still hosted on --from.
  adopt/release     one write, whatever the number of accounts: the failed
                    server's entry says which member serves its name now;
                    every member follows within seconds. Records stay as
                    they are; `release` gives the name back.";

#[derive(Subcommand)]
#[command(after_help = FAILOVER_HELP)]
pub enum ClusterCommand {
    /// Move every account hosted on FROM to TO (FROM's storage attached
    /// to TO); each record remembers FROM as its old host. Batched; safe
    /// to run again after an interruption (it picks up the records still
    /// on FROM).
    Reassign {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Move the accounts reassigned away from SERVER back to it. Safe to
    /// run again after an interruption.
    Restore {
        #[arg(long)]
        server: String,
    },
    /// Let member BY serve SERVER's accounts (SERVER's storage attached to
    /// BY): one directory write, seen by every member within seconds.
    Adopt {
        /// The failed server's name (its main domain).
        server: String,
        #[arg(long)]
        by: String,
    },
    /// Give an adopted SERVER its own accounts back.
    Release {
        /// The adopted server's name.
        server: String,
    },
    /// Show the cluster: members, roles, the controller, open accounts and
    /// queue sizes (asked of the admin endpoint, like `account` commands).
    Status,
    /// Show which member serves ACCOUNT now (in a dynamic cluster: has it
    /// open), without opening it.
    Owner { account: String },
}

impl ClusterCommand {
    /// Whether the command asks a running member (its admin endpoint)
    /// rather than the directory.
    pub fn asks_a_member(&self) -> bool {
        matches!(self, ClusterCommand::Status | ClusterCommand::Owner { .. })
    }
}

pub fn run(config: Option<&Path>, command: ClusterCommand) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    if config.directory.kind != DirectoryKind::Ldap {
        bail!("cluster commands need the shared directory: directory.kind = \"ldap\"");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let section = &config.directory;
        let options =
            directory::LdapOptions::new(&section.url, &section.base_dn, &section.bind_dn, &section.bind_password()?);
        let ldap = directory::LdapDirectory::connect(options)
            .await
            .with_context(|| format!("connecting to the directory at {}", section.url))?;
        let mut bar = ProgressBar::default();
        let (what, moved) = match command {
            ClusterCommand::Adopt { server: name, by } => {
                let (name, by) = (server(&name, "SERVER")?, server(&by, "--by")?);
                let started = Instant::now();
                ldap.adopt(&name, &by).await?;
                println!("{name} adopted by {by} in {:.3} s", started.elapsed().as_secs_f64());
                return Ok(());
            }
            ClusterCommand::Release { server: name } => {
                let name = server(&name, "SERVER")?;
                let started = Instant::now();
                let by = ldap.release(&name).await?;
                println!("{name} released by {by} in {:.3} s", started.elapsed().as_secs_f64());
                return Ok(());
            }
            ClusterCommand::Reassign { from, to } => {
                let (from, to) = (server(&from, "--from")?, server(&to, "--to")?);
                let moved = ldap.reassign(&from, &to, &mut |done, total| bar.show(done, total)).await?;
                (format!("reassigned from {from} to {to}"), moved)
            }
            ClusterCommand::Restore { server: name } => {
                let name = server(&name, "--server")?;
                let moved = ldap.restore(&name, &mut |done, total| bar.show(done, total)).await?;
                (format!("restored to {name}"), moved)
            }
            ClusterCommand::Status | ClusterCommand::Owner { .. } => {
                bail!("cluster status and owner ask a running member: see admin_client")
            }
        };
        bar.finish();
        println!("{moved} accounts {what}");
        Ok(())
    })
}

fn server(name: &str, option: &str) -> anyhow::Result<DomainName> {
    DomainName::parse(name).map_err(|e| anyhow::anyhow!("{option} {name:?}: {e}"))
}

/// `[#####.....] 512/1000` on stderr, redrawn in place at most 100 times.
#[derive(Default)]
struct ProgressBar {
    drawn: Option<usize>,
}

impl ProgressBar {
    const WIDTH: usize = 40;

    fn show(&mut self, done: usize, total: usize) {
        let percent = (done * 100).checked_div(total).unwrap_or(100).min(100);
        if self.drawn == Some(percent) && done != total {
            return;
        }
        self.drawn = Some(percent);
        let filled = percent * Self::WIDTH / 100;
        let mut err = std::io::stderr();
        let _ = write!(err, "\r[{}{}] {done}/{total}", "#".repeat(filled), ".".repeat(Self::WIDTH - filled));
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.drawn.is_some() {
            eprintln!();
        }
    }
}

//! The admin commands: each is one request to a running server's JSON
//! admin API, authenticated as the main domain's postmaster. By default
//! the password is read from `<data>/postmaster.password`, so on the
//! server's own machine the commands need no options.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use web::api::types::{
    AccountDetail, AccountQuota, AccountSummary, DomainDetail, NewAccount, NewAlias, NewDomain, NewPassword, NewQuota,
};

#[derive(Args)]
pub struct AdminOptions {
    /// Admin endpoint of the running server (default: from the config,
    /// http://127.0.0.1:8010).
    #[arg(long, global = true, env = "ROOKERY_ADMIN_URL")]
    admin_url: Option<String>,
    /// Administrator login (default: postmaster of the main domain).
    #[arg(long, global = true, env = "ROOKERY_ADMIN_USER")]
    admin_user: Option<String>,
    /// Administrator password (default: read from <data>/postmaster.password).
    #[arg(long, global = true, env = "ROOKERY_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// In a cluster: run the command on this member (its server name),
    /// through the server the admin endpoint belongs to (CM-19), e.g. a
    /// backend behind a firewall administered through a frontend.
    #[arg(long, global = true, value_name = "SERVER")]
    member: Option<String>,
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Add a domain: on a single server, or local to the cluster member
    /// that adds it (its accounts live there only).
    Add {
        name: String,
        /// A Shared Domain, known to every cluster member at once, whose
        /// accounts may live on any backend (CM-3).
        #[arg(long)]
        shared: bool,
    },
    /// List the domains.
    List,
    /// Show a domain: who serves it, how many accounts and aliases it has.
    Show { name: String },
    /// Remove a domain that has no accounts or aliases left.
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Add an account (`name@domain`; a bare name is in the main domain).
    Add {
        name: String,
        /// The password; a random one is made and printed when absent.
        #[arg(long)]
        password: Option<String>,
        /// Storage limit, e.g. 500M, 2G, 1048576 (bytes); default unlimited.
        #[arg(long, value_parser = parse_size)]
        quota: Option<u64>,
        /// In a cluster: the backend that hosts the account (default: the
        /// server the command is sent to; a frontend needs one named).
        #[arg(long, value_name = "SERVER")]
        server: Option<String>,
    },
    /// List the accounts of a domain (default: the main domain).
    List {
        domain: Option<String>,
        /// With each account's storage use (single server; in a cluster
        /// ask each account with `account quota`).
        #[arg(long)]
        usage: bool,
    },
    /// Show an account with its quota and usage.
    Show { name: String },
    /// Remove an account and all its mail.
    Remove { name: String },
    /// Show an account's storage limit and use; with --set or --unlimited,
    /// change the limit first.
    Quota {
        name: String,
        /// The new limit, e.g. 500M, 2G, 1048576 (bytes).
        #[arg(long, value_parser = parse_size, conflicts_with = "unlimited")]
        set: Option<u64>,
        /// Remove the limit.
        #[arg(long)]
        unlimited: bool,
    },
    /// Move a live account to another backend of the cluster over the
    /// cluster link (run on a member; see ARCHITECTURE.md).
    Move {
        name: String,
        /// The backend to move it to.
        #[arg(long, value_name = "SERVER")]
        to: String,
    },
    /// Set an account's password.
    Passwd {
        name: String,
        /// The new password; a random one is made and printed when absent.
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Make mail to ALIAS go to the account TARGET.
    Add { alias: String, target: String },
    /// List aliases (all, or of one domain).
    List { domain: Option<String> },
    /// Remove an alias.
    Remove { alias: String },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List the messages in the queue.
    List,
    /// Show one queued message's envelope and recipient states.
    Show { id: String },
    /// Try a message's deferred and held recipients now.
    Retry { id: String },
    /// Keep a message from being delivered until it is released.
    Hold { id: String },
    /// Deliver a held message again.
    Release { id: String },
    /// Remove a message without delivering it or telling its sender.
    Delete { id: String },
    /// Take over the queue directory of another, failed server: its
    /// undelivered mail is queued here (recipients it had delivered are
    /// left out) and removed there. DIR is a path on the server's machine.
    Import { dir: PathBuf },
}

pub enum AdminCommand {
    Domain(DomainCommand),
    Account(AccountCommand),
    Alias(AliasCommand),
    Queue(QueueCommand),
    /// `cluster status` and `cluster owner`.
    Cluster(crate::cluster_admin::ClusterCommand),
}

pub fn run(
    config: Option<&Path>,
    data: Option<PathBuf>,
    options: AdminOptions,
    command: AdminCommand,
) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let client = Client::new(&config, data, &options)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(execute(&client, &config, options.json, command))
}

async fn execute(client: &Client, config: &Config, json: bool, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Domain(DomainCommand::Add { name, shared }) => {
            client.send::<_, ()>(Method::POST, "/domains", Some(&NewDomain { name: name.clone(), shared })).await?;
            println!("{} {name} added", if shared { "shared domain" } else { "domain" });
        }
        AdminCommand::Cluster(command) => cluster(client, json, command).await?,
        AdminCommand::Domain(DomainCommand::List) => {
            let domains: Vec<directory::DomainRecord> = client.get("/domains").await?;
            // In a cluster every member's main domain is local to it, so
            // a listing from anywhere (`--admin-url`) shows it is one.
            let clustered =
                config.cluster.role != crate::config::Role::Single || domains.iter().any(|d| d.server.is_some());
            print_list(json, &domains, |d| match (&d.server, clustered) {
                (Some(server), _) => format!("{}\tlocal to {server}", d.name),
                (None, true) => format!("{}\tshared", d.name),
                (None, false) => d.name.to_string(),
            })?;
        }
        AdminCommand::Domain(DomainCommand::Remove { name }) => {
            client.send::<(), ()>(Method::DELETE, &format!("/domains/{}", segment(&name)), None).await?;
            println!("domain {name} removed");
        }
        AdminCommand::Account(AccountCommand::Add { name, password, quota, server }) => {
            let (password, generated) = password_or_random(password);
            let body = NewAccount { name, password: password.clone(), quota_bytes: quota, server };
            let record: directory::AccountRecord = client.send(Method::POST, "/accounts", Some(&body)).await?;
            println!("account {} added", record.name);
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::Account(AccountCommand::Move { name, to }) => {
            crate::account_move::run(config, &name, &to).await?
        }
        AdminCommand::Account(AccountCommand::List { domain, usage }) => {
            let domain = domain.unwrap_or_else(|| config.main_domain.clone());
            let query = if usage { "?usage=true" } else { "" };
            let accounts: Vec<AccountSummary> =
                client.get(&format!("/domains/{}/accounts{query}", segment(&domain))).await?;
            if usage && accounts.iter().any(|a| a.used_bytes.is_none()) {
                // A cluster member does not open accounts to list them.
                eprintln!("usage is listed on a single server only: in a cluster use `account quota NAME`");
            }
            print_list(json, &accounts, |a| match (a.used_bytes, a.messages) {
                (Some(used), Some(messages)) => {
                    format!("{}\tquota {}\tused {used} bytes in {messages} messages", a.name, quota_text(a.quota_bytes))
                }
                _ => format!("{}\tquota {}", a.name, quota_text(a.quota_bytes)),
            })?;
        }
        AdminCommand::Account(AccountCommand::Quota { name, set, unlimited }) => {
            let path = format!("/accounts/{}/quota", segment(&name));
            if set.is_some() || unlimited {
                client.send::<_, ()>(Method::PUT, &path, Some(&NewQuota { quota_bytes: set })).await?;
            }
            let quota: AccountQuota = client.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&quota)?);
            } else {
                println!("account:  {}", quota.account);
                println!("quota:    {}", quota_text(quota.quota_bytes));
                println!("used:     {} bytes in {} messages", quota.used_bytes, quota.messages);
            }
        }
        AdminCommand::Domain(DomainCommand::Show { name }) => {
            let detail: DomainDetail = client.get(&format!("/domains/{}", segment(&name))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                println!("domain:   {}", detail.name);
                // No server: a single server's domain, or a cluster's Shared Domain.
                println!("local to: {}", detail.server.as_deref().unwrap_or("-"));
                println!("accounts: {}", detail.accounts);
                println!("aliases:  {}", detail.aliases);
            }
        }
        AdminCommand::Account(AccountCommand::Show { name }) => {
            let detail: AccountDetail = client.get(&format!("/accounts/{}", segment(&name))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                println!("account:  {}", detail.name);
                println!("quota:    {}", quota_text(detail.quota_bytes));
                println!("used:     {} bytes in {} messages", detail.used_bytes, detail.messages);
                println!("aliases:  {}", detail.aliases.join(", "));
            }
        }
        AdminCommand::Account(AccountCommand::Remove { name }) => {
            client.send::<(), ()>(Method::DELETE, &format!("/accounts/{}", segment(&name)), None).await?;
            println!("account {name} removed");
        }
        AdminCommand::Account(AccountCommand::Passwd { name, password }) => {
            let (password, generated) = password_or_random(password);
            let path = format!("/accounts/{}/password", segment(&name));
            client.send::<_, ()>(Method::PUT, &path, Some(&NewPassword { password: password.clone() })).await?;
            println!("password of {name} changed");
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::Alias(AliasCommand::Add { alias, target }) => {
            let body = NewAlias { alias: alias.clone(), target: target.clone() };
            client.send::<_, ()>(Method::POST, "/aliases", Some(&body)).await?;
            println!("alias {alias} -> {target} added");
        }
        AdminCommand::Alias(AliasCommand::List { domain }) => {
            let path = match domain {
                Some(d) => format!("/aliases?domain={}", segment(&d)),
                None => "/aliases".to_owned(),
            };
            let aliases: Vec<directory::AliasRecord> = client.get(&path).await?;
            print_list(json, &aliases, |a| format!("{} -> {}", a.alias, a.target))?;
        }
        AdminCommand::Alias(AliasCommand::Remove { alias }) => {
            client.send::<(), ()>(Method::DELETE, &format!("/aliases/{}", segment(&alias)), None).await?;
            println!("alias {alias} removed");
        }
        AdminCommand::Queue(QueueCommand::List) => {
            let entries: Vec<queue::QueueEntry> = client.get("/queue").await?;
            print_list(json, &entries, |e| {
                format!(
                    "{}\t{} bytes\tfrom <{}>\tto {}",
                    e.id,
                    e.size,
                    e.envelope.mail_from,
                    e.envelope.recipients.join(", ")
                )
            })?;
        }
        AdminCommand::Queue(QueueCommand::Retry { id }) => queue_action(client, json, &id, "retry").await?,
        AdminCommand::Queue(QueueCommand::Hold { id }) => queue_action(client, json, &id, "hold").await?,
        AdminCommand::Queue(QueueCommand::Release { id }) => queue_action(client, json, &id, "release").await?,
        AdminCommand::Queue(QueueCommand::Delete { id }) => {
            client.send::<(), ()>(Method::DELETE, &format!("/queue/{}", segment(&id)), None).await?;
            println!("{id} deleted");
        }
        AdminCommand::Queue(QueueCommand::Import { dir }) => {
            let dir = std::path::absolute(&dir)?;
            let body = web::api::types::ImportRequest { dir: dir.clone() };
            let imported: queue::Imported = client.send(Method::POST, "/queue/import", Some(&body)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&imported)?);
            } else {
                println!(
                    "imported {} messages for {} recipients from {} ({} recipients were already done there)",
                    imported.messages,
                    imported.recipients,
                    dir.display(),
                    imported.done_before
                );
            }
        }
        AdminCommand::Queue(QueueCommand::Show { id }) => {
            let entry: queue::QueueEntry = client.get(&format!("/queue/{}", segment(&id))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entry)?);
            } else {
                println!("id:       {}", entry.id);
                println!("from:     <{}>", entry.envelope.mail_from);
                println!("size:     {} bytes", entry.size);
                println!("received: {} (unix)", entry.envelope.received_at);
                for (rcpt, state) in entry.envelope.recipients.iter().zip(&entry.states) {
                    println!("to:       <{rcpt}>\t{state:?}");
                }
            }
        }
    }
    Ok(())
}

/// `retry`, `hold` or `release` one queued message; prints its states
/// after.
async fn queue_action(client: &Client, json: bool, id: &str, action: &str) -> anyhow::Result<()> {
    let path = format!("/queue/{}/{action}", segment(id));
    let entry: Option<queue::QueueEntry> = client.send::<(), _>(Method::POST, &path, None).await?;
    match entry {
        Some(entry) if json => println!("{}", serde_json::to_string_pretty(&entry)?),
        Some(entry) => {
            for (rcpt, state) in entry.envelope.recipients.iter().zip(&entry.states) {
                println!("{id}\t<{rcpt}>\t{state:?}");
            }
        }
        None => println!("{id} has left the queue"),
    }
    Ok(())
}

fn print_list<T: Serialize>(json: bool, items: &[T], line: impl Fn(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(items)?);
    } else {
        for item in items {
            println!("{}", line(item));
        }
    }
    Ok(())
}

fn quota_text(quota: Option<u64>) -> String {
    quota.map_or_else(|| "unlimited".to_owned(), |q| format!("{q} bytes"))
}

/// A path segment, percent-encoded so names with `/` or `%` stay one segment.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn password_or_random(password: Option<String>) -> (String, bool) {
    match password {
        Some(p) => (p, false),
        None => (crate::first_start::random_password(), true),
    }
}

/// Parses `500M`, `2G`, `64K`, or plain bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (number, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let number: u64 = number.parse().map_err(|_| format!("bad size {s:?}"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("bad size unit {unit:?} (use K, M, G or T)")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("size {s:?} is too large"))
}

/// `rookery cluster status` and `rookery cluster owner ACCOUNT`.
async fn cluster(client: &Client, json: bool, command: crate::cluster_admin::ClusterCommand) -> anyhow::Result<()> {
    use crate::cluster_admin::ClusterCommand;
    use web::cluster::{AccountOwner, ClusterStatus};
    match command {
        ClusterCommand::Owner { account } => {
            let owner: AccountOwner = client.get(&format!("/cluster/owners/{}", segment(&account))).await?;
            match (json, &owner.owner) {
                (true, _) => println!("{}", serde_json::to_string_pretty(&owner)?),
                (false, Some(member)) => println!("{member}"),
                (false, None) => println!("nobody has {} open", owner.account),
            }
        }
        _ => {
            let status: ClusterStatus = client.get("/cluster/status").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            println!("{} cluster {}", status.kind, status.name);
            println!("controller: {}", status.controller.as_deref().unwrap_or("-"));
            let figure = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
            println!(
                "{:<28} {:<10} {:<5} {:>13} {:>6} {:>11}  link",
                "member", "role", "live", "open accounts", "queue", "connections"
            );
            for m in &status.members {
                println!(
                    "{:<28} {:<10} {:<5} {:>13} {:>6} {:>11}  {}",
                    m.name,
                    if m.role.is_empty() { "-" } else { &m.role },
                    if m.live { "yes" } else { "no" },
                    figure(m.open_accounts),
                    figure(m.queue_messages),
                    figure(m.connections),
                    m.link.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

struct Client {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Client {
    fn new(config: &Config, data: Option<PathBuf>, options: &AdminOptions) -> anyhow::Result<Client> {
        let base = match &options.admin_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let mut addr = *config.admin.listen.first().context("the config has no admin listener")?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
        };
        let user = options.admin_user.clone().unwrap_or_else(|| "postmaster".to_owned());
        let password = match &options.admin_password {
            Some(p) => p.clone(),
            None => {
                let data_dir = data.unwrap_or_else(|| config.data_dir.clone());
                let path = data_dir.join(crate::first_start::PASSWORD_FILE);
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!("reading the admin password from {} (or pass --admin-password)", path.display())
                    })?
                    .trim()
                    .to_owned()
            }
        };
        let base = match &options.member {
            Some(member) => format!("{base}/api/v1/cluster/members/{}", segment(member)),
            None => format!("{base}/api/v1"),
        };
        Ok(Client { http: reqwest::Client::new(), base, user, password })
    }

    async fn get<R: DeserializeOwned>(&self, path: &str) -> anyhow::Result<R> {
        self.send::<(), R>(Method::GET, path, None).await
    }

    async fn send<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<R> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method, &url).basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response =
            request.send().await.with_context(|| format!("cannot reach the admin endpoint at {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            if status == StatusCode::UNAUTHORIZED {
                bail!("the admin endpoint refused the credentials of {}", self.user);
            }
            bail!("{message}");
        }
        if bytes.is_empty() {
            // 201/204 without a body: the caller asked for `()`.
            return serde_json::from_slice(b"null").context("unexpected empty reply");
        }
        serde_json::from_slice(&bytes).context("unexpected reply from the admin endpoint")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn segments_escape_slashes() {
        assert_eq!(segment("a/b@example.com"), "a%2Fb@example.com");
    }
}

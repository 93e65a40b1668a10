//! The sample accounts: the shared domain and its accounts are made
//! through each backend's admin endpoint (so the directory records that
//! backend as their `hostServer`), and each gets a welcome message sent
//! to its backend over SMTP.

use super::layout::{MemberPlan, Plan, Service};
use anyhow::{Context, bail};
use serde::Serialize;
use std::time::Duration;

/// Account creations in flight per backend (each hashes a password).
const CREATE_CONCURRENCY: usize = 4;
/// Welcome messages wait at most this long in the backends' queues.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// A sample account and where it lives.
#[derive(Debug, Clone, Serialize)]
pub struct SampleAccount {
    pub name: String,
    pub password: String,
    pub server: String,
}

/// `user1@domain` ... spread round-robin over the running backends; the
/// password is `pw-` and the local part.
pub fn plan_accounts(plan: &Plan, count: usize) -> Vec<SampleAccount> {
    let backends: Vec<&MemberPlan> = plan.running_backends().collect();
    if backends.is_empty() {
        return Vec::new();
    }
    let width = count.to_string().len();
    (1..=count)
        .map(|n| {
            let local = format!("user{n:0width$}");
            SampleAccount {
                name: format!("{local}@{}", plan.domain),
                password: format!("pw-{local}"),
                server: backends[(n - 1) % backends.len()].name.clone(),
            }
        })
        .collect()
}

/// The JSON admin API of one member, as its postmaster.
#[derive(Clone)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Admin {
    /// The admin endpoint of `member`, whose postmaster password is in its
    /// data directory (written on first start).
    pub fn of(member: &MemberPlan) -> anyhow::Result<Admin> {
        let path = member.data_dir().join(crate::first_start::PASSWORD_FILE);
        let password = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Admin {
            http: reqwest::Client::new(),
            base: format!("http://{}/api/v1", member.addr(Service::Admin)),
            user: format!("postmaster@{}", member.name),
            password: password.trim().to_owned(),
        })
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{} {path}: {status} {}", self.base, String::from_utf8_lossy(&bytes).trim());
        }
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{} {path}: unexpected reply", self.base))
    }

    /// A Shared Domain (CM-3): its accounts are spread over the backends.
    /// Adds a Shared Domain (CM-3): every backend hosts accounts in it.
    pub async fn add_domain(&self, name: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "name": name, "shared": true });
        self.request(reqwest::Method::POST, "/domains", Some(body)).await?;
        Ok(())
    }

    pub async fn add_account(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "name": name, "password": password });
        self.request(reqwest::Method::POST, "/accounts", Some(body)).await.with_context(|| format!("adding {name}"))?;
        Ok(())
    }

    /// How many messages are in this member's queue.
    pub async fn queued(&self) -> anyhow::Result<usize> {
        let list = self.request(reqwest::Method::GET, "/queue", None).await?;
        Ok(list.as_array().map_or(0, Vec::len))
    }
}

/// Makes the shared domain (through the first backend) and every account
/// (through its own backend), then sends each its welcome message and
/// waits until the backends' queues have delivered them.
pub async fn create(plan: &Plan, accounts: &[SampleAccount]) -> anyhow::Result<()> {
    let backends: Vec<&MemberPlan> = plan.running_backends().collect();
    let groups = backends
        .iter()
        .map(|backend| {
            let mine = accounts.iter().filter(|a| a.server == backend.name).cloned().collect();
            Group::of(backend, mine)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    create_groups(&plan.domain, &groups).await
}

/// The accounts made through one member, which also welcomes them.
pub struct Group {
    pub admin: Admin,
    pub smtp: std::net::SocketAddr,
    pub member: String,
    pub accounts: Vec<SampleAccount>,
}

impl Group {
    pub fn of(member: &MemberPlan, accounts: Vec<SampleAccount>) -> anyhow::Result<Group> {
        Ok(Group { admin: Admin::of(member)?, smtp: member.addr(Service::Smtp), member: member.name.clone(), accounts })
    }
}

/// Makes the shared `domain` through the first group's member, each
/// group's accounts through its member (so that the directory records
/// that member's host name for them), then sends each account its welcome
/// message through the same member and waits until its queue is empty.
pub async fn create_groups(domain: &str, groups: &[Group]) -> anyhow::Result<()> {
    let first = groups.first().context("the demo has no member to make accounts on")?;
    first.admin.add_domain(domain).await.with_context(|| format!("adding the domain {domain}"))?;
    let mut per_member = tokio::task::JoinSet::new();
    for group in groups {
        let (admin, smtp, name, mine) = (group.admin.clone(), group.smtp, group.member.clone(), group.accounts.clone());
        per_member.spawn(async move {
            create_on(&admin, &mine).await?;
            welcome(smtp, &name, &mine).await?;
            wait_for_empty_queue(&admin, &name).await
        });
    }
    while let Some(result) = per_member.join_next().await {
        result.context("account creation task")??;
    }
    Ok(())
}

async fn create_on(admin: &Admin, accounts: &[SampleAccount]) -> anyhow::Result<()> {
    let mut in_flight = tokio::task::JoinSet::new();
    for account in accounts {
        if in_flight.len() >= CREATE_CONCURRENCY
            && let Some(done) = in_flight.join_next().await
        {
            done.context("account creation")??;
        }
        let (admin, account) = (admin.clone(), account.clone());
        in_flight.spawn(async move { admin.add_account(&account.name, &account.password).await });
    }
    while let Some(done) = in_flight.join_next().await {
        done.context("account creation")??;
    }
    Ok(())
}

/// One SMTP connection to the backend, one message per account.
async fn welcome(smtp: std::net::SocketAddr, backend: &str, accounts: &[SampleAccount]) -> anyhow::Result<()> {
    let mut config = smtp_client::ClientConfig::new("demo.invalid");
    config.tls_policy = smtp_client::TlsPolicy::Disabled;
    config.timeouts = smtp_client::Timeouts::all(Duration::from_secs(60));
    let mut connection = smtp_client::Connection::connect(smtp, backend, &config)
        .await
        .with_context(|| format!("connecting to {backend}'s SMTP at {smtp}"))?;
    for account in accounts {
        let envelope = smtp_client::Envelope {
            mail_from: format!("postmaster@{backend}"),
            recipients: vec![account.name.clone()],
            smtputf8: false,
            body_8bit: false,
        };
        let body = format!(
            "From: Rookery demo <postmaster@{backend}>\r\nTo: <{name}>\r\nSubject: Welcome, {name}\r\n\
             Message-ID: <welcome.{name}>\r\n\r\nYour mailbox is hosted on {host}; you reach it through any \
             frontend of the cluster.\r\n",
            name = account.name,
            host = account.server,
        );
        let results =
            connection.send(&envelope, body.as_bytes()).await.with_context(|| format!("welcoming {}", account.name))?;
        if let Some(smtp_client::RcptResult::Rejected(e)) = results.into_iter().next() {
            bail!("{backend} refused the welcome message for {}: {e}", account.name);
        }
        connection.reset().await.with_context(|| format!("RSET on {backend}"))?;
    }
    let _ = connection.quit().await;
    Ok(())
}

async fn wait_for_empty_queue(admin: &Admin, backend: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let queued = admin.queued().await?;
        if queued == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{queued} welcome messages still queued on {backend} after {DELIVERY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

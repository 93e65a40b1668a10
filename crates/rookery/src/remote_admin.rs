//! The admin API's view of the cluster (CM-19, CM-24): which member hosts
//! an account (the locator) and how a call reaches another member (an
//! `Api` operation over the cluster link, run there by `MemberHandler`).
//! A member is one named in `[cluster.members]` or one that published its
//! link address in the directory (CM-4, `member::MemberLinks`).

use crate::config::Role;
use crate::member::MemberLinks;
use async_trait::async_trait;
use cluster::link::{AdminError, AdminOperation, AdminReply, LinkClient};
use cluster::{LocateError, Location, Locator};
use directory::HostDirectory;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use types::{AccountName, DomainName};
use web::ApiError;
use web::api::server::{self, ServerStatus};
use web::cluster::{ApiAnswer, ApiCall, ClusterAdmin, ClusterStatus, MemberInfo, MemberStatus};

/// How long `members` waits for each ping.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the cluster status waits for each member's own figures: the
/// admin picture refreshes every 2 s, and a dead member must show as dead
/// rather than hold the page up.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// Counting a member's accounts reads each of its account entries in the
/// directory, so a count (or a failure to count) is reused this long
/// while the admin cluster picture refreshes every 2 s.
const ACCOUNT_COUNT_TTL: Duration = Duration::from_secs(60);

pub struct LinkAdmin {
    client: LinkClient,
    members: MemberLinks,
    locator: Arc<dyn Locator>,
    role: Role,
    /// This member's name, left out of `members`.
    me: String,
    /// A dynamic member's accounts and coordination.
    dynamic: Option<(Arc<crate::dynamic::Accounts>, String)>,
    /// The shared directory, to count the accounts each member hosts.
    hosts: Option<Arc<crate::member::Hosts>>,
    /// Member -> when counted, and its account count (`None`: could not).
    account_counts: Mutex<HashMap<String, (Instant, Option<u64>)>>,
}

impl LinkAdmin {
    pub fn new(client: LinkClient, members: MemberLinks, locator: Arc<dyn Locator>, role: Role, me: String) -> Self {
        Self { client, members, locator, role, me, dynamic: None, hosts: None, account_counts: Mutex::default() }
    }

    /// Counts accounts per member (`hostServer`) in `hosts` for the status.
    pub fn with_hosts(self, hosts: Option<Arc<crate::member::Hosts>>) -> Self {
        Self { hosts, ..self }
    }

    /// How many accounts name `server` as their host, from a recent count.
    async fn hosted_accounts(&self, server: &str) -> Option<u64> {
        let hosts = self.hosts.as_ref()?;
        let counts = || self.account_counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, count)) = counts().get(server)
            && at.elapsed() < ACCOUNT_COUNT_TTL
        {
            return *count;
        }
        let name = DomainName::parse(server).ok()?;
        let count = match tokio::time::timeout(PING_TIMEOUT, hosts.accounts_on(&name)).await {
            Ok(Ok(accounts)) => Some(accounts.len() as u64),
            _ => None,
        };
        // One entry per member: the map is as small as the cluster.
        counts().insert(server.to_owned(), (Instant::now(), count));
        count
    }

    /// A member of the dynamic cluster `cluster`.
    pub fn dynamic(self, accounts: Arc<crate::dynamic::Accounts>, cluster: String) -> Self {
        Self { dynamic: Some((accounts, cluster)), ..self }
    }
}

#[async_trait]
impl ClusterAdmin for LinkAdmin {
    async fn host_of(&self, account: &AccountName) -> Result<Option<String>, ApiError> {
        match self.locator.locate(account).await {
            Ok(Location::Here) => Ok(None),
            Ok(Location::Elsewhere { server }) => Ok(Some(server)),
            Err(LocateError::Unavailable { reason, .. }) => {
                Err(ApiError::Unavailable(format!("cannot find the member hosting {account}: {reason}")))
            }
        }
    }

    async fn forward(&self, member: &str, call: ApiCall) -> Result<ApiAnswer, ApiError> {
        let addr = self
            .members
            .link(member)
            .await
            .map_err(|e| ApiError::Unavailable(format!("cannot find the cluster address of member {member}: {e}")))?
            .ok_or_else(|| ApiError::Unavailable(format!("no cluster address is configured for member {member}")))?;
        let operation = AdminOperation::Api { method: call.method, path: call.path, json: call.body };
        let reply = self
            .client
            .admin(addr, operation)
            .await
            .map_err(|e| ApiError::Unavailable(format!("cluster member {member}: {e}")))?;
        match reply {
            Ok(AdminReply::Api { status, json }) => Ok(ApiAnswer { status, body: json }),
            Ok(AdminReply::Json(json)) => Ok(ApiAnswer { status: 200, body: json }),
            Ok(AdminReply::Done) => Ok(ApiAnswer { status: 204, body: String::new() }),
            Err(AdminError::NoSuchAccount(what)) => {
                Err(ApiError::NotFound(format!("{member}: no such account {what}")))
            }
            Err(AdminError::AlreadyExists(what)) => Err(ApiError::Conflict(format!("{member}: {what} exists"))),
            Err(AdminError::Refused(why)) => Err(ApiError::Unavailable(format!("{member} refused: {why}"))),
            Err(AdminError::Failed(why)) => Err(ApiError::Internal(format!("{member}: {why}"))),
        }
    }

    async fn members(&self) -> Vec<MemberInfo> {
        let mut pings = tokio::task::JoinSet::new();
        let all = self.members.all().await;
        for (name, addr) in all.into_iter().filter(|(name, _)| !name.eq_ignore_ascii_case(&self.me)) {
            let client = self.client.clone();
            pings.spawn(async move {
                let reachable = matches!(tokio::time::timeout(PING_TIMEOUT, client.ping(addr)).await, Ok(Ok(())));
                MemberInfo { name, link: addr.to_string(), reachable }
            });
        }
        let mut members: Vec<MemberInfo> = pings.join_all().await;
        members.sort_by(|a, b| a.name.cmp(&b.name));
        members
    }

    async fn is_member(&self, name: &str) -> bool {
        !name.eq_ignore_ascii_case(&self.me) && matches!(self.members.link(name).await, Ok(Some(_)))
    }

    fn hosts_accounts(&self) -> bool {
        self.role != Role::Frontend
    }

    fn server_name(&self) -> String {
        self.me.clone()
    }

    fn role(&self) -> Option<String> {
        Some(role_name(self.role))
    }

    fn is_here(&self, server: &str) -> bool {
        server.eq_ignore_ascii_case(&self.me)
            || self.dynamic.as_ref().is_some_and(|(_, cluster)| server.eq_ignore_ascii_case(cluster))
    }

    async fn status(&self) -> Result<ClusterStatus, ApiError> {
        match &self.dynamic {
            Some((accounts, cluster)) => {
                let mut status = crate::dynamic::status::of_dynamic(accounts, cluster).await?;
                self.ask_registered(&mut status).await;
                Ok(status)
            }
            None => Ok(self.static_status().await),
        }
    }

    async fn owner(&self, account: &AccountName) -> Result<Option<String>, ApiError> {
        match &self.dynamic {
            Some((accounts, _)) => accounts
                .coord()
                .owner(&account.to_string())
                .await
                .map_err(|e| ApiError::Unavailable(format!("cannot ask etcd who has {account} open: {e}"))),
            None => Ok(Some(self.host_of(account).await?.unwrap_or_else(|| self.me.clone()))),
        }
    }
}

fn role_name(role: Role) -> String {
    format!("{role:?}").to_lowercase()
}

/// What a member said when asked for its own figures.
enum Asked {
    /// It answered on the link; with its figures unless it is a member
    /// that does not know the call yet.
    Answered(Option<ServerStatus>),
    /// Not reachable on the link within [`STATUS_TIMEOUT`].
    Unreachable,
}

/// Asks the member at `addr` for `GET /api/v1/server/status`, over the
/// link's admin path (run there without a login: the link is authenticated).
async fn ask_figures(client: LinkClient, addr: SocketAddr) -> Asked {
    let operation = AdminOperation::Api { method: "GET".into(), path: server::PATH.into(), json: None };
    match tokio::time::timeout(STATUS_TIMEOUT, client.admin(addr, operation)).await {
        Ok(Ok(Ok(AdminReply::Api { status: 200, json }))) => Asked::Answered(serde_json::from_str(&json).ok()),
        Ok(Ok(_)) => Asked::Answered(None),
        Ok(Err(_)) | Err(_) => Asked::Unreachable,
    }
}

impl LinkAdmin {
    /// Every other member's own figures, asked all at once: the slowest
    /// answer (at most [`STATUS_TIMEOUT`]) bounds the wait, not their sum.
    async fn ask_all(&self, members: Vec<(String, SocketAddr)>) -> HashMap<String, Asked> {
        let mut asks = tokio::task::JoinSet::new();
        for (name, addr) in members {
            let client = self.client.clone();
            asks.spawn(async move { (name, ask_figures(client, addr).await) });
        }
        asks.join_all().await.into_iter().collect()
    }

    /// A dynamic cluster: the registered members' live figures, asked over
    /// the link at the addresses they registered. The queue size in etcd is
    /// what the member last published; its own answer is newer.
    async fn ask_registered(&self, status: &mut ClusterStatus) {
        let others = status
            .members
            .iter()
            .filter(|m| !m.name.eq_ignore_ascii_case(&self.me))
            .filter_map(|m| Some((m.name.clone(), m.link.as_deref()?.parse().ok()?)))
            .collect();
        let mut answers = self.ask_all(others).await;
        for member in &mut status.members {
            if let Some(Asked::Answered(Some(figures))) = answers.remove(&member.name) {
                member.apply(&figures);
            }
        }
    }

    /// A static cluster: this member and the others it knows, pinged.
    /// Each other member is asked for its own figures; one that does not
    /// answer in time is dead. (This member's figures are filled in by the
    /// web crate, which counts them here.)
    async fn static_status(&self) -> ClusterStatus {
        let mut members = vec![MemberStatus {
            name: self.me.clone(),
            role: role_name(self.role),
            live: true,
            accounts: if self.role == Role::Frontend { None } else { self.hosted_accounts(&self.me).await },
            ..MemberStatus::default()
        }];
        let others: Vec<(String, SocketAddr)> =
            self.members.all().await.into_iter().filter(|(name, _)| !name.eq_ignore_ascii_case(&self.me)).collect();
        let links: Vec<(String, SocketAddr)> = others.clone();
        // The account counts (cached, read from the directory) while the members answer.
        let count_all = async {
            let mut counts = HashMap::new();
            for (name, _) in &links {
                counts.insert(name.clone(), self.hosted_accounts(name).await);
            }
            counts
        };
        let (mut answers, mut counts) = tokio::join!(self.ask_all(others), count_all);
        for (name, addr) in links {
            let asked = answers.remove(&name).unwrap_or(Asked::Unreachable);
            let mut member = MemberStatus {
                live: matches!(asked, Asked::Answered(_)),
                accounts: counts.remove(&name).flatten(),
                link: Some(addr.to_string()),
                name,
                ..MemberStatus::default()
            };
            if let Asked::Answered(Some(figures)) = &asked {
                member.apply(figures);
            }
            members.push(member);
        }
        members[1..].sort_by(|a, b| a.name.cmp(&b.name));
        ClusterStatus { kind: "static".into(), name: self.me.clone(), controller: None, members }
    }
}

//! This server's part in a static cluster (CM-1..CM-9, CM-24, CM-25):
//! which member hosts an account (the directory's `hostServer`, behind a
//! short cache), the cluster link's server side (deliveries and
//! administration for this member's accounts) and its client side
//! (deliveries to the accounts of the other members), which finds a
//! member's link address in the config or, for a member added later,
//! in the directory, where each backend publishes its addresses (CM-4).

use crate::config::Role;
use async_trait::async_trait;
use cluster::link::{AdminError, AdminOperation, AdminReply, DeliverRequest, LinkClient, LinkError, LinkHandler};
use cluster::{LocateError, Location, Locator};
use delivery::{DeliveryError, LocalDelivery, MemberDelivery};
use directory::{CachedHosts, Directory, HostDirectory, ServiceAddresses, ServiceKind};
use queue::{Job, Outcome, Queue};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use store::DeliveryId;
use types::{AccountName, DomainName};

/// Answers "where does this account live" from the shared directory.
pub struct HostLocator<H: HostDirectory> {
    hosts: Arc<CachedHosts<H>>,
    me: DomainName,
    role: Role,
    /// Dynamic clusters named by `hostServer` (CM-34): their accounts are
    /// on the member that has them open.
    peers: Option<Arc<crate::dynamic::PeerClusters>>,
}

impl<H: HostDirectory> HostLocator<H> {
    pub fn new(hosts: Arc<CachedHosts<H>>, me: DomainName, role: Role) -> Self {
        Self { hosts, me, role, peers: None }
    }

    pub fn with_peers(self, peers: Option<Arc<crate::dynamic::PeerClusters>>) -> Self {
        Self { peers, ..self }
    }
}

#[async_trait]
impl<H: HostDirectory> Locator for HostLocator<H> {
    async fn locate(&self, account: &AccountName) -> Result<Location, LocateError> {
        let unavailable = |reason: String| LocateError::Unavailable { account: account.clone(), reason };
        match self.hosts.host_server(account).await {
            Ok(Some(server)) if server == self.me && self.role != Role::Frontend => Ok(Location::Here),
            Ok(Some(server)) => crate::dynamic::locate_on(self.peers.as_deref(), &server, account).await,
            // An account from before clustering lives where it was made;
            // a frontend makes none and hosts none (CM-15).
            Ok(None) if self.role == Role::Frontend => Err(unavailable("no host server is recorded".into())),
            Ok(None) => Ok(Location::Here),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }
}

/// Where the other members' cluster links are: `[cluster.members]`, or
/// else the link address a member published in the directory, so that a
/// backend added to the running cluster is reached without a config edit.
pub struct MemberLinks {
    configured: BTreeMap<String, SocketAddr>,
    /// `None` without a shared directory (a single server).
    directory: Option<Arc<Hosts>>,
    /// In a dynamic cluster, the members' registry in etcd: live, and
    /// read before the directory.
    registry: Option<Arc<crate::dynamic::Accounts>>,
    /// The registries of the dynamic clusters this one routes to (CM-34).
    peers: Option<Arc<crate::dynamic::PeerClusters>>,
}

impl MemberLinks {
    pub fn new(configured: BTreeMap<String, SocketAddr>, directory: Option<Arc<Hosts>>) -> Self {
        Self { configured, directory, registry: None, peers: None }
    }

    /// Finds the members of the dynamic clusters behind this one too.
    pub fn with_peers(self, peers: Option<Arc<crate::dynamic::PeerClusters>>) -> Self {
        Self { peers, ..self }
    }

    /// Finds the other members of this member's dynamic cluster in its
    /// registry first.
    pub fn with_registry(self, registry: Option<Arc<crate::dynamic::Accounts>>) -> Self {
        Self { registry, ..self }
    }

    /// `server`'s link address; `Ok(None)` when neither the config nor
    /// the directory has one, `Err` when the directory cannot be read.
    pub async fn link(&self, server: &str) -> Result<Option<SocketAddr>, String> {
        if let Some(addr) = self.configured_link(server) {
            return Ok(Some(addr));
        }
        if let Some(registry) = &self.registry
            && let Ok(Some(info)) = registry.member_info(server).await
            && let Some(addr) = info.link
        {
            return Ok(Some(addr));
        }
        if let Some(peers) = &self.peers
            && let Some(addr) = peers.member_info(server).await.and_then(|info| info.link)
        {
            return Ok(Some(addr));
        }
        let (Some(directory), Ok(name)) = (&self.directory, DomainName::parse(server)) else { return Ok(None) };
        let published = directory.server_services(&name).await.map_err(|e| e.to_string())?;
        Ok(published.get(&ServiceKind::Link).copied())
    }

    /// Every other member's link address: the configured ones, and those
    /// published in the directory that the config does not name. The
    /// directory's answer is left out, with a note in the log, when it
    /// cannot be read.
    pub async fn all(&self) -> BTreeMap<String, SocketAddr> {
        let mut all = self.configured.clone();
        let Some(directory) = &self.directory else { return all };
        match directory.published_services().await {
            Ok(published) => {
                for (server, services) in published {
                    if let Some(&addr) = services.get(&ServiceKind::Link)
                        && self.configured_link(server.as_str()).is_none()
                    {
                        all.insert(server.to_string(), addr);
                    }
                }
            }
            Err(error) => {
                tracing::info!(target: "cluster::admin", %error, "cannot read the members' published addresses");
            }
        }
        all
    }

    fn configured_link(&self, server: &str) -> Option<SocketAddr> {
        self.configured.iter().find(|(name, _)| name.eq_ignore_ascii_case(server)).map(|(_, addr)| *addr)
    }
}

/// Deliveries to accounts hosted on other members, over the link.
pub struct LinkDelivery {
    client: LinkClient,
    members: MemberLinks,
}

impl LinkDelivery {
    pub fn new(client: LinkClient, members: MemberLinks) -> Self {
        Self { client, members }
    }
}

#[async_trait]
impl MemberDelivery for LinkDelivery {
    async fn deliver(
        &self,
        server: &str,
        account: &AccountName,
        job: &Job,
        position: usize,
        id: DeliveryId,
    ) -> Outcome {
        let addr = match self.members.link(server).await {
            Ok(Some(addr)) => addr,
            Ok(None) => {
                return Outcome::Deferred(format!("4.4.0 no cluster address is configured for member {server}"));
            }
            Err(e) => {
                return Outcome::Deferred(format!("4.4.0 cannot find the cluster address of member {server}: {e}"));
            }
        };
        let mut envelope = job.envelope.clone();
        envelope.recipients = vec![job.envelope.recipients[position].clone()];
        let request = DeliverRequest { account: account.clone(), delivery_id: id.0, envelope, body: job.body.clone() };
        match self.client.deliver(addr, request).await {
            Ok(outcomes) => {
                tracing::debug!(target: "cluster::delivery", %account, server, "delivered over the link");
                outcomes.into_iter().next().unwrap_or_else(|| Outcome::Deferred("4.4.0 no outcome from member".into()))
            }
            Err(LinkError::TooLarge { .. }) => Outcome::Failed("5.3.4 message too large for the cluster link".into()),
            Err(e) => {
                tracing::info!(target: "cluster::delivery", %account, server, error = %e, "member unreachable");
                Outcome::Deferred(format!("4.4.1 cluster member {server}: {e}"))
            }
        }
    }
}

/// What this member does for the others: deliver into, submit for and
/// administer its own accounts.
pub struct MemberHandler {
    pub delivery: Arc<LocalDelivery>,
    pub queue: Arc<Queue>,
    pub directory: Arc<dyn Directory>,
    /// The JSON admin API, for calls forwarded by other members (CM-24).
    pub admin: Arc<web::AdminServices>,
    /// Remote mailbox access and account moves (CM-26).
    pub mailboxes: Arc<crate::remote_mailbox::MailboxService>,
}

#[async_trait]
impl LinkHandler for MemberHandler {
    async fn mailbox(
        &self,
        _peer: SocketAddr,
        op: cluster::link::MailboxOp,
        body: bytes::Bytes,
    ) -> (Result<cluster::link::MailboxReply, cluster::link::MailboxError>, bytes::Bytes) {
        self.mailboxes.serve(op, body).await
    }

    async fn deliver(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        let count = request.envelope.recipients.len();
        let id = DeliveryId(request.delivery_id);
        let body = request.body;
        let outcome = match self.delivery.deliver(&request.account, &request.envelope.mail_from, &body, id).await {
            Ok(_) => Outcome::Delivered,
            Err(DeliveryError::QuotaExceeded { .. }) => {
                Outcome::Deferred(format!("4.2.2 mailbox of {} is full", request.account))
            }
            Err(DeliveryError::UnknownAccount(account)) => Outcome::Failed(format!("5.1.1 unknown user {account}")),
            Err(e) => Outcome::Deferred(e.to_string()),
        };
        tracing::info!(target: "cluster::delivery", %peer, account = %request.account, ?outcome, "delivery for a member");
        vec![outcome; count]
    }

    async fn submit(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        let count = request.envelope.recipients.len();
        let outcome = match self.queue.enqueue(request.envelope, request.body).await {
            Ok(id) => {
                tracing::info!(target: "cluster::delivery", %peer, %id, "submission from a member queued");
                Outcome::Delivered
            }
            Err(e) => Outcome::Deferred(format!("4.3.0 {e}")),
        };
        vec![outcome; count]
    }

    async fn admin(&self, peer: SocketAddr, operation: AdminOperation) -> Result<AdminReply, AdminError> {
        tracing::info!(target: "cluster::admin", %peer, ?operation, "admin request from a member");
        let failed = |e: directory::DirectoryError| AdminError::Failed(e.to_string());
        match operation {
            AdminOperation::AccountInfo { account } => {
                let record = self.directory.account(&account).await.map_err(failed)?;
                let record = record.ok_or_else(|| AdminError::NoSuchAccount(account.to_string()))?;
                let json = serde_json::json!({ "name": record.name.to_string(), "quota_bytes": record.quota_bytes });
                Ok(AdminReply::Json(json.to_string()))
            }
            AdminOperation::CreateAccount { account, password } => {
                let password = password.map_or_else(crate::first_start::random_password, |p| p.0);
                self.directory.add_account(&account, &password, None).await.map_err(failed)?;
                Ok(AdminReply::Done)
            }
            AdminOperation::SetPassword { account, password } => {
                self.directory.set_password(&account, &password.0).await.map_err(failed)?;
                Ok(AdminReply::Done)
            }
            AdminOperation::DeleteAccount { account } => {
                self.directory.remove_account(&account).await.map_err(failed)?;
                Ok(AdminReply::Done)
            }
            AdminOperation::Api { method, path, json } => {
                let call = web::cluster::ApiCall { method, path, body: json };
                let answer = web::cluster::call_local(self.admin.clone(), call).await;
                Ok(AdminReply::Api { status: answer.status, json: answer.body })
            }
        }
    }
}

/// The directory the configuration names, and the same directory as the
/// cluster's routing table when it is LDAP.
pub async fn open_directory(
    config: &crate::config::Config,
    data: &std::path::Path,
) -> anyhow::Result<(Arc<dyn Directory>, Option<Arc<directory::LdapDirectory>>)> {
    use crate::config::DirectoryKind;
    use anyhow::Context;
    match config.directory.kind {
        DirectoryKind::Embedded => {
            let embedded =
                directory::EmbeddedDirectory::open(&data.join("directory.redb")).context("opening the directory")?;
            Ok((Arc::new(embedded), None))
        }
        DirectoryKind::Ldap => {
            let section = &config.directory;
            let mut options = directory::LdapOptions::new(
                &section.url,
                &section.base_dn,
                &section.bind_dn,
                &section.bind_password()?,
            );
            options.replicas = section.replicas.clone();
            // Accounts made here are hosted here (CM-6); a frontend hosts none.
            if matches!(config.cluster.role, Role::Backend | Role::Symmetric) {
                options.local_server = Some(
                    DomainName::parse(&config.hosted_name())
                        .map_err(|e| anyhow::anyhow!("cluster.server_name: {e}"))?,
                );
            }
            let ldap = directory::LdapDirectory::connect(options)
                .await
                .with_context(|| format!("connecting to the directory at {}", section.url))?;
            let ldap = Arc::new(ldap);
            Ok((ldap.clone(), Some(ldap)))
        }
    }
}

/// Where accounts live: here on a single server, else the directory says
/// (and, for a dynamic cluster behind this one, its etcd).
pub fn locator(
    config: &crate::config::Config,
    hosts: Option<Arc<Hosts>>,
    peers: Option<Arc<crate::dynamic::PeerClusters>>,
) -> anyhow::Result<Arc<dyn Locator>> {
    match (config.cluster.role, hosts) {
        (Role::Single, _) | (_, None) => Ok(Arc::new(cluster::SingleServer)),
        (role, Some(hosts)) => Ok(Arc::new(HostLocator::new(hosts, server_name(config)?, role).with_peers(peers))),
    }
}

/// The member's one cache of `hostServer` look-ups, shared by its locator
/// and, on a frontend, its login proxy.
pub type Hosts = CachedHosts<Arc<directory::LdapDirectory>>;

pub fn host_cache(ldap: Arc<directory::LdapDirectory>) -> Arc<Hosts> {
    Arc::new(CachedHosts::new(ldap, directory::HostCacheLimits::default()))
}

fn server_name(config: &crate::config::Config) -> anyhow::Result<DomainName> {
    DomainName::parse(&config.server_name()).map_err(|e| anyhow::anyhow!("cluster.server_name: {e}"))
}

/// Publishes where the other members reach this one (CM-4) on its server
/// entry in the directory, replacing what it published before. Only a
/// member that hosts accounts publishes; a failure is a warning, since a
/// member named in the others' configs works without it.
pub async fn publish_services(config: &crate::config::Config, hosts: &Hosts) {
    if !matches!(config.cluster.role, Role::Backend | Role::Symmetric) {
        return;
    }
    let Ok(me) = server_name(config) else { return };
    let services = published_addresses(config);
    match hosts.publish_services(&me, &services).await {
        Ok(()) => {
            let list: Vec<String> = services.iter().map(|(kind, addr)| format!("{kind} {addr}")).collect();
            tracing::info!(target: "cluster", server = %me, services = %list.join(", "), "addresses published in the directory");
        }
        Err(error) => tracing::warn!(target: "cluster", server = %me, %error,
            "cannot publish this member's addresses in the directory; only members whose configs name it reach it"),
    }
}

/// For each of IMAP, POP3, submission, web mail and admin the first listen
/// address, and the link address. An address on an unspecified IP (0.0.0.0, ::) is
/// published with the link address's IP, this member's address on the
/// cluster network; one that gives no concrete address is left out.
pub(crate) fn published_addresses(config: &crate::config::Config) -> ServiceAddresses {
    let link = config.cluster.link.as_ref().map(|link| link.address);
    let cluster_ip = link.map(|addr| addr.ip()).filter(|ip| !ip.is_unspecified());
    let candidates = [
        (ServiceKind::Imap, config.imap.listen.first().copied()),
        (ServiceKind::Pop3, config.pop3.listen.first().copied()),
        (ServiceKind::Submission, config.submission.listen.first().copied()),
        (ServiceKind::Link, link),
        // Where frontends forward this member's accounts' web requests.
        (ServiceKind::Web, config.webmail.listen.first().copied()),
        // Where a frontend's `/Cluster/<member>/` reaches this member's
        // admin pages and API (CM-19).
        (ServiceKind::Admin, config.admin.listen.first().copied()),
    ];
    let mut services = ServiceAddresses::new();
    for (kind, addr) in candidates {
        let Some(addr) = addr else { continue };
        match reachable(addr, cluster_ip) {
            Some(addr) => {
                services.insert(kind, addr);
            }
            None => tracing::warn!(target: "cluster", service = %kind, %addr,
                "not published: it names no IP address or port the other members could use, and cluster.link.address names no IP either"),
        }
    }
    services
}

/// `addr` as another member reaches it: its unspecified IP replaced by
/// the cluster IP; `None` when no concrete address results.
pub(crate) fn reachable(addr: SocketAddr, cluster_ip: Option<std::net::IpAddr>) -> Option<SocketAddr> {
    if addr.port() == 0 {
        return None;
    }
    match addr.ip().is_unspecified() {
        false => Some(addr),
        true => cluster_ip.map(|ip| SocketAddr::new(ip, addr.port())),
    }
}

/// The PROXY protocol senders a member's client listeners trust: the
/// configured load balancers (`[limits] proxy_protocol_from`) and, in a
/// cluster, the members on the link's allow-list (CM-21), whose proxied
/// sessions arrive with a header naming the client. Returned with the
/// members alone, which a symmetric member serves without proxying again.
pub fn trusted_proxies(config: &crate::config::Config) -> anyhow::Result<(net::TrustedProxies, net::TrustedProxies)> {
    use anyhow::Context;
    let members: Vec<String> = match (&config.cluster.link, config.cluster.role) {
        (Some(link), role) if role != Role::Single => link.allow.iter().map(|ip| ip.to_string()).collect(),
        _ => Vec::new(),
    };
    let all = config.limits.proxy_protocol_from.iter().cloned().chain(members.iter().cloned());
    let all = net::TrustedProxies::parse(all).context("limits.proxy_protocol_from")?;
    let members = net::TrustedProxies::parse(&members).context("cluster.link.allow")?;
    Ok((all, members))
}

/// Whether this member's IMAP, POP3 and submission listeners are the login
/// proxy's: on frontends, symmetric members and dynamic members (which
/// serve the accounts they have open and proxy the others).
pub fn proxies_logins(config: &crate::config::Config) -> bool {
    matches!(config.cluster.role, Role::Frontend | Role::Symmetric) || config.cluster.dynamic.is_some()
}

/// How a member's client listeners are set up, shared by every protocol.
pub struct ListenerSetup {
    pub tls: tokio_rustls::TlsAcceptor,
    pub limits: net::ListenerLimits,
    /// Load balancers and members (see [`trusted_proxies`]).
    pub proxies: net::TrustedProxies,
    /// The members alone.
    pub members: net::TrustedProxies,
}

/// The IMAP, POP3 and submission listeners (plain and implicit TLS) of a
/// frontend, or of a symmetric member (`local`: its own sessions). Each
/// session is proxied to its account's backend once the login names the
/// account (DESIGN §4); on a symmetric member its own accounts' sessions
/// are served in process (CM-8). The listeners apply the connection
/// limits per client address and the PROXY protocol (CM-18).
pub async fn start_frontend<L: proxy::BackendLookup>(
    config: &crate::config::Config,
    lookup: L,
    setup: ListenerSetup,
    local: Option<Arc<dyn proxy::LocalSessions>>,
    tasks: &mut tokio::task::JoinSet<()>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<(&'static str, SocketAddr)>> {
    use anyhow::Context;
    use net::TlsMode;
    use proxy::Protocol;
    let mut bound = Vec::new();
    let frontend = Arc::new(frontend(config, lookup, setup.tls.clone(), local, setup.members.clone()));
    let starttls = TlsMode::StartTls(setup.tls.clone());
    let implicit = TlsMode::Implicit(setup.tls.clone());
    let listeners = [
        ("imap", Protocol::Imap, &config.imap.listen, &starttls, crate::serve::IMAP_BUSY),
        ("imaps", Protocol::Imap, &config.imap.listen_tls, &implicit, crate::serve::IMAP_BUSY),
        ("pop3", Protocol::Pop3, &config.pop3.listen, &starttls, crate::serve::POP3_BUSY),
        ("pop3s", Protocol::Pop3, &config.pop3.listen_tls, &implicit, crate::serve::POP3_BUSY),
        ("submission", Protocol::Submission, &config.submission.listen, &starttls, crate::serve::SMTP_BUSY),
        ("submissions", Protocol::Submission, &config.submission.listen_tls, &implicit, crate::serve::SMTP_BUSY),
    ];
    for (name, protocol, addrs, tls, busy) in listeners {
        for &addr in addrs {
            let listener = net::Listener::bind(addr, name, tls.clone(), setup.limits.clone(), busy)
                .await
                .with_context(|| format!("{name}: cannot listen on {addr}"))?
                .proxy_protocol_from(setup.proxies.clone());
            let local = listener.local_addr()?;
            println!("rookery: {name} listening on {local}");
            bound.push((name, local));
            tracing::info!(target: "proxy", protocol = name, "sessions are proxied to the accounts' hosts");
            tasks.spawn(frontend.clone().serve(protocol, listener, shutdown.clone()));
        }
    }
    Ok(bound)
}

/// Where the login proxy of a frontend or symmetric member sends each
/// session: the account's `hostServer`, mapped to that server's service
/// addresses by `[cluster.services]` or else by what it published in the
/// directory (CM-22, CM-4). `hosting`: this member serves its own
/// accounts (symmetric, CM-8).
pub fn directory_backends(
    config: &crate::config::Config,
    hosts: Arc<Hosts>,
    hosting: bool,
) -> anyhow::Result<proxy::DirectoryBackends<Arc<directory::LdapDirectory>>> {
    use proxy::Protocol;
    let mut servers = std::collections::HashMap::new();
    for (name, addresses) in &config.cluster.services {
        let name = DomainName::parse(name).map_err(|e| anyhow::anyhow!("cluster.services.{name:?}: {e}"))?;
        for (protocol, addr) in [
            (Protocol::Imap, addresses.imap),
            (Protocol::Pop3, addresses.pop3),
            (Protocol::Submission, addresses.submission),
            (Protocol::Web, addresses.web),
        ] {
            if let Some(addr) = addr {
                servers.insert((name.clone(), protocol), addr);
            }
        }
    }
    let lookup = proxy::DirectoryBackends::new(hosts, servers);
    Ok(if hosting { lookup.hosting(server_name(config)?) } else { lookup })
}

/// The login proxy with this member's settings. Its answers before the
/// login copy the backends', so it takes their values from this member's
/// config, which the members share.
fn frontend<L: proxy::BackendLookup>(
    config: &crate::config::Config,
    lookup: L,
    tls: tokio_rustls::TlsAcceptor,
    local: Option<Arc<dyn proxy::LocalSessions>>,
    members: net::TrustedProxies,
) -> proxy::Frontend<L> {
    let mut settings = proxy::FrontendConfig::new(config.main_domain());
    settings.hostname = config.hostname();
    let rule = |anywhere, on_loopback| proxy::PlaintextAuth { anywhere, on_loopback };
    settings.plaintext_auth = proxy::PlaintextAuthByProtocol {
        imap: rule(config.imap.allow_plaintext_auth, config.imap.allow_plaintext_auth_on_loopback),
        pop3: rule(config.pop3.allow_plaintext_auth, config.pop3.allow_plaintext_auth_on_loopback),
        submission: rule(config.submission.allow_plaintext_auth, config.submission.allow_plaintext_auth_on_loopback),
    };
    settings.max_message_size = config.smtp.max_message_size;
    // A spliced session is ended by its backend's own idle timeout, which
    // says goodbye in the protocol; the proxy's only catches a backend or
    // client that vanished, so it is a minute longer (IMAP: an IDLE lasts
    // as long as the backend allows).
    let margin = std::time::Duration::from_secs(60);
    settings.splice_idle = proxy::SpliceTimeouts {
        imap: config.imap.idle_timeout + margin,
        pop3: config.pop3.idle_timeout + margin,
        submission: config.smtp.idle_timeout + margin,
    };
    // Sessions leave from the cluster address, which the other members
    // trust to send PROXY headers (CM-21).
    settings.source_address =
        config.cluster.link.as_ref().map(|link| link.address.ip()).filter(|ip| !ip.is_unspecified());
    let frontend = proxy::Frontend::new(settings, lookup, Some(tls));
    match local {
        Some(local) => frontend.hosting(local, members),
        None => frontend,
    }
}

/// A symmetric member's own sessions, which its login proxy runs for the
/// accounts it hosts (over an in-process pipe) and for the sessions other
/// members proxy to it: the same sessions, on the same driver, as on its
/// direct listeners.
pub struct OwnSessions {
    pub imap: (Arc<imap::ImapConfig>, Arc<imap::ImapServices>),
    pub pop3: (Arc<pop3::Pop3Config>, Arc<pop3::Pop3Services>),
    pub submission: (Arc<smtp::SmtpConfig>, Arc<smtp::SmtpServices>),
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl proxy::LocalSessions for OwnSessions {
    fn serve(
        &self,
        protocol: proxy::Protocol,
        stream: Box<dyn net::Io>,
        tls: net::TlsMode,
        info: net::ConnInfo,
    ) -> proxy::Served {
        use net::driver::drive;
        let shutdown = self.shutdown.clone();
        match protocol {
            proxy::Protocol::Imap => {
                let session = imap::ImapSession::new(self.imap.0.clone(), self.imap.1.clone(), info);
                Box::pin(drive(stream, session, tls, shutdown))
            }
            proxy::Protocol::Pop3 => {
                let session = pop3::Pop3Session::new(self.pop3.0.clone(), self.pop3.1.clone(), info);
                Box::pin(drive(stream, session, tls, shutdown))
            }
            proxy::Protocol::Submission => {
                let session = smtp::SmtpSession::new(self.submission.0.clone(), self.submission.1.clone(), info);
                Box::pin(drive(stream, session, tls, shutdown))
            }
            // Web mail is served per request by the web router (web_front),
            // never over a line connection: nothing to run.
            proxy::Protocol::Web => Box::pin(async move { drop(stream) }),
        }
    }
}

/// "Forward to *" (CM-27): a backend hands all its outbound mail to the
/// frontends over the link, which queue it and deliver it outward.
/// Frontends are tried in turn, starting at a different one per message.
/// A frontend that queued the message but whose answer was lost makes the
/// backend send it again: outward mail is at least once here, as it is
/// to any remote server (ARCHITECTURE.md, crates/queue).
pub struct ForwardToFrontends {
    client: LinkClient,
    frontends: Vec<(String, SocketAddr)>,
    /// Named as the account in submissions: the sending member's
    /// postmaster (a submission belongs to no account of the frontend).
    postmaster: AccountName,
}

impl ForwardToFrontends {
    pub fn new(client: LinkClient, frontends: Vec<(String, SocketAddr)>, postmaster: AccountName) -> Self {
        Self { client, frontends, postmaster }
    }
}

#[async_trait]
impl queue::Transport for ForwardToFrontends {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let count = job.recipients.len();
        let mut envelope = job.envelope.clone();
        envelope.recipients = job.recipients.iter().map(|&p| job.envelope.recipients[p].clone()).collect();
        let request = DeliverRequest {
            account: self.postmaster.clone(),
            delivery_id: job.delivery_id(job.recipients.first().copied().unwrap_or(0)),
            envelope,
            body: job.body.clone(),
        };
        let mut last = String::from("no frontend is configured ([cluster] frontends)");
        let start = (job.id.0 as usize) % self.frontends.len().max(1);
        for i in 0..self.frontends.len() {
            let (name, addr) = &self.frontends[(start + i) % self.frontends.len()];
            match self.client.submit(*addr, request.clone()).await {
                Ok(outcomes) if outcomes.len() == count => {
                    tracing::info!(target: "cluster::delivery", id = %job.id, frontend = %name, "handed to a frontend");
                    return outcomes;
                }
                Ok(_) => last = format!("frontend {name} answered for the wrong number of recipients"),
                Err(LinkError::TooLarge { .. }) => {
                    return vec![Outcome::Failed("5.3.4 message too large for the cluster link".into()); count];
                }
                Err(e) => {
                    tracing::info!(target: "cluster::delivery", id = %job.id, frontend = %name, error = %e, "frontend unreachable");
                    last = format!("frontend {name}: {e}");
                }
            }
        }
        vec![Outcome::Deferred(format!("4.4.1 {last}")); count]
    }
}

/// The frontend forwarder, when `[outbound] forward_to = ["*"]` on a
/// member that is not itself a frontend.
pub fn forward_to_frontends(
    config: &crate::config::Config,
    client: LinkClient,
) -> anyhow::Result<Option<Arc<dyn queue::Transport>>> {
    let all_frontends = config.outbound.forward_to.iter().any(|target| target.trim() == "*");
    if !all_frontends || !config.outbound.enabled || config.cluster.role == Role::Frontend {
        return Ok(None);
    }
    let mut frontends = Vec::new();
    for name in &config.cluster.frontends {
        let addr = config
            .cluster
            .members
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("cluster.frontends: {name:?} is not in cluster.members"))?;
        frontends.push((name.clone(), *addr));
    }
    if frontends.is_empty() {
        anyhow::bail!("outbound.forward_to = [\"*\"] needs cluster.frontends");
    }
    let postmaster = AccountName::parse("postmaster", Some(&config.main_domain()))
        .map_err(|e| anyhow::anyhow!("postmaster of the main domain: {e}"))?;
    Ok(Some(Arc::new(ForwardToFrontends::new(client, frontends, postmaster))))
}

#[cfg(test)]
mod tests {
    use super::reachable;
    use std::net::SocketAddr;

    #[test]
    fn unspecified_listen_addresses_are_published_with_the_cluster_ip() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let cluster = Some("10.0.0.11".parse().unwrap());
        assert_eq!(reachable(addr("10.0.0.11:143"), None), Some(addr("10.0.0.11:143")));
        assert_eq!(reachable(addr("0.0.0.0:143"), cluster), Some(addr("10.0.0.11:143")));
        assert_eq!(reachable(addr("[::]:110"), cluster), Some(addr("10.0.0.11:110")));
        assert_eq!(reachable(addr("0.0.0.0:143"), None), None);
        assert_eq!(reachable(addr("10.0.0.11:0"), cluster), None);
    }
}

//! `rookery serve`: opens the data directory, starts every configured
//! listener and the queue runner, and runs until SIGINT or SIGTERM.

use crate::config::{Config, Role};
use crate::first_start;
use crate::member;
use crate::remote_admin::LinkAdmin;
use anyhow::{Context, bail};
use cluster::Locator;
use delivery::{LocalDelivery, QueueTransport};
use directory::Directory;
use net::{Listener, ListenerLimits, Session, TlsMode};
use queue::{Queue, QueueConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{Durability, Store, StoreConfig};
use tokio::sync::watch;
use tokio::task::JoinSet;
use types::DomainName;

pub fn run(config_path: Option<&Path>, data: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = Config::load(config_path)?;
    if let Some(data) = data {
        config.data_dir = data;
    }
    init_tracing(&config.log.filter);
    // Before anything counts: the `metrics` calls in every crate record
    // into this from then on (`GET /metrics` on the admin listener).
    if let Err(e) = web::metrics::install() {
        tracing::warn!(error = %e, "metrics are disabled: another recorder is installed");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Outbound SMTP for mail to other domains, unless `[outbound]` turns it
/// off (the queue then holds such mail).
fn remote_delivery(config: &Config) -> anyhow::Result<Option<Arc<dyn queue::Transport>>> {
    if !config.outbound.enabled {
        return Ok(None);
    }
    let router = routing::Router::new(&config.outbound.routing())?;
    let (client, limits) = config.outbound.client(&config.hostname())?;
    let pool = smtp_client::Pool::new(client, limits);
    let remote = outbound::RemoteDelivery::new(router, pool).with_own_listeners(&config.smtp.listen);
    Ok(Some(Arc::new(remote)))
}

/// Everything the listeners share.
struct Server {
    config: Config,
    directory: Arc<dyn Directory>,
    /// Where each account lives: here, or on another cluster member.
    locator: Arc<dyn Locator>,
    store: Arc<Store>,
    queue: Arc<Queue>,
    delivery: Arc<LocalDelivery>,
    /// What the queue runner delivers through: local and remote.
    transport: Arc<dyn queue::Transport>,
    tls: tokio_rustls::TlsAcceptor,
    limits: ListenerLimits,
    /// Load balancers and cluster members allowed to send PROXY protocol
    /// headers.
    proxies: net::TrustedProxies,
    /// The cluster members among them.
    members: net::TrustedProxies,
    shutdown: watch::Receiver<bool>,
    /// The admin API's services, shared with the cluster link's handler.
    admin: Arc<web::AdminServices>,
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data = config.data_dir.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let _lock = lock_data_dir(&data)?;
    let main_domain = config.main_domain();

    let (directory, ldap) = member::open_directory(&config, &data).await?;
    let hosts = ldap.map(member::host_cache);
    // Dynamic clusters behind this one (a cluster of clusters, CM-34).
    let peers = crate::dynamic::PeerClusters::connect(&config).await?.map(Arc::new);
    // A dynamic member registers in etcd before anything else: the
    // controller sees it alive and lets go of its queue (CM-17).
    let dynamic = match (&config.cluster.dynamic, &hosts) {
        (Some(section), Some(hosts)) => {
            Some(DynamicParts::start(&config, section, hosts.clone(), peers.clone()).await?)
        }
        _ => None,
    };
    let locator = match &dynamic {
        Some(parts) => parts.locator.clone(),
        None => member::locator(&config, hosts.clone(), peers.clone())?,
    };
    // A frontend makes no accounts and keeps no passwords (CM-15), and may
    // bind to the directory read-only; a backend's postmaster administers
    // it.
    if config.cluster.role != Role::Frontend {
        let server = match config.cluster.role {
            Role::Single => None,
            _ => Some(DomainName::parse(&config.hosted_name()).context("cluster.server_name")?),
        };
        first_start::ensure_main_domain(directory.as_ref(), &main_domain, server.as_ref(), &data).await?;
    }
    let durability = if config.store.fsync { Durability::Fsync } else { Durability::Buffered };
    // A dynamic cluster's accounts and queues are on the storage the
    // members share.
    let shared = dynamic.as_ref().map(|parts| &parts.paths);
    let accounts_root = shared.map_or_else(|| data.join("accounts"), |paths| paths.accounts.clone());
    let queue_dir = shared.map_or_else(|| data.join("queue"), |paths| paths.queue.clone());
    // New accounts get the special-use mailboxes IMAP clients look for.
    let mut store = Store::open(&accounts_root, StoreConfig { durability })
        .context("opening storage")?
        .with_initial_mailboxes(&imap::SPECIAL_USE_MAILBOXES);
    if let Some(parts) = &dynamic {
        store = store.with_fence(parts.accounts.clone());
    }
    let store = Arc::new(store);
    if let Some(parts) = &dynamic {
        parts.accounts.attach(store.clone());
    }
    let queue_config = QueueConfig {
        dir: queue_dir,
        fsync: config.store.fsync,
        delivery_concurrency: config.queue.delivery_concurrency,
        retry_schedule: config.queue.retry_schedule.clone(),
        max_age: config.queue.max_age,
        reporting_mta: config.hostname(),
        bounce_from: format!("MAILER-DAEMON@{main_domain}"),
        delay_warning_after: Some(config.queue.delay_warning_after).filter(|after| !after.is_zero()),
    };
    let queue = Arc::new(open_queue(queue_config.clone(), dynamic.is_some()).await?);
    let delivery = Arc::new(LocalDelivery::new(directory.clone(), store.clone(), locator.clone(), main_domain.clone()));
    let mut transport = QueueTransport::new(delivery.clone(), remote_delivery(&config)?);
    let link = match &config.cluster.link {
        Some(link) => {
            let secret = link.validate().map_err(|e| anyhow::anyhow!("cluster.link.{}: {}", e.key, e.reason))?;
            Some((link, cluster::link::LinkClient::new(link, secret.clone()), secret))
        }
        None => None,
    };
    let admin = Arc::new(web::AdminServices {
        directory: directory.clone(),
        store: store.clone(),
        queue: queue.clone(),
        main_domain: main_domain.clone(),
        cluster: link.as_ref().map(|(_, client, _)| {
            let members = member::MemberLinks::new(config.cluster.members.clone(), hosts.clone())
                .with_registry(dynamic.as_ref().map(|parts| parts.accounts.clone()))
                .with_peers(peers.clone());
            let mut cluster_admin =
                LinkAdmin::new(client.clone(), members, locator.clone(), config.cluster.role, config.server_name())
                    .with_hosts(hosts.clone());
            if let Some(parts) = &dynamic {
                cluster_admin = cluster_admin.dynamic(parts.accounts.clone(), parts.cluster.to_string());
            }
            Arc::new(cluster_admin) as Arc<dyn web::cluster::ClusterAdmin>
        }),
        link_secret: link.as_ref().map(|(_, _, secret)| secret.derive(web::forwarded_admin::PURPOSE)),
        metrics_from: member::trusted_proxies(&config)?.1,
        admin_pages: Default::default(),
    });
    // Web mail session cookies are signed with a key every member derives.
    let web_secret = link.as_ref().map(|(_, _, secret)| secret.clone());
    let mut link_server = None;
    if let Some((link, client, secret)) = link {
        let handler = member::MemberHandler {
            delivery: delivery.clone(),
            queue: queue.clone(),
            directory: directory.clone(),
            admin: admin.clone(),
            mailboxes: crate::remote_mailbox::MailboxService::new(delivery.clone(), hosts.clone()),
        };
        let server = cluster::link::LinkServer::bind(link, secret, Arc::new(handler))
            .await
            .with_context(|| format!("cluster link: cannot listen on {}", link.address))?;
        println!("rookery: cluster listening on {}", server.local_addr());
        link_server = Some(server);
        if let Some(forward) = member::forward_to_frontends(&config, client.clone())? {
            transport = transport.with_remote(forward);
        }
        let members = member::MemberLinks::new(config.cluster.members.clone(), hosts.clone())
            .with_registry(dynamic.as_ref().map(|parts| parts.accounts.clone()))
            .with_peers(peers.clone());
        transport = transport.with_members(Arc::new(member::LinkDelivery::new(client, members)));
    }
    let transport: Arc<dyn queue::Transport> = Arc::new(transport);
    let tls_config = net::TlsConfig {
        cert_path: config.tls.cert.clone().unwrap_or_else(|| data.join("tls/cert.pem")),
        key_path: config.tls.key.clone().unwrap_or_else(|| data.join("tls/key.pem")),
    };
    let tls = tls_config.load_or_create(&[config.hostname(), "localhost".to_owned()]).context("loading TLS")?;
    let limits = ListenerLimits {
        max_connections: config.limits.max_connections,
        max_per_ip: config.limits.max_connections_per_ip,
    };
    // Load balancers, and in a cluster the members that proxy sessions.
    let (proxies, members) = member::trusted_proxies(&config)?;
    let (stop, shutdown) = watch::channel(false);
    let server = Arc::new(Server {
        config,
        directory,
        locator,
        store,
        queue,
        delivery,
        transport,
        tls,
        limits,
        proxies,
        members,
        shutdown,
        admin,
    });

    // Where the others reach this member (CM-4), once its link listens;
    // and where they are, so that the admin API knows from the start the
    // members its config does not name.
    // (A dynamic member publishes in etcd instead, once its listeners are
    // bound: `DynamicParts::spawn_upkeep`.)
    if let Some(hosts) = hosts.as_ref().filter(|_| dynamic.is_none()) {
        member::publish_services(&server.config, hosts).await;
        if let Err(error) = directory::HostDirectory::published_services(hosts.as_ref()).await {
            tracing::warn!(target: "cluster", %error, "cannot read the other members' published addresses yet");
        }
    }
    let mut tasks = JoinSet::new();
    server.start_smtp(&mut tasks).await?;
    // Where this member's listeners are bound, for the registry of a
    // dynamic cluster.
    let mut bound = Vec::new();
    // `/Cluster/<member>/` on the admin listener (CM-19).
    let cluster_admin =
        crate::web_front::admin::ClusterAdmin::new(&server.config, server.admin.clone(), hosts.clone()).map(Arc::new);
    match (server.config.cluster.role, hosts, &dynamic) {
        // A dynamic member serves the accounts it has open and proxies the
        // sessions of those open on other members (CM-13).
        (_, Some(hosts), Some(parts)) => {
            let own: Arc<dyn proxy::LocalSessions> = Arc::new(server.own_sessions());
            let others = crate::dynamic::PeerBackends::new(
                member::directory_backends(&server.config, hosts.clone(), false)?,
                peers.clone(),
            );
            let web = crate::dynamic::DynamicBackends::new(
                parts.accounts.clone(),
                parts.cluster.clone(),
                crate::dynamic::PeerBackends::new(
                    member::directory_backends(&server.config, hosts.clone(), false)?,
                    peers.clone(),
                ),
            );
            let lookup = crate::dynamic::DynamicBackends::new(parts.accounts.clone(), parts.cluster.clone(), others);
            let setup = server.listener_setup();
            bound =
                member::start_frontend(&server.config, lookup, setup, Some(own), &mut tasks, &server.shutdown).await?;
            bound.extend(server.start_web_front(Box::new(web), true, web_secret.as_ref(), &data, &mut tasks).await?);
        }
        // A frontend serves no account: its sessions go to the backends.
        (Role::Frontend, Some(hosts), None) => {
            let web = crate::dynamic::PeerBackends::new(
                member::directory_backends(&server.config, hosts.clone(), false)?,
                peers.clone(),
            );
            server.start_web_front(Box::new(web), false, web_secret.as_ref(), &data, &mut tasks).await?;
            let lookup = crate::dynamic::PeerBackends::new(
                member::directory_backends(&server.config, hosts, false)?,
                peers.clone(),
            );
            member::start_frontend(&server.config, lookup, server.listener_setup(), None, &mut tasks, &server.shutdown)
                .await?;
        }
        // A symmetric member proxies the sessions of accounts hosted
        // elsewhere and serves its own in process (CM-8).
        (Role::Symmetric, Some(hosts), None) => {
            let own: Arc<dyn proxy::LocalSessions> = Arc::new(server.own_sessions());
            let web = crate::dynamic::PeerBackends::new(
                member::directory_backends(&server.config, hosts.clone(), true)?,
                peers.clone(),
            );
            server.start_web_front(Box::new(web), true, web_secret.as_ref(), &data, &mut tasks).await?;
            let lookup = crate::dynamic::PeerBackends::new(
                member::directory_backends(&server.config, hosts, true)?,
                peers.clone(),
            );
            let setup = server.listener_setup();
            member::start_frontend(&server.config, lookup, setup, Some(own), &mut tasks, &server.shutdown).await?;
        }
        _ => {
            server.start_pop3(&mut tasks).await?;
            server.start_imap(&mut tasks).await?;
            let web = crate::webmail_listener::services(crate::webmail_listener::WebmailInputs {
                config: &server.config,
                data: &data,
                directory: server.directory.clone(),
                store: server.store.clone(),
                queue: server.queue.clone(),
                locator: server.locator.clone(),
                secret: web_secret.as_ref(),
            })?;
            let web = crate::webmail_listener::start(&server.config, web, &server.tls, &mut tasks, &server.shutdown);
            bound.extend(web.await?.into_iter().map(|addr| ("webmail", addr)));
        }
    }
    for addr in server.start_admin(cluster_admin, &mut tasks).await? {
        bound.push(("admin", addr));
    }
    if let Some(parts) = &dynamic {
        let link = link_server.as_ref().map(|link| link.local_addr());
        let info = crate::dynamic::member_info(&server.config, &bound, link);
        parts.spawn_upkeep(&server, info, queue_config, &mut tasks);
    }
    let runner = server.clone();
    tasks.spawn(async move {
        let transport = runner.transport.clone();
        runner.queue.run(transport, runner.shutdown.clone()).await;
    });
    println!("rookery: ready (data in {})", data.display());

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(std::time::Duration::from_secs(15), async { while tasks.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        tracing::warn!("some tasks did not stop within 15 s");
    }
    if let Some(link) = link_server {
        link.shutdown().await;
    }
    // Stop writing, then give the accounts up at once (the lease is
    // revoked), so that the others open them without waiting for it to
    // expire.
    if let Some(parts) = dynamic {
        parts.accounts.drop_all("server shutting down").await;
        parts.accounts.coord().shutdown().await;
    }
    Ok(())
}

/// Each protocol's answer to a connection over a limit, written before
/// closing it (DESIGN §8, CM-18); the login proxy's listeners use them too.
pub(crate) const IMAP_BUSY: &[u8] = b"* BYE too many connections\r\n";
pub(crate) const POP3_BUSY: &[u8] = b"-ERR [SYS/TEMP] too many connections, try again later\r\n";
pub(crate) const SMTP_BUSY: &[u8] = b"421 4.7.0 too many connections, try again later\r\n";

impl Server {
    async fn listen<S, F>(
        &self,
        tasks: &mut JoinSet<()>,
        protocol: &'static str,
        addrs: &[SocketAddr],
        tls: TlsMode,
        busy_reply: &'static [u8],
        new_session: F,
    ) -> anyhow::Result<()>
    where
        S: Session + 'static,
        F: Fn(net::ConnInfo) -> S + Clone + Send + Sync + 'static,
    {
        for &addr in addrs {
            let listener = Listener::bind(addr, protocol, tls.clone(), self.limits.clone(), busy_reply)
                .await
                .with_context(|| format!("{protocol}: cannot listen on {addr}"))?
                .proxy_protocol_from(self.proxies.clone());
            println!("rookery: {protocol} listening on {}", listener.local_addr()?);
            tasks.spawn(listener.run(new_session.clone(), self.shutdown.clone()));
        }
        Ok(())
    }

    /// How the login proxy's listeners are set up (frontend, symmetric).
    fn listener_setup(&self) -> member::ListenerSetup {
        member::ListenerSetup {
            tls: self.tls.clone(),
            limits: self.limits.clone(),
            proxies: self.proxies.clone(),
            members: self.members.clone(),
        }
    }

    /// This member's IMAP, POP3 and submission sessions, for the login
    /// proxy of a symmetric member to run its own accounts' sessions on.
    fn own_sessions(&self) -> member::OwnSessions {
        let (submission, smtp_services) = self.smtp_parts(smtp::Role::Submission);
        let (imap, imap_services) = self.imap_parts();
        let (pop3, pop3_services) = self.pop3_parts();
        member::OwnSessions {
            imap: (imap, imap_services),
            pop3: (pop3, pop3_services),
            submission: (submission, smtp_services),
            shutdown: self.shutdown.clone(),
        }
    }

    fn smtp_parts(&self, role: smtp::Role) -> (Arc<smtp::SmtpConfig>, Arc<smtp::SmtpServices>) {
        let services = Arc::new(smtp::SmtpServices { delivery: self.delivery.clone(), queue: self.queue.clone() });
        let c = &self.config;
        let config = smtp::SmtpConfig {
            role,
            hostname: c.hostname(),
            max_message_size: c.smtp.max_message_size,
            max_recipients: c.smtp.max_recipients,
            max_errors: c.smtp.max_errors,
            max_hops: c.smtp.max_hops,
            idle_timeout: c.smtp.idle_timeout,
            data_timeout: c.smtp.idle_timeout,
            allow_plaintext_auth_on_loopback: c.submission.allow_plaintext_auth_on_loopback,
            allow_plaintext_auth: c.submission.allow_plaintext_auth,
            ..smtp::SmtpConfig::default()
        };
        (Arc::new(config), services)
    }

    async fn start_smtp(&self, tasks: &mut JoinSet<()>) -> anyhow::Result<()> {
        let c = &self.config;
        let roles = [
            ("smtp", smtp::Role::Mx, &c.smtp.listen, TlsMode::StartTls(self.tls.clone())),
            ("submission", smtp::Role::Submission, &c.submission.listen, TlsMode::StartTls(self.tls.clone())),
            ("submissions", smtp::Role::Submission, &c.submission.listen_tls, TlsMode::Implicit(self.tls.clone())),
            ("lmtp", smtp::Role::Lmtp, &c.lmtp.listen, TlsMode::Off),
        ];
        for (protocol, role, addrs, tls) in roles {
            // A frontend's or symmetric member's submission sessions go
            // through the login proxy (member.rs).
            if member::proxies_logins(c) && role == smtp::Role::Submission {
                continue;
            }
            let (config, services) = self.smtp_parts(role);
            let new_session = move |conn| smtp::SmtpSession::new(config.clone(), services.clone(), conn);
            self.listen(tasks, protocol, addrs, tls, SMTP_BUSY, new_session).await?;
        }
        Ok(())
    }

    fn pop3_parts(&self) -> (Arc<pop3::Pop3Config>, Arc<pop3::Pop3Services>) {
        let services = Arc::new(pop3::Pop3Services {
            directory: self.directory.clone(),
            store: self.store.clone(),
            locator: self.locator.clone(),
        });
        let c = &self.config.pop3;
        let config = Arc::new(pop3::Pop3Config {
            main_domain: self.config.main_domain(),
            idle_timeout: c.idle_timeout,
            allow_plaintext_auth_on_loopback: c.allow_plaintext_auth_on_loopback,
            allow_plaintext_auth: c.allow_plaintext_auth,
            ..pop3::Pop3Config::default()
        });
        (config, services)
    }

    async fn start_pop3(&self, tasks: &mut JoinSet<()>) -> anyhow::Result<()> {
        let (config, services) = self.pop3_parts();
        let c = &self.config.pop3;
        for (protocol, addrs, tls) in [
            ("pop3", &c.listen, TlsMode::StartTls(self.tls.clone())),
            ("pop3s", &c.listen_tls, TlsMode::Implicit(self.tls.clone())),
        ] {
            let (config, services) = (config.clone(), services.clone());
            let new_session = move |conn| pop3::Pop3Session::new(config.clone(), services.clone(), conn);
            self.listen(tasks, protocol, addrs, tls, POP3_BUSY, new_session).await?;
        }
        Ok(())
    }

    fn imap_parts(&self) -> (Arc<imap::ImapConfig>, Arc<imap::ImapServices>) {
        let services = Arc::new(imap::ImapServices {
            directory: self.directory.clone(),
            store: self.store.clone(),
            locator: self.locator.clone(),
        });
        let c = &self.config.imap;
        let config = Arc::new(imap::ImapConfig {
            main_domain: self.config.main_domain(),
            idle_timeout: c.idle_timeout,
            allow_plaintext_auth_on_loopback: c.allow_plaintext_auth_on_loopback,
            allow_plaintext_auth: c.allow_plaintext_auth,
            ..imap::ImapConfig::default()
        });
        (config, services)
    }

    async fn start_imap(&self, tasks: &mut JoinSet<()>) -> anyhow::Result<()> {
        let (config, services) = self.imap_parts();
        let c = &self.config.imap;
        for (protocol, addrs, tls) in [
            ("imap", &c.listen, TlsMode::StartTls(self.tls.clone())),
            ("imaps", &c.listen_tls, TlsMode::Implicit(self.tls.clone())),
        ] {
            let (config, services) = (config.clone(), services.clone());
            let new_session = move |conn| imap::ImapSession::new(config.clone(), services.clone(), conn);
            self.listen(tasks, protocol, addrs, tls, IMAP_BUSY, new_session).await?;
        }
        Ok(())
    }

    /// The web mail listeners of a member that routes web requests
    /// (`web_front`): to the accounts' hosts through `lookup`, and, when
    /// `hosting`, this member's own accounts in process.
    async fn start_web_front(
        &self,
        lookup: Box<dyn proxy::BackendLookup>,
        hosting: bool,
        secret: Option<&cluster::link::ClusterSecret>,
        data: &Path,
        tasks: &mut JoinSet<()>,
    ) -> anyhow::Result<Vec<(&'static str, SocketAddr)>> {
        let secret = secret.context("web mail routing needs cluster.link's secret")?;
        let local = match hosting {
            true => Some(crate::webmail_listener::services(crate::webmail_listener::WebmailInputs {
                config: &self.config,
                data,
                directory: self.directory.clone(),
                store: self.store.clone(),
                queue: self.queue.clone(),
                locator: self.locator.clone(),
                secret: Some(secret),
            })?),
            false => None,
        };
        let parts = crate::web_front::parts(&self.config, lookup, secret, local, self.members.clone())?;
        let front = Arc::new(crate::web_front::WebFront::new(parts));
        crate::web_front::start(front, &self.config, self.tls.clone(), tasks, &self.shutdown).await
    }

    async fn start_admin(
        &self,
        cluster: Option<Arc<crate::web_front::admin::ClusterAdmin>>,
        tasks: &mut JoinSet<()>,
    ) -> anyhow::Result<Vec<SocketAddr>> {
        let services = self.admin.clone();
        let mut bound = Vec::new();
        let options = crate::webmail_listener::http_options(&self.config)?;
        for &addr in &self.config.admin.listen {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("admin: cannot listen on {addr}"))?;
            println!("rookery: admin listening on http://{}", listener.local_addr()?);
            bound.push(listener.local_addr()?);
            let (services, shutdown, cluster) = (services.clone(), self.shutdown.clone(), cluster.clone());
            let options = options.clone();
            tasks.spawn(crate::web_front::admin::serve(listener, services, cluster, options, shutdown));
        }
        Ok(bound)
    }
}

/// Opens the queue. A dynamic member's queue may be held for a moment by
/// the controller, which delivered it while this member was away and
/// lets go once it sees the member registered again (CM-17): wait for it.
async fn open_queue(config: QueueConfig, shared: bool) -> anyhow::Result<Queue> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match Queue::open(config.clone()) {
            Ok(queue) => return Ok(queue),
            Err(error) if shared && tokio::time::Instant::now() < deadline => {
                tracing::info!(%error, dir = %config.dir.display(), "the queue is busy (the controller may hold it); waiting");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error).context("opening the queue"),
        }
    }
}

/// A dynamic member's parts (crate::dynamic), made at start.
struct DynamicParts {
    accounts: Arc<crate::dynamic::Accounts>,
    locator: Arc<dyn Locator>,
    cluster: DomainName,
    idle_release: std::time::Duration,
    paths: crate::dynamic::SharedPaths,
}

impl DynamicParts {
    async fn start(
        config: &Config,
        section: &crate::config::DynamicSection,
        hosts: Arc<member::Hosts>,
        peers: Option<Arc<crate::dynamic::PeerClusters>>,
    ) -> anyhow::Result<Self> {
        let link = config.cluster.link.as_ref().map(|link| link.address);
        let info = crate::dynamic::member_info(config, &[], link);
        let coord_config = crate::dynamic::coord_config(config, section);
        let coordinator = coord::Coordinator::start(coord_config, info.clone())
            .await
            .with_context(|| format!("cluster.dynamic.etcd: cannot reach etcd at {}", section.etcd.join(", ")))?;
        println!(
            "rookery: member {} of dynamic cluster {} (etcd {})",
            config.server_name(),
            section.name,
            section.etcd.join(",")
        );
        let cluster = DomainName::parse(&section.name).context("cluster.dynamic.name")?;
        let accounts = crate::dynamic::Accounts::new(coordinator);
        let locator = Arc::new(crate::dynamic::DynamicLocator::new(accounts.clone(), hosts, cluster.clone(), peers));
        let paths = crate::dynamic::SharedPaths::new(section, &config.server_name());
        Ok(Self { accounts, locator, cluster, idle_release: section.idle_release, paths })
    }

    /// Self-fencing, idle release, the queue size in the registry, and the
    /// controller's work when this member wins the election.
    /// `info`: where its listeners are, published at once.
    fn spawn_upkeep(
        &self,
        server: &Server,
        info: coord::MemberInfo,
        queue_config: QueueConfig,
        tasks: &mut JoinSet<()>,
    ) {
        use crate::dynamic::upkeep;
        let shutdown = &server.shutdown;
        tasks.spawn(upkeep::fence_on_lease_loss(self.accounts.clone(), shutdown.clone()));
        tasks.spawn(upkeep::release_idle_accounts(
            self.accounts.clone(),
            server.store.clone(),
            self.idle_release,
            shutdown.clone(),
        ));
        tasks.spawn(upkeep::publish_queue_size(self.accounts.clone(), server.queue.clone(), info, shutdown.clone()));
        let work = crate::dynamic::controller::ControllerWork {
            accounts: self.accounts.clone(),
            queues: self.paths.queues.clone(),
            queue_config,
            transport: server.transport.clone(),
            cluster: self.cluster.to_string(),
        };
        tasks.spawn(work.run(shutdown.clone()));
    }
}

/// One server per data directory: a second one would corrupt it.
fn lock_data_dir(data: &Path) -> anyhow::Result<std::fs::File> {
    let path = data.join("rookery.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("another rookery is running on {} (lock {})", data.display(), path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

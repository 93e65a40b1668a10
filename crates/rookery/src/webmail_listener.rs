//! The web mail of a single server or a backend: its services (session
//! cookie key, session table in the data directory) and its listeners.
//! Frontends, symmetric and dynamic members route web requests instead
//! (`web_front`), using [`services`] for the accounts they host.

use crate::config::{Config, Role};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use webmail::{CookieKey, WebmailConfig, WebmailParts, WebmailServices};

/// What the web mail is built from.
pub struct WebmailInputs<'a> {
    pub config: &'a Config,
    pub data: &'a Path,
    pub directory: Arc<dyn directory::Directory>,
    pub store: Arc<store::Store>,
    pub queue: Arc<queue::Queue>,
    pub locator: Arc<dyn cluster::Locator>,
    /// The cluster's shared secret: every member derives the same cookie
    /// key from it. `None` on a single server, which keeps its own key.
    pub secret: Option<&'a cluster::link::ClusterSecret>,
}

/// The web mail's services; sessions persist in `<data>/web/`.
pub fn services(inputs: WebmailInputs<'_>) -> anyhow::Result<Arc<WebmailServices>> {
    let section = &inputs.config.webmail;
    let cookie_key = match inputs.secret {
        Some(secret) => crate::web_front::cookie_key(secret),
        None => {
            let path = inputs.data.join("web/cookie.key");
            CookieKey::load_or_create(&path).with_context(|| format!("webmail: session key {}", path.display()))?
        }
    };
    // Cluster members forward requests for their clients (`web_front`).
    let members: Vec<String> = match (&inputs.config.cluster.link, inputs.config.cluster.role) {
        (Some(link), role) if role != Role::Single => link.allow.iter().map(|ip| ip.to_string()).collect(),
        _ => Vec::new(),
    };
    let trusted_proxies = net::TrustedProxies::parse(section.trusted_proxies.iter().cloned().chain(members))
        .context("webmail.trusted_proxies")?;
    let config = WebmailConfig {
        session_idle: section.session_idle,
        session_max: section.session_max,
        max_upload: usize::try_from(section.max_upload).context("webmail.max_upload")?,
        ..WebmailConfig::default()
    };
    let services = WebmailServices::new(WebmailParts {
        directory: inputs.directory,
        store: inputs.store,
        queue: inputs.queue,
        locator: inputs.locator,
        main_domain: inputs.config.main_domain(),
        hostname: inputs.config.hostname(),
        cookie_key,
        trusted_proxies,
        config,
        sessions_path: Some(inputs.data.join("web/sessions.redb")),
    })
    .context("webmail: opening the session table")?;
    Ok(Arc::new(services))
}

/// The bounds of this member's HTTP listeners (web mail and admin): the
/// `[limits]` connection caps, with the cluster's members exempt from the
/// per-IP cap since they forward requests for many clients.
pub fn http_options(config: &Config) -> anyhow::Result<net::http::ListenOptions> {
    let (_, members) = crate::member::trusted_proxies(config)?;
    let limits = net::ListenerLimits {
        max_connections: config.limits.max_connections,
        max_per_ip: config.limits.max_connections_per_ip,
    };
    Ok(net::http::ListenOptions { limits, exempt_per_ip: members, http: net::http::HttpLimits::default() })
}

/// Starts `[webmail] listen` and `listen_tls`; returns the bound addresses.
pub async fn start(
    config: &Config,
    services: Arc<WebmailServices>,
    tls: &tokio_rustls::TlsAcceptor,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let mut bound = Vec::new();
    let options = http_options(config)?;
    let section = &config.webmail;
    let listeners = section.listen.iter().map(|addr| (addr, false)).chain(section.listen_tls.iter().map(|a| (a, true)));
    for (&addr, secure) in listeners {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("webmail: cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let scheme = if secure { "https" } else { "http" };
        println!("rookery: webmail listening on {scheme}://{local}");
        bound.push(local);
        let (app, shutdown, options) = (webmail::router(services.clone()), shutdown.clone(), options.clone());
        let tls = secure.then(|| tls.clone());
        tasks.spawn(async move { webmail::listen::serve_app(listener, tls, app, &options, shutdown).await });
    }
    Ok(bound)
}

//! The web mail listeners of a member that routes web requests.

use super::WebFront;
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves `front` on `[webmail] listen` (plain) and `listen_tls` (with
/// `tls`: cookies then get `Secure`). Returns the bound addresses, named
/// "webmail" as on a backend (the name a dynamic member publishes).
pub async fn start(
    front: Arc<WebFront>,
    config: &crate::config::Config,
    tls: tokio_rustls::TlsAcceptor,
    tasks: &mut tokio::task::JoinSet<()>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<(&'static str, SocketAddr)>> {
    use anyhow::Context;
    let mut bound = Vec::new();
    let options = crate::webmail_listener::http_options(config)?;
    let section = &config.webmail;
    for (addrs, secure) in [(&section.listen, false), (&section.listen_tls, true)] {
        for &addr in addrs {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("webmail: cannot listen on {addr}"))?;
            let local = listener.local_addr()?;
            let scheme = if secure { "https" } else { "http" };
            println!("rookery: webmail listening on {scheme}://{local}");
            bound.push(("webmail", local));
            let (app, stop, options) = (front.clone().router(), shutdown.clone(), options.clone());
            let tls = secure.then(|| tls.clone());
            tasks.spawn(async move { webmail::listen::serve_app(listener, tls, app, &options, stop).await });
        }
    }
    tracing::info!(target: "webmail::front", "web mail requests are routed to the accounts' hosts");
    Ok(bound)
}

//! A frontend: its settings, its lookup, its TLS identity, and the accept
//! loop that runs one protocol's sessions.

use crate::client::ClientConn;
use crate::config::FrontendConfig;
use crate::local::LocalSessions;
use crate::lookup::BackendLookup;
use net::{Connection, TlsMode, TrustedProxies};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// The services a frontend proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Imap,
    Pop3,
    Submission,
    /// Web mail (HTTP). Not a line protocol this crate proxies: the
    /// binary's web router asks a [`crate::BackendLookup`] with it for the
    /// account's web mail address (`web` among the published services).
    Web,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Submission => "submission",
            Protocol::Web => "web",
        })
    }
}

/// One frontend, shared by all its connections.
pub struct Frontend<L> {
    pub(crate) config: FrontendConfig,
    pub(crate) lookup: L,
    /// Offered as STARTTLS/STLS to clients; `None`: no TLS.
    pub(crate) tls: Option<TlsAcceptor>,
    /// A symmetric member's own sessions; `None` on a pure frontend.
    pub(crate) local: Option<Arc<dyn LocalSessions>>,
    /// The cluster members whose proxied sessions come to this listener
    /// (with a PROXY header): served locally, never proxied again.
    pub(crate) members: TrustedProxies,
}

/// Facts about one client connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientInfo {
    /// The client: the connection's peer, or the address a trusted load
    /// balancer named in its PROXY header.
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// That load balancer.
    pub(crate) proxied_by: Option<SocketAddr>,
}

impl<L: BackendLookup> Frontend<L> {
    /// `tls` is offered to clients as STARTTLS/STLS; the backend leg is
    /// always plain.
    pub fn new(config: FrontendConfig, lookup: L, tls: Option<TlsAcceptor>) -> Self {
        Self { config, lookup, tls, local: None, members: TrustedProxies::default() }
    }

    /// A symmetric member (CM-8): sessions of accounts the lookup places
    /// here go to `local`, and so do the sessions other members proxy to
    /// this one (connections from `members` with a PROXY header), so that
    /// a session is proxied at most once, whatever the members' caches say.
    pub fn hosting(self, local: Arc<dyn LocalSessions>, members: TrustedProxies) -> Self {
        Self { local: Some(local), members, ..self }
    }

    /// Serves `protocol` on `listener` until `shutdown` turns true: the
    /// listener applies the connection limits (the protocol's busy reply
    /// over them, CM-18) and reads PROXY headers from trusted load
    /// balancers, so the client address here is the real one. Each
    /// connection is closed at shutdown.
    pub async fn serve(self: Arc<Self>, protocol: Protocol, listener: net::Listener, shutdown: watch::Receiver<bool>) {
        let handle = move |connection: Connection, shutdown: watch::Receiver<bool>| {
            let frontend = self.clone();
            async move { frontend.connection(protocol, connection, shutdown).await }
        };
        listener.run_connections(handle, shutdown).await
    }

    async fn connection(&self, protocol: Protocol, connection: Connection, mut shutdown: watch::Receiver<bool>) {
        let Connection { stream, info, tls } = connection;
        if let (Some(local), Some(by)) = (&self.local, info.proxied_by)
            && self.members.contains(by.ip())
        {
            tracing::debug!(target: "proxy", member = %by, "a member's proxied session; served here");
            local.serve(protocol, Box::new(stream), tls, info).await;
            return;
        }
        let client_info = ClientInfo { peer: info.peer, local: info.local, proxied_by: info.proxied_by };
        let served = async {
            let client = match tls {
                TlsMode::Implicit(acceptor) => {
                    match ClientConn::new(Box::new(stream), self.config.max_line, false)
                        .start_tls(&acceptor, self.config.login_timeout)
                        .await
                    {
                        Ok(client) => client,
                        Err(_) => return,
                    }
                }
                // A TLS-terminating balancer says so in its header: the
                // client's connection is encrypted already.
                TlsMode::Off | TlsMode::StartTls(_) => {
                    ClientConn::new(Box::new(stream), self.config.max_line, info.tls)
                }
            };
            let span = tracing::info_span!("login", account = tracing::field::Empty);
            self.run(protocol, client, client_info).instrument(span).await
        };
        tokio::select! {
            _ = served => {}
            _ = shutdown.changed() => {}
        }
    }

    /// Runs one client connection to its end, under a span naming it.
    #[cfg(test)]
    pub(crate) async fn session(&self, protocol: Protocol, io: Box<dyn crate::client::Io>, info: ClientInfo) {
        let span = tracing::info_span!(
            "conn",
            %protocol,
            client.addr = %info.peer,
            server.addr = %info.local,
            account = tracing::field::Empty,
        );
        let client = ClientConn::new(io, self.config.max_line, false);
        self.run(protocol, client, info).instrument(span).await
    }

    async fn run(&self, protocol: Protocol, client: ClientConn, info: ClientInfo) {
        tracing::debug!(target: "proxy", "connected");
        match protocol {
            Protocol::Imap => crate::imap::run(self, client, info).await,
            Protocol::Pop3 => crate::pop3::run(self, client, info).await,
            Protocol::Submission => crate::submission::run(self, client, info).await,
            // HTTP is routed per request by the binary, never spliced.
            Protocol::Web => tracing::warn!(target: "proxy", "web sessions are not line-proxied; connection closed"),
        }
        tracing::debug!(target: "proxy", "disconnected");
    }

    /// Whether a login in the clear may be taken now; the backends apply
    /// the same rule to the client address the PROXY header gives them.
    pub(crate) fn plaintext_auth_allowed(&self, protocol: Protocol, client: &ClientConn, info: &ClientInfo) -> bool {
        let rule = self.config.plaintext_auth.of(protocol);
        client.tls || rule.anywhere || (rule.on_loopback && info.peer.ip().to_canonical().is_loopback())
    }
}

#[cfg(test)]
mod tests;

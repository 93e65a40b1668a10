//! A frontend: its settings, its lookup, its TLS identity, and the accept
//! loop that runs one protocol's sessions.

use crate::client::{ClientConn, Io};
use crate::config::FrontendConfig;
use crate::lookup::BackendLookup;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// The services a frontend proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Imap,
    Pop3,
    Submission,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Submission => "submission",
        })
    }
}

/// One frontend, shared by all its connections.
pub struct Frontend<L> {
    pub(crate) config: FrontendConfig,
    pub(crate) lookup: L,
    /// Offered as STARTTLS/STLS to clients; `None`: no TLS.
    pub(crate) tls: Option<TlsAcceptor>,
}

/// Facts about one client connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// Connections served at once by one [`Frontend::serve`] loop; over it,
/// new connections wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;

impl<L: BackendLookup> Frontend<L> {
    /// `tls` is offered to clients as STARTTLS/STLS; the backend leg is
    /// always plain.
    pub fn new(config: FrontendConfig, lookup: L, tls: Option<TlsAcceptor>) -> Self {
        Self { config, lookup, tls }
    }

    /// Accepts `protocol` connections on `listener` until `shutdown` turns
    /// true; each runs in its own task and is dropped (closed) at shutdown.
    pub async fn serve(
        self: Arc<Self>,
        protocol: Protocol,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(target: "proxy", %protocol, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let _ = stream.set_nodelay(true);
            let Ok(local) = stream.local_addr() else { continue };
            let frontend = self.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = frontend.session(protocol, Box::new(stream), ClientInfo { peer, local }) => {}
                    _ = shutdown.changed() => {}
                }
                drop(slot);
            });
        }
    }

    /// Runs one client connection to its end, under a span naming it.
    pub(crate) async fn session(&self, protocol: Protocol, io: Box<dyn Io>, info: ClientInfo) {
        let span = tracing::info_span!(
            "conn",
            %protocol,
            client.addr = %info.peer,
            server.addr = %info.local,
            account = tracing::field::Empty,
        );
        let client = ClientConn::new(io, self.config.max_line, false);
        async {
            tracing::debug!(target: "proxy", "connected");
            match protocol {
                Protocol::Imap => crate::imap::run(self, client, info).await,
                Protocol::Pop3 => crate::pop3::run(self, client, info).await,
                Protocol::Submission => crate::submission::run(self, client, info).await,
            }
            tracing::debug!(target: "proxy", "disconnected");
        }
        .instrument(span)
        .await
    }

    /// Whether a login in the clear may be taken now; the backends apply
    /// the same rule to the client address the PROXY header gives them.
    pub(crate) fn plaintext_auth_allowed(&self, client: &ClientConn, info: &ClientInfo) -> bool {
        client.tls
            || self.config.allow_plaintext_auth
            || (self.config.allow_plaintext_auth_on_loopback && info.peer.ip().to_canonical().is_loopback())
    }
}

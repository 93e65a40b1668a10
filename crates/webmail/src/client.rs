//! Who the client is: its address and whether its connection is TLS, from
//! the socket or, behind a trusted proxy (a frontend, a load balancer),
//! from the `X-Forwarded-For` and `X-Forwarded-Proto` headers it adds.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::server::TlsStream;

/// The connect info the web mail listeners record for each connection.
/// Serve the routers with `into_make_service_with_connect_info::<PeerInfo>()`.
#[derive(Debug, Clone, Copy)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub tls: bool,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        PeerInfo { addr: *stream.remote_addr(), tls: false }
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        *stream.remote_addr()
    }
}

/// Services that say which peers' forwarded headers are believed.
pub trait Proxies {
    fn trusted_proxies(&self) -> &net::TrustedProxies;
}

impl Proxies for crate::WebmailServices {
    fn trusted_proxies(&self) -> &net::TrustedProxies {
        &self.trusted_proxies
    }
}

impl Proxies for crate::PublicServices {
    fn trusted_proxies(&self) -> &net::TrustedProxies {
        &self.trusted_proxies
    }
}

/// The client of a request, after believing a trusted proxy's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// Whether the browser's own connection is TLS: cookies get `Secure`.
    pub tls: bool,
}

impl<S: Proxies + Send + Sync> FromRequestParts<Arc<S>> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<S>) -> Result<Self, Infallible> {
        Ok(client_info(parts, state.trusted_proxies()))
    }
}

fn client_info(parts: &Parts, proxies: &net::TrustedProxies) -> ClientInfo {
    let peer = match parts.extensions.get::<ConnectInfo<PeerInfo>>() {
        Some(ConnectInfo(peer)) => *peer,
        None => match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => PeerInfo { addr: *addr, tls: false },
            // Served without connect info (a router embedded elsewhere):
            // every such client shares one rate-limit bucket.
            None => PeerInfo { addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), tls: false },
        },
    };
    let mut client = ClientInfo { ip: peer.addr.ip().to_canonical(), tls: peer.tls };
    if !proxies.contains(peer.addr.ip()) {
        return client;
    }
    // The nearest proxy appends the address it saw: the last entry is the
    // one a trusted peer vouches for; earlier ones the client may forge.
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .next_back();
    if let Some(ip) = forwarded {
        client.ip = ip.to_canonical();
    }
    if let Some(proto) = parts.headers.get("x-forwarded-proto").and_then(|value| value.to_str().ok()) {
        client.tls = proto.trim().eq_ignore_ascii_case("https");
    }
    client
}

/// Handshakes in progress at once; more wait for the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its TLS handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS listener for `axum::serve`. Handshakes run in their own tasks so a
/// slow client cannot hold up the others' accepts.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, PeerInfo)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener`. Bind errors surface from `local_addr`.
    pub fn new(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> TlsListener {
        let local_addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(listener, acceptor, sender));
        TlsListener { ready, local_addr }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    sender: mpsc::Sender<(TlsStream<TcpStream>, PeerInfo)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: wait rather than spin.
                    tracing::warn!(target: "webmail", %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // axum dropped the listener: the server is shutting down.
            () = sender.closed() => return,
        };
        let (acceptor, sender) = (acceptor.clone(), sender.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = sender.send((stream, PeerInfo { addr, tls: true })).await;
                }
                Ok(Err(error)) => tracing::debug!(target: "webmail", %addr, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(target: "webmail", %addr, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(PeerInfo { addr: self.local_addr, tls: true })
    }
}

#[cfg(test)]
mod tests;

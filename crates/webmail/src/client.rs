//! Who the client is: its address and whether its connection is TLS, from
//! the socket or, behind a trusted proxy (a frontend, a load balancer),
//! from the `X-Forwarded-For` and `X-Forwarded-Proto` headers it adds.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The connect info the web mail listeners record for each connection
/// (`net::http` puts it in every request's extensions).
#[derive(Debug, Clone, Copy)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub tls: bool,
}

/// For `axum::serve` on a plain listener (tests, embedders); the server's
/// own listeners go through `net::http`.
impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerInfo { addr: *stream.remote_addr(), tls: false }
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

#[cfg(test)]
mod tests;

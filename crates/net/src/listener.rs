//! Accepting connections: one task per connection, a cap on connections
//! in total and per client address, a span per connection, TCP keepalive,
//! and the PROXY protocol header on connections from trusted load
//! balancers.

use crate::driver::{ConnInfo, Prefixed, Session, TlsMode, drive_prefixed};
use crate::proxy_protocol::{TrustedProxies, read_header};
use bytes::BytesMut;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument;

/// Caps on concurrent connections. Over a cap, the listener writes the
/// protocol's busy reply and closes (DESIGN §8).
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub max_connections: usize,
    /// Per client IP address; CM-18 sets this on frontends.
    pub max_per_ip: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self { max_connections: 4096, max_per_ip: 256 }
    }
}

/// A bound listening socket for one protocol.
pub struct Listener {
    tcp: TcpListener,
    protocol: &'static str,
    tls: TlsMode,
    limits: ListenerLimits,
    /// Written to a connection refused for being over a limit,
    /// e.g. `421 4.7.0 too many connections\r\n` for SMTP.
    busy_reply: &'static [u8],
    proxies: TrustedProxies,
    /// Peers counted in the total but not per IP (see [`Listener::exempt_per_ip`]).
    exempt: TrustedProxies,
}

impl Listener {
    pub async fn bind(
        addr: SocketAddr,
        protocol: &'static str,
        tls: TlsMode,
        limits: ListenerLimits,
        busy_reply: &'static [u8],
    ) -> std::io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        Ok(Self::from_tcp(tcp, protocol, tls, limits, busy_reply))
    }

    /// [`Listener::bind`] for a socket already bound.
    pub fn from_tcp(
        tcp: TcpListener,
        protocol: &'static str,
        tls: TlsMode,
        limits: ListenerLimits,
        busy_reply: &'static [u8],
    ) -> Self {
        let none = TrustedProxies::default();
        Self { tcp, protocol, tls, limits, busy_reply, proxies: none.clone(), exempt: none }
    }

    /// Connections from `peers` count against the total but not against
    /// their own address' limit: cluster members forwarding HTTP requests
    /// for many clients (naming each in `X-Forwarded-For`, not in a PROXY
    /// header) would otherwise be refused as one busy client.
    pub fn exempt_per_ip(self, peers: TrustedProxies) -> Self {
        Self { exempt: peers, ..self }
    }

    /// Connections from `proxies` must start with a PROXY protocol header
    /// (v1 or v2), read before the greeting; the client address in it
    /// becomes [`ConnInfo::peer`] and is what the per-IP limit counts. A
    /// connection without a valid header is closed. Connections from any
    /// other address are never parsed for one. None by default.
    pub fn proxy_protocol_from(self, proxies: TrustedProxies) -> Self {
        Self { proxies, ..self }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts connections until `shutdown` turns true; `new_session`
    /// makes the session for each accepted connection.
    pub async fn run<S, F>(self, new_session: F, shutdown: watch::Receiver<bool>)
    where
        S: Session + 'static,
        F: Fn(ConnInfo) -> S + Send + Sync + 'static,
    {
        let handle = move |connection: Connection, shutdown: watch::Receiver<bool>| {
            let session = new_session(connection.info);
            drive_prefixed(connection.stream, session, connection.tls, shutdown)
        };
        self.run_connections(handle, shutdown).await
    }

    /// [`Listener::run`] for a server that is not one [`Session`] (the
    /// login proxy): `handle` gets each connection once it is within the
    /// limits and past its PROXY protocol header, and serves it to its
    /// end under the connection's span. The connection counts against
    /// the limits until that future ends.
    pub async fn run_connections<F, Fut>(self, handle: F, mut shutdown: watch::Receiver<bool>)
    where
        F: Fn(Connection, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            protocol: self.protocol,
            tls: self.tls,
            limits: self.limits,
            busy_reply: self.busy_reply,
            local: self.tcp.local_addr().ok(),
            proxies: self.proxies,
            counts: Arc::new(ConnCounts::new(self.protocol)),
            handle,
        });
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(target: "net::listener", protocol = shared.protocol, error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let _ = stream.set_nodelay(true);
            crate::keepalive::enable(&stream);
            if shared.proxies.contains(peer.ip()) {
                // The per-IP limit is for the client behind the load
                // balancer, known once the header is read; counting the
                // balancer itself would refuse everyone at once.
                let Some(slot) = shared.counts.admit(None, &shared.limits) else {
                    tokio::spawn(refuse(stream, shared.busy_reply));
                    continue;
                };
                tokio::spawn(serve_proxied(shared.clone(), stream, peer, slot, shutdown.clone()));
            } else {
                let counted_ip = (!self.exempt.contains(peer.ip())).then_some(peer.ip());
                let Some(slot) = shared.counts.admit(counted_ip, &shared.limits) else {
                    tracing::debug!(target: "net::listener", protocol = shared.protocol, client.addr = %peer, "over a connection limit");
                    tokio::spawn(refuse(stream, shared.busy_reply));
                    continue;
                };
                let connection = Accepted {
                    stream,
                    already_read: BytesMut::new(),
                    client: peer,
                    client_tls: false,
                    proxied_by: None,
                    slot,
                };
                tokio::spawn(serve(shared.clone(), connection, shutdown.clone()));
            }
        }
    }
}

/// One accepted connection, handed to [`Listener::run_connections`]'s
/// handler.
pub struct Connection {
    /// The socket, with any bytes read after a PROXY protocol header put
    /// back in front.
    pub stream: Prefixed<TcpStream>,
    pub info: ConnInfo,
    /// The listener's TLS: with [`TlsMode::Implicit`] the handler does the
    /// handshake before anything else.
    pub tls: TlsMode,
}

/// What every connection task shares with the accept loop.
struct Shared<F> {
    protocol: &'static str,
    tls: TlsMode,
    limits: ListenerLimits,
    busy_reply: &'static [u8],
    local: Option<SocketAddr>,
    proxies: TrustedProxies,
    counts: Arc<ConnCounts>,
    handle: F,
}

/// A connection ready for its session.
struct Accepted {
    stream: TcpStream,
    /// Read with the PROXY protocol header; the session's first input.
    already_read: BytesMut,
    client: SocketAddr,
    /// The PROXY header said the client used TLS on the way here.
    client_tls: bool,
    proxied_by: Option<SocketAddr>,
    slot: Slot,
}

/// Reads a trusted peer's PROXY protocol header, then counts and serves
/// the client it names.
async fn serve_proxied<F, Fut>(
    shared: Arc<Shared<F>>,
    mut stream: TcpStream,
    proxy: SocketAddr,
    mut slot: Slot,
    shutdown: watch::Receiver<bool>,
) where
    F: Fn(Connection, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (client, client_tls, already_read) = match read_header(&mut stream, shared.proxies.header_timeout()).await {
        Ok((facts, already_read)) => (facts.addr.unwrap_or(proxy), facts.tls, already_read),
        Err(e) => {
            // Dropping the stream closes it; nothing after the bad header
            // is read, and no session ever sees the connection.
            tracing::warn!(target: "net::listener", protocol = shared.protocol, peer = %proxy, error = %e, "closing a connection from a trusted proxy");
            return;
        }
    };
    if !slot.count_ip(client.ip(), &shared.limits) {
        tracing::debug!(target: "net::listener", protocol = shared.protocol, client.addr = %client, proxy.addr = %proxy, "over the per-IP limit");
        refuse(stream, shared.busy_reply).await;
        return;
    }
    serve(shared, Accepted { stream, already_read, client, client_tls, proxied_by: Some(proxy), slot }, shutdown).await;
}

/// Runs one connection's handler under its span.
async fn serve<F, Fut>(shared: Arc<Shared<F>>, connection: Accepted, shutdown: watch::Receiver<bool>)
where
    F: Fn(Connection, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Accepted { stream, already_read, client, client_tls, proxied_by, slot } = connection;
    let info = ConnInfo {
        peer: client,
        local: shared.local.unwrap_or(client),
        tls: client_tls || matches!(shared.tls, TlsMode::Implicit(_)),
        tls_available: !matches!(shared.tls, TlsMode::Off),
        proxied_by,
    };
    let span = tracing::info_span!(
        "conn",
        protocol = shared.protocol,
        client.addr = %client,
        server.addr = %info.local,
        proxy.addr = proxied_by.map(tracing::field::display),
    );
    let connection = Connection { stream: Prefixed::new(already_read, stream), info, tls: shared.tls.clone() };
    let served = (shared.handle)(connection, shutdown);
    async move {
        tracing::debug!(target: "net::listener", "connected");
        served.await;
        tracing::debug!(target: "net::listener", "disconnected");
        drop(slot);
    }
    .instrument(span)
    .await;
}

async fn refuse(mut stream: TcpStream, reply: &'static [u8]) {
    let _ = stream.write_all(reply).await;
    let _ = stream.shutdown().await;
}

/// The connections of one listener, counted for its limits and for
/// `/metrics` (`rookery_connections_*{protocol}`).
struct ConnCounts {
    protocol: &'static str,
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnCounts {
    fn new(protocol: &'static str) -> ConnCounts {
        ConnCounts { protocol, inner: Mutex::new(Counts::default()) }
    }

    /// Takes a place in the total and, when the client is known, in its
    /// address' count.
    fn admit(self: &Arc<Self>, ip: Option<IpAddr>, limits: &ListenerLimits) -> Option<Slot> {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let refused =
            || metrics::counter!("rookery_connections_refused_total", "protocol" => self.protocol).increment(1);
        if c.total >= limits.max_connections {
            refused();
            return None;
        }
        if let Some(ip) = ip {
            let this_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
            if this_ip >= limits.max_per_ip {
                refused();
                return None;
            }
            c.per_ip.insert(ip, this_ip + 1);
        }
        c.total += 1;
        metrics::counter!("rookery_connections_accepted_total", "protocol" => self.protocol).increment(1);
        metrics::gauge!("rookery_connections_open", "protocol" => self.protocol).increment(1.0);
        Some(Slot { counts: self.clone(), ip })
    }
}

/// Held by a connection's task; gives its place back when dropped.
struct Slot {
    counts: Arc<ConnCounts>,
    /// `None` until a proxied connection's client is known.
    ip: Option<IpAddr>,
}

impl Slot {
    /// Counts a proxied connection's client against the per-IP limit;
    /// false when that client already has its share.
    fn count_ip(&mut self, ip: IpAddr, limits: &ListenerLimits) -> bool {
        let mut c = self.counts.inner.lock().unwrap_or_else(|p| p.into_inner());
        let this_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
        if this_ip >= limits.max_per_ip {
            metrics::counter!("rookery_connections_refused_total", "protocol" => self.counts.protocol).increment(1);
            return false;
        }
        c.per_ip.insert(ip, this_ip + 1);
        self.ip = Some(ip);
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        metrics::gauge!("rookery_connections_open", "protocol" => self.counts.protocol).decrement(1.0);
        if let Some(ip) = self.ip
            && let Some(n) = c.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&ip);
            }
        }
    }
}

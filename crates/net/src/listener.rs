//! Accepting connections: one task per connection, a cap on connections
//! in total and per client address, and a span per connection.

use crate::driver::{ConnInfo, Session, TlsMode, drive};
use std::collections::HashMap;
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
        Ok(Self { tcp, protocol, tls, limits, busy_reply })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts connections until `shutdown` turns true; `new_session`
    /// makes the session for each accepted connection.
    pub async fn run<S, F>(self, new_session: F, mut shutdown: watch::Receiver<bool>)
    where
        S: Session + 'static,
        F: Fn(ConnInfo) -> S + Send + Sync + 'static,
    {
        let counts = Arc::new(ConnCounts::default());
        let local = self.tcp.local_addr().ok();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(target: "net::listener", protocol = self.protocol, error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let _ = stream.set_nodelay(true);
            let Some(slot) = counts.admit(peer.ip(), &self.limits) else {
                tokio::spawn(refuse(stream, self.busy_reply));
                continue;
            };
            let info = ConnInfo {
                peer,
                local: local.unwrap_or(peer),
                tls: matches!(self.tls, TlsMode::Implicit(_)),
                tls_available: !matches!(self.tls, TlsMode::Off),
            };
            let span =
                tracing::info_span!("conn", protocol = self.protocol, client.addr = %peer, server.addr = %info.local);
            let session = new_session(info);
            let tls = self.tls.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(
                async move {
                    tracing::debug!(target: "net::listener", "connected");
                    drive(stream, session, tls, shutdown).await;
                    tracing::debug!(target: "net::listener", "disconnected");
                    drop(slot);
                }
                .instrument(span),
            );
        }
    }
}

async fn refuse(mut stream: TcpStream, reply: &'static [u8]) {
    let _ = stream.write_all(reply).await;
    let _ = stream.shutdown().await;
}

#[derive(Default)]
struct ConnCounts {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnCounts {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ListenerLimits) -> Option<Slot> {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let this_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
        if c.total >= limits.max_connections || this_ip >= limits.max_per_ip {
            return None;
        }
        c.total += 1;
        c.per_ip.insert(ip, this_ip + 1);
        Some(Slot { counts: self.clone(), ip })
    }
}

/// Held by a connection's task; gives its place back when dropped.
struct Slot {
    counts: Arc<ConnCounts>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

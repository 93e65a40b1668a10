//! Idle connections kept per peer for reuse (CM-23).

use super::conn::Conn;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters of one peer's connections, as [`super::LinkClient::stats`]
/// reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Idle connections in the cache now.
    pub idle: usize,
    /// Connections established (handshake done) since the start.
    pub opened: u64,
    /// Idle connections closed because the cache was full.
    pub pushed_out: u64,
    /// Cached connections found dead or stale and thrown away.
    pub discarded: u64,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct Peer {
    /// Oldest first.
    idle: VecDeque<Idle>,
    stats: CacheStats,
}

pub struct Cache {
    per_peer: usize,
    max_idle: Duration,
    peers: Mutex<HashMap<SocketAddr, Peer>>,
}

impl Cache {
    pub fn new(per_peer: usize, max_idle: Duration) -> Cache {
        Cache { per_peer: per_peer.max(1), max_idle, peers: Mutex::new(HashMap::new()) }
    }

    /// The most recently used idle connection that still looks alive; dead
    /// and stale ones met on the way are closed. Counted as a hit or a
    /// miss of the cache, per peer (`/metrics`).
    pub fn take(&self, peer: SocketAddr) -> Option<Conn> {
        let conn = self.take_alive(peer);
        let outcome = if conn.is_some() { "rookery_link_cache_hits_total" } else { "rookery_link_cache_misses_total" };
        metrics::counter!(outcome, "peer" => peer.to_string()).increment(1);
        conn
    }

    fn take_alive(&self, peer: SocketAddr) -> Option<Conn> {
        let mut peers = self.peers.lock().ok()?;
        let entry = peers.get_mut(&peer)?;
        while let Some(idle) = entry.idle.pop_back() {
            if idle.since.elapsed() < self.max_idle && idle.conn.looks_alive() {
                entry.stats.idle = entry.idle.len();
                idle_gauge(peer, entry.idle.len());
                return Some(idle.conn);
            }
            entry.stats.discarded += 1;
            tracing::debug!(target: "cluster::link", peer = %peer, "discarded a dead or stale cached connection");
        }
        entry.stats.idle = 0;
        idle_gauge(peer, 0);
        None
    }

    /// Keeps a connection that just answered; over the limit, the oldest
    /// idle one is closed.
    pub fn put(&self, peer: SocketAddr, conn: Conn) {
        let Ok(mut peers) = self.peers.lock() else { return };
        let entry = peers.entry(peer).or_default();
        entry.idle.push_back(Idle { conn, since: Instant::now() });
        while entry.idle.len() > self.per_peer {
            // Dropping it closes the socket.
            entry.idle.pop_front();
            entry.stats.pushed_out += 1;
            tracing::debug!(target: "cluster::link", peer = %peer, "connection cache full: closed the oldest idle connection");
        }
        entry.stats.idle = entry.idle.len();
        idle_gauge(peer, entry.idle.len());
    }

    pub fn opened(&self, peer: SocketAddr) {
        metrics::counter!("rookery_link_connections_opened_total", "peer" => peer.to_string()).increment(1);
        if let Ok(mut peers) = self.peers.lock() {
            peers.entry(peer).or_default().stats.opened += 1;
        }
    }

    pub fn stats(&self, peer: SocketAddr) -> CacheStats {
        self.peers.lock().ok().and_then(|peers| peers.get(&peer).map(|p| p.stats)).unwrap_or_default()
    }
}

/// `rookery_link_connections_idle{peer}`: the pool of one peer, as it is now.
fn idle_gauge(peer: SocketAddr, idle: usize) {
    metrics::gauge!("rookery_link_connections_idle", "peer" => peer.to_string()).set(idle as f64);
}

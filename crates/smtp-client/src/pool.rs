//! Connections kept open per destination address, so that a burst of
//! messages to one MX costs one TCP and TLS handshake, not one each.
//!
//! Invariant: at most `per_destination` connections to one address exist
//! at any time. A semaphore permit is held by every send in progress (and
//! by every connection being closed); a new connection is opened only by
//! a permit holder that found no idle connection, so open connections =
//! permit holders' connections + idle connections <= permits.

use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::destination::Destination;
use crate::error::{Cause, SmtpError, Stage};
use crate::transaction::{Envelope, RcptResult};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::debug;

/// Bounds of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Connections to one address at once, busy and idle together.
    pub per_destination: usize,
    /// An idle connection is closed after this long unused.
    pub idle_timeout: Duration,
    /// Idle connections kept per address; more are closed.
    pub max_idle_per_destination: usize,
    /// A connection is closed after this many transactions, so that one
    /// connection does not hold a server's resources forever.
    pub max_messages_per_connection: usize,
}

impl Default for PoolLimits {
    fn default() -> PoolLimits {
        PoolLimits {
            per_destination: 4,
            idle_timeout: Duration::from_secs(10),
            max_idle_per_destination: 4,
            max_messages_per_connection: 100,
        }
    }
}

/// The per-destination connection pool.
pub struct Pool {
    inner: Arc<Inner>,
    /// The task that closes idle connections; started by the first send
    /// (so that `Pool::new` needs no runtime), stopped with the pool.
    reaper: Mutex<Option<AbortHandle>>,
}

struct Inner {
    config: ClientConfig,
    limits: PoolLimits,
    /// Bounded: the reaper removes the slots of addresses with no
    /// connection and no sender.
    slots: Mutex<HashMap<SocketAddr, Arc<Slot>>>,
}

struct Slot {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

impl Pool {
    pub fn new(config: ClientConfig, limits: PoolLimits) -> Pool {
        let limits = PoolLimits {
            per_destination: limits.per_destination.max(1),
            max_messages_per_connection: limits.max_messages_per_connection.max(1),
            ..limits
        };
        Pool { inner: Arc::new(Inner { config, limits, slots: Mutex::new(HashMap::new()) }), reaper: Mutex::new(None) }
    }

    /// Sends one message to `destination` on an idle connection (after a
    /// successful RSET) or a new one, waiting while the destination has
    /// `per_destination` connections busy. What [`Connection::send`]
    /// returns, or the error of connecting.
    pub async fn send(
        &self,
        destination: &Destination,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<Vec<RcptResult>, SmtpError> {
        self.start_reaper();
        let slot = self.inner.slot(destination.addr);
        let permit = slot
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SmtpError::new(destination, Stage::Connect, Cause::Closed))?;
        let mut connection = self.checkout(&slot, destination).await?;
        let result = connection.send(envelope, body).await;
        self.checkin(&slot, connection, permit);
        result
    }

    /// An idle connection that answers RSET, or a new one.
    async fn checkout(&self, slot: &Slot, destination: &Destination) -> Result<Connection, SmtpError> {
        let idle_timeout = self.inner.limits.idle_timeout;
        loop {
            let idle = {
                let mut idle = slot.idle.lock();
                idle.retain(|entry| entry.since.elapsed() < idle_timeout);
                match idle.iter().rposition(|entry| entry.connection.server().name == destination.name) {
                    Some(position) => Some(idle.swap_remove(position)),
                    None => {
                        // Connections for another name at this address (a
                        // certificate is checked per name) make room.
                        idle.clear();
                        None
                    }
                }
            };
            let Some(Idle { mut connection, .. }) = idle else { break };
            match connection.reset().await {
                Ok(()) => {
                    debug!(target: "smtp_client", server = %destination, "reusing idle connection");
                    return Ok(connection);
                }
                Err(error) => {
                    debug!(target: "smtp_client", server = %destination, error = %error, "idle connection is dead, replacing it");
                }
            }
        }
        debug!(target: "smtp_client", server = %destination, "opening connection");
        Connection::connect(destination.addr, &destination.name, &self.inner.config).await
    }

    /// Back to the idle list, or closed (keeping the permit until closed).
    fn checkin(&self, slot: &Slot, connection: Connection, permit: OwnedSemaphorePermit) {
        if !connection.is_usable() {
            return;
        }
        let limits = &self.inner.limits;
        if connection.transactions() < limits.max_messages_per_connection {
            let mut idle = slot.idle.lock();
            if idle.len() < limits.max_idle_per_destination {
                idle.push(Idle { connection, since: Instant::now() });
                return;
            }
        }
        close(connection, permit);
    }

    fn start_reaper(&self) {
        let mut reaper = self.reaper.lock();
        if reaper.is_none() {
            let period = (self.inner.limits.idle_timeout / 4).max(Duration::from_millis(10));
            let task = tokio::spawn(reap(Arc::downgrade(&self.inner), period));
            *reaper = Some(task.abort_handle());
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.lock().take() {
            reaper.abort();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("limits", &self.inner.limits).finish_non_exhaustive()
    }
}

impl Inner {
    fn slot(&self, addr: SocketAddr) -> Arc<Slot> {
        self.slots
            .lock()
            .entry(addr)
            .or_insert_with(|| {
                Arc::new(Slot {
                    permits: Arc::new(Semaphore::new(self.limits.per_destination)),
                    idle: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Closes idle connections past the idle timeout and forgets slots
    /// nobody uses.
    fn reap_idle(&self) {
        let mut slots = self.slots.lock();
        slots.retain(|_, slot| {
            let expired: Vec<Idle> = {
                let mut idle = slot.idle.lock();
                let (expired, kept) = std::mem::take(&mut *idle)
                    .into_iter()
                    .partition(|entry| entry.since.elapsed() >= self.limits.idle_timeout);
                *idle = kept;
                expired
            };
            for entry in expired {
                debug!(target: "smtp_client", server = %entry.connection.server(), "closing idle connection");
                // QUIT under a permit keeps the bound; with none free the
                // connection is simply dropped (closed at once).
                if let Ok(permit) = slot.permits.clone().try_acquire_owned() {
                    close(entry.connection, permit);
                }
            }
            // Forgotten only when the map alone holds it and it holds no
            // connection, idle or closing.
            Arc::strong_count(slot) > 1
                || !slot.idle.lock().is_empty()
                || slot.permits.available_permits() < self.limits.per_destination
        });
    }
}

async fn reap(inner: Weak<Inner>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.reap_idle();
    }
}

/// QUIT in the background; the permit goes when the connection does.
fn close(connection: Connection, permit: OwnedSemaphorePermit) {
    tokio::spawn(async move {
        let _ = connection.quit().await;
        drop(permit);
    });
}

//! The connection to etcd: one client per endpoint, every call bounded by
//! a timeout, and failover from endpoint to endpoint.
//!
//! etcd-client's own balanced channel fails requests at random while one
//! of its endpoints is down (etcd-client issues #12, #39), so each endpoint
//! gets its own client and a call moves on to the next endpoint when the
//! current one does not answer in time. Clients connect lazily and tonic
//! reconnects by itself, so a node that comes back is used again.

use crate::CoordError;
use etcd_client::{Client, ConnectOptions};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tracing::debug;

/// Log target of the whole crate.
pub(crate) const LOG: &str = "cluster::coord";

/// How long a TCP connect to one endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// HTTP/2 pings find a connection to a stopped node (the socket stays
/// open) and make tonic reconnect.
const PING_INTERVAL: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Etcd {
    clients: Vec<(String, Client)>,
    /// The endpoint that answered last: calls start there.
    current: AtomicUsize,
    timeout: Duration,
}

impl Etcd {
    /// Builds the clients (no I/O yet); `timeout` bounds each attempt.
    pub(crate) async fn new(endpoints: &[String], timeout: Duration) -> Result<Etcd, CoordError> {
        if endpoints.is_empty() {
            return Err(CoordError::Invalid("no etcd endpoints".into()));
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(PING_INTERVAL, PING_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let mut clients = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let client = Client::connect([endpoint.as_str()], Some(options.clone()))
                .await
                .map_err(|error| CoordError::Invalid(format!("etcd endpoint {endpoint}: {error}")))?;
            clients.push((endpoint.clone(), client));
        }
        Ok(Etcd { clients, current: AtomicUsize::new(0), timeout })
    }

    /// Proves that some endpoint answers (a read of one key).
    pub(crate) async fn probe(&self) -> Result<(), CoordError> {
        self.run("probe", true, |mut client| async move { client.get("/rookery/", None).await.map(|_| ()) }).await
    }

    /// Runs `op` against the current endpoint, bounded by the timeout. On
    /// a failure that another node may not have, an `idempotent` op is
    /// tried on each other endpoint in turn; any other op fails at once
    /// (it may have been applied), but the next call starts elsewhere.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, idempotent: bool, mut op: F) -> Result<T, CoordError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let start = self.current.load(Ordering::Relaxed);
        let attempts = if idempotent { self.clients.len() } else { 1 };
        let mut last = String::new();
        for step in 0..attempts {
            let index = (start + step) % self.clients.len();
            let (endpoint, client) = &self.clients[index];
            match tokio::time::timeout(self.timeout, op(client.clone())).await {
                Ok(Ok(value)) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Ok(value);
                }
                Ok(Err(error)) if !is_transient(&error) => {
                    return Err(CoordError::Rejected(format!("{what}: {error}")));
                }
                Ok(Err(error)) => last = format!("{what} at {endpoint}: {error}"),
                Err(_) => last = format!("{what} at {endpoint}: no answer within {:?}", self.timeout),
            }
            debug!(target: LOG, "{last}");
            self.rotate(index);
        }
        Err(CoordError::Unavailable(last))
    }

    /// The current endpoint's index and client, for calls that manage
    /// their own time (an election campaign waits while another member
    /// leads; the lease's keep-alive stream).
    pub(crate) fn current(&self) -> (usize, Client) {
        let index = self.current.load(Ordering::Relaxed) % self.clients.len();
        (index, self.clients[index].1.clone())
    }

    /// A call to endpoint `failed` failed: later calls start at the next
    /// one, unless another call has moved on already (two failures of one
    /// node must not skip a good node).
    pub(crate) fn rotate(&self, failed: usize) {
        let next = (failed + 1) % self.clients.len();
        let _ = self.current.compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Errors that mean "this node cannot answer now" rather than "etcd says
/// no": the connection, the node's raft state, a timeout.
pub(crate) fn is_transient(error: &etcd_client::Error) -> bool {
    use etcd_client::Error;
    use tonic::Code;
    match error {
        Error::TransportError(_) | Error::IoError(_) | Error::LeaseKeepAliveError(_) | Error::WatchError(_) => true,
        Error::GRpcStatus(status) => matches!(
            status.code(),
            Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Unknown
                | Code::Cancelled
                | Code::Internal
                | Code::Aborted
        ),
        _ => false,
    }
}

/// Whether etcd answered that a lease does not exist (expired or revoked).
pub(crate) fn is_lease_not_found(error: &etcd_client::Error) -> bool {
    match error {
        etcd_client::Error::GRpcStatus(status) => status.message().contains("lease not found"),
        etcd_client::Error::LeaseKeepAliveError(message) => message.contains("lease not found"),
        _ => false,
    }
}

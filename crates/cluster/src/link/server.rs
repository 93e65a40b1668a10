//! The accepting side: the allow-list, the handshake, then one request at a
//! time per connection, handed to the member's [`LinkHandler`].

use super::config::{AllowedPeers, ClusterSecret, LinkConfig};
use super::conn::{Conn, ConnError};
use super::frame::Kind;
use super::handshake::{self, HandshakeError, SUPPORTED_VERSIONS};
use super::mailbox::{MailboxError, MailboxOp, MailboxReply};
use super::message::{
    AdminError, AdminOperation, AdminReply, DeliverRequest, Request, Response, decode_request, encode_response,
    unknown_request,
};
use async_trait::async_trait;
use bytes::Bytes;
use queue::Outcome;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// What a member does with the requests its peers send; the server binary
/// implements it with the store, the queue and the admin API.
#[async_trait]
pub trait LinkHandler: Send + Sync + 'static {
    /// Local delivery (CM-25); one outcome per envelope recipient, in order.
    async fn deliver(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome>;
    /// A message to send on (CM-25 remote submission, CM-27); one outcome
    /// per recipient, usually "accepted into the queue" as `Delivered`.
    async fn submit(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome>;
    /// An administrative operation (CM-24).
    async fn admin(&self, peer: SocketAddr, operation: AdminOperation) -> Result<AdminReply, AdminError>;
    /// Remote mailbox access (CM-26): the reply and the message bytes that
    /// go with it (at most [`super::frame::MAX_RESPONSE_BODY`]). By default
    /// a member serves none.
    async fn mailbox(
        &self,
        _peer: SocketAddr,
        op: MailboxOp,
        _body: Bytes,
    ) -> (Result<MailboxReply, MailboxError>, Bytes) {
        (Err(MailboxError::Refused(format!("this member does not serve {} operations", op.name()))), Bytes::new())
    }
}

/// What the accept loop and the connection tasks are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Run,
    /// Stop accepting; close connections once their request is answered.
    Drain,
    /// Close everything now, answered or not (a crash, as peers see it).
    Kill,
}

struct Shared {
    secret: ClusterSecret,
    versions: Vec<u16>,
    allow: Vec<AllowedPeers>,
    auth_timeout: Duration,
    idle_timeout: Duration,
    request_timeout: Duration,
    handler: Arc<dyn LinkHandler>,
    /// Peers with an open connection (for operators and tests).
    open: Mutex<Vec<SocketAddr>>,
}

/// A listening cluster link. Dropping it closes every connection at once;
/// [`LinkServer::shutdown`] lets requests in progress finish first.
pub struct LinkServer {
    local: SocketAddr,
    control: watch::Sender<Control>,
    accept: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl LinkServer {
    /// Binds `config.address` and serves the protocol versions this build
    /// speaks.
    pub async fn bind(
        config: &LinkConfig,
        secret: ClusterSecret,
        handler: Arc<dyn LinkHandler>,
    ) -> std::io::Result<LinkServer> {
        LinkServer::bind_speaking(config, secret, handler, SUPPORTED_VERSIONS).await
    }

    /// As [`LinkServer::bind`], speaking only `versions`, a subset of
    /// [`SUPPORTED_VERSIONS`] (to hold a member back during a rolling
    /// upgrade; tests use others to play a newer or older member).
    pub async fn bind_speaking(
        config: &LinkConfig,
        secret: ClusterSecret,
        handler: Arc<dyn LinkHandler>,
        versions: &[u16],
    ) -> std::io::Result<LinkServer> {
        let socket = if config.address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        // A restarted member must get its address back while connections
        // of its previous life linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(config.address)?;
        let listener = socket.listen(1024)?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            secret,
            versions: versions.to_vec(),
            allow: config.allow.clone(),
            auth_timeout: config.auth_timeout,
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            handler,
            open: Mutex::new(Vec::new()),
        });
        let (control, control_rx) = watch::channel(Control::Run);
        let span = tracing::info_span!("cluster_link", server.addr = %local);
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), control_rx).instrument(span));
        tracing::info!(target: "cluster::link", address = %local, "cluster link listening");
        Ok(LinkServer { local, control, accept: Some(accept), shared })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Peers with an open (authenticated or authenticating) connection.
    pub fn open_connections(&self) -> Vec<SocketAddr> {
        self.shared.open.lock().map(|open| open.clone()).unwrap_or_default()
    }

    /// Stops accepting, lets requests in progress finish and be answered,
    /// closes every connection; returns when all are closed.
    pub async fn shutdown(mut self) {
        self.stop(Control::Drain).await;
    }

    /// Closes the listener and every connection now, requests in progress
    /// or not (what peers see when a member crashes); returns when all are
    /// closed.
    pub async fn kill(mut self) {
        self.stop(Control::Kill).await;
    }

    async fn stop(&mut self, how: Control) {
        let _ = self.control.send(how);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for LinkServer {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Kill);
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut control: watch::Receiver<Control>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if !shared.allow.iter().any(|peers| peers.contains(peer.ip())) {
                        // Closed before a byte is read (CM-21, DESIGN §8).
                        tracing::warn!(target: "cluster::link", peer = %peer, "refused a connection from an address not on the cluster allow-list");
                        drop(stream);
                        continue;
                    }
                    let span = tracing::info_span!("conn", client.addr = %peer);
                    connections.spawn(serve(stream, peer, shared.clone(), control.clone()).instrument(span));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(target: "cluster::link", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reaping finished connections keeps the set small.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            changed = control.changed() => {
                let how = if changed.is_err() { Control::Kill } else { *control.borrow_and_update() };
                if how == Control::Run {
                    continue;
                }
                drop(listener);
                if how == Control::Kill {
                    connections.shutdown().await;
                } else {
                    while connections.join_next().await.is_some() {}
                }
                tracing::info!(target: "cluster::link", "cluster link stopped");
                return;
            }
        }
    }
}

/// Removes the peer from `open` however the connection ends, also when
/// its task is aborted.
struct OpenGuard<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut open) = self.shared.open.lock()
            && let Some(at) = open.iter().position(|p| *p == self.peer)
        {
            open.swap_remove(at);
        }
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, mut control: watch::Receiver<Control>) {
    if let Ok(mut open) = shared.open.lock() {
        open.push(peer);
    }
    let _guard = OpenGuard { shared: &shared, peer };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, peer);
    match tokio::time::timeout(shared.auth_timeout, handshake::server(&mut conn, &shared.secret, &shared.versions))
        .await
    {
        Ok(Ok(version)) => tracing::debug!(target: "cluster::link", version, "peer authenticated"),
        Ok(Err(HandshakeError::NoCommonVersion { ours, theirs })) => {
            tracing::error!(target: "cluster::link", ?ours, ?theirs, "refused a peer: no common protocol version");
            return;
        }
        Ok(Err(e @ (HandshakeError::BadProof | HandshakeError::ProofRejected))) => {
            tracing::error!(target: "cluster::link", error = %e, "refused a peer: the cluster secrets differ");
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "cluster::link", error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            tracing::warn!(target: "cluster::link", "handshake timed out");
            return;
        }
    }
    loop {
        if *control.borrow() != Control::Run {
            return;
        }
        let frame = tokio::select! {
            read = tokio::time::timeout(shared.idle_timeout, conn.read_frame()) => match read {
                Ok(Ok(frame)) => frame,
                Ok(Err(ConnError::Closed)) => {
                    tracing::debug!(target: "cluster::link", "peer closed the connection");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::error!(target: "cluster::link", error = %e, "closing the connection");
                    return;
                }
                Err(_) => {
                    tracing::debug!(target: "cluster::link", "idle connection closed");
                    return;
                }
            },
            _ = control.changed() => return,
        };
        conn.last_request_id = frame.request_id;
        let response = match decode_request(&frame.meta, frame.body) {
            // A newer member's request: the frame was whole, so the stream
            // is still in step; say no and keep the connection.
            Err(_) if let Some(reason) = unknown_request(&frame.meta) => {
                tracing::warn!(target: "cluster::link", reason, "unsupported request from a newer member");
                Response::Unavailable(reason)
            }
            Err(e) => {
                tracing::error!(target: "cluster::link", error = %e, "closing the connection");
                return;
            }
            Ok(request) if request.min_version() > conn.version => {
                let reason =
                    format!("{} requests need link protocol version {}", request.name(), request.min_version());
                tracing::warn!(target: "cluster::link", version = conn.version, reason, "request above the agreed version");
                Response::Unavailable(reason)
            }
            Ok(request) => handle(&shared, peer, request).await,
        };
        let meta = match encode_response(&response) {
            Ok(meta) => meta,
            Err(e) => {
                tracing::error!(target: "cluster::link", error = %e, "cannot encode a response");
                return;
            }
        };
        let body = response.body();
        let write = conn.write_frame(Kind::Response, frame.request_id, &meta, &body);
        match tokio::time::timeout(shared.request_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "cluster::link", error = %e, "cannot send a response");
                return;
            }
            Err(_) => {
                tracing::warn!(target: "cluster::link", "sending a response timed out");
                return;
            }
        }
    }
}

async fn handle(shared: &Shared, peer: SocketAddr, request: Request) -> Response {
    match request {
        Request::Ping => {
            tracing::trace!(target: "cluster::link", "ping");
            Response::Pong
        }
        Request::Deliver(request) => {
            let n = request.envelope.recipients.len();
            tracing::debug!(target: "cluster::delivery", account = %request.account, recipients = n, size = request.body.len(), "remote delivery");
            checked(n, shared.handler.deliver(peer, request).await)
        }
        Request::Submit(request) => {
            let n = request.envelope.recipients.len();
            tracing::debug!(target: "cluster::delivery", account = %request.account, recipients = n, size = request.body.len(), "remote submission");
            checked(n, shared.handler.submit(peer, request).await)
        }
        Request::Admin(operation) => {
            tracing::info!(target: "cluster::admin", ?operation, "remote admin operation");
            let result = shared.handler.admin(peer, operation).await;
            if let Err(e) = &result {
                tracing::debug!(target: "cluster::admin", error = %e, "remote admin operation failed");
            }
            Response::Admin(result)
        }
        Request::Mailbox { op, body } => {
            let (name, account) = (op.name(), op.account().clone());
            tracing::debug!(target: "cluster::mailbox", %account, op = name, size = body.len(), "remote mailbox operation");
            let (result, body) = shared.handler.mailbox(peer, op, body).await;
            match &result {
                Err(e) => {
                    tracing::debug!(target: "cluster::mailbox", %account, op = name, error = %e, "remote mailbox operation failed")
                }
                Ok(_) if body.len() > super::frame::MAX_RESPONSE_BODY => {
                    tracing::error!(target: "cluster::mailbox", %account, op = name, size = body.len(), "handler answered with too many bytes");
                    let reason = format!("answer of {} bytes exceeds the link's limit", body.len());
                    return Response::Mailbox { result: Err(MailboxError::Failed(reason)), body: Bytes::new() };
                }
                Ok(_) => {}
            }
            Response::Mailbox { result, body }
        }
    }
}

/// A handler that miscounts is a bug here; the sender must not guess
/// which recipient got what.
fn checked(n_recipients: usize, outcomes: Vec<Outcome>) -> Response {
    if outcomes.len() == n_recipients {
        Response::Outcomes(outcomes)
    } else {
        tracing::error!(target: "cluster::delivery", n_recipients, n_outcomes = outcomes.len(), "handler returned the wrong number of outcomes");
        Response::Unavailable(format!("{} outcomes for {n_recipients} recipients", outcomes.len()))
    }
}

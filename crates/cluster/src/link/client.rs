//! The connecting side: [`LinkClient`] sends requests to peers over cached,
//! authenticated connections, one request at a time per connection.

use super::cache::{Cache, CacheStats};
use super::config::{ClusterSecret, LinkConfig};
use super::conn::{Conn, ConnError};
use super::error::LinkError;
use super::frame::{self, Kind};
use super::handshake::{self, HandshakeError, SUPPORTED_VERSIONS};
use super::mailbox::{MailboxError, MailboxOp, MailboxReply};
use super::message::{
    AdminError, AdminOperation, AdminReply, DeliverRequest, Request, Response, decode_response, encode_request,
};
use bytes::Bytes;
use queue::Outcome;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpSocket;

/// Sends requests to other members. Cheap to clone; clones share the
/// connection cache.
#[derive(Clone)]
pub struct LinkClient {
    inner: Arc<Inner>,
}

struct Inner {
    local_ip: IpAddr,
    secret: ClusterSecret,
    versions: Vec<u16>,
    connect_timeout: Duration,
    auth_timeout: Duration,
    request_timeout: Duration,
    cache: Cache,
}

/// How one attempt failed, and whether the request may have reached the
/// peer's handler.
struct Failure {
    error: LinkError,
    /// The whole request may have been written: the peer may have run it.
    maybe_performed: bool,
}

impl LinkClient {
    /// Outgoing connections leave from `config.address`'s IP (CM-21).
    pub fn new(config: &LinkConfig, secret: ClusterSecret) -> LinkClient {
        LinkClient::speaking(config, secret, SUPPORTED_VERSIONS)
    }

    /// As [`LinkClient::new`], offering only `versions`: a subset of
    /// [`SUPPORTED_VERSIONS`] (tests offer others to play a newer or older
    /// member).
    pub fn speaking(config: &LinkConfig, secret: ClusterSecret, versions: &[u16]) -> LinkClient {
        LinkClient {
            inner: Arc::new(Inner {
                local_ip: config.address.ip(),
                secret,
                versions: versions.to_vec(),
                connect_timeout: config.connect_timeout,
                auth_timeout: config.auth_timeout,
                request_timeout: config.request_timeout,
                // Stay clear of the accepting side's idle timeout, so a
                // reused connection is not closed under our request.
                cache: Cache::new(config.cache_per_peer, config.idle_timeout / 2),
            }),
        }
    }

    pub async fn ping(&self, peer: SocketAddr) -> Result<(), LinkError> {
        match self.request(peer, &Request::Ping).await? {
            Response::Pong => Ok(()),
            other => Err(unexpected(peer, &other)),
        }
    }

    /// Remote delivery (CM-25): one outcome per envelope recipient. An
    /// error means the outcome is unknown: the caller defers and retries
    /// (the receiving store recognises a retried delivery), it never
    /// happens twice silently here.
    pub async fn deliver(&self, peer: SocketAddr, request: DeliverRequest) -> Result<Vec<Outcome>, LinkError> {
        let n = request.envelope.recipients.len();
        let outcome = self.request(peer, &Request::Deliver(request)).await;
        outcomes(peer, n, outcome)
    }

    /// Remote submission; as [`LinkClient::deliver`].
    pub async fn submit(&self, peer: SocketAddr, request: DeliverRequest) -> Result<Vec<Outcome>, LinkError> {
        let n = request.envelope.recipients.len();
        let outcome = self.request(peer, &Request::Submit(request)).await;
        outcomes(peer, n, outcome)
    }

    /// Remote administration (CM-24). The outer error is the link's, the
    /// inner one the operation's.
    pub async fn admin(
        &self,
        peer: SocketAddr,
        operation: AdminOperation,
    ) -> Result<Result<AdminReply, AdminError>, LinkError> {
        tracing::debug!(target: "cluster::admin", peer = %peer, ?operation, "sending an admin operation");
        match self.request(peer, &Request::Admin(operation)).await {
            Ok(Response::Admin(result)) => Ok(result),
            Ok(other) => Err(unexpected(peer, &other)),
            Err(e) => {
                tracing::warn!(target: "cluster::admin", peer = %peer, error = %e, "admin operation failed on the link");
                Err(e)
            }
        }
    }

    /// Remote mailbox access (CM-26): `body` only for an import; the
    /// answer's body holds fetched message bytes. The outer error is the
    /// link's (a peer of protocol version 1 gives [`LinkError::Unsupported`]
    /// without anything being sent), the inner one the operation's.
    pub async fn mailbox(
        &self,
        peer: SocketAddr,
        op: MailboxOp,
        body: Bytes,
    ) -> Result<(Result<MailboxReply, MailboxError>, Bytes), LinkError> {
        let name = op.name();
        tracing::debug!(target: "cluster::mailbox", peer = %peer, op = name, account = %op.account(), size = body.len(), "sending a mailbox operation");
        match self.request(peer, &Request::Mailbox { op, body }).await {
            Ok(Response::Mailbox { result, body }) => {
                if let Err(e) = &result {
                    tracing::debug!(target: "cluster::mailbox", peer = %peer, op = name, error = %e, "mailbox operation refused");
                }
                Ok((result, body))
            }
            Ok(other) => Err(unexpected(peer, &other)),
            Err(e) => {
                tracing::warn!(target: "cluster::mailbox", peer = %peer, op = name, error = %e, "mailbox operation failed on the link");
                Err(e)
            }
        }
    }

    /// The connection cache's counters for `peer`.
    pub fn stats(&self, peer: SocketAddr) -> CacheStats {
        self.inner.cache.stats(peer)
    }

    /// Sends one request and waits for its response. A cached connection
    /// that turns out to be broken is replaced and the request sent again
    /// when that cannot perform it twice: always for idempotent requests,
    /// for the others only if it cannot have reached the peer whole.
    pub async fn request(&self, peer: SocketAddr, request: &Request) -> Result<Response, LinkError> {
        let (meta, body) = encode_request(request).map_err(|e| LinkError::Protocol { peer, reason: e.to_string() })?;
        let frame_len = frame::HEAD_LEN + meta.len() + body.len();
        if body.len() > frame::MAX_BODY || frame_len > frame::MAX_REQUEST_FRAME {
            return Err(LinkError::TooLarge { size: body.len(), max: frame::MAX_BODY });
        }
        if let Some(mut conn) = self.inner.cache.take(peer) {
            if let Err(e) = knows(&conn, request) {
                self.inner.cache.put(peer, conn);
                return Err(e);
            }
            match self.exchange(&mut conn, &meta, &body).await {
                Ok(response) => {
                    self.inner.cache.put(peer, conn);
                    return Ok(response);
                }
                Err(failure) if request.is_idempotent() || !failure.maybe_performed => {
                    tracing::debug!(target: "cluster::link", peer = %peer, request = request.name(), error = %failure.error, "cached connection broken; retrying on a new one");
                }
                Err(failure) => return Err(failure.error),
            }
        }
        let mut conn = self.connect(peer).await?;
        if let Err(e) = knows(&conn, request) {
            self.inner.cache.put(peer, conn);
            return Err(e);
        }
        match self.exchange(&mut conn, &meta, &body).await {
            Ok(response) => {
                self.inner.cache.put(peer, conn);
                Ok(response)
            }
            Err(failure) => Err(failure.error),
        }
    }

    async fn connect(&self, peer: SocketAddr) -> Result<Conn, LinkError> {
        let inner = &self.inner;
        let connect = async {
            let socket = if peer.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.bind(SocketAddr::new(inner.local_ip, 0))?;
            socket.connect(peer).await
        };
        let stream = match tokio::time::timeout(inner.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(LinkError::Connect { peer, reason: e.to_string() }),
            Err(_) => return Err(LinkError::Timeout { peer, stage: "connect" }),
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Conn::new(stream, peer);
        let version = match tokio::time::timeout(
            inner.auth_timeout,
            handshake::client(&mut conn, &inner.secret, &inner.versions),
        )
        .await
        {
            Ok(Ok(version)) => version,
            Ok(Err(e)) => return Err(handshake_error(peer, e)),
            Err(_) => return Err(LinkError::Timeout { peer, stage: "handshake" }),
        };
        inner.cache.opened(peer);
        tracing::debug!(target: "cluster::link", peer = %peer, version, "connected to a cluster member");
        Ok(conn)
    }

    async fn exchange(&self, conn: &mut Conn, meta: &[u8], body: &bytes::Bytes) -> Result<Response, Failure> {
        let peer = conn.peer;
        let id = conn.last_request_id.wrapping_add(1);
        conn.last_request_id = id;
        let mut written = false;
        let attempt = async {
            conn.write_frame(Kind::Request, id, meta, body).await.map_err(|e| (false, e))?;
            written = true;
            conn.read_frame().await.map_err(|e| (true, e))
        };
        let result = tokio::time::timeout(self.inner.request_timeout, attempt).await;
        let frame = match result {
            Ok(Ok(frame)) => frame,
            Ok(Err((maybe_performed, e))) => {
                let error = match e {
                    ConnError::Frame(e) => LinkError::Protocol { peer, reason: e.to_string() },
                    other => LinkError::Interrupted { peer, reason: other.to_string() },
                };
                return Err(Failure { error, maybe_performed });
            }
            Err(_) => {
                return Err(Failure { error: LinkError::Timeout { peer, stage: "request" }, maybe_performed: written });
            }
        };
        if frame.request_id != id {
            let reason = format!("response to request {} while waiting for {id}", frame.request_id);
            return Err(Failure { error: LinkError::Protocol { peer, reason }, maybe_performed: true });
        }
        decode_response(&frame.meta, frame.body)
            .map_err(|e| Failure { error: LinkError::Protocol { peer, reason: e.to_string() }, maybe_performed: true })
    }
}

/// A request goes only on a connection whose version knows it, so an older
/// peer never has to decode what it cannot.
fn knows(conn: &Conn, request: &Request) -> Result<(), LinkError> {
    let needed = request.min_version();
    if conn.version >= needed {
        Ok(())
    } else {
        Err(LinkError::Unsupported { peer: conn.peer, request: request.name(), version: conn.version, needed })
    }
}

fn handshake_error(peer: SocketAddr, error: HandshakeError) -> LinkError {
    let auth = |reason: &str| LinkError::Auth { peer, reason: reason.to_owned() };
    let error = match error {
        HandshakeError::NoCommonVersion { ours, theirs } => LinkError::NoCommonVersion { peer, ours, theirs },
        HandshakeError::BadProof => auth("it does not prove the cluster secret"),
        HandshakeError::ProofRejected => auth("it does not accept our proof of the cluster secret"),
        HandshakeError::Conn(ConnError::Closed | ConnError::Truncated) => closed_in_handshake(peer),
        HandshakeError::Conn(ConnError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            ) =>
        {
            closed_in_handshake(peer)
        }
        HandshakeError::Conn(ConnError::Io(e)) => LinkError::Connect { peer, reason: e.to_string() },
        other => LinkError::Protocol { peer, reason: other.to_string() },
    };
    tracing::error!(target: "cluster::link", peer = %peer, error = %error, "cannot open a cluster connection");
    error
}

/// Closed before answering our hello: most likely we are not on the
/// peer's allow-list, which refuses without a word.
fn closed_in_handshake(peer: SocketAddr) -> LinkError {
    LinkError::Connect { peer, reason: "closed during the handshake (is this member on its allow-list?)".into() }
}

fn unexpected(peer: SocketAddr, response: &Response) -> LinkError {
    match response {
        Response::Unavailable(reason) => LinkError::Unavailable { peer, reason: reason.clone() },
        other => LinkError::Protocol { peer, reason: format!("unexpected response {other:?}") },
    }
}

fn outcomes(
    peer: SocketAddr,
    n_recipients: usize,
    response: Result<Response, LinkError>,
) -> Result<Vec<Outcome>, LinkError> {
    match response {
        Ok(Response::Outcomes(outcomes)) if outcomes.len() == n_recipients => Ok(outcomes),
        Ok(Response::Outcomes(outcomes)) => Err(LinkError::Protocol {
            peer,
            reason: format!("{} outcomes for {n_recipients} recipients", outcomes.len()),
        }),
        Ok(other) => Err(unexpected(peer, &other)),
        Err(e) => {
            tracing::warn!(target: "cluster::delivery", peer = %peer, error = %e, "remote delivery failed; the outcome is unknown");
            Err(e)
        }
    }
}

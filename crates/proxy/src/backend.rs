//! The backend's side of a frontend connection: connect over the cluster
//! network, send the PROXY header, and read the backend's answers up to
//! the login's. The leg is plain TCP: the cluster network is trusted, and
//! the backend takes PROXY headers from the members on its cluster
//! allow-list. On a symmetric member the "backend" of its own accounts is
//! a local session over an in-process pipe (`local.rs`).

use crate::client::Io;
use crate::frontend::Protocol;
use crate::local::LocalSessions;
use crate::lookup::Backend;
use crate::proxy_header::v2_header;
use bytes::BytesMut;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The longest answer line read from a backend before the splice; the
/// backends' lines (a capability list is the longest) are far shorter.
const MAX_BACKEND_LINE: usize = 16 * 1024;

/// What went wrong on the way to a backend. Each case means the backend,
/// not the client, failed, and that the client may try again later (or
/// through another frontend).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    #[error("connecting to backend {addr}: {source}")]
    Connect { addr: Backend, source: std::io::Error },
    #[error("backend {addr} did not answer in time")]
    Timeout { addr: Backend },
    #[error("backend {addr} closed the connection")]
    Closed { addr: Backend },
    #[error("backend {addr}: {source}")]
    Io { addr: Backend, source: std::io::Error },
    #[error("backend {addr} answered unexpectedly: {answer:?}")]
    Unexpected { addr: Backend, answer: String },
    /// The lookup said "here" on a member that serves no accounts: the
    /// configuration names this frontend as a host.
    #[error("the account is hosted on this member, which serves no accounts")]
    NoLocalSessions,
}

/// Who connects and how the client reached the frontend: what the PROXY
/// header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddrs {
    pub(crate) client: SocketAddr,
    pub(crate) frontend: SocketAddr,
    pub(crate) tls: bool,
    /// The load balancer the client came through, if any.
    pub(crate) proxied_by: Option<SocketAddr>,
}

pub(crate) struct BackendConn {
    pub(crate) addr: Backend,
    stream: Box<dyn Io>,
    buf: BytesMut,
    timeout: Duration,
}

impl BackendConn {
    /// Connects to another member's service, from `source` (this member's
    /// cluster address, CM-21: the backend trusts PROXY headers from it)
    /// when set, with TCP keepalive so a long IDLE survives quiet
    /// firewalls and a vanished host is noticed.
    pub(crate) async fn connect(
        to: SocketAddr,
        source: Option<IpAddr>,
        from: ClientAddrs,
        timeout: Duration,
    ) -> Result<Self, BackendError> {
        let addr = Backend::There(to);
        let stream = match tokio::time::timeout(timeout, connect_from(to, source)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(BackendError::Connect { addr, source }),
            Err(_) => return Err(BackendError::Timeout { addr }),
        };
        let mut conn = BackendConn { addr, stream: Box::new(stream), buf: BytesMut::with_capacity(4096), timeout };
        let header =
            v2_header(from.client, from.frontend, from.tls).map_err(|source| BackendError::Io { addr, source })?;
        conn.write(&header).await?;
        Ok(conn)
    }

    /// A session of this member's own for the client (CM-8), over an
    /// in-process pipe; it knows the client from its connection info.
    pub(crate) fn local(local: &dyn LocalSessions, protocol: Protocol, from: ClientAddrs, timeout: Duration) -> Self {
        let info = net::ConnInfo {
            peer: from.client,
            local: from.frontend,
            tls: from.tls,
            // TLS, if any, is the frontend's; the session cannot start it.
            tls_available: false,
            proxied_by: from.proxied_by,
        };
        let stream = crate::local::open(local, protocol, info);
        BackendConn { addr: Backend::Here, stream: Box::new(stream), buf: BytesMut::with_capacity(4096), timeout }
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), BackendError> {
        let addr = self.addr;
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BackendError::Io { addr, source }),
            Err(_) => Err(BackendError::Timeout { addr }),
        }
    }

    /// One answer line, CRLF included (it is relayed as is).
    pub(crate) async fn read_line(&mut self) -> Result<Vec<u8>, BackendError> {
        let addr = self.addr;
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.split_to(end + 1).to_vec());
            }
            if self.buf.len() > MAX_BACKEND_LINE {
                return Err(BackendError::Unexpected { addr, answer: "an over-long line".to_owned() });
            }
            self.buf.reserve(4096);
            match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) => return Err(BackendError::Closed { addr }),
                Ok(Ok(_)) => {}
                Ok(Err(source)) => return Err(BackendError::Io { addr, source }),
                Err(_) => return Err(BackendError::Timeout { addr }),
            }
        }
    }

    /// The stream and anything the backend sent past the login answer.
    pub(crate) fn into_parts(self) -> (Box<dyn Io>, BytesMut) {
        (self.stream, self.buf)
    }
}

/// A TCP connection to `to`, leaving from `source` when given, with
/// keepalive on.
async fn connect_from(to: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    // A source of the other family could not reach `to` at all.
    let stream = match source.filter(|source| source.is_ipv4() == to.is_ipv4()) {
        None => TcpStream::connect(to).await?,
        Some(source) => {
            let socket = if to.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(to).await?
        }
    };
    let _ = stream.set_nodelay(true);
    net::keepalive::enable(&stream);
    Ok(stream)
}

#[cfg(test)]
mod tests;

/// A backend line for logs and errors: lossy, without its line end.
pub(crate) fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line).trim_end().to_owned()
}

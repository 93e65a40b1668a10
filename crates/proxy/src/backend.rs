//! The backend's side of a frontend connection: connect over the cluster
//! network, send the PROXY header, and read the backend's answers up to
//! the login's. The leg is plain TCP: the cluster network is trusted, and
//! the backend lists the frontends in its `proxy_protocol_from`.

use crate::proxy_header::v2_header;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest answer line read from a backend before the splice; the
/// backends' lines (a capability list is the longest) are far shorter.
const MAX_BACKEND_LINE: usize = 16 * 1024;

/// What went wrong on the way to a backend. Each case means the backend,
/// not the client, failed, and that the client may try again later (or
/// through another frontend).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    #[error("connecting to backend {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("backend {addr} did not answer in time")]
    Timeout { addr: SocketAddr },
    #[error("backend {addr} closed the connection")]
    Closed { addr: SocketAddr },
    #[error("backend {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("backend {addr} answered unexpectedly: {answer:?}")]
    Unexpected { addr: SocketAddr, answer: String },
}

/// Who connects and how the client reached the frontend: what the PROXY
/// header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddrs {
    pub(crate) client: SocketAddr,
    pub(crate) frontend: SocketAddr,
    pub(crate) tls: bool,
}

pub(crate) struct BackendConn {
    pub(crate) addr: SocketAddr,
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl BackendConn {
    pub(crate) async fn connect(addr: SocketAddr, from: ClientAddrs, timeout: Duration) -> Result<Self, BackendError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(BackendError::Connect { addr, source }),
            Err(_) => return Err(BackendError::Timeout { addr }),
        };
        let _ = stream.set_nodelay(true);
        let mut conn = BackendConn { addr, stream, buf: BytesMut::with_capacity(4096), timeout };
        let header =
            v2_header(from.client, from.frontend, from.tls).map_err(|source| BackendError::Io { addr, source })?;
        conn.write(&header).await?;
        Ok(conn)
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
    pub(crate) fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.buf)
    }
}

/// A backend line for logs and errors: lossy, without its line end.
pub(crate) fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line).trim_end().to_owned()
}

//! The client's side of a frontend connection before the splice: line
//! reads with a timeout, writes, and the STARTTLS upgrade.

use crate::lines::{Line, LineReader};
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

/// A byte stream a session can run on: TCP, TLS over TCP, or an
/// in-process pipe.
pub(crate) use net::Io;

/// Why reading from the client stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gone {
    /// Closed, reset, or a write failed.
    Closed,
    /// Silent for longer than the login timeout.
    TimedOut,
}

pub(crate) struct ClientConn {
    io: Box<dyn Io>,
    buf: BytesMut,
    lines: LineReader,
    /// Whether TLS is active.
    pub(crate) tls: bool,
}

impl ClientConn {
    pub(crate) fn new(io: Box<dyn Io>, max_line: usize, tls: bool) -> Self {
        Self { io, buf: BytesMut::with_capacity(4096), lines: LineReader::new(max_line), tls }
    }

    pub(crate) async fn read_line(&mut self, timeout: Duration) -> Result<Line, Gone> {
        loop {
            if let Some(line) = self.lines.next(&mut self.buf) {
                return Ok(line);
            }
            self.fill(timeout).await?;
        }
    }

    /// Exactly `n` bytes (an IMAP literal); the caller has bounded `n`.
    pub(crate) async fn read_exact(&mut self, n: usize, timeout: Duration) -> Result<BytesMut, Gone> {
        while self.buf.len() < n {
            self.fill(timeout).await?;
        }
        Ok(self.buf.split_to(n))
    }

    async fn fill(&mut self, timeout: Duration) -> Result<(), Gone> {
        self.buf.reserve(4096);
        match tokio::time::timeout(timeout, self.io.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(Gone::Closed),
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(Gone::TimedOut),
        }
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.io.write_all(bytes).await.map_err(|_| Gone::Closed)?;
        self.io.flush().await.map_err(|_| Gone::Closed)
    }

    /// Starts TLS after the protocol's "go ahead" was written. Input that
    /// arrived before the handshake is dropped (RFC 3207 §4.2: a man in
    /// the middle could have injected it).
    pub(crate) async fn start_tls(self, acceptor: &TlsAcceptor, timeout: Duration) -> Result<Self, Gone> {
        let ClientConn { io, lines, .. } = self;
        match tokio::time::timeout(timeout, acceptor.accept(io)).await {
            Ok(Ok(tls)) => Ok(ClientConn { io: Box::new(tls), buf: BytesMut::with_capacity(4096), lines, tls: true }),
            Ok(Err(e)) => {
                tracing::debug!(target: "proxy::tls", error = %e, "tls handshake failed");
                Err(Gone::Closed)
            }
            Err(_) => Err(Gone::TimedOut),
        }
    }

    /// The stream and whatever the client already sent past the login,
    /// which belongs to the backend.
    pub(crate) fn into_parts(self) -> (Box<dyn Io>, BytesMut) {
        (self.io, self.buf)
    }
}

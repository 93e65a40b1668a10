//! The socket of one connection, plaintext or TLS, with reads and writes
//! that end within a deadline and turn every failure into an
//! [`SmtpError`] at the given stage.

use crate::destination::Destination;
use crate::error::{Cause, SmtpError, Stage};
use crate::reply::{Reply, ReplyParser};
use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::client::TlsStream;

/// How much is read from the socket at a time.
const READ_SIZE: usize = 8 * 1024;

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection's socket and what has been read from it but not parsed.
pub(crate) struct Wire {
    pub(crate) stream: Stream,
    pub(crate) server: Destination,
    /// Bounded: the parser consumes every complete line before more is
    /// read, and refuses a line past its limit.
    buf: BytesMut,
    parser: ReplyParser,
}

impl Wire {
    pub(crate) fn new(stream: Stream, server: Destination) -> Wire {
        Wire { stream, server, buf: BytesMut::with_capacity(READ_SIZE), parser: ReplyParser::default() }
    }

    pub(crate) fn error(&self, stage: Stage, cause: Cause) -> SmtpError {
        SmtpError::new(&self.server, stage, cause)
    }

    /// Reads one whole reply; the timeout covers all of it, so a server
    /// that drips bytes cannot stretch it.
    pub(crate) async fn read_reply(&mut self, stage: Stage, timeout: Duration) -> Result<Reply, SmtpError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(error) => return Err(self.error(stage, Cause::BadReply(error))),
            }
            self.buf.reserve(READ_SIZE);
            match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err(self.error(stage, Cause::Timeout)),
                Ok(Err(error)) => return Err(SmtpError::io(&self.server, stage, &error)),
                Ok(Ok(0)) => return Err(self.error(stage, Cause::Closed)),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Writes and flushes `bytes` within `timeout`.
    pub(crate) async fn write(&mut self, bytes: &[u8], stage: Stage, timeout: Duration) -> Result<(), SmtpError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(self.error(stage, Cause::Timeout)),
            Ok(Err(error)) => Err(SmtpError::io(&self.server, stage, &error)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Whether the server sent bytes nobody asked for yet.
    pub(crate) fn has_unread_input(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Forgets input read ahead: what a server sent before the TLS
    /// handshake must not be taken as replies after it (CVE-2011-0411).
    pub(crate) fn discard_input(&mut self) {
        self.buf.clear();
        self.parser = ReplyParser::default();
    }
}

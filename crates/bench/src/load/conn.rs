//! A buffered line connection shared by the SMTP/LMTP and POP3 clients:
//! commands are collected in one write buffer and sent with one write, and
//! replies are read from one read buffer that is reused for the whole
//! session.

use anyhow::{Context, bail};
use bytes::{Buf, BytesMut};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long a server may stay silent before the run fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const READ_CHUNK: usize = 64 * 1024;

pub struct Conn {
    stream: TcpStream,
    read: BytesMut,
    /// Bytes queued for the next [`Conn::flush`].
    pub write: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`, from `source` when given (any port): the
    /// frontend suite's clients come from an address of their own, so that
    /// the backends can trust the frontends' address for PROXY headers.
    pub async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<Conn> {
        let stream = match source {
            None => TcpStream::connect(addr).await,
            Some(source) => {
                let socket = if source.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
                socket.bind(SocketAddr::new(source, 0)).with_context(|| format!("binding to {source}"))?;
                socket.connect(addr).await
            }
        };
        let stream = stream.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, read: BytesMut::with_capacity(READ_CHUNK), write: Vec::with_capacity(16 * 1024) })
    }

    /// Sends everything queued in [`Conn::write`] and empties it.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.write.is_empty() {
            self.stream.write_all(&self.write).await.context("writing to the server")?;
            self.write.clear();
        }
        Ok(())
    }

    /// Reads more bytes into the read buffer.
    async fn fill(&mut self) -> anyhow::Result<()> {
        self.read.reserve(READ_CHUNK);
        let n = tokio::time::timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.read))
            .await
            .context("the server sent nothing for 60 s")?
            .context("reading from the server")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }

    /// Reads one line and returns it with its CRLF. The returned buffer
    /// shares the read buffer's memory; drop it before the next read.
    pub async fn read_line(&mut self) -> anyhow::Result<BytesMut> {
        let mut searched = 0;
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.read[searched..]) {
                return Ok(self.read.split_to(searched + at + 1));
            }
            searched = self.read.len();
            if searched > 64 * 1024 {
                bail!("a reply line longer than 64 KiB");
            }
            self.fill().await?;
        }
    }

    /// Reads exactly `n` bytes (an IMAP literal's first part).
    pub async fn read_bytes(&mut self, n: usize) -> anyhow::Result<BytesMut> {
        while self.read.len() < n {
            self.fill().await?;
        }
        Ok(self.read.split_to(n))
    }

    /// Reads and drops `n` bytes (an IMAP literal).
    pub async fn skip(&mut self, mut n: usize) -> anyhow::Result<()> {
        loop {
            let available = n.min(self.read.len());
            self.read.advance(available);
            n -= available;
            if n == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Consumes a POP3 multi-line body up to and including its terminating
    /// `.` line (the status line must already be read) and returns the
    /// number of octets before the terminator. Bytes are dropped as they
    /// are scanned, so the buffer stays small.
    pub async fn skip_dot_terminated(&mut self) -> anyhow::Result<u64> {
        let mut octets = 0;
        let mut at_body_start = true;
        loop {
            if at_body_start && self.read.starts_with(b".\r\n") {
                self.read.advance(3);
                return Ok(octets);
            }
            if let Some(at) = memchr::memmem::find(&self.read, b"\r\n.\r\n") {
                self.read.advance(at + 5);
                return Ok(octets + at as u64 + 2);
            }
            // Keep the last four bytes: a terminator may straddle two reads.
            if self.read.len() > 4 {
                let scanned = self.read.len() - 4;
                self.read.advance(scanned);
                octets += scanned as u64;
                at_body_start = false;
            }
            self.fill().await?;
        }
    }
}

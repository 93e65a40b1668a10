//! The connection driver: read, step the session, write; `select!` on the
//! idle timeout and on shutdown (after mini-redis' `Handler::run`).

use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// What the session wants after it has handled the buffered input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read more input.
    Continue,
    /// Write the pending replies, then call `input` again before reading:
    /// commands are still buffered, but the replies so far are large
    /// enough that they must go out first (a pipelined run of RETRs must
    /// not pile every message up in memory).
    Flush,
    /// Write the pending replies, then start TLS (STARTTLS, STLS). Input
    /// buffered before the handshake is discarded (RFC 3207 §4.2).
    StartTls,
    /// Write the pending replies and close the connection.
    Close,
}

/// Facts about one connection that a session may need.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Whether TLS is active (implicit TLS or after STARTTLS).
    pub tls: bool,
    /// Whether the listener can start TLS at all.
    pub tls_available: bool,
}

impl ConnInfo {
    pub fn peer_is_loopback(&self) -> bool {
        self.peer.ip().is_loopback()
    }
}

/// One protocol session: a state machine fed with bytes.
///
/// `input` consumes whole commands from the front of `input` and appends
/// replies to `out`; an incomplete command stays in the buffer. A session
/// must keep the buffer bounded: a line longer than its protocol allows is
/// answered with an error and discarded, never buffered further.
#[async_trait::async_trait]
pub trait Session: Send {
    /// The greeting written when the connection opens.
    async fn greeting(&mut self, out: &mut Vec<u8>) -> Step;
    /// Handles the complete commands in `input`.
    async fn input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step;
    /// TLS is now active on the connection.
    fn tls_started(&mut self);
    /// No input arrived within [`Session::idle_timeout`]: write the
    /// protocol's goodbye (the connection is closed after it).
    fn timed_out(&mut self, out: &mut Vec<u8>);
    /// The server is shutting down: write the protocol's goodbye.
    fn shutting_down(&mut self, out: &mut Vec<u8>);
    /// How long the session may wait for input in its current state.
    fn idle_timeout(&self) -> Duration;
    /// The connection is gone (closed by either side); release resources.
    async fn closed(&mut self) {}
}

/// Input held between steps is capped here whatever the session does; a
/// session that lets more accumulate has a bug, and the peer is cut off.
const HARD_INPUT_LIMIT: usize = 4 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// How a listener offers TLS.
#[derive(Clone)]
pub enum TlsMode {
    /// No TLS at all.
    Off,
    /// Plain text first; the protocol's STARTTLS/STLS upgrades.
    StartTls(TlsAcceptor),
    /// TLS from the first byte (ports 465, 995, 993).
    Implicit(TlsAcceptor),
}

impl TlsMode {
    fn acceptor(&self) -> Option<&TlsAcceptor> {
        match self {
            TlsMode::Off => None,
            TlsMode::StartTls(a) | TlsMode::Implicit(a) => Some(a),
        }
    }
}

/// Runs one connection to its end. Returns when the peer or the session
/// closes it, on idle timeout, or on shutdown.
pub async fn drive<S: Session>(stream: TcpStream, mut session: S, tls: TlsMode, mut shutdown: watch::Receiver<bool>) {
    let mut conn = match &tls {
        TlsMode::Implicit(acceptor) => {
            match tokio::time::timeout(session.idle_timeout(), acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    session.tls_started();
                    Conn::Tls(Box::new(stream))
                }
                _ => {
                    session.closed().await;
                    return;
                }
            }
        }
        _ => Conn::Plain(stream),
    };
    let mut out = Vec::with_capacity(1024);
    let step = session.greeting(&mut out).await;
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut step = step;
    loop {
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        match step {
            Step::Close => break,
            Step::StartTls => {
                input.clear();
                let Some(acceptor) = tls.acceptor() else { break };
                let Conn::Plain(tcp) = conn else { break };
                match tokio::time::timeout(session.idle_timeout(), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        conn = Conn::Tls(Box::new(stream));
                        session.tls_started();
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(target: "net::tls", error = %e, "tls handshake failed");
                        session.closed().await;
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(target: "net::tls", "tls handshake timed out");
                        session.closed().await;
                        return;
                    }
                }
            }
            Step::Flush => {
                step = session.input(&mut input, &mut out).await;
                continue;
            }
            Step::Continue => {}
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            r = conn.read_buf(&mut input) => r,
            _ = tokio::time::sleep(session.idle_timeout()) => {
                session.timed_out(&mut out);
                let _ = conn.write_all(&out).await;
                break;
            }
            _ = shutdown.changed() => {
                session.shutting_down(&mut out);
                let _ = conn.write_all(&out).await;
                break;
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        step = session.input(&mut input, &mut out).await;
        if input.len() > HARD_INPUT_LIMIT {
            tracing::warn!(target: "net::driver", buffered = input.len(), "session left too much input buffered; closing");
            let _ = conn.write_all(&out).await;
            break;
        }
    }
    let _ = conn.shutdown().await;
    session.closed().await;
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => write_flush(s, buf).await,
            Conn::Tls(s) => write_flush(s.as_mut(), buf).await,
        }
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read_buf(buf).await,
            Conn::Tls(s) => s.read_buf(buf).await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.shutdown().await,
            Conn::Tls(s) => s.shutdown().await,
        }
    }
}

async fn write_flush<W: AsyncWrite + Unpin>(w: &mut W, buf: &[u8]) -> std::io::Result<()> {
    w.write_all(buf).await?;
    w.flush().await
}

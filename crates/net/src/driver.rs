//! The connection driver: read, step the session, write; `select!` on the
//! idle timeout and on shutdown (after mini-redis' `Handler::run`).

use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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
    /// The client: the connection's peer, or the address a trusted load
    /// balancer gave in its PROXY protocol header.
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Whether TLS is active (implicit TLS or after STARTTLS), or the
    /// trusted PROXY header said the client used TLS to its sender.
    pub tls: bool,
    /// Whether the listener can start TLS at all.
    pub tls_available: bool,
    /// The trusted load balancer the connection came through (it sent a
    /// PROXY protocol header). `peer` is then the client the header named,
    /// or the balancer itself for v1 `UNKNOWN` and v2 `LOCAL`.
    pub proxied_by: Option<SocketAddr>,
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
    /// Resolves when the session has something to say without input (IMAP
    /// IDLE learning of new mail); the driver then calls
    /// [`Session::woken`]. It must be cancel-safe: the driver drops it
    /// whenever input arrives first. The default never resolves.
    async fn wake(&mut self) {
        std::future::pending::<()>().await;
    }
    /// [`Session::wake`] resolved: write what the session has to say.
    async fn woken(&mut self, _out: &mut Vec<u8>) -> Step {
        Step::Continue
    }
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

/// A byte stream a session can run on: TCP, a stream from
/// [`crate::Listener::run_connections`], or an in-process pipe (a
/// symmetric member hands its own accounts' sessions to a local session
/// over `tokio::io::duplex`).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs one connection to its end. Returns when the peer or the session
/// closes it, on idle timeout, or on shutdown.
pub async fn drive<S: Session, T: Io>(stream: T, session: S, tls: TlsMode, shutdown: watch::Receiver<bool>) {
    drive_prefixed(Prefixed::new(BytesMut::new(), stream), session, tls, shutdown).await
}

/// [`drive`] on a stream whose first bytes may already have been read
/// (a [`crate::listener::Connection`]'s).
pub async fn drive_prefixed<S: Session, T: Io>(
    stream: Prefixed<T>,
    mut session: S,
    tls: TlsMode,
    mut shutdown: watch::Receiver<bool>,
) {
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
        let idle_timeout = session.idle_timeout();
        let event = tokio::select! {
            r = conn.read_buf(&mut input) => Event::Read(r),
            _ = session.wake() => Event::Wake,
            _ = tokio::time::sleep(idle_timeout) => Event::IdleTimeout,
            _ = shutdown.changed() => Event::Shutdown,
        };
        let read = match event {
            Event::Read(read) => read,
            Event::Wake => {
                step = session.woken(&mut out).await;
                continue;
            }
            Event::IdleTimeout => {
                session.timed_out(&mut out);
                let _ = conn.write_all(&out).await;
                break;
            }
            Event::Shutdown => {
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

/// What ended the wait for input.
enum Event {
    Read(std::io::Result<usize>),
    Wake,
    IdleTimeout,
    Shutdown,
}

enum Conn<T> {
    Plain(Prefixed<T>),
    Tls(Box<tokio_rustls::server::TlsStream<Prefixed<T>>>),
}

/// A stream with bytes already taken from it put back in front, so that
/// no byte read with a PROXY protocol header is lost, whether the session
/// or a TLS handshake reads it (hyper's `Rewind` does the same).
pub struct Prefixed<T> {
    prefix: BytesMut,
    inner: T,
}

impl<T> Prefixed<T> {
    pub fn new(prefix: BytesMut, inner: T) -> Self {
        Self { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<T: Io> Conn<T> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpStream;

    /// Echoes lines; says `woken` whenever its watch moves.
    struct Echo {
        changes: watch::Receiver<u64>,
    }

    #[async_trait::async_trait]
    impl Session for Echo {
        async fn greeting(&mut self, out: &mut Vec<u8>) -> Step {
            out.extend_from_slice(b"hello\r\n");
            Step::Continue
        }
        async fn input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
            while let Some(end) = input.iter().position(|b| *b == b'\n') {
                out.extend_from_slice(&input.split_to(end + 1));
            }
            Step::Continue
        }
        fn tls_started(&mut self) {}
        fn timed_out(&mut self, _out: &mut Vec<u8>) {}
        fn shutting_down(&mut self, _out: &mut Vec<u8>) {}
        fn idle_timeout(&self) -> Duration {
            Duration::from_secs(30)
        }
        async fn wake(&mut self) {
            if self.changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        async fn woken(&mut self, out: &mut Vec<u8>) -> Step {
            out.extend_from_slice(format!("woken {}\r\n", *self.changes.borrow()).as_bytes());
            Step::Continue
        }
    }

    #[tokio::test]
    async fn a_session_woken_without_input_writes_and_still_reads() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (changes_tx, changes) = watch::channel(0u64);
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            drive(stream, Echo { changes }, TlsMode::Off, shutdown).await;
        });
        let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
        let mut line = String::new();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\r\n");
        for n in 1..=2 {
            changes_tx.send(n).unwrap();
            line.clear();
            client.read_line(&mut line).await.unwrap();
            assert_eq!(line, format!("woken {n}\r\n"));
        }
        client.get_mut().write_all(b"ping\n").await.unwrap();
        line.clear();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(line, "ping\n");
        drop(client);
        server.await.unwrap();
    }
}

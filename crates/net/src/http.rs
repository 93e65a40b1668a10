//! Serving HTTP/1.1 (web mail, the admin pages and API) on a [`Listener`],
//! so the web listeners get the same connection caps, per-IP counts and
//! `rookery_connections_*` metrics as the mail protocols (DESIGN §8).
//! hyper is driven directly rather than through `axum::serve`, which sets
//! no timer: without one hyper's header read timeout never fires and a
//! client sending one header byte a minute holds its connection forever.

use crate::driver::{ConnInfo, TlsMode};
use crate::listener::{Connection, Listener};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tower::ServiceExt;

/// What a plain HTTP listener writes to a connection over a limit. A TLS
/// listener closes such a connection at accept instead: answering would
/// cost a handshake, the very work the limit is there to refuse.
pub const BUSY_REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\r\ntoo many connections, retry\r\n";

/// The busy reply for a listener with `tls`.
pub fn busy_reply(tls: &TlsMode) -> &'static [u8] {
    match tls {
        TlsMode::Implicit(_) => b"",
        _ => BUSY_REPLY,
    }
}

/// Per-connection bounds of an HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A request's headers must be complete this long after the server
    /// starts waiting for them. hyper also runs this timer while a
    /// keep-alive connection waits for its next request, so it is the idle
    /// timeout as well.
    pub header_timeout: Duration,
    /// hyper's read buffer: request line and headers beyond it get 431.
    pub max_header_bytes: usize,
    /// A TLS client must finish its handshake in this time.
    pub tls_handshake_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `service` on every connection `listener` admits until `shutdown`
/// turns true; connections then finish their request in flight and close,
/// and this returns once they all have (so the services they hold, e.g. a
/// session table's database, are released when it returns).
/// `tag` makes each connection's request extension from its [`ConnInfo`]
/// (e.g. axum's `ConnectInfo<SocketAddr>`); every request carries a clone.
pub async fn serve<S, B, T, E>(
    listener: Listener,
    service: S,
    tag: T,
    limits: HttpLimits,
    shutdown: watch::Receiver<bool>,
) where
    S: tower::Service<Request<Incoming>, Response = hyper::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: Fn(&ConnInfo) -> E + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let limits = Arc::new(limits);
    // Each connection holds a sender; all dropped means all connections ended.
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let handle = move |connection: Connection, shutdown: watch::Receiver<bool>| {
        let service = Tagged { inner: service.clone(), tag: tag(&connection.info) };
        let open = open.clone();
        let limits = limits.clone();
        async move {
            serve_connection(connection, service, limits, shutdown).await;
            drop(open);
        }
    };
    listener.run_connections(handle, shutdown).await;
    let _ = all_closed.recv().await;
}

async fn serve_connection<S, B, E>(
    connection: Connection,
    service: Tagged<S, E>,
    limits: Arc<HttpLimits>,
    shutdown: watch::Receiver<bool>,
) where
    S: tower::Service<Request<Incoming>, Response = hyper::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Clone + Send + Sync + 'static,
{
    match &connection.tls {
        TlsMode::Implicit(acceptor) => {
            let accepting = acceptor.clone().accept(connection.stream);
            match tokio::time::timeout(limits.tls_handshake_timeout, accepting).await {
                Ok(Ok(stream)) => drive(stream, service, &limits, shutdown).await,
                Ok(Err(error)) => tracing::debug!(target: "net::http", %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(target: "net::http", "TLS handshake timed out"),
            }
        }
        _ => drive(connection.stream, service, &limits, shutdown).await,
    }
}

async fn drive<I, S, B, E>(io: I, service: Tagged<S, E>, limits: &HttpLimits, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request<Incoming>, Response = hyper::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Clone + Send + Sync + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper refuses a buffer below its minimum (8 KiB) with a panic.
        .max_buf_size(limits.max_header_bytes.max(8192));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(target: "net::http", %error, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A service that puts the connection's tag into every request.
#[derive(Clone)]
struct Tagged<S, E> {
    inner: S,
    tag: E,
}

impl<S, E> hyper::service::Service<Request<Incoming>> for Tagged<S, E>
where
    S: tower::Service<Request<Incoming>> + Clone,
    E: Clone + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tower::util::Oneshot<S, Request<Incoming>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.tag.clone());
        self.inner.clone().oneshot(request)
    }
}

/// How one HTTP listener is bounded: the `[limits]` connection caps, the
/// peers exempt from the per-IP cap (cluster members forwarding for their
/// clients) and the per-connection HTTP bounds.
#[derive(Debug, Clone, Default)]
pub struct ListenOptions {
    pub limits: crate::listener::ListenerLimits,
    pub exempt_per_ip: crate::proxy_protocol::TrustedProxies,
    pub http: HttpLimits,
}

impl ListenOptions {
    /// The [`Listener`] for `tcp`, counted as `protocol` in the metrics.
    pub fn listener(&self, tcp: tokio::net::TcpListener, protocol: &'static str, tls: TlsMode) -> Listener {
        let busy = busy_reply(&tls);
        Listener::from_tcp(tcp, protocol, tls, self.limits.clone(), busy).exempt_per_ip(self.exempt_per_ip.clone())
    }
}

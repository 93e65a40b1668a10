//! Shared by the unit tests: a frontend on an in-memory pipe, a lookup
//! that counts its calls, and a scripted backend on loopback.

use crate::FrontendConfig;
use crate::frontend::{ClientInfo, Frontend, Protocol};
use crate::lookup::{Backend, BackendLookup, LookupError};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::TcpListener;
use types::{AccountName, DomainName};

/// Every account is on `backend` (when set); counts look-ups and
/// invalidations.
#[derive(Default)]
pub(crate) struct CountingLookup {
    pub(crate) backend: Option<SocketAddr>,
    pub(crate) calls: AtomicUsize,
    pub(crate) invalidations: AtomicUsize,
    /// Where the accounts are once `backend` was reported unreachable (a
    /// dynamic cluster's failover); `None`: nowhere else.
    pub(crate) failover: Option<SocketAddr>,
    pub(crate) failed_over: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl BackendLookup for Arc<CountingLookup> {
    async fn backend(&self, _account: &AccountName, _protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let addr = if self.failed_over.load(Ordering::SeqCst) { self.failover } else { self.backend };
        Ok(addr.map(Backend::There))
    }

    fn invalidate(&self, _account: &AccountName) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
    }

    async fn unreachable(&self, _account: &AccountName, _backend: Backend) -> bool {
        self.failed_over.store(self.failover.is_some(), Ordering::SeqCst);
        self.failover.is_some()
    }
}

pub(crate) fn config() -> FrontendConfig {
    let mut config = FrontendConfig::new(DomainName::parse("main.example").unwrap());
    config.auth_failure_delay = Duration::ZERO;
    config.max_line = 100;
    config.max_login_literal = 20;
    config
}

/// The client's end of a frontend session.
pub(crate) struct TestClient {
    reader: BufReader<DuplexStream>,
}

pub(crate) const CLIENT: &str = "127.0.0.9:4000";

pub(crate) fn start(protocol: Protocol, config: FrontendConfig, lookup: Arc<CountingLookup>) -> TestClient {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let frontend = Frontend::new(config, lookup, None);
    let info = ClientInfo { peer: CLIENT.parse().unwrap(), local: "127.0.0.1:143".parse().unwrap(), proxied_by: None };
    tokio::spawn(async move { frontend.session(protocol, Box::new(server), info).await });
    TestClient { reader: BufReader::new(client) }
}

impl TestClient {
    pub(crate) async fn send(&mut self, bytes: &str) {
        self.reader.get_mut().write_all(bytes.as_bytes()).await.unwrap();
    }

    /// One line, CRLF included; empty once the frontend has closed.
    pub(crate) async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line)).await.unwrap().unwrap();
        line
    }

    /// Sends `command` and reads `n` lines.
    pub(crate) async fn lines(&mut self, command: &str, n: usize) -> Vec<String> {
        self.send(command).await;
        let mut lines = Vec::new();
        for _ in 0..n {
            lines.push(self.line().await);
        }
        lines
    }

    pub(crate) async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(tokio::time::timeout(Duration::from_secs(10), self.reader.read_to_end(&mut rest)).await, Ok(Ok(0)))
    }
}

/// What a scripted backend saw.
#[derive(Debug)]
pub(crate) struct Seen {
    /// The client address its PROXY header named.
    pub(crate) client: SocketAddr,
    /// The lines it read, in order.
    pub(crate) lines: Vec<String>,
}

/// A backend that takes one connection, reads the PROXY v2 header, writes
/// `greeting`, then answers each line it reads with the next of
/// `answers`; after the last it echoes what it reads (the splice).
pub(crate) async fn scripted_backend(
    greeting: &'static str,
    answers: Vec<&'static str>,
) -> (SocketAddr, tokio::task::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut header = vec![0u8; 16];
        stream.read_exact(&mut header).await.unwrap();
        let len = u16::from_be_bytes([header[14], header[15]]) as usize;
        header.resize(16 + len, 0);
        stream.read_exact(&mut header[16..]).await.unwrap();
        let parsed = ppp::v2::Header::try_from(header.as_slice()).unwrap();
        let client = match parsed.addresses {
            ppp::v2::Addresses::IPv4(a) => SocketAddr::from((a.source_address, a.source_port)),
            other => panic!("{other:?}"),
        };
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(greeting.as_bytes()).await.unwrap();
        let mut lines = Vec::new();
        for answer in answers {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            lines.push(line);
            reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            reader.get_mut().write_all(format!("echo {line}").as_bytes()).await.unwrap();
            lines.push(line);
        }
        Seen { client, lines }
    });
    (addr, task)
}

/// A lookup pointing at `backend`.
pub(crate) fn lookup_to(backend: Option<SocketAddr>) -> Arc<CountingLookup> {
    Arc::new(CountingLookup { backend, ..CountingLookup::default() })
}

pub(crate) fn calls(lookup: &CountingLookup) -> usize {
    lookup.calls.load(Ordering::SeqCst)
}

/// base64 of the PLAIN message for `user` and `password`.
pub(crate) fn plain(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

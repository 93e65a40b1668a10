//! The HTTPS listener: cookies are `Secure`, and a client that never
//! finishes its handshake does not hold up the others.

mod common;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct TlsServer {
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    _server: common::Server,
    /// Dropping it would stop the listener.
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start() -> TlsServer {
    let server = common::Server::start(webmail::WebmailConfig::default()).await;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(webmail::serve_tls(listener, acceptor, server.services.clone(), shutdown));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsServer {
        addr,
        connector: tokio_rustls::TlsConnector::from(Arc::new(client_config)),
        _server: server,
        _stop: stop,
    }
}

/// One HTTP/1.1 request over TLS; the whole answer.
async fn request(server: &TlsServer, request: &str) -> String {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = server.connector.connect(name, tcp).await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

const GET_LOGIN: &str = "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn cookies_are_secure_over_tls() {
    let server = start().await;
    let answer = request(&server, GET_LOGIN).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie =
        answer.lines().find(|line| line.to_ascii_lowercase().starts_with("set-cookie: rookery_csrf=")).unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_and_garbage_handshakes_do_not_block_others() {
    let server = start().await;
    // Connected, sends nothing: its handshake waits in its own task.
    let _stalled = TcpStream::connect(server.addr).await.unwrap();
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), request(&server, GET_LOGIN)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

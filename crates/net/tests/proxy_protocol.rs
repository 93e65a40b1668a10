//! The PROXY protocol on a real listener: a load balancer on 127.0.0.2 is
//! trusted, a client on 127.0.0.3 is not. The session echoes lines and
//! reports each connection it is made for, so a test sees both what the
//! session was told (`ConnInfo`) and what it read.

use bytes::BytesMut;
use net::{ConnInfo, Listener, ListenerLimits, Session, Step, TlsMode, TrustedProxies};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};

const PROXY_IP: &str = "127.0.0.2";
const UNTRUSTED_IP: &str = "127.0.0.3";
const BUSY: &[u8] = b"busy\r\n";
/// Bounds every wait of a test so that a bug fails it instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// Echoes every line it is given.
struct Echo;

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
}

struct Server {
    addr: SocketAddr,
    sessions: mpsc::UnboundedReceiver<ConnInfo>,
    _shutdown: watch::Sender<bool>,
}

async fn server(limits: ListenerLimits, header_timeout: Duration) -> Server {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), "test", TlsMode::Off, limits, BUSY)
        .await
        .unwrap()
        .proxy_protocol_from(TrustedProxies::parse([PROXY_IP]).unwrap().with_header_timeout(header_timeout));
    let addr = listener.local_addr().unwrap();
    let (tx, sessions) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(listener.run(
        move |info: ConnInfo| {
            let _ = tx.send(info);
            Echo
        },
        shutdown,
    ));
    Server { addr, sessions, _shutdown: shutdown_tx }
}

async fn default_server() -> Server {
    server(ListenerLimits::default(), TrustedProxies::DEFAULT_HEADER_TIMEOUT).await
}

async fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
    let stream = socket.connect(to).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads until `expected` has arrived (and checks it is exactly that).
async fn expect(stream: &mut TcpStream, expected: &[u8]) {
    let mut got = vec![0; expected.len()];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut got)).await.expect("reply in time").expect("read");
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
}

/// The server closes the connection, having written nothing.
async fn expect_closed_silently(stream: &mut TcpStream) {
    let mut got = Vec::new();
    // A reset is a close too: the server drops the socket with the
    // client's unread bytes in it.
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut got)).await.expect("closed in time");
    assert!(got.is_empty(), "server wrote {:?}", String::from_utf8_lossy(&got));
}

async fn next_session(server: &mut Server) -> ConnInfo {
    tokio::time::timeout(DEADLINE, server.sessions.recv()).await.expect("a session in time").expect("listener alive")
}

fn no_session(server: &mut Server) {
    assert!(server.sessions.try_recv().is_err(), "a session was made");
}

fn v2(command: u8, family_protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x20 | command);
    h.push(family_protocol);
    h.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// Sends `header` from the trusted proxy, checks the session is told
/// `client` and that it is served; returns what the session was told.
async fn proxied(server: &mut Server, header: &[u8]) -> (ConnInfo, TcpStream) {
    let mut stream = connect_from(PROXY_IP, server.addr).await;
    stream.write_all(header).await.unwrap();
    expect(&mut stream, b"hello\r\n").await;
    let info = next_session(server).await;
    stream.write_all(b"ping\r\n").await.unwrap();
    expect(&mut stream, b"ping\r\n").await;
    (info, stream)
}

#[tokio::test]
async fn v1_tcp4_names_the_client() {
    let mut server = default_server().await;
    let (info, stream) = proxied(&mut server, b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n").await;
    assert_eq!(info.peer, "192.0.2.1:40000".parse().unwrap());
    assert_eq!(info.proxied_by, Some(stream.local_addr().unwrap()));
    assert!(!info.peer_is_loopback());
}

#[tokio::test]
async fn v1_tcp6_names_the_client() {
    let mut server = default_server().await;
    let (info, _) = proxied(&mut server, b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 25\r\n").await;
    assert_eq!(info.peer, "[2001:db8::1]:40000".parse().unwrap());
}

#[tokio::test]
async fn v1_unknown_keeps_the_connection_address() {
    let mut server = default_server().await;
    let (info, stream) = proxied(&mut server, b"PROXY UNKNOWN\r\n").await;
    assert_eq!(info.peer, stream.local_addr().unwrap());
}

#[tokio::test]
async fn v2_ipv4_and_ipv6_with_tlvs_name_the_client() {
    let mut server = default_server().await;
    let tlvs = [0x01, 0, 2, b'h', b'2', 0x02, 0, 2, b'm', b'x', 0x04, 0, 3, 0, 0, 0];
    let mut payload = vec![192, 0, 2, 1, 198, 51, 100, 2, 0x9c, 0x40, 0, 25];
    payload.extend_from_slice(&tlvs);
    let (info, _) = proxied(&mut server, &v2(1, 0x11, &payload)).await;
    assert_eq!(info.peer, "192.0.2.1:40000".parse().unwrap());

    let mut payload = Vec::new();
    payload.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    payload.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    payload.extend_from_slice(&[0x9c, 0x41, 0, 25]);
    payload.extend_from_slice(&tlvs);
    let (info, _) = proxied(&mut server, &v2(1, 0x21, &payload)).await;
    assert_eq!(info.peer, "[2001:db8::1]:40001".parse().unwrap());
}

#[tokio::test]
async fn v2_with_the_ssl_tlv_marks_the_connection_as_encrypted() {
    let mut server = default_server().await;
    let addresses = [192, 0, 2, 1, 198, 51, 100, 2, 0x9c, 0x40, 0, 143];
    // PP2_TYPE_SSL, length 5: PP2_CLIENT_SSL, then a verify result of 0.
    let ssl = [0x20, 0, 5, 0x01, 0, 0, 0, 0];
    let (info, _) = proxied(&mut server, &v2(1, 0x11, &[&addresses[..], &ssl].concat())).await;
    assert!(info.tls, "the client used TLS to the sender");
    let (info, _) = proxied(&mut server, &v2(1, 0x11, &addresses)).await;
    assert!(!info.tls);
    // A v1 header cannot say it; a direct client never can.
    let (info, _) = proxied(&mut server, b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 143\r\n").await;
    assert!(!info.tls);
}

#[tokio::test]
async fn v2_local_keeps_the_connection_address() {
    let mut server = default_server().await;
    let (info, stream) = proxied(&mut server, &v2(0, 0x00, &[])).await;
    assert_eq!(info.peer, stream.local_addr().unwrap());
}

#[tokio::test]
async fn a_header_split_over_several_writes_is_read_whole() {
    let mut server = default_server().await;
    for header in [
        b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n".to_vec(),
        v2(1, 0x11, &[192, 0, 2, 1, 0, 0, 0, 0, 0x9c, 0x40, 0, 25]),
    ] {
        let mut stream = connect_from(PROXY_IP, server.addr).await;
        // Cut where a parser is most likely to judge too early: inside the
        // signature, after a separator, before the final LF.
        for piece in [&header[..3], &header[3..11], &header[11..header.len() - 1], &header[header.len() - 1..]] {
            stream.write_all(piece).await.unwrap();
            // Gives each piece its own segment; not a synchronisation.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        expect(&mut stream, b"hello\r\n").await;
        assert_eq!(next_session(&mut server).await.peer, "192.0.2.1:40000".parse().unwrap());
    }
}

#[tokio::test]
async fn bytes_after_the_header_in_the_same_write_reach_the_session() {
    let mut server = default_server().await;
    for header in [b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n".to_vec(), v2(0, 0x00, &[])] {
        let mut stream = connect_from(PROXY_IP, server.addr).await;
        let mut bytes = header;
        bytes.extend_from_slice(b"one\r\ntwo\r\nthr");
        stream.write_all(&bytes).await.unwrap();
        expect(&mut stream, b"hello\r\none\r\ntwo\r\n").await;
        stream.write_all(b"ee\r\n").await.unwrap();
        expect(&mut stream, b"three\r\n").await;
        next_session(&mut server).await;
    }
}

#[tokio::test]
async fn a_bad_or_missing_header_closes_the_connection_before_any_session() {
    let mut server = default_server().await;
    let too_long = format!("PROXY TCP4 {}", "1".repeat(120));
    let bad: [&[u8]; 5] = [
        b"EHLO client.example\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 40000\r\nQUIT\r\n",
        b"PROXY TCP4 192.0.2.300 198.51.100.2 40000 25\r\n",
        too_long.as_bytes(),
        &[0x0d, 0x0a, 0x0d, 0x0a, 0, 0x0d, 0x0a, b'Q', b'U', b'I', b'T', 0x0a, 0x21, 0x11, 0xff, 0xff],
    ];
    for bytes in bad {
        let mut stream = connect_from(PROXY_IP, server.addr).await;
        stream.write_all(bytes).await.unwrap();
        expect_closed_silently(&mut stream).await;
    }
    no_session(&mut server);
    // A peer that closes before sending anything.
    let mut stream = connect_from(PROXY_IP, server.addr).await;
    stream.shutdown().await.unwrap();
    expect_closed_silently(&mut stream).await;
    no_session(&mut server);
}

#[tokio::test]
async fn a_header_that_never_completes_times_out() {
    let mut server = server(ListenerLimits::default(), Duration::from_millis(300)).await;
    for bytes in [&b""[..], b"PROXY TCP4 192.0.2.1 198.51"] {
        let mut stream = connect_from(PROXY_IP, server.addr).await;
        stream.write_all(bytes).await.unwrap();
        let started = std::time::Instant::now();
        expect_closed_silently(&mut stream).await;
        assert!(started.elapsed() >= Duration::from_millis(250), "closed after {:?}", started.elapsed());
    }
    no_session(&mut server);
}

#[tokio::test]
async fn an_untrusted_peer_is_never_parsed_for_a_header() {
    let mut server = default_server().await;
    let mut stream = connect_from(UNTRUSTED_IP, server.addr).await;
    // Greeted at once: nothing is waited for from an untrusted peer.
    expect(&mut stream, b"hello\r\n").await;
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n";
    stream.write_all(line).await.unwrap();
    expect(&mut stream, line).await;
    let info = next_session(&mut server).await;
    assert_eq!(info.peer, stream.local_addr().unwrap());
    assert_eq!(info.peer.ip(), UNTRUSTED_IP.parse::<IpAddr>().unwrap());
    assert_eq!(info.proxied_by, None);
}

#[tokio::test]
async fn the_per_ip_limit_counts_the_clients_behind_a_proxy() {
    let limits = ListenerLimits { max_connections: 100, max_per_ip: 2 };
    let mut server = server(limits, TrustedProxies::DEFAULT_HEADER_TIMEOUT).await;
    let alice = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n";
    let bob = b"PROXY TCP4 192.0.2.2 198.51.100.2 40000 25\r\n";
    // Four connections from the one proxy address, two per real client:
    // the proxy's own address is not limited.
    let mut open = Vec::new();
    for header in [&alice[..], alice, bob, bob] {
        open.push(proxied(&mut server, header).await.1);
    }
    let mut third = connect_from(PROXY_IP, server.addr).await;
    third.write_all(alice).await.unwrap();
    expect(&mut third, BUSY).await;
    expect_closed_silently(&mut third).await;
    no_session(&mut server);

    // A place freed is a place taken again: poll with a deadline, since the
    // server learns of the close asynchronously.
    drop(open.remove(0));
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let mut stream = connect_from(PROXY_IP, server.addr).await;
        stream.write_all(alice).await.unwrap();
        let mut first = [0u8; 6];
        tokio::time::timeout(DEADLINE, stream.read_exact(&mut first)).await.unwrap().unwrap();
        if &first == b"hello\r" {
            break;
        }
        assert_eq!(&first, BUSY);
        assert!(std::time::Instant::now() < deadline, "the freed place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Implicit TLS behind a proxy: the ClientHello arrives in the same write
/// as the header, and the handshake must still get every byte of it.
#[tokio::test]
async fn a_tls_handshake_sent_with_the_header_completes() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use std::io::{Read, Write};
    use std::sync::Arc;

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
    let tls = TlsMode::Implicit(tokio_rustls::TlsAcceptor::from(Arc::new(server_config)));
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), "test", tls, ListenerLimits::default(), BUSY)
        .await
        .unwrap()
        .proxy_protocol_from(TrustedProxies::parse([PROXY_IP]).unwrap());
    let addr = listener.local_addr().unwrap();
    let (tx, mut sessions) = mpsc::unbounded_channel();
    let (_shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(listener.run(
        move |info: ConnInfo| {
            let _ = tx.send(info);
            Echo
        },
        shutdown,
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let socket = connect_from(PROXY_IP, addr).await.into_std().unwrap();
    socket.set_nonblocking(false).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    // A blocking rustls client, so that the header and the ClientHello go
    // out in one write.
    let greeting = tokio::task::spawn_blocking(move || {
        let mut socket = socket;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
        let mut first = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 465\r\n".to_vec();
        tls.write_tls(&mut first).unwrap();
        socket.write_all(&first).unwrap();
        let mut stream = rustls::Stream::new(&mut tls, &mut socket);
        let mut greeting = [0u8; 7];
        stream.read_exact(&mut greeting).unwrap();
        greeting
    })
    .await
    .unwrap();
    assert_eq!(&greeting, b"hello\r\n");
    let info = tokio::time::timeout(DEADLINE, sessions.recv()).await.unwrap().unwrap();
    assert_eq!(info.peer, "192.0.2.1:40000".parse().unwrap());
    assert!(info.tls);
}

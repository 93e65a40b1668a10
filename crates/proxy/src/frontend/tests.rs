//! The accept path (net's listener: limits, PROXY headers) and a
//! symmetric member's two ways of serving its own accounts.

use super::*;
use crate::config::{PlaintextAuth, PlaintextAuthByProtocol};
use crate::lookup::{Backend, LookupError};
use crate::test_support::{config, plain, scripted_backend};
use async_trait::async_trait;
use net::{ConnInfo, Io, ListenerLimits};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use types::AccountName;

/// Every account at one place; counts look-ups.
struct OneBackend {
    backend: Backend,
    calls: AtomicUsize,
}

#[async_trait]
impl BackendLookup for Arc<OneBackend> {
    async fn backend(&self, _account: &AccountName, _protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Some(self.backend))
    }
}

fn one_backend(backend: Backend) -> Arc<OneBackend> {
    Arc::new(OneBackend { backend, calls: AtomicUsize::new(0) })
}

/// What a local session was given: its connection info, whether it runs
/// without TLS of its own, and the login line it read.
type Given = (ConnInfo, bool, String);

/// A member's own IMAP sessions, scripted: greets, takes one login line
/// (answered OK), then echoes lines. Records what each session was given.
#[derive(Default)]
struct ScriptedLocal {
    seen: Mutex<Vec<Given>>,
}

impl ScriptedLocal {
    fn first(&self) -> Given {
        self.seen.lock().unwrap()[0].clone()
    }
}

impl LocalSessions for Arc<ScriptedLocal> {
    fn serve(&self, _protocol: Protocol, stream: Box<dyn Io>, tls: TlsMode, info: ConnInfo) -> crate::Served {
        let this = self.clone();
        Box::pin(async move {
            let mut stream = BufReader::new(stream);
            stream.get_mut().write_all(b"* OK local\r\n").await.unwrap();
            let mut login = String::new();
            stream.read_line(&mut login).await.unwrap();
            let tag = login.split(' ').next().unwrap_or_default().to_owned();
            this.seen.lock().unwrap().push((info, matches!(tls, TlsMode::Off), login));
            stream.get_mut().write_all(format!("{tag} OK logged in here\r\n").as_bytes()).await.unwrap();
            let mut line = String::new();
            while stream.read_line(&mut line).await.unwrap_or(0) > 0 {
                stream.get_mut().write_all(format!("local {line}").as_bytes()).await.unwrap();
                line.clear();
            }
        })
    }
}

/// Serves IMAP through `frontend` on a loopback listener.
async fn listen<L: BackendLookup>(
    frontend: Frontend<L>,
    limits: ListenerLimits,
    proxies: TrustedProxies,
) -> (SocketAddr, watch::Sender<bool>) {
    let listener =
        net::Listener::bind("127.0.0.1:0".parse().unwrap(), "imap", TlsMode::Off, limits, b"* BYE too many\r\n")
            .await
            .unwrap()
            .proxy_protocol_from(proxies);
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(Arc::new(frontend).serve(Protocol::Imap, listener, shutdown));
    (addr, stop)
}

/// A connection from `source`, starting with a PROXY v2 header naming
/// `client` when given.
async fn connect(to: SocketAddr, source: &str, client: Option<&str>) -> BufReader<TcpStream> {
    connect_with_tls_flag(to, source, client, false).await
}

/// [`connect`], the header saying whether the client used TLS.
async fn connect_with_tls_flag(
    to: SocketAddr,
    source: &str,
    client: Option<&str>,
    client_tls: bool,
) -> BufReader<TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    if let Some(client) = client {
        let header = crate::proxy_header::v2_header(client.parse().unwrap(), to, client_tls).unwrap();
        stream.write_all(&header).await.unwrap();
    }
    BufReader::new(stream)
}

async fn line(stream: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line)).await.unwrap().unwrap();
    line
}

fn balancer() -> TrustedProxies {
    TrustedProxies::parse(["127.0.0.9"]).unwrap()
}

#[tokio::test]
async fn over_the_per_ip_limit_a_client_gets_the_busy_reply_and_a_balancers_clients_count_apart() {
    let (backend, _seen) = scripted_backend("* OK backend\r\n", vec![]).await;
    let frontend = Frontend::new(config(), one_backend(Backend::There(backend)), None);
    let limits = ListenerLimits { max_connections: 100, max_per_ip: 2 };
    let (addr, _stop) = listen(frontend, limits, balancer()).await;

    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = connect(addr, "127.0.0.1", None).await;
        assert!(line(&mut client).await.starts_with("* OK [CAPABILITY"));
        held.push(client);
    }
    let mut refused = connect(addr, "127.0.0.1", None).await;
    assert_eq!(line(&mut refused).await, "* BYE too many\r\n");
    assert_eq!(refused.read(&mut [0; 1]).await.unwrap(), 0, "closed after the busy reply");

    // Through the balancer: its clients are counted each on their own,
    // the balancer itself not at all.
    for _ in 0..2 {
        let mut client = connect(addr, "127.0.0.9", Some("192.0.2.5:1000")).await;
        assert!(line(&mut client).await.starts_with("* OK [CAPABILITY"));
        held.push(client);
    }
    let mut refused = connect(addr, "127.0.0.9", Some("192.0.2.5:1001")).await;
    assert_eq!(line(&mut refused).await, "* BYE too many\r\n");
    let mut other = connect(addr, "127.0.0.9", Some("192.0.2.6:1000")).await;
    assert!(line(&mut other).await.starts_with("* OK [CAPABILITY"));
}

#[tokio::test]
async fn a_balancers_client_is_judged_and_passed_on_as_itself() {
    // Not loopback: a plaintext login needs TLS, as on a direct
    // connection from that client.
    let frontend = Frontend::new(config(), one_backend(Backend::There("127.0.0.1:9".parse().unwrap())), None);
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), balancer()).await;
    let mut client = connect(addr, "127.0.0.9", Some("192.0.2.7:4321")).await;
    line(&mut client).await;
    client.get_mut().write_all(b"a LOGIN alice pw\r\n").await.unwrap();
    assert!(line(&mut client).await.contains("PRIVACYREQUIRED"));

    let mut settings = config();
    settings.plaintext_auth = PlaintextAuthByProtocol::all(PlaintextAuth { anywhere: true, on_loopback: true });
    let (backend, seen) = scripted_backend("* OK backend\r\n", vec!["a OK done\r\n"]).await;
    let frontend = Frontend::new(settings, one_backend(Backend::There(backend)), None);
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), balancer()).await;
    let mut client = connect(addr, "127.0.0.9", Some("192.0.2.7:4321")).await;
    line(&mut client).await;
    client.get_mut().write_all(b"a LOGIN alice pw\r\n").await.unwrap();
    assert_eq!(line(&mut client).await, "a OK done\r\n");
    drop(client);
    assert_eq!(seen.await.unwrap().client, "192.0.2.7:4321".parse().unwrap());
}

#[tokio::test]
async fn a_client_of_a_tls_terminating_balancer_is_taken_as_encrypted() {
    let (backend, seen) = scripted_backend("* OK backend\r\n", vec!["a OK done\r\n"]).await;
    let frontend = Frontend::new(config(), one_backend(Backend::There(backend)), None);
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), balancer()).await;
    let mut client = connect_with_tls_flag(addr, "127.0.0.9", Some("192.0.2.7:4321"), true).await;
    let greeting = line(&mut client).await;
    assert!(greeting.contains("AUTH=PLAIN") && !greeting.contains("LOGINDISABLED"), "{greeting}");
    client.get_mut().write_all(b"a LOGIN alice pw\r\n").await.unwrap();
    assert_eq!(line(&mut client).await, "a OK done\r\n");
    drop(client);
    assert_eq!(seen.await.unwrap().client, "192.0.2.7:4321".parse().unwrap());
}

#[tokio::test]
async fn a_symmetric_members_own_account_is_served_in_process_with_the_clients_address() {
    let local = Arc::new(ScriptedLocal::default());
    let lookup = one_backend(Backend::Here);
    let frontend =
        Frontend::new(config(), lookup.clone(), None).hosting(Arc::new(local.clone()), TrustedProxies::default());
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), TrustedProxies::default()).await;
    let mut client = connect(addr, "127.0.0.1", None).await;
    assert!(line(&mut client).await.starts_with("* OK [CAPABILITY"), "the proxy's greeting, as on a frontend");
    client.get_mut().write_all(b"t1 LOGIN alice pw\r\nt2 NOOP\r\n").await.unwrap();
    assert_eq!(line(&mut client).await, "t1 OK logged in here\r\n");
    assert_eq!(line(&mut client).await, "local t2 NOOP\r\n", "pipelined input follows the login");
    let (info, plain_pipe, login) = local.first();
    assert_eq!(info.peer, client.get_ref().local_addr().unwrap(), "the session knows the real client");
    assert_eq!(info.local, addr);
    assert!(!info.tls && !info.tls_available && plain_pipe);
    assert_eq!(login, format!("t1 AUTHENTICATE PLAIN {}\r\n", plain("alice@main.example", "pw")));
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_session_another_member_proxies_here_is_served_here_without_a_lookup() {
    let local = Arc::new(ScriptedLocal::default());
    // The lookup would send it on: a stale cache on this member must not
    // bounce a session between members.
    let lookup = one_backend(Backend::There("127.0.0.1:9".parse().unwrap()));
    let members = TrustedProxies::parse(["127.0.0.8"]).unwrap();
    let frontend = Frontend::new(config(), lookup.clone(), None).hosting(Arc::new(local.clone()), members.clone());
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), members).await;
    let mut peer = connect(addr, "127.0.0.8", Some("192.0.2.9:5000")).await;
    assert_eq!(line(&mut peer).await, "* OK local\r\n", "the member's own session greets");
    peer.get_mut().write_all(b"x AUTHENTICATE PLAIN AGFsaWNlAHB3\r\n").await.unwrap();
    assert_eq!(line(&mut peer).await, "x OK logged in here\r\n");
    let (info, _, _) = local.first();
    assert_eq!(info.peer, "192.0.2.9:5000".parse().unwrap());
    assert_eq!(info.proxied_by.map(|p| p.ip()), Some("127.0.0.8".parse().unwrap()));
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_frontend_that_hosts_nothing_answers_a_here_account_as_unavailable() {
    let frontend = Frontend::new(config(), one_backend(Backend::Here), None);
    let (addr, _stop) = listen(frontend, ListenerLimits::default(), TrustedProxies::default()).await;
    let mut client = connect(addr, "127.0.0.1", None).await;
    line(&mut client).await;
    client.get_mut().write_all(b"a LOGIN alice pw\r\n").await.unwrap();
    assert!(line(&mut client).await.starts_with("a NO [UNAVAILABLE]"));
}

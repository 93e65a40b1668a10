//! The cluster link between members on distinct loopback addresses, over
//! real sockets: 127.0.0.2 and 127.0.0.3 are members, 127.0.0.4 a proxy,
//! 127.0.0.9 a stranger.

use async_trait::async_trait;
use bytes::Bytes;
use cluster::link::{
    AdminError, AdminOperation, AdminReply, ClusterSecret, DeliverRequest, LinkClient, LinkConfig, LinkError,
    LinkHandler, LinkServer,
};
use queue::{Envelope, Outcome};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use types::AccountName;

const SECRET: &str = "the test cluster's shared secret";
const MEMBER_A: &str = "127.0.0.2";
const MEMBER_B: &str = "127.0.0.3";

fn config(ip: &str) -> LinkConfig {
    let mut config = LinkConfig::new(format!("{ip}:0").parse().unwrap(), SECRET);
    config.allow = vec![MEMBER_A.parse().unwrap(), MEMBER_B.parse().unwrap()];
    config
}

fn secret() -> ClusterSecret {
    ClusterSecret::new(SECRET.as_bytes())
}

/// A member's handler that records what it was asked. Accounts named
/// `block@...` and the admin path `/wait` wait for a permit of `gate`.
struct Member {
    delivered: Mutex<Vec<(SocketAddr, DeliverRequest)>>,
    submitted: Mutex<Vec<DeliverRequest>>,
    admin: Mutex<Vec<(SocketAddr, AdminOperation)>>,
    /// Peers (one per connection) that entered a waiting call, in order.
    waiting: Mutex<Vec<SocketAddr>>,
    gate: Semaphore,
    calls: AtomicUsize,
}

impl Default for Member {
    fn default() -> Member {
        Member {
            delivered: Mutex::default(),
            submitted: Mutex::default(),
            admin: Mutex::default(),
            waiting: Mutex::default(),
            gate: Semaphore::new(0),
            calls: AtomicUsize::new(0),
        }
    }
}

impl Member {
    async fn wait_at_gate(&self, peer: SocketAddr) {
        self.waiting.lock().unwrap().push(peer);
        self.gate.acquire().await.unwrap().forget();
    }
}

#[async_trait]
impl LinkHandler for Member {
    async fn deliver(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if request.account.to_string().starts_with("block@") {
            self.wait_at_gate(peer).await;
        }
        let outcomes = request
            .envelope
            .recipients
            .iter()
            .map(|r| if r.starts_with("nobody@") { Outcome::Failed("no such user".into()) } else { Outcome::Delivered })
            .collect();
        self.delivered.lock().unwrap().push((peer, request));
        outcomes
    }

    async fn submit(&self, _peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = request.envelope.recipients.len();
        self.submitted.lock().unwrap().push(request);
        vec![Outcome::Delivered; n]
    }

    async fn admin(&self, peer: SocketAddr, operation: AdminOperation) -> Result<AdminReply, AdminError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if matches!(&operation, AdminOperation::Api { path, .. } if path == "/wait") {
            self.wait_at_gate(peer).await;
        }
        self.admin.lock().unwrap().push((peer, operation.clone()));
        match operation {
            AdminOperation::AccountInfo { account } => Ok(AdminReply::Json(format!("{{\"account\":\"{account}\"}}"))),
            AdminOperation::DeleteAccount { account } => Err(AdminError::NoSuchAccount(account.to_string())),
            _ => Ok(AdminReply::Done),
        }
    }
}

async fn start(config: &LinkConfig) -> (LinkServer, Arc<Member>) {
    let member = Arc::new(Member::default());
    let server = LinkServer::bind(config, secret(), member.clone()).await.unwrap();
    (server, member)
}

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

fn deliver_request(account_name: &str, recipients: &[&str], body: Bytes) -> DeliverRequest {
    DeliverRequest {
        delivery_id: 1,
        account: account(account_name),
        envelope: Envelope {
            mail_from: "sender@example.org".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            received_at: 1_700_000_000,
            authenticated_as: None,
            smtputf8: false,
        },
        body,
    }
}

/// Polls `condition` until it holds; fails the test after 5 seconds.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A TCP connection from `ip` to `peer`, outside the link's client.
async fn raw_connection(ip: &str, peer: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(peer).await.unwrap()
}

/// Reads until the peer closes; returns what it sent (a reset counts as
/// closed).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the peer did not close the connection");
    received
}

#[tokio::test]
async fn two_members_exchange_ping_deliver_submit_and_admin() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let peer = server.local_addr();
    let client = LinkClient::new(&config(MEMBER_A), secret());

    client.ping(peer).await.unwrap();

    // 10 MB that no two offsets repeat cheaply: a byte-exact check.
    let body: Vec<u8> = (0..10_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let body = Bytes::from(body);
    let request = deliver_request("bob@example.com", &["bob@example.com", "nobody@example.com"], body.clone());
    let outcomes = client.deliver(peer, request.clone()).await.unwrap();
    assert_eq!(outcomes, vec![Outcome::Delivered, Outcome::Failed("no such user".into())]);
    {
        let delivered = member.delivered.lock().unwrap();
        let (from, received) = &delivered[0];
        assert_eq!(from.ip().to_string(), MEMBER_A, "outgoing connections leave from the member's address");
        assert_eq!(received.account, request.account);
        assert_eq!(received.envelope, request.envelope);
        assert!(received.body == body, "the body arrived changed");
    }

    let submit = deliver_request(
        "alice@example.com",
        &["someone@example.net"],
        Bytes::from_static(b"Subject: hi\r\n\r\nhi\r\n"),
    );
    assert_eq!(client.submit(peer, submit.clone()).await.unwrap(), vec![Outcome::Delivered]);
    assert_eq!(member.submitted.lock().unwrap()[0], submit);

    let info = client.admin(peer, AdminOperation::AccountInfo { account: account("bob@example.com") }).await.unwrap();
    assert_eq!(info, Ok(AdminReply::Json("{\"account\":\"bob@example.com\"}".into())));
    let delete = client.admin(peer, AdminOperation::DeleteAccount { account: account("ghost@example.com") }).await;
    assert_eq!(delete.unwrap(), Err(AdminError::NoSuchAccount("ghost@example.com".into())));

    assert_eq!(client.stats(peer).opened, 1, "all of it over one connection");
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let (server, _member) = start(&config(MEMBER_B)).await;
    let peer = server.local_addr();
    let client = LinkClient::new(&config(MEMBER_A), secret());
    for _ in 0..20 {
        client.ping(peer).await.unwrap();
    }
    let stats = client.stats(peer);
    assert_eq!((stats.opened, stats.idle, stats.pushed_out), (1, 1, 0));
    assert_eq!(server.open_connections().len(), 1);
}

#[tokio::test]
async fn wrong_secret_is_refused_and_no_handler_runs() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let peer = server.local_addr();
    let client = LinkClient::new(&config(MEMBER_A), ClusterSecret::new(b"another cluster's secret!"));
    let request = deliver_request("bob@example.com", &["bob@example.com"], Bytes::from_static(b"x"));
    let error = client.deliver(peer, request).await.unwrap_err();
    assert!(matches!(error, LinkError::Auth { .. }), "{error}");
    assert!(error.is_temporary());
    let error = client.ping(peer).await.unwrap_err();
    assert!(matches!(error, LinkError::Auth { .. }), "{error}");
    eventually("the server closes the refused connections", || server.open_connections().is_empty()).await;
    assert_eq!(member.calls.load(Ordering::SeqCst), 0);
    assert_eq!(client.stats(peer).opened, 0);
}

/// Records what a client sends through it to the server, from a member's
/// address (so the server's allow-list lets it in).
async fn recording_proxy(server: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.4:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let record = recorded.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let upstream = raw_connection(MEMBER_A, server).await;
        let (mut client_read, mut client_write) = client.into_split();
        let (mut upstream_read, mut upstream_write) = upstream.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut upstream_read, &mut client_write).await });
        let mut buf = vec![0; 64 << 10];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            record.lock().unwrap().extend_from_slice(&buf[..n]);
            if upstream_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    (address, recorded)
}

#[tokio::test]
async fn a_replayed_handshake_is_refused() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let (proxy, recorded) = recording_proxy(server.local_addr()).await;
    let client = LinkClient::new(&config(MEMBER_A), secret());
    let request = deliver_request("bob@example.com", &["bob@example.com"], Bytes::from_static(b"once"));
    client.deliver(proxy, request).await.unwrap();
    assert_eq!(member.calls.load(Ordering::SeqCst), 1);

    // Everything the genuine client sent (hello, proof, the delivery), again.
    let transcript = recorded.lock().unwrap().clone();
    let mut replay = raw_connection(MEMBER_A, server.local_addr()).await;
    replay.write_all(&transcript).await.unwrap();
    read_until_closed(&mut replay).await;
    eventually("the server closes the replayed connection", || server.open_connections().len() == 1).await;
    assert_eq!(member.calls.load(Ordering::SeqCst), 1, "the replayed delivery must not run");
}

#[tokio::test]
async fn no_common_version_is_refused_with_a_clear_message() {
    let member = Arc::new(Member::default());
    let server = LinkServer::bind_speaking(&config(MEMBER_B), secret(), member.clone(), &[1]).await.unwrap();
    let client = LinkClient::speaking(&config(MEMBER_A), secret(), &[7, 8]);
    let error = client.ping(server.local_addr()).await.unwrap_err();
    match &error {
        LinkError::NoCommonVersion { ours, theirs, .. } => {
            assert_eq!((ours.as_slice(), theirs.as_slice()), (&[7, 8][..], &[1][..]))
        }
        other => panic!("expected no common version, got {other}"),
    }
    assert!(error.to_string().contains("no common protocol version"), "{error}");
    assert!(error.to_string().contains("we speak [7, 8], it speaks [1]"), "{error}");
}

#[tokio::test]
async fn the_highest_common_version_is_used() {
    let member = Arc::new(Member::default());
    let server = LinkServer::bind_speaking(&config(MEMBER_B), secret(), member, &[1]).await.unwrap();
    // A newer member offering 1 and a future 2 still talks to an older one.
    let client = LinkClient::speaking(&config(MEMBER_A), secret(), &[1, 2]);
    client.ping(server.local_addr()).await.unwrap();
}

/// Log lines written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// A single-threaded runtime, so the server's tasks log to this thread's
// subscriber.
#[tokio::test(flavor = "current_thread")]
async fn an_address_not_on_the_allow_list_is_closed_before_any_read() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let (server, member) = start(&config(MEMBER_B)).await;
    let mut stranger = raw_connection("127.0.0.9", server.local_addr()).await;
    let stranger_address = stranger.local_addr().unwrap();
    let received = read_until_closed(&mut stranger).await;
    assert!(received.is_empty(), "the server answered a stranger");
    let refusal = logs.text();
    assert!(
        refusal.contains("cluster::link") && refusal.contains(&format!("peer={stranger_address}")),
        "no refusal logged under cluster::link with the peer's address: {refusal}"
    );

    // The link's own client from there fails cleanly, nothing runs.
    let mut config = config("127.0.0.9");
    config.allow.clear();
    let client = LinkClient::new(&config, secret());
    let error = client.ping(server.local_addr()).await.unwrap_err();
    assert!(error.to_string().contains("allow-list"), "{error}");
    assert_eq!(member.calls.load(Ordering::SeqCst), 0);
    assert!(server.open_connections().is_empty());
}

#[tokio::test]
async fn an_oversized_handshake_frame_closes_the_connection() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let mut stream = raw_connection(MEMBER_A, server.local_addr()).await;
    // Announces a hello of 4 GiB - 1: refused on its first five bytes.
    stream.write_all(&[0xff, 0xff, 0xff, 0xff, 1]).await.unwrap();
    assert!(read_until_closed(&mut stream).await.is_empty());
    assert_eq!(member.calls.load(Ordering::SeqCst), 0);
}

/// A network on the allow-list lets in a member added later (CM-4) and
/// still closes the door on addresses outside it.
#[tokio::test]
async fn a_network_on_the_allow_list_admits_its_members_only() {
    let mut server_config = config(MEMBER_B);
    server_config.allow = vec!["127.0.7.0/24".parse().unwrap()];
    let (server, member) = start(&server_config).await;
    let newcomer = LinkClient::new(&config("127.0.7.42"), secret());
    newcomer.ping(server.local_addr()).await.unwrap();
    let mut stranger = raw_connection("127.0.8.1", server.local_addr()).await;
    assert!(read_until_closed(&mut stranger).await.is_empty(), "the server answered a stranger");
    assert_eq!(member.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn garbage_instead_of_a_hello_closes_the_connection() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let mut stream = raw_connection(MEMBER_A, server.local_addr()).await;
    stream.write_all(b"EHLO example.com\r\n").await.unwrap();
    read_until_closed(&mut stream).await;
    assert_eq!(member.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_full_cache_pushes_the_oldest_idle_connection_out() {
    let mut server_config = config(MEMBER_B);
    server_config.allow = vec![MEMBER_A.parse().unwrap()];
    let (server, member) = start(&server_config).await;
    let peer = server.local_addr();
    let mut client_config = config(MEMBER_A);
    client_config.cache_per_peer = 2;
    let client = LinkClient::new(&client_config, secret());

    let wait = || AdminOperation::Api { method: "POST".into(), path: "/wait".into(), json: None };
    let users: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.admin(peer, wait()).await })
        })
        .collect();
    eventually("three users on three connections", || member.waiting.lock().unwrap().len() == 3).await;
    let by_age = member.waiting.lock().unwrap().clone();
    assert_eq!(client.stats(peer).opened, 3);

    // The gate lets them go in arrival order: the first connection comes
    // back first, so it is the oldest idle one when the third returns.
    for (n, _) in by_age.iter().enumerate() {
        member.gate.add_permits(1);
        eventually("a user is done", || member.admin.lock().unwrap().len() == n + 1).await;
        eventually("its connection is back in the cache", || {
            let stats = client.stats(peer);
            stats.idle + stats.pushed_out as usize == n + 1
        })
        .await;
    }
    for user in users {
        assert_eq!(user.await.unwrap().unwrap(), Ok(AdminReply::Done));
    }
    let stats = client.stats(peer);
    assert_eq!((stats.idle, stats.pushed_out), (2, 1));
    eventually("the oldest connection is closed at the server", || {
        let open = server.open_connections();
        open.len() == 2 && !open.contains(&by_age[0])
    })
    .await;

    for _ in 0..4 {
        client.ping(peer).await.unwrap();
    }
    assert_eq!(client.stats(peer).opened, 3, "the cached connections serve later requests");
}

#[tokio::test]
async fn a_restarted_peer_is_reached_on_a_new_connection() {
    let server_config = config(MEMBER_B);
    let (server, _member) = start(&server_config).await;
    let peer = server.local_addr();
    let client = LinkClient::new(&config(MEMBER_A), secret());
    client.ping(peer).await.unwrap();

    server.shutdown().await;
    let restarted =
        LinkServer::bind(&LinkConfig { address: peer, ..server_config.clone() }, secret(), Arc::new(Member::default()))
            .await
            .unwrap();
    client.ping(peer).await.unwrap();
    assert_eq!(client.stats(peer).opened, 2);

    // A delivery is not idempotent: it needs the cheap check before reuse
    // to notice the dead connection, and it does.
    restarted.kill().await;
    let (again, member) = start(&LinkConfig { address: peer, ..server_config }).await;
    let request = deliver_request("bob@example.com", &["bob@example.com"], Bytes::from_static(b"after restart"));
    assert_eq!(client.deliver(peer, request).await.unwrap(), vec![Outcome::Delivered]);
    assert_eq!(member.calls.load(Ordering::SeqCst), 1);
    let stats = client.stats(peer);
    assert_eq!((stats.opened, stats.discarded), (3, 2));
    drop(again);
}

#[tokio::test]
async fn a_peer_killed_mid_delivery_is_a_temporary_failure() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let peer = server.local_addr();
    let client = LinkClient::new(&config(MEMBER_A), secret());
    let request = deliver_request("block@example.com", &["block@example.com"], Bytes::from(vec![b'x'; 1 << 20]));
    let delivery = tokio::spawn({
        let client = client.clone();
        async move { client.deliver(peer, request).await }
    });
    eventually("the delivery reaches the handler", || member.waiting.lock().unwrap().len() == 1).await;
    server.kill().await;
    let error = delivery.await.unwrap().unwrap_err();
    assert!(matches!(error, LinkError::Interrupted { .. }), "{error}");
    assert!(error.is_temporary());
    assert_eq!(member.calls.load(Ordering::SeqCst), 1, "not sent twice");
}

#[tokio::test]
async fn a_slow_request_times_out() {
    let (server, member) = start(&config(MEMBER_B)).await;
    let mut client_config = config(MEMBER_A);
    client_config.request_timeout = Duration::from_millis(200);
    let client = LinkClient::new(&client_config, secret());
    let request = deliver_request("block@example.com", &["block@example.com"], Bytes::from_static(b"slow"));
    let error = client.deliver(server.local_addr(), request).await.unwrap_err();
    assert!(matches!(error, LinkError::Timeout { stage: "request", .. }), "{error}");
    assert!(error.is_temporary());
    assert_eq!(client.stats(server.local_addr()).idle, 0, "a timed-out connection is not reused");
    member.gate.add_permits(1);
}

#[tokio::test]
async fn a_silent_peer_times_out_in_the_handshake() {
    let listener = TcpListener::bind(format!("{MEMBER_B}:0")).await.unwrap();
    let silent = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(stream);
    });
    let mut client_config = config(MEMBER_A);
    client_config.auth_timeout = Duration::from_millis(200);
    let client = LinkClient::new(&client_config, secret());
    let error = client.ping(silent).await.unwrap_err();
    assert!(matches!(error, LinkError::Timeout { stage: "handshake", .. }), "{error}");
    held.abort();
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_sending() {
    let client = LinkClient::new(&config(MEMBER_A), secret());
    let body = Bytes::from(vec![0; cluster::link::MAX_BODY + 1]);
    let request = deliver_request("bob@example.com", &["bob@example.com"], body);
    // No server needed: it never connects.
    let error = client.deliver("127.0.0.3:9".parse().unwrap(), request).await.unwrap_err();
    assert!(matches!(error, LinkError::TooLarge { .. }), "{error}");
    assert!(!error.is_temporary());
}

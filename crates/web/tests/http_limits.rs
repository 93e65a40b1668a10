//! The admin listener's bounds over real sockets (DESIGN §8): connections
//! over the per-IP cap get 503 while other clients and cluster members are
//! served, slow headers are cut, and the admin login form keeps the token
//! of a well-formed cookie so two login tabs do not void each other.

use directory::EmbeddedDirectory;
use net::http::{HttpLimits, ListenOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use types::DomainName;
use web::AdminServices;

struct Admin {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn admin(options: ListenOptions) -> Admin {
    let dir = tempfile::tempdir().expect("tempdir");
    let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).expect("directory"));
    let store = store::Store::open(&dir.path().join("accounts"), store::StoreConfig::default()).expect("store");
    let queue = queue::Queue::open(queue::QueueConfig::new(dir.path().join("queue"))).expect("queue");
    let services = Arc::new(AdminServices {
        directory,
        store: Arc::new(store),
        queue: Arc::new(queue),
        main_domain: DomainName::parse("example.test").expect("domain"),
        cluster: None,
        link_secret: None,
        admin_pages: Default::default(),
        metrics_from: net::TrustedProxies::default(),
    });
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let app = web::admin_router(services);
    tokio::spawn(async move { web::listen::serve_app(tcp, app, &options, shutdown).await });
    Admin { addr, _dir: dir, _stop: stop }
}

async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind client");
    socket.connect(to).await.expect("connect")
}

/// GET /admin/login on a keep-alive connection; the response head.
async fn get_login(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /admin/login HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    head
}

#[tokio::test]
async fn admin_connections_over_the_per_ip_cap_get_503_and_members_are_exempt() {
    let options = ListenOptions {
        limits: net::ListenerLimits { max_connections: 100, max_per_ip: 1 },
        exempt_per_ip: net::TrustedProxies::parse(["127.0.0.3"]).expect("members"),
        ..ListenOptions::default()
    };
    let admin = admin(options).await;
    let mut held = connect_from([127, 0, 0, 1], admin.addr).await;
    assert!(get_login(&mut held).await.starts_with("HTTP/1.1 200"));
    let mut over = connect_from([127, 0, 0, 1], admin.addr).await;
    let mut refused = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), over.read_to_string(&mut refused)).await;
    assert!(refused.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{refused}");
    assert!(refused.contains("\r\nRetry-After: ") && refused.contains("\r\nConnection: close\r\n"), "{refused}");
    let mut other = connect_from([127, 0, 0, 2], admin.addr).await;
    assert!(get_login(&mut other).await.starts_with("HTTP/1.1 200"));
    let mut members = Vec::new();
    for _ in 0..3 {
        let mut member = connect_from([127, 0, 0, 3], admin.addr).await;
        assert!(get_login(&mut member).await.starts_with("HTTP/1.1 200"));
        members.push(member);
    }
}

#[tokio::test]
async fn admin_headers_sent_slowly_are_cut_at_the_header_timeout() {
    let http = HttpLimits { header_timeout: Duration::from_secs(2), ..HttpLimits::default() };
    let admin = admin(ListenOptions { http, ..ListenOptions::default() }).await;
    let mut stream = TcpStream::connect(admin.addr).await.expect("connect");
    let started = Instant::now();
    stream.write_all(b"GET /admin/login HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "unfinished headers kept the connection for 20 s");
    assert!(started.elapsed() >= Duration::from_millis(1500), "cut after {:?}", started.elapsed());
}

fn token_cookie(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|value| {
        value.to_str().ok()?.strip_prefix("rookery_admin_csrf=")?.split(';').next().map(str::to_owned)
    })
}

#[tokio::test]
async fn a_second_admin_login_page_keeps_a_well_formed_token() {
    let admin = admin(ListenOptions::default()).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/admin/login", admin.addr);
    let token = token_cookie(&http.get(&url).send().await.expect("GET")).expect("a token cookie");
    let again = http.get(&url).header("cookie", format!("rookery_admin_csrf={token}")).send().await.expect("GET");
    assert_eq!(token_cookie(&again).as_deref(), Some(token.as_str()));
    assert!(again.text().await.expect("page").contains(&format!("value=\"{token}\"")), "the form has it too");
    for bad in ["\"><b>x</b>".to_owned(), token[..42].to_owned(), format!("{}B", &token[..42])] {
        let response = http.get(&url).header("cookie", format!("rookery_admin_csrf={bad}")).send().await.expect("GET");
        let fresh = token_cookie(&response).expect("a token cookie");
        assert!(fresh != bad && fresh.len() == 43, "{bad:?} was kept");
        assert!(!response.text().await.expect("page").contains("<b>x</b>"));
    }
}

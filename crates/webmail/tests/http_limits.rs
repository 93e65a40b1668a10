//! The web mail listener's bounds over real sockets (DESIGN §8): slow
//! headers and idle connections are cut, connections over the per-IP cap
//! get 503 while other clients and cluster members are served, small forms
//! refuse big bodies with the 413 page while compose takes attachments up
//! to `max_upload`, and the login form's token survives a second GET.

mod mail_support;

use mail_support::{ANN, BOB, Multipart, Server};
use net::http::{HttpLimits, ListenOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use webmail::{CookieKey, SessionCookie, WebmailConfig, WebmailParts, WebmailServices};

/// A second web mail over `server`'s store and queue, with the default
/// configuration (25 MB uploads) and the listener bounds in `options`.
struct Limited {
    addr: SocketAddr,
    services: Arc<WebmailServices>,
    _stop: watch::Sender<bool>,
}

async fn limited(server: &Server, options: ListenOptions) -> Limited {
    let services = Arc::new(
        WebmailServices::new(WebmailParts {
            directory: server.services.directory.clone(),
            store: server.store.clone(),
            queue: server.queue.clone(),
            locator: server.services.locator.clone(),
            main_domain: server.services.main_domain.clone(),
            hostname: "mail.example.org".to_owned(),
            cookie_key: CookieKey::derive(b"limits test"),
            trusted_proxies: net::TrustedProxies::default(),
            config: WebmailConfig::default(),
            sessions_path: None,
        })
        .expect("services"),
    );
    // Clients from other loopback addresses (127.0.0.2) reach 127.0.0.1 too.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let (stop, shutdown) = watch::channel(false);
    let app = webmail::router(services.clone());
    tokio::spawn(async move { webmail::listen::serve_app(tcp, None, app, &options, shutdown).await });
    Limited { addr: SocketAddr::from(([127, 0, 0, 1], port)), services, _stop: stop }
}

fn short_header_timeout() -> ListenOptions {
    ListenOptions {
        http: HttpLimits { header_timeout: Duration::from_secs(2), ..HttpLimits::default() },
        ..ListenOptions::default()
    }
}

/// A connection to `to` leaving from `from` (a loopback address).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind client");
    socket.connect(SocketAddr::from(([127, 0, 0, 1], to.port()))).await.expect("connect")
}

/// Reads a response head (up to the blank line); "" when the server closed.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Sends GET /login (keep-alive) and returns the response head; the body is
/// read too so the connection is ready for the next request.
async fn get_login(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let head = read_head(stream).await;
    let length = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    head
}

/// Waits for the server to close `stream`; how long that took.
async fn closed_after(stream: &mut TcpStream, started: Instant) -> Duration {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server never closed the connection");
    started.elapsed()
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_at_the_header_timeout() {
    let server = Server::start().await;
    let web = limited(&server, short_header_timeout()).await;
    let stream = TcpStream::connect(web.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // Headers that never end: one byte every half second for up to 30 s.
    let trickle = tokio::spawn(async move {
        let request = b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a'));
        for byte in request.take(60) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut rest)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(read.is_ok(), "a slow client kept its connection for 20 s");
    assert!(elapsed >= Duration::from_millis(1500), "cut after {elapsed:?}, before the timeout");
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "no page for unfinished headers");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::start().await;
    let web = limited(&server, short_header_timeout()).await;
    let mut stream = TcpStream::connect(web.addr).await.expect("connect");
    assert!(get_login(&mut stream).await.starts_with("HTTP/1.1 200"));
    let elapsed = closed_after(&mut stream, Instant::now()).await;
    assert!(elapsed >= Duration::from_millis(1500), "closed after {elapsed:?}");
    // A connection that never sends a byte goes the same way.
    let mut silent = TcpStream::connect(web.addr).await.expect("connect");
    let elapsed = closed_after(&mut silent, Instant::now()).await;
    assert!(elapsed >= Duration::from_millis(1500), "closed after {elapsed:?}");
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_get_503_and_others_are_served() {
    let server = Server::start().await;
    let options = ListenOptions {
        limits: net::ListenerLimits { max_connections: 100, max_per_ip: 2 },
        exempt_per_ip: net::TrustedProxies::parse(["127.0.0.3"]).expect("members"),
        ..ListenOptions::default()
    };
    let web = limited(&server, options).await;
    // Two open keep-alive connections from 127.0.0.1: its whole share.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect_from([127, 0, 0, 1], web.addr).await;
        assert!(get_login(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = connect_from([127, 0, 0, 1], web.addr).await;
    let mut refused = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), third.read_to_string(&mut refused)).await;
    assert!(refused.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{refused}");
    assert!(refused.contains("\r\nRetry-After: "), "{refused}");
    assert!(refused.contains("\r\nConnection: close\r\n"), "{refused}");
    // Another client is not affected, and the held connections still work.
    let mut other = connect_from([127, 0, 0, 2], web.addr).await;
    assert!(get_login(&mut other).await.starts_with("HTTP/1.1 200"));
    assert!(get_login(&mut held[0]).await.starts_with("HTTP/1.1 200"));
    // A cluster member forwarding for many clients is not capped per IP.
    let mut member = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from([127, 0, 0, 3], web.addr).await;
        assert!(get_login(&mut stream).await.starts_with("HTTP/1.1 200"));
        member.push(stream);
    }
    // Closing one frees its place.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut again = connect_from([127, 0, 0, 1], web.addr).await;
        if get_login(&mut again).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A raw request with a `Content-Length`, or chunked; status and response.
async fn send_body(addr: SocketAddr, head: &str, body: &[u8], chunked: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = head.as_bytes().to_vec();
    if chunked {
        request.extend_from_slice(b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        for chunk in body.chunks(16 * 1024) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
    } else {
        request.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
    }
    // The server may answer 413 and close before taking every byte.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn small_forms_refuse_a_100_kib_body_with_the_413_page() {
    let server = Server::start().await;
    let web = limited(&server, ListenOptions::default()).await;
    let session = web.services.sessions.create(&mail_support::account(ANN)).await.expect("session");
    let cookie = SessionCookie { account: mail_support::account(ANN), id: session.id.clone() };
    let cookie = format!("{}={}", webmail::COOKIE_NAME, cookie.encode(&web.services.cookie_key));
    let big = format!("username=ann&password=secret&csrf={}&pad={}", session.csrf, "x".repeat(100 * 1024));
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    for path in ["/login", "/settings", "/mail/INBOX/1/delete", "/logout"] {
        for chunked in [false, true] {
            let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n{form}");
            let (status, response) = send_body(web.addr, &head, big.as_bytes(), chunked).await;
            assert_eq!(status, 413, "{path} chunked={chunked}: {response}");
            assert!(response.contains("text/html"), "{path} chunked={chunked}: the page, not a bare 413");
            assert!(response.contains(&webmail::FORM_LIMIT.to_string()), "{path}: the page says the limit");
        }
    }
    // Nothing happened: the session is still there.
    let still = SessionCookie { account: mail_support::account(ANN), id: session.id.clone() };
    assert!(web.services.sessions.lookup(&still).await.is_some(), "logout with a 413 body ended nothing");
}

#[tokio::test]
async fn a_3_mb_upload_is_sent_under_the_default_max_upload() {
    let server = Server::start().await;
    let web = limited(&server, ListenOptions::default()).await;
    let session = web.services.sessions.create(&mail_support::account(ANN)).await.expect("session");
    let cookie = SessionCookie { account: mail_support::account(ANN), id: session.id.clone() };
    let cookie = format!("{}={}", webmail::COOKIE_NAME, cookie.encode(&web.services.cookie_key));
    let attachment: Vec<u8> = (0..3 * 1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let form = Multipart::new()
        .text("csrf", &session.csrf)
        .text("to", BOB)
        .text("cc", "")
        .text("subject", "big")
        .text("body", "attached\r\n")
        .file("attachment", "big.txt", "text/plain", &attachment);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = http
        .post(format!("http://{}/compose", web.addr))
        .header("cookie", &cookie)
        .header("content-type", form.content_type())
        .body(form.finish())
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 303, "{:?}", response.text().await);
    server.wait_for_count(BOB, "INBOX", 1).await;
    let delivered = server.messages(BOB, "INBOX").await.remove(0);
    assert!(delivered.len() > 3 * 1024 * 1024, "the attachment arrived whole ({} bytes)", delivered.len());
}

/// The `rookery_csrf` value a login page set, and the form's token.
fn login_token(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|value| {
        let value = value.to_str().ok()?;
        value.strip_prefix("rookery_csrf=")?.split(';').next().map(str::to_owned)
    })
}

#[tokio::test]
async fn a_second_login_page_keeps_the_token_of_a_well_formed_cookie() {
    let server = Server::start().await;
    let web = limited(&server, ListenOptions::default()).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/login", web.addr);
    let first = http.get(&url).send().await.expect("GET");
    let token = login_token(&first).expect("a token cookie");
    assert_eq!(token.len(), 43);
    for _ in 0..2 {
        let again = http.get(&url).header("cookie", format!("rookery_csrf={token}")).send().await.expect("GET");
        assert_eq!(login_token(&again).as_deref(), Some(token.as_str()));
        let page = again.text().await.expect("page");
        assert_eq!(mail_support_csrf(&page), token, "the form carries the same token");
    }
    // Malformed values are replaced, never echoed into the page.
    let forged = "\"><script>x</script>".to_owned();
    let wrong_length = token[..42].to_owned();
    let non_canonical = format!("{}B", &token[..42]); // trailing bits set: not what the server makes
    for bad in [forged, wrong_length, non_canonical] {
        let response = http.get(&url).header("cookie", format!("rookery_csrf={bad}")).send().await.expect("GET");
        let fresh = login_token(&response).expect("a token cookie");
        assert_ne!(fresh, bad);
        assert_eq!(fresh.len(), 43);
        assert!(!response.text().await.expect("page").contains("<script>x"));
    }
}

fn mail_support_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

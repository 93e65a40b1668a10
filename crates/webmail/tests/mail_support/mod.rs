//! A single-server web mail on a loopback port for the reading and sending
//! tests: embedded directory, store, queue with local delivery running,
//! two accounts (ann and bob @example.org), and logged-in HTTP clients.
#![allow(dead_code)]

use bytes::Bytes;
use directory::{Directory, EmbeddedDirectory};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::{Flag, Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use types::{AccountName, DomainName, Uid};
use webmail::{CookieKey, SessionCookie, WebmailConfig, WebmailParts, WebmailServices};

pub const ANN: &str = "ann@example.org";
pub const BOB: &str = "bob@example.org";
/// Small, so the oversized-upload tests stay fast.
pub const MAX_UPLOAD: usize = 256 * 1024;

pub struct Server {
    pub addr: SocketAddr,
    pub services: Arc<WebmailServices>,
    pub store: Arc<Store>,
    pub queue: Arc<queue::Queue>,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A logged-in browser: its cookie and its session's CSRF token.
pub struct User {
    pub account: AccountName,
    pub cookie: String,
    pub csrf: String,
    pub http: reqwest::Client,
    pub base: String,
}

pub fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).expect("test account name")
}

impl Server {
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).expect("directory"));
        let domain = DomainName::parse("example.org").expect("domain");
        directory.add_domain(&domain).await.expect("add domain");
        for name in [ANN, BOB] {
            directory.add_account(&account(name), "secret", None).await.expect("add account");
        }
        let directory: Arc<dyn Directory> = directory;
        let store = Arc::new(
            Store::open(&dir.path().join("store"), StoreConfig::default())
                .expect("store")
                .with_initial_mailboxes(&["Drafts", "Sent", "Trash", "Junk", "Archive"]),
        );
        let mut queue_config = queue::QueueConfig::new(dir.path().join("queue"));
        queue_config.fsync = false;
        let queue = Arc::new(queue::Queue::open(queue_config).expect("queue"));
        let locator: Arc<dyn cluster::Locator> = Arc::new(cluster::SingleServer);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let local =
            Arc::new(delivery::LocalDelivery::new(directory.clone(), store.clone(), locator.clone(), domain.clone()));
        let transport = Arc::new(delivery::QueueTransport::new(local, None));
        let runner_queue = queue.clone();
        let runner_shutdown = shutdown_rx.clone();
        tokio::spawn(async move { runner_queue.run(transport, runner_shutdown).await });
        let config = WebmailConfig { max_upload: MAX_UPLOAD, ..WebmailConfig::default() };
        let services = Arc::new(
            WebmailServices::new(WebmailParts {
                directory,
                store: store.clone(),
                queue: queue.clone(),
                locator,
                main_domain: domain,
                hostname: "mail.example.org".to_owned(),
                cookie_key: CookieKey::derive(b"test secret"),
                trusted_proxies: net::TrustedProxies::default(),
                config,
                sessions_path: None,
            })
            .expect("services"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(webmail::serve(listener, services.clone(), shutdown_rx));
        Server { addr, services, store, queue, shutdown, _dir: dir }
    }

    /// A session made the way a login makes one (the login form itself is
    /// tested with the login page).
    pub async fn login(&self, name: &str) -> User {
        let account = account(name);
        let session = self.services.sessions.create(&account).await.expect("session");
        let cookie = SessionCookie { account: account.clone(), id: session.id.clone() };
        let cookie = format!("{}={}", webmail::COOKIE_NAME, cookie.encode(&self.services.cookie_key));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        User { account, cookie, csrf: session.csrf, http, base: format!("http://{}", self.addr) }
    }

    /// Stores `raw` in `mailbox` of `name` and returns its UID.
    pub async fn append(&self, name: &str, mailbox: &str, raw: &str) -> Uid {
        let account = self.store.account(&account(name)).await.expect("account");
        let (_, uid) = account
            .append(mailbox, Bytes::from(raw.to_owned()), Vec::new(), 1_790_000_000, None)
            .await
            .expect("append");
        uid
    }

    pub async fn flags(&self, name: &str, mailbox: &str, uid: Uid) -> Option<Vec<Flag>> {
        let account = self.store.account(&account(name)).await.expect("account");
        let snapshot = account.snapshot(mailbox).expect("snapshot");
        snapshot.messages.iter().find(|m| m.uid == uid).map(|m| m.flags.clone())
    }

    pub async fn count(&self, name: &str, mailbox: &str) -> u32 {
        let account = self.store.account(&account(name)).await.expect("account");
        account.status(mailbox).expect("status").messages
    }

    /// Every message of a mailbox, oldest first.
    pub async fn messages(&self, name: &str, mailbox: &str) -> Vec<Bytes> {
        let account = self.store.account(&account(name)).await.expect("account");
        let snapshot = account.snapshot(mailbox).expect("snapshot");
        let mut all = Vec::new();
        for meta in &snapshot.messages {
            all.push(account.read(snapshot.info.id, meta.uid).await.expect("read"));
        }
        all
    }

    /// Polls until `mailbox` of `name` holds `n` messages (delivery runs in
    /// the queue's own task); generous for a loaded machine.
    pub async fn wait_for_count(&self, name: &str, mailbox: &str, n: u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.count(name, mailbox).await < n {
            assert!(tokio::time::Instant::now() < deadline, "{name} {mailbox} never reached {n} messages");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One request with the path exactly as given (no client normalising
    /// `..` or percent-escapes); returns the status and the whole response.
    pub async fn raw_request(&self, request: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        // The server may answer (413) and close before taking every byte.
        let _ = stream.write_all(request.as_bytes()).await;
        let mut response = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        (status, text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl User {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body: String =
            fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn post_multipart(&self, path: &str, body: Multipart) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", body.content_type())
            .body(body.finish())
            .send()
            .await
            .expect("POST")
    }
}

pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A multipart/form-data body built by hand, as a browser sends it.
pub struct Multipart {
    body: Vec<u8>,
}

const BOUNDARY: &str = "----rookerytestboundary7MA4YWxkTrZu0gW";

impl Multipart {
    pub fn new() -> Multipart {
        Multipart { body: Vec::new() }
    }

    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file(mut self, name: &str, file_name: &str, content_type: &str, data: &[u8]) -> Multipart {
        let head = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }
}

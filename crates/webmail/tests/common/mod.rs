//! A web mail server on 127.0.0.1 over a temporary store and embedded
//! directory, and a small browser-like client (cookies by hand, redirects
//! not followed, so each test sees exactly what the server answered).
#![allow(dead_code)]

use bytes::Bytes;
use directory::{Directory, EmbeddedDirectory};
use reqwest::header::{COOKIE, SET_COOKIE};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use store::{Flag, Store, StoreConfig};
use types::{AccountName, DomainName};
use webmail::{CookieKey, WebmailConfig, WebmailParts, WebmailServices};

pub const DOMAIN: &str = "example.com";
pub const ALICE: &str = "alice@example.com";
pub const PASSWORD: &str = "alice-password";

pub fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub directory: Arc<dyn Directory>,
    pub queue: Arc<queue::Queue>,
    pub services: Arc<WebmailServices>,
    pub dir: Arc<tempfile::TempDir>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: WebmailConfig) -> Server {
        Self::start_with(config, net::TrustedProxies::default(), None).await
    }

    /// `previous`: the data of a server started before (a restart).
    pub async fn start_with(config: WebmailConfig, proxies: net::TrustedProxies, previous: Option<Server>) -> Server {
        let (dir, store, directory, queue) = match previous {
            Some(old) => {
                let Server { dir, store, directory, queue, stop, task, .. } = old;
                let _ = stop.send(true);
                let _ = task.await;
                (dir, store, directory, queue)
            }
            None => {
                let dir = Arc::new(tempfile::tempdir().unwrap());
                let store = Store::open(&dir.path().join("store"), StoreConfig::default()).unwrap();
                let store = Arc::new(store.with_initial_mailboxes(&["Sent", "Trash"]));
                let directory = EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
                directory.add_domain(&DomainName::parse(DOMAIN).unwrap()).await.unwrap();
                directory.add_account(&account(ALICE), PASSWORD, None).await.unwrap();
                let directory: Arc<dyn Directory> = Arc::new(directory);
                let queue = Arc::new(queue::Queue::open(queue::QueueConfig::new(dir.path().join("queue"))).unwrap());
                (dir, store, directory, queue)
            }
        };
        let path = |name: &str| -> PathBuf { dir.path().join(name) };
        let services = Arc::new(
            WebmailServices::new(WebmailParts {
                directory: directory.clone(),
                store: store.clone(),
                queue: queue.clone(),
                locator: Arc::new(cluster::SingleServer),
                main_domain: DomainName::parse(DOMAIN).unwrap(),
                hostname: "mail.example.com".into(),
                cookie_key: CookieKey::load_or_create(&path("web/cookie.key")).unwrap(),
                trusted_proxies: proxies,
                config,
                sessions_path: Some(path("web/sessions.redb")),
            })
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(webmail::serve(listener, services.clone(), shutdown));
        Server { addr, store, directory, queue, services, dir, stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Appends a message to `mailbox` of `ALICE`.
    pub async fn add_message(&self, mailbox: &str, message: &str, seen: bool, date: i64) {
        let account = self.store.account(&account(ALICE)).await.unwrap();
        let flags = if seen { vec![Flag::Seen] } else { Vec::new() };
        let body = Bytes::from(message.replace('\n', "\r\n"));
        account.append(mailbox, body, flags, date, None).await.unwrap();
    }

    pub async fn create_mailbox(&self, name: &str) {
        self.store.account(&account(ALICE)).await.unwrap().create_mailbox(name).await.unwrap();
    }
}

pub fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: alice@example.com\nSubject: {subject}\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n\n{body}\n"
    )
}

/// An HTTP client that keeps the cookies it is given, by hand.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    /// name → value.
    pub cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: server.url(""), cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(k, _)| k != name);
        if !value.is_empty() {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.set_cookie(name, value);
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Page { status, location, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header());
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).form(form);
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    /// Fetches the login form and submits it.
    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, 200);
        let csrf = csrf_of(&form.body);
        self.post("/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await
    }

    pub async fn logged_in(server: &Server) -> Browser {
        let mut browser = Browser::new(server);
        let page = browser.login(ALICE, PASSWORD).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/mail/INBOX")), "{}", page.body);
        browser
    }
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// How many times `needle` occurs in `html`.
pub fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// The subjects of the message rows, in order.
pub fn subjects(html: &str) -> Vec<String> {
    html.split("<a class=\"subject\" href=\"")
        .skip(1)
        .map(|rest| rest.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
        .collect()
}

//! A single server's admin API on a real loopback listener, with an
//! embedded directory, a store and a queue in a temporary directory.
#![allow(dead_code)]

use directory::{Directory, EmbeddedDirectory};
use std::sync::Arc;
use types::{AccountName, DomainName};
use web::AdminServices;

pub const PASSWORD: &str = "secret";

pub struct Api {
    _dir: tempfile::TempDir,
    pub services: Arc<AdminServices>,
    pub base: String,
    pub http: reqwest::Client,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Api {
    pub async fn start() -> Api {
        Api::start_with(net::TrustedProxies::default()).await
    }

    /// With `metrics_from` allowed to scrape `/metrics` without a login.
    pub async fn start_with(metrics_from: net::TrustedProxies) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap());
        let main = DomainName::parse("example.test").unwrap();
        directory.add_domain(&main).await.unwrap();
        let postmaster = AccountName::parse("postmaster", Some(&main)).unwrap();
        directory.add_account(&postmaster, PASSWORD, None).await.unwrap();
        let store = Arc::new(store::Store::open(&dir.path().join("accounts"), store::StoreConfig::default()).unwrap());
        let queue = Arc::new(queue::Queue::open(queue::QueueConfig::new(dir.path().join("queue"))).unwrap());
        let services = Arc::new(AdminServices {
            directory,
            store,
            queue,
            main_domain: main,
            cluster: None,
            link_secret: None,
            admin_pages: Default::default(),
            metrics_from,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(web::serve_admin(listener, services.clone(), shutdown));
        // A redirect would hide what the API answered.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Api { _dir: dir, services, base, http, _stop: stop }
    }

    /// A request as the administrator; `body` is sent as JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).basic_auth("postmaster", Some(PASSWORD));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }
}

/// Status and JSON body (`null` when empty); a body that is not JSON fails.
pub async fn answer(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let url = response.url().clone();
    let bytes = response.bytes().await.unwrap();
    if bytes.is_empty() {
        return (status, serde_json::Value::Null);
    }
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!("{url}: status {status}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
    });
    (status, body)
}

/// An error answer: the status and `{"error": "<non-empty text>"}`.
pub fn assert_error(answer: &(u16, serde_json::Value), status: u16) {
    assert_eq!(answer.0, status, "answer: {}", answer.1);
    let text = answer.1["error"].as_str().unwrap_or_default();
    assert!(!text.is_empty(), "no error text: {}", answer.1);
}

//! A server's admin listener on loopback, with an embedded directory, a
//! store, a queue and (optionally) a stand-in cluster, and a browser-like
//! client that keeps the admin cookie by hand and never follows redirects.

use async_trait::async_trait;
use directory::{Directory, EmbeddedDirectory};
use std::sync::Arc;
use types::{AccountName, DomainName};
use web::AdminServices;
use web::cluster::{ApiAnswer, ApiCall, ClusterAdmin, ClusterStatus, MemberInfo, MemberStatus};

pub const PASSWORD: &str = "secret";
pub const LINK_SECRET: &[u8] = b"derived cluster secret for the tests";

pub struct Server {
    _dir: tempfile::TempDir,
    pub services: Arc<AdminServices>,
    pub base: String,
    pub http: reqwest::Client,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    pub async fn start(cluster: Option<Arc<dyn ClusterAdmin>>) -> Server {
        Server::start_trusting(cluster, net::TrustedProxies::default()).await
    }

    /// With `members` as the cluster's allow-listed addresses.
    pub async fn start_trusting(cluster: Option<Arc<dyn ClusterAdmin>>, members: net::TrustedProxies) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap());
        let main = DomainName::parse("example.test").unwrap();
        directory.add_domain(&main).await.unwrap();
        let postmaster = AccountName::parse("postmaster", Some(&main)).unwrap();
        directory.add_account(&postmaster, PASSWORD, None).await.unwrap();
        let user = AccountName::parse("user", Some(&main)).unwrap();
        directory.add_account(&user, "user-password", None).await.unwrap();
        let store = Arc::new(store::Store::open(&dir.path().join("accounts"), store::StoreConfig::default()).unwrap());
        let queue = Arc::new(queue::Queue::open(queue::QueueConfig::new(dir.path().join("queue"))).unwrap());
        let services = Arc::new(AdminServices {
            directory,
            store,
            queue,
            main_domain: main,
            cluster,
            link_secret: Some(LINK_SECRET.to_vec()),
            admin_pages: Default::default(),
            metrics_from: members,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(web::serve_admin(listener, services.clone(), shutdown));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Server { _dir: dir, services, base, http, _stop: stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in through the form as the postmaster; the session cookie.
    pub async fn login(&self) -> String {
        let (csrf_cookie, csrf) = self.login_form().await;
        let response = self
            .http
            .post(self.url("/admin/login"))
            .header("cookie", format!("rookery_admin_csrf={csrf_cookie}"))
            .form(&[("username", "postmaster"), ("password", PASSWORD), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        set_cookie(&response, "rookery_admin").expect("a session cookie")
    }

    /// The login page's double-submit cookie and the token in its form.
    pub async fn login_form(&self) -> (String, String) {
        let response = self.http.get(self.url("/admin/login")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookie = set_cookie(&response, "rookery_admin_csrf").expect("a CSRF cookie");
        let csrf = csrf_of(&response.text().await.unwrap());
        (cookie, csrf)
    }

    pub async fn get(&self, path: &str, session: &str) -> (u16, String) {
        let response = self.http.get(self.url(path)).header("cookie", cookie(session)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A form POST with the session; `Location` included when redirected.
    pub async fn post(&self, path: &str, session: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response =
            self.http.post(self.url(path)).header("cookie", cookie(session)).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        let location = location(&response);
        let body = response.text().await.unwrap();
        (status, if status == 303 { location } else { body })
    }
}

pub fn cookie(session: &str) -> String {
    format!("rookery_admin={session}")
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The value `name` is set to by the response, if it sets it.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|value| {
        let value = value.to_str().ok()?;
        let (pair, _) = value.split_once(';').unwrap_or((value, ""));
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A cluster of two frontends and two backends, one of them dead; this
/// member is `b1.test`, the controller. Names can carry markup.
pub struct FakeCluster {
    pub members: Vec<(String, &'static str, bool)>,
}

#[async_trait]
impl ClusterAdmin for FakeCluster {
    async fn host_of(&self, _: &AccountName) -> Result<Option<String>, web::ApiError> {
        Ok(None)
    }
    async fn forward(&self, member: &str, _: ApiCall) -> Result<ApiAnswer, web::ApiError> {
        Err(web::ApiError::Unavailable(format!("{member} is not reachable in this test")))
    }
    async fn members(&self) -> Vec<MemberInfo> {
        Vec::new()
    }
    async fn is_member(&self, name: &str) -> bool {
        self.members.iter().any(|(member, _, _)| member == name)
    }
    fn hosts_accounts(&self) -> bool {
        true
    }
    fn server_name(&self) -> String {
        "b1.test".into()
    }
    async fn status(&self) -> Result<ClusterStatus, web::ApiError> {
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, (name, role, live))| MemberStatus {
                name: name.clone(),
                role: (*role).into(),
                live: *live,
                link: Some(format!("127.0.0.{}:4000", i + 2)),
                imap: None,
                open_accounts: None,
                queue_messages: None,
                accounts: (*role == "backend").then_some(10 + i as u64),
                connections: Some(100 + i as u64),
                webmail_sessions: None,
            })
            .collect();
        Ok(ClusterStatus { kind: "static".into(), name: "b1.test".into(), controller: Some("b1.test".into()), members })
    }
    async fn owner(&self, _: &AccountName) -> Result<Option<String>, web::ApiError> {
        Ok(None)
    }
}

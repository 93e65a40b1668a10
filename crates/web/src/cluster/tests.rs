//! The admin API's cluster routing, driven through the public router with a
//! recording stand-in for the cluster link.

use super::*;
use crate::admin_router;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use directory::{Directory, EmbeddedDirectory};
use std::sync::Mutex;
use types::DomainName;

/// A cluster of this member (`sv1.test`) and `sv2.test`, which hosts every
/// account whose name starts with "remote".
struct FakeCluster {
    hosts_accounts: bool,
    forwarded: Mutex<Vec<(String, ApiCall)>>,
}

#[async_trait]
impl ClusterAdmin for FakeCluster {
    async fn host_of(&self, account: &AccountName) -> Result<Option<String>, ApiError> {
        if account.local().as_str() == "down" {
            return Err(ApiError::Unavailable(format!("the host of {account} cannot be found now")));
        }
        Ok(account.local().as_str().starts_with("remote").then(|| "sv2.test".to_owned()))
    }

    async fn forward(&self, member: &str, call: ApiCall) -> Result<ApiAnswer, ApiError> {
        self.forwarded.lock().unwrap().push((member.to_owned(), call));
        Ok(ApiAnswer { status: 201, body: r#"{"from":"sv2.test"}"#.into() })
    }

    async fn members(&self) -> Vec<MemberInfo> {
        vec![MemberInfo { name: "sv2.test".into(), link: "127.0.0.3:4000".into(), reachable: true }]
    }

    async fn is_member(&self, name: &str) -> bool {
        name == "sv2.test"
    }

    fn hosts_accounts(&self) -> bool {
        self.hosts_accounts
    }

    fn server_name(&self) -> String {
        "sv1.test".into()
    }

    async fn status(&self) -> Result<ClusterStatus, ApiError> {
        let member = |name: &str| MemberStatus {
            name: name.into(),
            role: "backend".into(),
            live: true,
            link: None,
            imap: None,
            open_accounts: None,
            queue_messages: Some(0),
            accounts: None,
            connections: None,
            webmail_sessions: None,
        };
        Ok(ClusterStatus {
            kind: "static".into(),
            name: "sv1.test".into(),
            controller: None,
            members: vec![member("sv1.test"), member("sv2.test")],
        })
    }

    async fn owner(&self, account: &AccountName) -> Result<Option<String>, ApiError> {
        Ok(Some(self.host_of(account).await?.unwrap_or_else(|| self.server_name())))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    services: Arc<AdminServices>,
    cluster: Arc<FakeCluster>,
}

async fn fixture(hosts_accounts: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap());
    let main = DomainName::parse("sv1.test").unwrap();
    directory.add_domain(&main).await.unwrap();
    let postmaster = AccountName::parse("postmaster", Some(&main)).unwrap();
    directory.add_account(&postmaster, "secret", None).await.unwrap();
    // The other member's postmaster, as a shared directory would hold it.
    let other = DomainName::parse("sv2.test").unwrap();
    directory.add_domain(&other).await.unwrap();
    directory.add_account(&AccountName::parse("postmaster", Some(&other)).unwrap(), "other", None).await.unwrap();
    let store = Arc::new(store::Store::open(&dir.path().join("accounts"), store::StoreConfig::default()).unwrap());
    let queue = Arc::new(queue::Queue::open(queue::QueueConfig::new(dir.path().join("queue"))).unwrap());
    let cluster = Arc::new(FakeCluster { hosts_accounts, forwarded: Mutex::new(Vec::new()) });
    let services = Arc::new(AdminServices {
        directory,
        store,
        queue,
        main_domain: main,
        cluster: Some(cluster.clone() as Arc<dyn ClusterAdmin>),
        link_secret: None,
        metrics_from: net::TrustedProxies::default(),
        admin_pages: Default::default(),
    });
    Fixture { _dir: dir, services, cluster }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn call(f: &Fixture, login: (&str, &str), method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut request = Request::builder().method(method).uri(path).header(AUTHORIZATION, basic(login.0, login.1));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
    let response = admin_router(f.services.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const ADMIN: (&str, &str) = ("postmaster", "secret");

#[tokio::test]
async fn account_calls_run_on_the_accounts_host() {
    let f = fixture(true).await;
    let (status, body) = call(&f, ADMIN, "GET", "/api/v1/accounts/remote1%40shared.test", None).await;
    assert_eq!((status, body.as_str()), (201, r#"{"from":"sv2.test"}"#));
    let (status, _) =
        call(&f, ADMIN, "PUT", "/api/v1/accounts/remote2@shared.test/password", Some(r#"{"password":"x"}"#)).await;
    assert_eq!(status, 201);
    let forwarded = f.cluster.forwarded.lock().unwrap().clone();
    assert_eq!(forwarded.len(), 2);
    assert_eq!(forwarded[0].0, "sv2.test");
    assert_eq!(
        forwarded[0].1,
        ApiCall { method: "GET".into(), path: "/api/v1/accounts/remote1%40shared.test".into(), body: None }
    );
    assert_eq!(forwarded[1].1.method, "PUT");
    assert_eq!(forwarded[1].1.body.as_deref(), Some(r#"{"password":"x"}"#));
}

#[tokio::test]
async fn an_account_hosted_here_is_served_here() {
    let f = fixture(true).await;
    let (status, body) = call(&f, ADMIN, "GET", "/api/v1/accounts/postmaster", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("postmaster@sv1.test"), "{body}");
    assert!(f.cluster.forwarded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_host_is_a_temporary_failure() {
    let f = fixture(true).await;
    let (status, body) = call(&f, ADMIN, "GET", "/api/v1/accounts/down@shared.test", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot be found now"), "{body}");
}

#[tokio::test]
async fn a_new_account_goes_to_the_server_it_names() {
    let f = fixture(true).await;
    let new = r#"{"name":"carol@shared.test","password":"pw","server":"sv2.test"}"#;
    let (status, _) = call(&f, ADMIN, "POST", "/api/v1/accounts", Some(new)).await;
    assert_eq!(status, 201);
    assert_eq!(f.cluster.forwarded.lock().unwrap()[0].1.body.as_deref(), Some(new));

    let unknown = r#"{"name":"carol@shared.test","password":"pw","server":"sv9.test"}"#;
    let (status, body) = call(&f, ADMIN, "POST", "/api/v1/accounts", Some(unknown)).await;
    assert_eq!(status, 400);
    assert!(body.contains("sv9.test is not a member"), "{body}");

    // Named as this member, or not named on a backend: made here.
    let here = r#"{"name":"dave","password":"pw","server":"sv1.test"}"#;
    let (status, body) = call(&f, ADMIN, "POST", "/api/v1/accounts", Some(here)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(&f, ADMIN, "POST", "/api/v1/accounts", Some(r#"{"name":"erin","password":"pw"}"#)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(f.cluster.forwarded.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_frontend_asks_which_backend_hosts_a_new_account() {
    let f = fixture(false).await;
    let (status, body) = call(&f, ADMIN, "POST", "/api/v1/accounts", Some(r#"{"name":"erin","password":"pw"}"#)).await;
    assert_eq!(status, 400);
    assert!(body.contains("keeps no accounts"), "{body}");
}

#[tokio::test]
async fn any_call_can_be_sent_to_a_named_member() {
    let f = fixture(true).await;
    let (status, _) = call(&f, ADMIN, "GET", "/api/v1/cluster/members/sv2.test/queue?limit=5", None).await;
    assert_eq!(status, 201);
    let forwarded = f.cluster.forwarded.lock().unwrap().clone();
    assert_eq!(forwarded[0].0, "sv2.test");
    assert_eq!(forwarded[0].1.path, "/api/v1/queue?limit=5");

    // This member by its own name: run here, without a hop.
    let (status, body) = call(&f, ADMIN, "GET", "/api/v1/cluster/members/sv1.test/domains", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sv1.test"), "{body}");

    let (status, _) = call(&f, ADMIN, "GET", "/api/v1/cluster/members/sv9.test/domains", None).await;
    assert_eq!(status, 404);

    let (status, body) = call(&f, ADMIN, "GET", "/api/v1/cluster/members", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("127.0.0.3:4000"), "{body}");
}

#[tokio::test]
async fn another_members_postmaster_administers_and_nobody_else() {
    let f = fixture(true).await;
    let (status, _) = call(&f, ("postmaster@sv2.test", "other"), "GET", "/api/v1/domains", None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&f, ("postmaster@sv2.test", "wrong"), "GET", "/api/v1/domains", None).await;
    assert_eq!(status, 401);
    // Forwarding happens only after the login is checked.
    let (status, _) = call(&f, ("postmaster", "wrong"), "GET", "/api/v1/accounts/remote1@shared.test", None).await;
    assert_eq!(status, 401);
    assert!(f.cluster.forwarded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_forwarded_call_runs_without_login_and_is_never_sent_on() {
    let f = fixture(true).await;
    // remote1 would be forwarded by the public router; run locally it is
    // looked up here and simply not found.
    let answer = call_local(
        f.services.clone(),
        ApiCall { method: "GET".into(), path: "/api/v1/accounts/remote1@shared.test".into(), body: None },
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert!(f.cluster.forwarded.lock().unwrap().is_empty());

    let answer =
        call_local(f.services.clone(), ApiCall { method: "GET".into(), path: "/etc/passwd".into(), body: None }).await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn quota_calls_go_to_the_host_and_forwarded_bodies_are_bounded() {
    let f = fixture(true).await;
    let (status, _) = call(&f, ADMIN, "GET", "/api/v1/accounts/remote1@shared.test/quota", None).await;
    assert_eq!(status, 201, "the fake host's answer");
    let forwarded = f.cluster.forwarded.lock().unwrap().clone();
    assert_eq!(forwarded[0].1.path, "/api/v1/accounts/remote1@shared.test/quota");
    // A body too big to forward is refused here, as JSON.
    let huge = format!(r#"{{"quota_bytes": 1, "pad": "{}"}}"#, "x".repeat(MAX_FORWARDED_BODY));
    let (status, body) = call(&f, ADMIN, "PUT", "/api/v1/accounts/remote1@shared.test/quota", Some(&huge)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    assert_eq!(f.cluster.forwarded.lock().unwrap().len(), 1);
    // A call run here for another member gets this member's body limit.
    let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(crate::api::MAX_BODY));
    let answer = call_local(
        f.services.clone(),
        ApiCall { method: "POST".into(), path: "/api/v1/domains".into(), body: Some(big) },
    )
    .await;
    assert_eq!(answer.status, 413, "{}", answer.body);
}

#[tokio::test]
async fn a_member_reports_its_own_figures_to_a_call_over_the_link() {
    let f = fixture(true).await;
    let call = ApiCall { method: "GET".into(), path: crate::api::server::PATH.into(), body: None };
    let answer = call_local(f.services.clone(), call).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let figures: crate::api::server::ServerStatus = serde_json::from_str(&answer.body).unwrap();
    assert_eq!((figures.name.as_str(), figures.queue_messages), ("sv1.test", 0));
    assert!(f.cluster.forwarded.lock().unwrap().is_empty(), "answered here, not sent on");
}

#[test]
fn a_members_own_figures_replace_what_others_guessed_but_not_what_it_did_not_say() {
    use crate::api::server::ServerStatus;
    let mut member = MemberStatus { name: "sv2.test".into(), connections: Some(9), ..MemberStatus::default() };
    let figures = ServerStatus {
        name: "sv2.test".into(),
        role: Some("backend".into()),
        connections: Some([("imap".to_owned(), 2), ("smtp".to_owned(), 1)].into()),
        queue_messages: 4,
        webmail_sessions: Some(1),
    };
    member.apply(&figures);
    assert_eq!((member.role.as_str(), member.connections, member.queue_messages), ("backend", Some(3), Some(4)));
    assert_eq!(member.webmail_sessions, Some(1));
    // Metrics off on that member: the connection count is not invented,
    // and a role already known (a dynamic member's registration) is kept.
    let mut member = MemberStatus { role: "symmetric".into(), ..MemberStatus::default() };
    member.apply(&ServerStatus { queue_messages: 1, connections: None, ..figures });
    assert_eq!((member.role.as_str(), member.connections, member.queue_messages), ("symmetric", None, Some(1)));
}

//! Web mail through a static cluster in a real browser (CM-16, CM-19):
//! a private slapd, two backends and two frontends, each a `rookery serve`
//! process on its own 127.0.26.x address, and a small TCP relay standing
//! in for the site's load balancer (one address, frontend 1 while it
//! lives, then frontend 2), so the browser keeps one origin and its
//! cookies. Frontend 1 is killed with SIGKILL in the middle of a session;
//! the user carries on through frontend 2 without logging in again,
//! because the session lives on the backend and the cookie routes from
//! any frontend. An administrator reaches a backend's admin pages and API
//! through a frontend's `/Cluster/<backend-address>/`. Symmetric members
//! serve their own accounts' web mail and forward the others'.
mod common;

use common::cluster::{Member, Setup, services, start};
use common::web::{deliver, log_in, open, screenshot, screenshots_wanted, send, wait_in_inbox};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use testkit::TestServer;
use testkit::browser::{Browser, DEFAULT_WAIT};
use testkit::slapd::Slapd;

/// `[cluster.services."name"]` with the backend's web mail and admin too.
fn web_services(backend: &TestServer, name: &str) -> String {
    format!(
        "{}web = \"{}\"\nadmin = \"{}\"\n",
        services(backend, name),
        backend.ports.get("webmail"),
        backend.ports.admin()
    )
}

/// The site's load balancer: every connection goes to the first of
/// `targets` that accepts it, bytes copied both ways by two threads.
fn relay(listen: &str, targets: Vec<SocketAddr>) -> SocketAddr {
    let listener = TcpListener::bind(listen).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let target = targets.iter().find_map(|t| TcpStream::connect_timeout(t, Duration::from_secs(2)).ok());
            let Some(server) = target else { continue };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    addr
}

/// Copies `from` to `to` until either end closes, then closes both, so
/// the browser sees at once a connection whose frontend died.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[test]
fn a_web_session_survives_the_loss_of_its_frontend() {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "backend", "127.0.26.2");
    let sv2 = Member::new("sv2.test", "backend", "127.0.26.3");
    let fe1 = Member::new("fe1.test", "frontend", "127.0.26.4");
    let fe2 = Member::new("fe2.test", "frontend", "127.0.26.5");
    let all = [&sv1, &sv2, &fe1, &fe2];
    let backend1 = start(&slapd, &sv1, &all, Setup::default());
    let backend2 = start(&slapd, &sv2, &all, Setup::default());
    let extra = web_services(&backend1, "sv1.test") + &web_services(&backend2, "sv2.test");
    let mut frontend1 = start(&slapd, &fe1, &all, Setup { extra: &extra, ..Setup::default() });
    let frontend2 = start(&slapd, &fe2, &all, Setup { extra: &extra, ..Setup::default() });

    backend1.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    backend1.admin(&["account", "add", "alice@shared.test", "--password", "pw-alice"]).unwrap();
    backend2.admin(&["account", "add", "bob@shared.test", "--password", "pw-bob"]).unwrap();
    deliver(frontend1.ports.smtp(), "alice@shared.test", "First through the cluster", "one");
    deliver(frontend1.ports.smtp(), "alice@shared.test", "Second through the cluster", "two");

    let site = relay("127.0.26.9:0", vec![frontend1.ports.get("webmail"), frontend2.ports.get("webmail")]);
    let base = format!("http://{site}");
    let browser = Browser::start().unwrap();

    // Alice's login goes by her name to her backend (sv1).
    log_in(&browser, &base, "alice@shared.test", "pw-alice");
    let body = open(&browser, &base, "First through the cluster");
    assert!(body.contains("one"), "{body}");

    frontend1.kill();

    // The same session, now through frontend 2: no login page on the way.
    let body = open(&browser, &base, "Second through the cluster");
    assert!(body.contains("two"), "{body}");
    send(&browser, &base, "alice@shared.test, bob@shared.test", "Written after the failover", "still here");
    wait_in_inbox(&browser, &base, "Written after the failover");
    assert!(!browser.current_url().unwrap().contains("/login"));
    common::cluster::wait("bob's copy on his backend", Duration::from_secs(60), || {
        common::cluster::messages(&backend2, "bob@shared.test") == 1
    });

    // Bob logs in through the same site and lands on his own backend.
    let bob = Browser::start().unwrap();
    log_in(&bob, &base, "bob@shared.test", "pw-bob");
    wait_in_inbox(&bob, &base, "Written after the failover");

    // A cookie forged for alice (wrong MAC) is refused by the frontend.
    let (_, cookie) = browser.cookies().unwrap().into_iter().find(|(name, _)| name == "rookery_session").unwrap();
    let forged = format!("{}.{}", cookie.rsplit_once('.').unwrap().0, "Zm9yZ2Vk");
    bob.set_cookie("rookery_session", &forged).unwrap();
    bob.goto(&format!("{base}/mail/INBOX")).unwrap();
    bob.wait_for("form#login", DEFAULT_WAIT).unwrap();

    cluster_admin_through_the_frontend(&browser, &frontend2, &backend1);
}

/// CM-19: `/Cluster/127.0.26.2/` on frontend 2's admin listener is
/// backend 1's admin, for administrators only: HTTP Basic (checked by the
/// frontend in the shared directory), or the frontend's own page login.
fn cluster_admin_through_the_frontend(browser: &Browser, frontend: &TestServer, backend: &TestServer) {
    let admin = format!("http://{}", frontend.ports.admin());
    let (user, password) = ("postmaster@sv1.test".to_owned(), backend.postmaster_password());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    let get = |auth: Option<(&str, &str)>| {
        let mut request = http.get(format!("{admin}/Cluster/127.0.26.2/api/v1/domains"));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        runtime.block_on(async { request.send().await.unwrap() })
    };
    assert_eq!(get(None).status(), 401);
    assert_eq!(get(Some((&user, "wrong"))).status(), 401);
    let answer = get(Some((&user, &password)));
    assert_eq!(answer.status(), 200);
    let domains = runtime.block_on(answer.text()).unwrap();
    assert!(domains.contains("shared.test") && domains.contains("sv1.test"), "{domains}");
    let by_name = http.get(format!("{admin}/Cluster/sv1.test/api/v1/domains")).basic_auth(&user, Some(&password));
    assert_eq!(runtime.block_on(by_name.send()).unwrap().status(), 200);
    let unknown = http.get(format!("{admin}/Cluster/127.0.26.77/api/v1/domains")).basic_auth(&user, Some(&password));
    assert_eq!(runtime.block_on(unknown.send()).unwrap().status(), 404);

    // In the browser: the frontend's admin login, then the backend's pages
    // under the prefix, their links kept under it.
    browser.goto(&format!("{admin}/Cluster/127.0.26.2/admin/domains")).unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();
    browser.fill("form#login input[name=username]", &user).unwrap();
    browser.fill("form#login input[name=password]", &password).unwrap();
    browser.click("form#login button[type=submit]").unwrap();
    browser.wait_for("main#main", DEFAULT_WAIT).unwrap();
    browser.goto(&format!("{admin}/Cluster/127.0.26.2/admin/domains")).unwrap();
    browser.wait_for("table#domains", DEFAULT_WAIT).unwrap();
    let action = browser.attribute("form#domain-add", "action").unwrap().unwrap_or_default();
    assert!(action.ends_with("/Cluster/127.0.26.2/admin/domains"), "{action}");
    if screenshots_wanted() {
        browser.goto(&format!("{admin}/admin/cluster")).unwrap();
        browser.wait_for("table#members", DEFAULT_WAIT).unwrap();
        screenshot(browser, "admin-cluster");
    }
}

/// Symmetric members (CM-8) serve their own accounts' web mail in process
/// and forward the others': through member 2, bob (hosted there) is served
/// by member 2 itself, alice (hosted on member 1) by member 1, which takes
/// a member's forwarded request as its own and never forwards it again.
#[test]
fn a_symmetric_member_serves_its_own_accounts_and_forwards_the_others() {
    let slapd = Slapd::start().unwrap();
    let m1 = Member::new("m1.test", "symmetric", "127.0.26.12");
    let m2 = Member::new("m2.test", "symmetric", "127.0.26.13");
    let all = [&m1, &m2];
    let member1 = start(&slapd, &m1, &all, Setup::default());
    let extra = web_services(&member1, "m1.test");
    let member2 = start(&slapd, &m2, &all, Setup { extra: &extra, ..Setup::default() });
    member1.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    member1.admin(&["account", "add", "alice@shared.test", "--password", "pw-alice"]).unwrap();
    member2.admin(&["account", "add", "bob@shared.test", "--password", "pw-bob"]).unwrap();
    let base = format!("http://{}", member2.ports.get("webmail"));

    let bob = Browser::start().unwrap();
    log_in(&bob, &base, "bob@shared.test", "pw-bob");
    send(&bob, &base, "alice@shared.test", "From bob on m2", "across the cluster");

    let alice = Browser::start().unwrap();
    log_in(&alice, &base, "alice@shared.test", "pw-alice");
    let body = open(&alice, &base, "From bob on m2");
    assert!(body.contains("across the cluster"), "{body}");
    // Her mail is on her host, m1, which served her pages.
    assert_eq!(common::cluster::messages(&member1, "alice@shared.test"), 1);
    let stored = std::fs::read_dir(member2.data_dir().join("accounts/shared.test")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 1, "only bob's account is on m2");
}

/// A dynamic cluster (CM-13): web requests through any member reach the
/// member that has the account open. When that member is killed, the next
/// request waits for its lease to end, as an IMAP login does, and the
/// account opens on the member the browser talks to. The session was kept
/// by the dead member, so the user logs in again (and is told nothing
/// worse than the login page), and finds all the mail.
#[test]
fn web_mail_follows_a_dynamic_account_to_its_new_owner() {
    use common::dynamic::{self, DynMember};
    let slapd = Slapd::start().unwrap();
    let etcd = testkit::etcd::Etcd::start().unwrap();
    let storage = tempfile::tempdir().unwrap();
    let all = [DynMember::named("m1.dc1.test", "127.0.26.21"), DynMember::named("m2.dc1.test", "127.0.26.22")];
    let refs: Vec<&DynMember> = all.iter().collect();
    let mut members: Vec<TestServer> =
        all.iter().map(|me| dynamic::start(&slapd, &etcd, storage.path(), me, &refs, "60s")).collect();
    let account = dynamic::accounts(&members[0], 1).remove(0);
    // Delivered through m1, which opens the account.
    deliver(members[0].ports.smtp(), &account, "Opened on m1", "one");
    let base = format!("http://{}", members[1].ports.get("webmail"));

    let browser = Browser::start().unwrap();
    log_in(&browser, &base, &account, &dynamic::password(&account));
    let body = open(&browser, &base, "Opened on m1");
    assert!(body.contains("one"), "{body}");

    members[0].kill();
    browser.goto(&format!("{base}/mail/INBOX")).unwrap();
    browser.wait_for("form#login", Duration::from_secs(60)).unwrap();
    log_in(&browser, &base, &account, &dynamic::password(&account));
    let body = open(&browser, &base, "Opened on m1");
    assert!(body.contains("one"), "{body}");
    let owner = members[1].admin(&["cluster", "owner", &account]).unwrap();
    assert!(owner.contains("m2.dc1.test"), "{owner}");
}

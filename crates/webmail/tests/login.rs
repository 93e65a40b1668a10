//! Login, logout, CSRF, rate limits and session cookies over real HTTP.

mod common;

use common::*;
use std::time::Duration;
use webmail::config::LoginLimits;
use webmail::{COOKIE_NAME, WebmailConfig};

#[tokio::test(flavor = "multi_thread")]
async fn login_sets_a_signed_http_only_cookie_and_opens_the_inbox() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::new(&server);
    let form = browser.get("/login").await;
    assert!(form.body.contains("<form id=\"login\" method=\"post\" action=\"/login\">"));
    let csrf_cookie = form
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("rookery_csrf="))
        .unwrap()
        .to_owned();
    assert!(
        csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict") && !csrf_cookie.contains("Secure")
    );
    let page =
        browser.post("/login", &[("username", "alice"), ("password", PASSWORD), ("csrf", &csrf_of(&form.body))]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/mail/INBOX")));
    let set = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(COOKIE_NAME))
        .unwrap()
        .to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    let inbox = browser.get("/mail/INBOX").await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.body.contains("alice@example.com") && inbox.body.contains("<form id=\"logout\""));
    assert_eq!(inbox.headers["content-security-policy"], webmail::error::CSP);
    assert_eq!(inbox.headers["x-content-type-options"], "nosniff");
    // Logged in, the login page sends to the inbox.
    assert_eq!(browser.get("/login").await.location.as_deref(), Some("/mail/INBOX"));
    assert_eq!(server.services.sessions.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_account_get_the_same_error() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::new(&server);
    for (user, password) in [(ALICE, "wrong"), ("nobody@example.com", "wrong"), ("not an address!", "x"), (ALICE, "")] {
        let page = browser.login(user, password).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("<p class=\"error\" role=\"alert\">Wrong account name or password.</p>"),
            "{}",
            page.body
        );
        assert!(browser.cookie(COOKIE_NAME).is_none());
    }
    assert!(server.services.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_without_the_form_token_is_forbidden() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::new(&server);
    let form = browser.get("/login").await;
    let csrf = csrf_of(&form.body);
    // Missing field, wrong field, and no cookie (a cross-site form).
    let missing = browser.post("/login", &[("username", ALICE), ("password", PASSWORD)]).await;
    assert_eq!(missing.status, 403);
    let forged = browser.post("/login", &[("username", ALICE), ("password", PASSWORD), ("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    let mut other = Browser::new(&server);
    let no_cookie = other.post("/login", &[("username", ALICE), ("password", PASSWORD), ("csrf", &csrf)]).await;
    assert_eq!(no_cookie.status, 403);
    assert!(server.services.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_are_limited_per_address_with_retry_after() {
    let limits = LoginLimits { per_ip: 3, per_account: 100, window: Duration::from_secs(600), max_tracked: 100 };
    let server = Server::start(WebmailConfig { login_limits: limits, ..WebmailConfig::default() }).await;
    let mut browser = Browser::new(&server);
    for n in 0..3 {
        assert_eq!(browser.login(&format!("user{n}@example.com"), "wrong").await.status, 200);
    }
    // Even the right password is refused now, before it is checked.
    let page = browser.login(ALICE, PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    let retry: u64 = page.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry));
    assert!(page.body.contains("Too many failed logins"));
    assert!(server.services.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_are_limited_per_account_from_any_address() {
    // The server trusts 127.0.0.1 as a proxy, so each request can claim
    // its own client address.
    let limits = LoginLimits { per_ip: 100, per_account: 2, window: Duration::from_secs(600), max_tracked: 100 };
    let proxies = net::TrustedProxies::parse(["127.0.0.1"]).unwrap();
    let config = WebmailConfig { login_limits: limits, ..WebmailConfig::default() };
    let server = Server::start_with(config, proxies, None).await;
    let mut browser = Browser::new(&server);
    let form = browser.get("/login").await;
    let csrf = csrf_of(&form.body);
    let mut statuses = Vec::new();
    for n in 1..=3 {
        let response = browser
            .http
            .post(server.url("/login"))
            .header("cookie", format!("rookery_csrf={csrf}"))
            .header("x-forwarded-for", format!("10.0.0.{n}"))
            .form(&[("username", ALICE), ("password", "wrong"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_tampered_cookies_get_the_login_page() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    let good = browser.cookie(COOKIE_NAME).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let bob = base64_url("bob@example.com");
    let forged = [
        "garbage".to_owned(),
        format!("{bob}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}A", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], base64_url("guessed-id"), parts[2]),
        // Correctly signed by another key.
        webmail::SessionCookie { account: account(ALICE), id: "x".into() }.encode(&webmail::CookieKey::derive(b"k")),
    ];
    for value in forged {
        browser.set_cookie(COOKIE_NAME, &value);
        let page = browser.get("/mail/INBOX").await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")), "{value}");
    }
    browser.set_cookie(COOKIE_NAME, &good);
    assert_eq!(browser.get("/mail/INBOX").await.status, 200);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_and_a_replayed_cookie_gets_the_login_page() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    let inbox = browser.get("/mail/INBOX").await;
    let old_cookie = browser.cookie(COOKIE_NAME).unwrap();
    // Without the token logout is refused and the session goes on.
    assert_eq!(browser.post("/logout", &[("csrf", "wrong")]).await.status, 403);
    assert_eq!(browser.get("/mail/INBOX").await.status, 200);
    let page = browser.post("/logout", &[("csrf", &csrf_of(&inbox.body))]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")));
    assert!(browser.cookie(COOKIE_NAME).is_none(), "the cookie is cleared");
    browser.set_cookie(COOKIE_NAME, &old_cookie);
    let replay = browser.get("/mail/INBOX").await;
    assert_eq!((replay.status, replay.location.as_deref()), (303, Some("/login")));
    let replay_post = browser.post("/logout", &[("csrf", &csrf_of(&inbox.body))]).await;
    assert_eq!(replay_post.location.as_deref(), Some("/login"));
    assert!(server.services.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_survive_a_restart_but_logouts_do_not_come_back() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut kept = Browser::logged_in(&server).await;
    let mut ended = Browser::logged_in(&server).await;
    let inbox = ended.get("/mail/INBOX").await;
    ended.post("/logout", &[("csrf", &csrf_of(&inbox.body))]).await;
    let ended_cookie = server.services.sessions.len();
    assert_eq!(ended_cookie, 1);
    let old = kept.cookie(COOKIE_NAME).unwrap();
    let server = Server::start_with(WebmailConfig::default(), net::TrustedProxies::default(), Some(server)).await;
    kept.base = server.url("");
    assert_eq!(kept.get("/mail/INBOX").await.status, 200);
    let mut replay = Browser::new(&server);
    replay.set_cookie(COOKIE_NAME, &old);
    assert_eq!(replay.get("/mail/INBOX").await.status, 200, "the same cookie still works");
    assert_eq!(server.services.sessions.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_are_secure_when_a_trusted_proxy_says_https() {
    let proxies = net::TrustedProxies::parse(["127.0.0.1"]).unwrap();
    let server = Server::start_with(WebmailConfig::default(), proxies, None).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = http.get(server.url("/login")).header("x-forwarded-proto", "https").send().await.unwrap();
    let set = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("; Secure"), "{set}");
    let csrf = csrf_of(&form.text().await.unwrap());
    let token = set.split(';').next().unwrap().to_owned();
    let page = http
        .post(server.url("/login"))
        .header("x-forwarded-proto", "https")
        .header("cookie", token)
        .form(&[("username", ALICE), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    let session = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(COOKIE_NAME))
        .unwrap()
        .to_owned();
    assert!(session.contains("; Secure"), "{session}");
}

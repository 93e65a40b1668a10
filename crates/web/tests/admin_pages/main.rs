//! The web admin pages over a real loopback listener: logging in, the
//! session cookie, CSRF refusals, escaping, the forwarding header and
//! prefix of cluster members, and the cluster picture.

mod cluster;
mod fixture;
mod pages;

use fixture::{PASSWORD, Server, cookie, csrf_of, location, set_cookie};
use types::DomainName;

#[tokio::test]
async fn logging_in_gives_a_strict_http_only_session_that_logout_ends() {
    let server = Server::start(None).await;
    let (status, _) = server.get("/admin/domains", "none").await;
    assert_eq!(status, 303, "no session: the login page");
    let (csrf_cookie, csrf) = server.login_form().await;
    let response = server
        .http
        .post(server.url("/admin/login"))
        .header("cookie", format!("rookery_admin_csrf={csrf_cookie}"))
        .form(&[("username", "postmaster"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/domains");
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("rookery_admin="))
        .unwrap();
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"), "{header}");
    let session = set_cookie(&response, "rookery_admin").unwrap();

    let response =
        server.http.get(server.url("/admin/domains")).header("cookie", cookie(&session)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("example.test"), "{html}");

    let csrf = csrf_of(&html);
    let (status, location) = server.post("/admin/logout", &session, &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/admin/login"));
    let (status, _) = server.get("/admin/domains", &session).await;
    assert_eq!(status, 303, "the session ended at logout: replaying its cookie gets the login page");
}

#[tokio::test]
async fn wrong_passwords_and_non_administrators_are_refused_then_rate_limited() {
    let server = Server::start(None).await;
    let (csrf_cookie, csrf) = server.login_form().await;
    let attempt = |username: &'static str, password: &'static str| {
        let (csrf_cookie, csrf) = (csrf_cookie.clone(), csrf.clone());
        let server = &server;
        async move {
            let response = server
                .http
                .post(server.url("/admin/login"))
                .header("cookie", format!("rookery_admin_csrf={csrf_cookie}"))
                .form(&[("username", username), ("password", password), ("csrf", &csrf)])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry = response.headers().get("retry-after").is_some();
            let session = set_cookie(&response, "rookery_admin");
            (status, retry, session, response.text().await.unwrap())
        }
    };
    let (status, _, session, html) = attempt("postmaster", "wrong").await;
    assert_eq!((status, session), (401, None));
    assert!(html.contains("role=\"alert\""), "{html}");
    // A real account with its right password, but not an administrator.
    let (status, _, session, _) = attempt("user", "user-password").await;
    assert_eq!((status, session), (401, None));
    for _ in 0..3 {
        assert_eq!(attempt("postmaster", "wrong").await.0, 401);
    }
    let (status, retry, session, _) = attempt("postmaster", PASSWORD).await;
    assert_eq!((status, retry, session), (429, true, None), "five failures: even the right password waits");
}

#[tokio::test]
async fn a_login_without_its_csrf_token_is_refused() {
    let server = Server::start(None).await;
    let (csrf_cookie, csrf) = server.login_form().await;
    for (cookie_value, field) in [("", csrf.as_str()), (csrf_cookie.as_str(), ""), (csrf_cookie.as_str(), "forged")] {
        let response = server
            .http
            .post(server.url("/admin/login"))
            .header("cookie", format!("rookery_admin_csrf={cookie_value}"))
            .form(&[("username", "postmaster"), ("password", PASSWORD), ("csrf", field)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(set_cookie(&response, "rookery_admin"), None);
    }
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (_, html) = server.get("/admin/domains", &session).await;
    let csrf = csrf_of(&html);
    let other = server.login().await;
    let (_, other_html) = server.get("/admin/domains", &other).await;
    let other_csrf = csrf_of(&other_html);
    let new = DomainName::parse("new.test").unwrap();
    for form in [vec![("name", "new.test")], vec![("name", "new.test"), ("csrf", "forged")], {
        vec![("name", "new.test"), ("csrf", other_csrf.as_str())]
    }] {
        let (status, _) = server.post("/admin/domains", &session, &form).await;
        assert_eq!(status, 403);
        assert!(!server.services.directory.has_domain(&new).await.unwrap(), "nothing was added");
    }
    let (status, _) = server.post("/admin/domains/example.test/remove", &session, &[]).await;
    assert_eq!(status, 403);
    let (status, location) = server.post("/admin/domains", &session, &[("name", "new.test"), ("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/admin/domains?done=added"));
    assert!(server.services.directory.has_domain(&new).await.unwrap());
}

#[tokio::test]
async fn forged_and_tampered_session_cookies_are_refused() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (id, mac) = session.split_once('.').unwrap();
    let mut tampered_id = id.to_owned();
    tampered_id.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
    for forged in [
        "".to_owned(),
        "garbage".to_owned(),
        id.to_owned(),
        format!("{id}.AAAA"),
        format!("{tampered_id}.{mac}"),
        format!("{}.{mac}", "A".repeat(43)),
        "x".repeat(10_000),
    ] {
        let (status, _) = server.get("/admin/domains", &forged).await;
        assert_eq!(status, 303, "{forged:.40}");
        let (status, _) = server.post("/admin/domains", &forged, &[("name", "x.test"), ("csrf", "x")]).await;
        assert_eq!(status, 303);
    }
    assert_eq!(server.get("/admin/domains", &session).await.0, 200, "the real cookie still works");
}

/// The session cookie is `Secure` when the browser is on TLS, which only a
/// cluster member in front of this one can say (`X-Forwarded-Proto`).
#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_member_says_the_client_is_on_tls() {
    for (trusted, secure) in [(true, true), (false, false)] {
        let members = if trusted { vec!["127.0.0.1/32"] } else { vec!["127.0.0.9/32"] };
        let server = Server::start_trusting(None, net::TrustedProxies::parse(members).unwrap()).await;
        let (csrf_cookie, csrf) = server.login_form().await;
        let response = server
            .http
            .post(server.url("/admin/login"))
            .header("cookie", format!("rookery_admin_csrf={csrf_cookie}"))
            .header("x-forwarded-proto", "https")
            .form(&[("username", "postmaster"), ("password", PASSWORD), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let header = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("rookery_admin="))
            .unwrap();
        assert_eq!(header.contains("; Secure"), secure, "trusted: {trusted}: {header}");
    }
}

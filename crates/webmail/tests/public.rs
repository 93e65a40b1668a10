//! The public part a frontend serves itself: the login form, static files,
//! and a 303 to /login for anything else.

use std::sync::Arc;
use types::DomainName;
use webmail::{PublicServices, public_router};

#[tokio::test(flavor = "multi_thread")]
async fn public_router_serves_login_and_static_and_sends_the_rest_to_login() {
    let services = Arc::new(PublicServices {
        main_domain: DomainName::parse("example.com").unwrap(),
        trusted_proxies: net::TrustedProxies::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = public_router(services).into_make_service_with_connect_info::<webmail::PeerInfo>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = http.get(format!("http://{addr}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.headers()["set-cookie"].to_str().unwrap().starts_with("rookery_csrf="));
    assert_eq!(login.headers()["content-security-policy"], webmail::error::CSP);
    let body = login.text().await.unwrap();
    assert!(body.contains("<form id=\"login\" method=\"post\" action=\"/login\">"));
    assert!(body.contains("<html lang=\"en\">") && body.contains("<label for=\"username\">"));
    let css = http.get(format!("http://{addr}/static/webmail.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    for path in ["/mail/INBOX", "/settings", "/anything/else"] {
        let response = http.get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!((response.status().as_u16(), response.headers()["location"].to_str().unwrap()), (303, "/login"));
    }
    // What a frontend answers for an unknown account: the same page as a wrong password.
    let failed = webmail::failed_login_response();
    assert_eq!(failed.status(), 200);
    assert!(failed.headers()["set-cookie"].to_str().unwrap().starts_with("rookery_csrf="));
    let body = axum::body::to_bytes(failed.into_body(), 1 << 20).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("<p class=\"error\" role=\"alert\">Wrong account name or password.</p>"), "{body}");
}

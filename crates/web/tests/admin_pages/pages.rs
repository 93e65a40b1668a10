//! Each page renders, acts through the API's rules, and escapes what it shows.

use crate::fixture::{Server, csrf_of};
use types::{AccountName, DomainName};

const MARKUP: &str = "<script>alert(1)</script>";

/// No markup of the input reached the page as markup, and its `<` is there, escaped.
fn assert_escaped(html: &str) {
    assert!(!html.contains("<script"), "markup reached the page unescaped: {html}");
    assert!(html.contains("&#60;"), "the input is not shown: {html}");
}

/// The whole input, escaped, is on the page (where it is shown in full).
fn assert_shown_escaped(html: &str) {
    assert_escaped(html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
}

#[tokio::test]
async fn domains_are_listed_added_and_removed_and_bad_names_are_shown_escaped() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (status, html) = server.get("/admin/domains", &session).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    assert!(html.contains("<th scope=\"row\"><a href=\"/admin/domains/example%2Etest/accounts\">example.test</a>"));
    let (status, html) = server.post("/admin/domains", &session, &[("name", MARKUP), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert_escaped(&html);
    assert!(html.contains("role=\"alert\""));
    let (status, _) = server.post("/admin/domains", &session, &[("name", "gone.test"), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (status, location) = server.post("/admin/domains/gone.test/remove", &session, &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/admin/domains?done=removed"));
    assert!(!server.services.directory.has_domain(&DomainName::parse("gone.test").unwrap()).await.unwrap());
    // The API's own rule: the main domain stays.
    let (status, html) = server.post("/admin/domains/example.test/remove", &session, &[("csrf", &csrf)]).await;
    assert_eq!(status, 409);
    assert!(html.contains("main domain"), "{html}");
}

#[tokio::test]
async fn accounts_are_added_shown_with_usage_and_quota_changed_and_removed() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (status, html) = server.get("/admin/domains/example.test/accounts", &session).await;
    assert_eq!(status, 200);
    assert!(html.contains("postmaster@example.test") && html.contains("unlimited"), "{html}");
    let csrf = csrf_of(&html);
    let form =
        [("domain", "example.test"), ("name", "alice"), ("password", "pw1"), ("quota_mib", "10"), ("csrf", &csrf)];
    let (status, location) = server.post("/admin/accounts", &session, &form).await;
    assert_eq!((status, location.as_str()), (303, "/admin/domains/example%2Etest/accounts?done=added"));
    let (_, html) = server.get(&location, &session).await;
    assert!(html.contains("alice@example.test") && html.contains("10.0 MiB") && html.contains("0 bytes"), "{html}");
    assert!(html.contains("Added."));

    let alice = AccountName::parse("alice@example.test", None).unwrap();
    let path = "/admin/accounts/alice%40example.test";
    let (status, _) = server.post(&format!("{path}/password"), &session, &[("password", "pw2"), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(server.services.directory.authenticate(&alice, "pw2").await.unwrap().is_some());
    let (status, _) = server.post(&format!("{path}/quota"), &session, &[("quota_mib", "5"), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(server.services.directory.account(&alice).await.unwrap().unwrap().quota_bytes, Some(5 << 20));
    let (status, html) =
        server.post(&format!("{path}/quota"), &session, &[("quota_mib", MARKUP), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert_escaped(&html);
    let (status, _) = server.post(&format!("{path}/remove"), &session, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(server.services.directory.account(&alice).await.unwrap().is_none());
    let form = [("domain", "example.test"), ("name", MARKUP), ("password", "pw"), ("csrf", &csrf)];
    let (status, html) = server.post("/admin/accounts", &session, &form).await;
    assert_eq!(status, 400);
    assert_escaped(&html);
    let (status, html) = server.get("/admin/domains/nowhere.test/accounts", &session).await;
    assert_eq!(status, 404);
    assert!(html.contains("unknown domain"), "{html}");
}

#[tokio::test]
async fn aliases_are_added_listed_and_removed_and_bad_ones_shown_escaped() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (status, html) = server.get("/admin/aliases", &session).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let form = [("alias", "info@example.test"), ("target", "user@example.test"), ("csrf", &csrf)];
    let (status, location) = server.post("/admin/aliases", &session, &form).await;
    assert_eq!((status, location.as_str()), (303, "/admin/aliases?done=added&domain=example%2Etest"));
    let (_, html) = server.get("/admin/aliases?domain=example.test", &session).await;
    assert!(html.contains("info@example.test") && html.contains("user@example.test"), "{html}");
    let form = [("alias", MARKUP), ("target", "user@example.test"), ("csrf", &csrf)];
    let (status, html) = server.post("/admin/aliases", &session, &form).await;
    assert_eq!(status, 400);
    assert_escaped(&html);
    let (status, html) =
        server.get(&format!("/admin/aliases?domain={}", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"), &session).await;
    assert_eq!(status, 400);
    assert_shown_escaped(&html);
    let (status, _) = server.post("/admin/aliases/info%40example.test/remove", &session, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let info = AccountName::parse("info@example.test", None).unwrap();
    assert!(server.services.directory.resolve(&info).await.unwrap().is_none());
}

#[tokio::test]
async fn the_queue_is_listed_shown_and_acted_on_with_markup_in_addresses_escaped() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let envelope = queue::Envelope {
        mail_from: format!("{MARKUP}@evil.test"),
        recipients: vec![format!("\"{MARKUP}\"@remote.test")],
        received_at: 1_700_000_000,
        authenticated_as: None,
        smtputf8: false,
    };
    let id =
        server.services.queue.enqueue(envelope, bytes::Bytes::from_static(b"Subject: x\r\n\r\nhi\r\n")).await.unwrap();
    let (status, html) = server.get("/admin/queue", &session).await;
    assert_eq!(status, 200);
    assert_shown_escaped(&html);
    assert!(html.contains(&format!("/admin/queue/{id}")) && html.contains("1 pending"), "{html}");
    let (status, html) = server.get(&format!("/admin/queue/{id}"), &session).await;
    assert_eq!(status, 200);
    assert_shown_escaped(&html);
    let csrf = csrf_of(&html);
    let (status, location) = server.post(&format!("/admin/queue/{id}/hold"), &session, &[("csrf", &csrf)]).await;
    assert_eq!((status, location), (303, format!("/admin/queue/{id}?done=hold")));
    let (_, html) = server.get(&format!("/admin/queue/{id}"), &session).await;
    assert!(html.contains("held"), "{html}");
    let (status, _) = server.post(&format!("/admin/queue/{id}/delete"), &session, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(server.services.queue.get(id).is_none());
    assert_eq!(server.get(&format!("/admin/queue/{id}"), &session).await.0, 404);
    assert_eq!(server.get("/admin/queue/not-hex", &session).await.0, 404);
}

#[tokio::test]
async fn the_style_sheet_and_script_are_served_by_the_server() {
    let server = Server::start(None).await;
    let response = server.http.get(server.url("/admin/static/cluster.js")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(response.text().await.unwrap().contains("setTimeout(refresh, 2000)"));
    assert_eq!(server.http.get(server.url("/admin/static/admin.css")).send().await.unwrap().status(), 200);
    assert_eq!(server.http.get(server.url("/admin/static/..%2Fsecret")).send().await.unwrap().status(), 404);
}

//! Pages reached through a frontend (the signed forwarding header and the
//! path prefix it may bring) and the cluster picture.

use crate::fixture::{FakeCluster, LINK_SECRET, Server, csrf_of, location};
use std::sync::Arc;
use std::time::SystemTime;
use types::{AccountName, DomainName};
use web::forwarded_admin;

const PREFIX: &str = "/Cluster/127.0.0.3";

fn vouched(secret: &[u8], admin: &str) -> String {
    forwarded_admin::sign(secret, &AccountName::parse(admin, None).unwrap(), SystemTime::now())
}

fn cluster() -> Arc<FakeCluster> {
    Arc::new(FakeCluster {
        members: vec![
            ("f1.test".into(), "frontend", true),
            ("f2.test".into(), "frontend", false),
            ("b1.test".into(), "backend", true),
            ("<b>b2</b>.test".into(), "backend", false),
        ],
    })
}

#[tokio::test]
async fn a_members_signed_header_admits_the_administrator_and_its_prefix_is_honoured() {
    let server = Server::start(None).await;
    let header = vouched(LINK_SECRET, "postmaster@example.test");
    let response = server
        .http
        .get(server.url("/admin/domains"))
        .header(forwarded_admin::HEADER, &header)
        .header("x-forwarded-prefix", PREFIX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("href=\"{PREFIX}/admin/static/admin.css\"")), "{html}");
    assert!(html.contains(&format!("action=\"{PREFIX}/admin/domains\"")), "{html}");
    // Its forms carry a token derived for it, and a POST lands back under the prefix.
    let csrf = csrf_of(&html);
    let response = server
        .http
        .post(server.url("/admin/domains"))
        .header(forwarded_admin::HEADER, &header)
        .header("x-forwarded-prefix", PREFIX)
        .form(&[("name", "via-frontend.test"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{PREFIX}/admin/domains?done=added"));
    assert!(server.services.directory.has_domain(&DomainName::parse("via-frontend.test").unwrap()).await.unwrap());
    // The login page sends an administrator already vouched for on, under the prefix.
    let response = server
        .http
        .get(server.url("/admin/login"))
        .header(forwarded_admin::HEADER, &header)
        .header("x-forwarded-prefix", PREFIX)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), format!("{PREFIX}/admin/domains"));
    // The JSON API takes the same header.
    let response =
        server.http.get(server.url("/api/v1/domains")).header(forwarded_admin::HEADER, &header).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_prefix_is_ignored_without_a_members_signature() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let response = server
        .http
        .get(server.url("/admin/domains"))
        .header("cookie", format!("rookery_admin={session}"))
        .header("x-forwarded-prefix", "/evil")
        .send()
        .await
        .unwrap();
    let html = response.text().await.unwrap();
    assert!(!html.contains("/evil"), "a browser's own prefix is not believed: {html}");
    assert!(html.contains("href=\"/admin/static/admin.css\""));
}

#[tokio::test]
async fn forged_stale_or_non_administrator_headers_are_refused() {
    let server = Server::start(None).await;
    let stale = forwarded_admin::sign(
        LINK_SECRET,
        &AccountName::parse("postmaster@example.test", None).unwrap(),
        SystemTime::now() - std::time::Duration::from_secs(120),
    );
    for header in [
        vouched(b"another cluster's secret", "postmaster@example.test"),
        stale,
        vouched(LINK_SECRET, "user@example.test"),
        "postmaster@example.test;0;AAAA".to_owned(),
    ] {
        let response = server
            .http
            .get(server.url("/admin/domains"))
            .header(forwarded_admin::HEADER, &header)
            .header("x-forwarded-prefix", PREFIX)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{header}");
        assert_eq!(location(&response), "/admin/login", "no prefix for a refused request");
        let response = server
            .http
            .get(server.url("/api/v1/domains"))
            .header(forwarded_admin::HEADER, &header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
}

#[tokio::test]
async fn the_cluster_picture_draws_every_member_by_role_with_its_state_in_words() {
    let server = Server::start(Some(cluster())).await;
    let session = server.login().await;
    let response = server
        .http
        .get(server.url("/admin/cluster.svg"))
        .header("cookie", format!("rookery_admin={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    for expected in ["f1.test", "f2.test", "b1.test", "Frontends", "Backends", "★ controller", "✕ DEAD", "● live"]
    {
        assert!(svg.contains(expected), "{expected} missing: {svg}");
    }
    assert!(svg.contains("accounts: 12") && svg.contains("connections: 100"), "{svg}");
    // This member's own queue size is filled in where the status has none.
    assert!(svg.contains("queue: 0"), "{svg}");
    assert!(!svg.contains("<b>") && svg.contains("&#60;b&#62;b2&#60;/b&#62;.test"), "names are escaped: {svg}");
    let y = |name: &str| {
        let at = svg.find(&format!(">{name}</text>")).unwrap();
        let text = &svg[..at];
        let y_at = text.rfind(" y=\"").unwrap() + 4;
        text[y_at..].split('"').next().unwrap().parse::<u32>().unwrap()
    };
    assert!(y("f1.test") < y("b1.test"), "frontends are drawn above backends");

    let (status, html) = server.get("/admin/cluster", &session).await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg") && html.contains("/admin/static/cluster.js") && html.contains("id=\"refresh\""));
    assert!(html.contains("data-src=\"/admin/cluster.svg\""));
    assert!(!html.contains("<b>b2"), "{html}");
    // Without a session there is no picture.
    let response = server.http.get(server.url("/admin/cluster.svg")).send().await.unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn a_single_server_is_drawn_as_one_box() {
    let server = Server::start(None).await;
    let session = server.login().await;
    let (status, svg) = server.get("/admin/cluster.svg", &session).await;
    assert_eq!(status, 200);
    assert!(svg.contains("example.test") && svg.contains("single server") && svg.contains("● live"), "{svg}");
}

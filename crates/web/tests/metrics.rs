//! `GET /metrics`: Prometheus text, open to loopback and the cluster's
//! allow-listed members, HTTP Basic as an administrator for anyone else.

mod common;

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use base64::Engine;
use common::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

/// `/metrics` as asked from `peer` (the router sees the address the
/// listener would have put there), with an optional Basic login.
async fn scrape_from(api: &Api, peer: &str, login: Option<(&str, &str)>) -> (u16, String) {
    let mut request = Request::builder().uri("/metrics");
    if let Some((user, password)) = login {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header("authorization", format!("Basic {token}"));
    }
    let mut request = request.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = web::admin_router(api.services.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn loopback_scrapes_prometheus_text_over_a_real_listener() {
    web::metrics::install().unwrap();
    let api = Api::start().await;
    let response = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE rookery_queue_messages gauge"), "{text}");
    assert!(text.contains("rookery_queue_messages 0"), "{text}");
    assert!(text.contains("# HELP rookery_queue_messages Messages in the queue"), "{text}");
}

#[tokio::test]
async fn others_need_an_administrator_unless_allow_listed() {
    web::metrics::install().unwrap();
    let api = Api::start_with(net::TrustedProxies::parse(["10.9.0.0/16"]).unwrap()).await;
    let (status, body) = scrape_from(&api, "192.0.2.7:4000", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = scrape_from(&api, "192.0.2.7:4000", Some(("postmaster", "wrong"))).await;
    assert_eq!(status, 401);
    let (status, body) = scrape_from(&api, "192.0.2.7:4000", Some(("postmaster", common::PASSWORD))).await;
    assert_eq!(status, 200);
    assert!(body.contains("rookery_queue_messages"), "{body}");
    // A cluster member on the allow-list, and loopback in IPv6 form.
    assert_eq!(scrape_from(&api, "10.9.3.4:4000", None).await.0, 200);
    assert_eq!(scrape_from(&api, "[::1]:4000", None).await.0, 200);
    assert_eq!(scrape_from(&api, "[::ffff:127.0.0.1]:4000", None).await.0, 200);
    assert_eq!(scrape_from(&api, "10.8.0.1:4000", None).await.0, 401);
}

//! The JSON admin API over a real listener: every resource's calls, and
//! bad input answered with `{"error": ...}` and the right status.

mod common;

use common::{Api, answer, assert_error};
use serde_json::json;
use types::AccountName;

#[tokio::test]
async fn domains_accounts_quotas_and_aliases_round_trip() {
    let api = Api::start().await;
    assert_eq!(api.call("POST", "/api/v1/domains", Some(json!({ "name": "shop.test" }))).await.0, 201);
    assert_error(&api.call("POST", "/api/v1/domains", Some(json!({ "name": "shop.test" }))).await, 409);
    let (status, domains) = api.call("GET", "/api/v1/domains", None).await;
    assert_eq!(status, 200);
    assert!(domains.as_array().unwrap().iter().any(|d| d["name"] == "shop.test"), "{domains}");

    let new = json!({ "name": "ann@shop.test", "password": "pw1", "quota_bytes": 1_000_000 });
    let (status, record) = api.call("POST", "/api/v1/accounts", Some(new)).await;
    assert_eq!((status, &record["name"]), (201, &json!("ann@shop.test")));
    let ann = AccountName::parse("ann@shop.test", None).unwrap();
    let account = api.services.store.account(&ann).await.unwrap();
    let message = bytes::Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n");
    account.append("INBOX", message.clone(), Vec::new(), 0, None).await.unwrap();

    let (status, quota) = api.call("GET", "/api/v1/accounts/ann@shop.test/quota", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        quota,
        json!({ "account": "ann@shop.test", "quota_bytes": 1_000_000,
        "used_bytes": message.len(), "messages": 1 })
    );
    let (status, _) =
        api.call("PUT", "/api/v1/accounts/ann@shop.test/quota", Some(json!({ "quota_bytes": null }))).await;
    assert_eq!(status, 204);
    let (_, quota) = api.call("GET", "/api/v1/accounts/ann%40shop.test/quota", None).await;
    assert_eq!(quota["quota_bytes"], json!(null));

    let (status, list) = api.call("GET", "/api/v1/domains/shop.test/accounts?usage=true", None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "ann@shop.test");
    assert_eq!((list[0]["used_bytes"].as_u64(), list[0]["messages"].as_u64()), (Some(message.len() as u64), Some(1)));
    let (_, plain) = api.call("GET", "/api/v1/domains/shop.test/accounts", None).await;
    assert!(plain[0].get("used_bytes").is_none(), "usage only when asked: {plain}");

    assert_eq!(
        api.call("POST", "/api/v1/aliases", Some(json!({ "alias": "sales@shop.test", "target": "ann@shop.test" })))
            .await
            .0,
        201
    );
    let (status, alias) = api.call("GET", "/api/v1/aliases/sales@shop.test", None).await;
    assert_eq!((status, alias), (200, json!({ "alias": "sales@shop.test", "target": "ann@shop.test" })));
    let (_, detail) = api.call("GET", "/api/v1/accounts/ann@shop.test", None).await;
    assert_eq!(detail["aliases"], json!(["sales@shop.test"]));
    let (status, shop) = api.call("GET", "/api/v1/domains/shop.test", None).await;
    assert_eq!((status, shop), (200, json!({ "name": "shop.test", "server": null, "accounts": 1, "aliases": 1 })));

    // A domain with accounts cannot go; the administrator cannot go.
    assert_error(&api.call("DELETE", "/api/v1/domains/shop.test", None).await, 409);
    assert_error(&api.call("DELETE", "/api/v1/accounts/postmaster", None).await, 409);
    assert_eq!(api.call("DELETE", "/api/v1/aliases/sales@shop.test", None).await.0, 204);
    assert_error(&api.call("GET", "/api/v1/aliases/sales@shop.test", None).await, 404);
    assert_eq!(api.call("DELETE", "/api/v1/accounts/ann@shop.test", None).await.0, 204);
    assert_error(&api.call("GET", "/api/v1/accounts/ann@shop.test/quota", None).await, 404);
    assert_eq!(api.call("DELETE", "/api/v1/domains/shop.test", None).await.0, 204);
    assert_error(&api.call("GET", "/api/v1/domains/shop.test", None).await, 404);
}

#[tokio::test]
async fn queue_messages_are_listed_held_released_and_deleted() {
    let api = Api::start().await;
    let envelope = queue::Envelope {
        mail_from: "a@example.test".into(),
        recipients: vec!["b@elsewhere.test".into()],
        received_at: 0,
        authenticated_as: None,
        smtputf8: false,
    };
    let id = api.services.queue.enqueue(envelope, bytes::Bytes::from_static(b"Subject: q\r\n\r\nx\r\n")).await.unwrap();
    let (status, list) = api.call("GET", "/api/v1/queue", None).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));
    let (status, held) = api.call("POST", &format!("/api/v1/queue/{id}/hold"), None).await;
    assert_eq!(status, 200);
    assert!(held["states"][0].get("Held").is_some(), "{held}");
    let (status, released) = api.call("POST", &format!("/api/v1/queue/{id}/release"), None).await;
    assert_eq!(status, 200, "{released}");
    assert_error(&api.call("POST", &format!("/api/v1/queue/{id}/explode"), None).await, 404);
    assert_eq!(api.call("DELETE", &format!("/api/v1/queue/{id}"), None).await.0, 204);
    assert_error(&api.call("GET", &format!("/api/v1/queue/{id}"), None).await, 404);
    assert_error(&api.call("DELETE", &format!("/api/v1/queue/{id}"), None).await, 404);
    assert_error(&api.call("GET", "/api/v1/queue/not-hex", None).await, 400);
}

#[tokio::test]
async fn bad_input_gets_a_json_error_with_the_right_status() {
    let api = Api::start().await;
    let url = |path: &str| format!("{}{path}", api.base);
    let admin = |request: reqwest::RequestBuilder| request.basic_auth("postmaster", Some(common::PASSWORD));

    // Names that are no names.
    assert_error(&api.call("POST", "/api/v1/domains", Some(json!({ "name": "bad domain!" }))).await, 400);
    assert_error(&api.call("GET", "/api/v1/accounts/a%20b@example.test", None).await, 400);
    assert_error(&api.call("GET", "/api/v1/domains/%FF%FE", None).await, 400);
    assert_error(&api.call("GET", "/api/v1/aliases?domain=..", None).await, 400);
    assert_error(&api.call("GET", "/api/v1/domains/example.test/accounts?usage=maybe", None).await, 400);
    // Bodies that are not JSON, not the right shape, or not said to be JSON.
    let post = |body: &'static str, content_type: &'static str| {
        admin(api.http.post(url("/api/v1/domains"))).header("content-type", content_type).body(body)
    };
    assert_error(&answer(post("{not json", "application/json").send().await.unwrap()).await, 400);
    assert_error(&answer(post(r#"{"nom": 1}"#, "application/json").send().await.unwrap()).await, 422);
    assert_error(&answer(post(r#"{"name": "x.test"}"#, "text/plain").send().await.unwrap()).await, 415);
    // A body over the limit is refused, not buffered.
    let huge = format!(r#"{{"name": "{}"}}"#, "a".repeat(web::api::MAX_BODY));
    let response = admin(api.http.post(url("/api/v1/domains"))).header("content-type", "application/json").body(huge);
    assert_error(&answer(response.send().await.unwrap()).await, 413);
    // Unknown paths and methods.
    assert_error(&api.call("GET", "/api/v1/nothing/here", None).await, 404);
    let wrong_method = api.call("PATCH", "/api/v1/domains", None).await;
    assert_error(&wrong_method, 405);
    // No login, a wrong one, and a login that is not an administrator.
    let (status, body) = answer(api.http.get(url("/api/v1/domains")).send().await.unwrap()).await;
    assert_error(&(status, body), 401);
    let wrong = api.http.get(url("/api/v1/domains")).basic_auth("postmaster", Some("nope")).send().await.unwrap();
    assert_eq!(
        wrong.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"rookery admin\"")
    );
    assert_error(&answer(wrong).await, 401);
    assert_eq!(api.call("POST", "/api/v1/accounts", Some(json!({ "name": "joe", "password": "pw" }))).await.0, 201);
    let joe = api.http.get(url("/api/v1/domains")).basic_auth("joe", Some("pw")).send().await.unwrap();
    assert_error(&answer(joe).await, 401);
    // Empty password, unknown alias target.
    assert_error(&api.call("PUT", "/api/v1/accounts/joe/password", Some(json!({ "password": "" }))).await, 400);
    let alias = json!({ "alias": "x@example.test", "target": "nobody@example.test" });
    assert_error(&api.call("POST", "/api/v1/aliases", Some(alias)).await, 404);
    // The server still answers after all of it.
    assert_eq!(api.call("GET", "/api/v1/domains", None).await.0, 200);
}

//! `GET /api/openapi.json` against the running API: served without a
//! login, valid OpenAPI 3.1 (openapi-spec-validator), every documented
//! operation exists in the router with that method and no other, and real
//! answers match the documented schemas.

mod common;

use common::Api;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

async fn document(api: &Api) -> Value {
    let response = api.http.get(format!("{}/api/openapi.json", api.base)).send().await.unwrap();
    assert_eq!(response.status(), 200, "the document needs no login");
    response.json().await.unwrap()
}

/// A documented path with its parameters filled in.
fn concrete(path: &str, queue_id: &str) -> String {
    path.replace("{domain}", "shop.test")
        .replace("{account}", "ann@shop.test")
        .replace("{alias}", "sales@shop.test")
        .replace("{id}", queue_id)
        .replace("{action}", "hold")
        .replace("{member}", "sv9.test")
        .replace("{rest}", "domains")
}

/// A domain, an account with a message, an alias and a queued message.
async fn populate(api: &Api) -> String {
    assert_eq!(api.call("POST", "/api/v1/domains", Some(json!({ "name": "shop.test" }))).await.0, 201);
    let account = json!({ "name": "ann@shop.test", "password": "pw", "quota_bytes": 5000 });
    assert_eq!(api.call("POST", "/api/v1/accounts", Some(account)).await.0, 201);
    let alias = json!({ "alias": "sales@shop.test", "target": "ann@shop.test" });
    assert_eq!(api.call("POST", "/api/v1/aliases", Some(alias)).await.0, 201);
    let envelope = queue::Envelope {
        mail_from: "ann@shop.test".into(),
        recipients: vec!["x@far.test".into(), "y@far.test".into()],
        received_at: 1,
        authenticated_as: Some("ann@shop.test".into()),
        smtputf8: false,
    };
    let id = api.services.queue.enqueue(envelope, bytes::Bytes::from_static(b"Subject: s\r\n\r\nb\r\n")).await.unwrap();
    id.to_string()
}

#[tokio::test]
async fn every_documented_operation_is_routed_with_exactly_its_methods() {
    let api = Api::start().await;
    let queue_id = populate(&api).await;
    let document = document(&api).await;
    let all_methods = ["get", "post", "put", "delete", "patch"];
    for (path, operations) in document["paths"].as_object().unwrap() {
        let url = concrete(path, &queue_id);
        for method in all_methods {
            let body = matches!(method, "post" | "put" | "patch").then(|| json!({}));
            let (status, answer) = api.call(&method.to_uppercase(), &url, body).await;
            let error = answer["error"].as_str().unwrap_or_default();
            if operations.get(method).is_some() {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
                assert!(!error.starts_with("no such API path"), "{method} {path} is documented but not routed");
            } else {
                assert_eq!(status, 405, "{method} {path} is routed but not documented: {answer}");
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_valid_and_real_answers_match_it() {
    let api = Api::start().await;
    let queue_id = populate(&api).await;
    let document = document(&api).await;
    let mut samples = Vec::new();
    let mut sample = |path: &str, method: &str, answer: (u16, Value)| {
        samples.push(json!({ "path": path, "method": method, "status": answer.0, "body": answer.1 }));
    };
    // Every GET, with data behind it.
    for (path, operations) in document["paths"].as_object().unwrap() {
        if operations.get("get").is_some() && !path.contains("{rest}") {
            let url = concrete(path, &queue_id);
            let url = if path.ends_with("/accounts") { format!("{url}?usage=true") } else { url };
            sample(path, "get", api.call("GET", &url, None).await);
        }
    }
    sample(
        "/api/v1/queue/{id}/{action}",
        "post",
        api.call("POST", &format!("/api/v1/queue/{queue_id}/hold"), None).await,
    );
    let account = json!({ "name": "bob@shop.test", "password": "pw" });
    sample("/api/v1/accounts", "post", api.call("POST", "/api/v1/accounts", Some(account)).await);
    // Errors, each with its documented status and the Error shape.
    sample("/api/v1/accounts", "post", api.call("POST", "/api/v1/accounts", Some(json!({ "name": 5 }))).await);
    sample("/api/v1/domains/{domain}", "get", api.call("GET", "/api/v1/domains/nowhere.test", None).await);
    sample("/api/v1/domains/{domain}", "delete", api.call("DELETE", "/api/v1/domains/shop.test", None).await);
    sample("/api/v1/queue/{id}", "get", api.call("GET", "/api/v1/queue/zz", None).await);
    sample("/api/v1/cluster/status", "get", api.call("GET", "/api/v1/cluster/status", None).await);
    sample("/api/v1/server/status", "get", api.call("GET", "/api/v1/server/status", None).await);
    let statuses: Vec<u64> = samples.iter().filter_map(|s| s["status"].as_u64()).collect();
    for expected in [200, 201, 400, 404, 409, 422] {
        assert!(statuses.contains(&expected), "no sample with status {expected}: {statuses:?}");
    }
    let input = json!({ "document": document, "samples": samples }).to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi_check.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (test.sh installs openapi-spec-validator)");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "OpenAPI check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn only_the_document_is_open_without_a_login() {
    let api = Api::start().await;
    for path in ["/api/v1/domains", "/api/v1/queue", "/api/v1/cluster/status", "/api/v1/accounts/postmaster"] {
        let response = api.http.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path} answered without a login");
    }
    // Near misses of the open path are not open either (an unknown path is
    // a 404 that says nothing more).
    for path in ["/api/openapi.json/x", "/api/v1/openapi.json", "/api/openapi.jsonx"] {
        let response = api.http.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

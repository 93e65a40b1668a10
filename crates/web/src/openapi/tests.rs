//! The document and the router cannot drift apart: every `/api/v1/` route
//! registered in the router's source is in the document with exactly its
//! methods, and the document names no route the router lacks.
//! (`tests/openapi.rs` checks the same from the outside, over HTTP.)

use super::document;
use std::collections::BTreeSet;

/// The files that register API routes.
const ROUTER_SOURCES: [&str; 2] = [include_str!("../api.rs"), include_str!("../lib.rs")];

/// What a method-router function registers; `any` is every method the
/// document lists for a forwarding route.
fn methods_of(function: &str) -> &'static [&'static str] {
    match function {
        "get" => &["get"],
        "post" => &["post"],
        "put" => &["put"],
        "delete" => &["delete"],
        "patch" => &["patch"],
        "any" => &["get", "post", "put", "delete", "patch"],
        _ => &[],
    }
}

/// `(path, method)` of every `.route("/api/v1/...", ...)` call in `source`,
/// with axum's `{*rest}` written as OpenAPI's `{rest}`.
fn registered(source: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let call = &rest[..call_length(rest)];
        let Some(path) = call.trim_start().strip_prefix('"').and_then(|p| p.split('"').next()) else { continue };
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let path = path.replace("{*", "{");
        for function in method_calls(call) {
            for method in methods_of(&function) {
                found.insert((path.clone(), (*method).to_owned()));
            }
        }
    }
    found
}

/// Bytes up to the parenthesis that closes the call whose arguments
/// start `text`.
fn call_length(text: &str) -> usize {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Names called in `call` that are method-router functions: `get(`,
/// `.post(`, `axum::routing::delete(` (a handler's own name, like
/// `queue::delete`, is not followed by a parenthesis).
fn method_calls(call: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in call.match_indices('(') {
        let before = &call[..i];
        let start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |p| p + 1);
        let name = &before[start..];
        if !methods_of(name).is_empty() {
            names.push(name.to_owned());
        }
    }
    names
}

fn documented() -> BTreeSet<(String, String)> {
    let document = document();
    let mut found = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().expect("paths is an object") {
        for method in operations.as_object().expect("a path item is an object").keys() {
            found.insert((path.clone(), method.clone()));
        }
    }
    found
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let registered: BTreeSet<_> = ROUTER_SOURCES.iter().flat_map(|source| registered(source)).collect();
    assert!(registered.len() >= 20, "the source scan found too few routes: {registered:?}");
    let documented = documented();
    let missing: Vec<_> = registered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:?}");
    assert!(extra.is_empty(), "documented routes the router does not have: {extra:?}");
}

#[test]
fn the_scan_reads_chained_and_any_routes() {
    let source = r#"x.route("/api/v1/q/{id}", get(queue::show).delete(queue::delete))
        .route("/api/v1/m/{m}/{*rest}", axum::routing::any(cluster::via))
        .route("/admin/", get(pages::home))"#;
    let found = registered(source);
    let expected: BTreeSet<(String, String)> = [
        ("/api/v1/q/{id}", "get"),
        ("/api/v1/q/{id}", "delete"),
        ("/api/v1/m/{m}/{rest}", "get"),
        ("/api/v1/m/{m}/{rest}", "post"),
        ("/api/v1/m/{m}/{rest}", "put"),
        ("/api/v1/m/{m}/{rest}", "delete"),
        ("/api/v1/m/{m}/{rest}", "patch"),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_owned(), m.to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_reference_resolves_and_every_operation_answers_errors_as_json() {
    let document = document();
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"").skip(1).filter_map(|r| r.split('"').next()) {
        let pointer = reference.strip_prefix('#').expect("local references only");
        assert!(document.pointer(pointer).is_some(), "unresolved reference {reference}");
    }
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.contains_key("401"), "{method} {path} documents no 401");
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} documents no success");
            let params: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let in_path: Vec<&str> = path.split('{').skip(1).filter_map(|s| s.split('}').next()).collect();
            assert_eq!(params, in_path, "{method} {path}: path parameters");
        }
    }
}

/// Fails when a type gains a field its schema does not list, or its
/// schema requires a field the type does not write.
fn assert_matches_schema(name: &str, value: impl serde::Serialize) {
    let document = document();
    let schema = &document["components"]["schemas"][name];
    let value = serde_json::to_value(value).expect("serialises");
    let written: BTreeSet<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
    let listed: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has no properties"))
        .keys()
        .map(String::as_str)
        .collect();
    let required: BTreeSet<&str> =
        schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str()).collect();
    assert!(written.is_subset(&listed), "{name}: fields {:?} are not in the schema", written.difference(&listed));
    assert!(required.is_subset(&written), "{name}: required {:?} are not written", required.difference(&written));
}

#[test]
fn the_schemas_list_every_field_of_the_types() {
    use crate::api::types::*;
    use crate::cluster::{AccountOwner, ClusterStatus, MemberInfo, MemberStatus};
    use types::{AccountName, DomainName};
    let domain = DomainName::parse("example.test").unwrap();
    let account = AccountName::parse("ann@example.test", None).unwrap();
    assert_matches_schema("NewDomain", NewDomain { name: "d".into(), shared: true });
    assert_matches_schema(
        "DomainRecord",
        directory::DomainRecord { name: domain.clone(), server: Some(domain.clone()) },
    );
    assert_matches_schema("DomainDetail", DomainDetail { name: "d".into(), server: None, accounts: 1, aliases: 2 });
    let new = NewAccount { name: "a".into(), password: "p".into(), quota_bytes: Some(1), server: Some("s".into()) };
    assert_matches_schema("NewAccount", new);
    let record = directory::AccountRecord { name: account.clone(), quota_bytes: None, created: 1 };
    assert_matches_schema("AccountRecord", record);
    let summary =
        AccountSummary { name: "a".into(), quota_bytes: None, created: 1, used_bytes: Some(2), messages: Some(3) };
    assert_matches_schema("AccountSummary", summary);
    let detail = AccountDetail {
        name: "a".into(),
        quota_bytes: None,
        used_bytes: 1,
        messages: 1,
        created: 1,
        aliases: vec!["b".into()],
    };
    assert_matches_schema("AccountDetail", detail);
    assert_matches_schema(
        "AccountQuota",
        AccountQuota { account: "a".into(), quota_bytes: None, used_bytes: 1, messages: 1 },
    );
    assert_matches_schema("NewPassword", NewPassword { password: "p".into() });
    assert_matches_schema("NewQuota", NewQuota { quota_bytes: None });
    assert_matches_schema("NewAlias", NewAlias { alias: "a".into(), target: "t".into() });
    assert_matches_schema("AliasRecord", directory::AliasRecord { alias: account.clone(), target: account.clone() });
    let envelope = queue::Envelope {
        mail_from: String::new(),
        recipients: vec!["r@x.test".into()],
        received_at: 1,
        authenticated_as: None,
        smtputf8: false,
    };
    assert_matches_schema("Envelope", envelope.clone());
    let entry =
        queue::QueueEntry { id: queue::QueueId(1), envelope, size: 1, states: vec![queue::RecipientState::Pending] };
    assert_matches_schema("QueueEntry", entry);
    assert_matches_schema("ImportRequest", ImportRequest { dir: "/x".into() });
    assert_matches_schema("Imported", queue::Imported::default());
    let member = MemberInfo { name: "m".into(), link: "l".into(), reachable: true };
    assert_matches_schema("MemberInfo", member);
    let status = MemberStatus {
        name: "m".into(),
        role: "backend".into(),
        live: true,
        link: None,
        imap: None,
        open_accounts: None,
        queue_messages: None,
        accounts: None,
        connections: None,
        webmail_sessions: None,
    };
    assert_matches_schema("MemberStatus", status.clone());
    let cluster = ClusterStatus { kind: "static".into(), name: "c".into(), controller: None, members: vec![status] };
    assert_matches_schema("ClusterStatus", cluster);
    assert_matches_schema("AccountOwner", AccountOwner { account: "a".into(), owner: None });
    let server = crate::api::server::ServerStatus {
        name: "m".into(),
        role: Some("backend".into()),
        connections: Some([("imap".to_owned(), 1)].into()),
        queue_messages: 2,
        webmail_sessions: Some(3),
    };
    assert_matches_schema("ServerStatus", server);
}

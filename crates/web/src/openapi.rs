//! The OpenAPI 3.1 document of the admin API, served at
//! `GET /api/openapi.json` without a login (it describes the API and holds
//! no data).
//!
//! Written by hand rather than derived with `utoipa`: most response bodies
//! are types of `directory`, `queue` and `store` (`AccountRecord`,
//! `QueueEntry`, ...), which should not depend on a documentation
//! generator, and the orphan rule would force mirror types here anyway.
//! What keeps the document true instead: `tests.rs` checks that every
//! route the router registers is in it with the same methods and that
//! nothing else is, and `tests/openapi.rs` validates the document and real
//! answers of a running API against its schemas.

mod paths;
mod schemas;
#[cfg(test)]
mod tests;

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// `GET /api/openapi.json`. Built once: the document never changes while
/// the server runs.
pub async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let document = DOCUMENT.get_or_init(document);
    ([(header::CACHE_CONTROL, "no-cache")], Json(document.clone()))
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (path, operations) in paths::operations() {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        if let Value::Object(entry) = entry {
            for (method, operation) in operations {
                entry.insert(method.to_owned(), operation);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rookery admin API",
            "version": "1",
            "description": "The JSON admin API the `rookery` command line uses. Every call needs HTTP Basic \
                authentication as an administrator: the postmaster of the main domain, or in a cluster of any \
                member's main domain. Errors are `{\"error\": \"...\"}` with the HTTP status saying what kind. \
                Request bodies are limited to 64 KiB. In a cluster, calls about an account run on the member that \
                hosts it."
        },
        "security": [{ "basic": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "basic": { "type": "http", "scheme": "basic" } },
            "schemas": schemas::all(),
            "responses": error_responses(),
        }
    })
}

fn route(path: &str, operations: Vec<(&'static str, Value)>) -> (String, Vec<(&'static str, Value)>) {
    (path.to_owned(), operations)
}

fn op(tag: &str, summary: &str, params: &[&Value], body: Option<&str>, success: (&str, Value)) -> Value {
    let (status, response) = success;
    let mut responses = Map::new();
    responses.insert(status.to_owned(), response);
    responses.insert("401".to_owned(), error_ref("401"));
    responses.insert("500".to_owned(), error_ref("500"));
    let mut operation = json!({ "tags": [tag], "summary": summary, "responses": responses });
    if !params.is_empty() {
        operation["parameters"] = params.iter().map(|param| (*param).clone()).collect();
    }
    if let Some(body) = body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema_ref(body) } }
        });
        operation["responses"]["400"] = error_ref("400");
        operation["responses"]["413"] = error_ref("413");
        operation["responses"]["415"] = error_ref("415");
        operation["responses"]["422"] = error_ref("422");
    }
    operation
}

/// Adds the error answers an operation can give besides 401 and 500.
trait WithErrors {
    fn with_errors(self, statuses: &[&str]) -> Self;
}

impl WithErrors for Value {
    fn with_errors(mut self, statuses: &[&str]) -> Self {
        for status in statuses {
            self["responses"][*status] = error_ref(status);
        }
        self
    }
}

fn ok(schema: Value) -> (&'static str, Value) {
    ("200", json!({ "description": "OK", "content": { "application/json": { "schema": schema } } }))
}

fn created(schema: Option<Value>) -> (&'static str, Value) {
    match schema {
        Some(schema) => {
            ("201", json!({ "description": "Created", "content": { "application/json": { "schema": schema } } }))
        }
        None => ("201", json!({ "description": "Created" })),
    }
}

fn no_content() -> (&'static str, Value) {
    ("204", json!({ "description": "Done" }))
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array(item: &str) -> Value {
    json!({ "type": "array", "items": schema_ref(item) })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn query_param(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": kind } })
}

fn action_param() -> Value {
    json!({
        "name": "action", "in": "path", "required": true,
        "description": "retry: try deferred and held recipients now; hold: keep it from delivery; release: undo hold.",
        "schema": { "type": "string", "enum": ["retry", "hold", "release"] }
    })
}

fn error_ref(status: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/E{status}") })
}

/// The error answers, all `{"error": "..."}`.
fn error_responses() -> Value {
    let statuses = [
        ("400", "Bad input: a malformed name, id or parameter."),
        ("401", "No valid administrator login (a `WWW-Authenticate: Basic` challenge)."),
        ("404", "No such domain, account, alias, queued message or cluster member; or not a cluster member."),
        ("409", "Already exists, or still in use (a domain with accounts, the main domain, the administrator)."),
        ("413", "The request body is over 64 KiB."),
        ("415", "The request body is not declared as application/json."),
        ("422", "The request body is JSON but not the expected shape."),
        ("500", "The server failed (its log says why)."),
        ("503", "Another cluster member is needed and cannot be reached now, or the account is being moved."),
    ];
    let mut responses = Map::new();
    for (status, description) in statuses {
        responses.insert(
            format!("E{status}"),
            json!({ "description": description, "content": { "application/json": { "schema": schema_ref("Error") } } }),
        );
    }
    Value::Object(responses)
}

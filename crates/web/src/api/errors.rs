//! Every error answer of the API is `{"error": "..."}`, also the ones axum
//! makes itself (a body that is not JSON or too big, a wrong method, an
//! unknown path), so that clients need one way to read them.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// axum's rejection texts are one line; a longer body is cut here.
const MAX_ERROR_TEXT: usize = 4096;

/// Middleware: turns an error answer that is not JSON into one that is,
/// keeping its status and headers (`Allow` of a 405).
pub async fn json_errors(request: Request, next: Next) -> Response {
    // The admin pages on the same listener answer in HTML.
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match to_bytes(body, MAX_ERROR_TEXT).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => default_text(status),
    };
    let body = serde_json::json!({ "error": text }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The admin listener's fallback: a JSON 404 under `/api/`, a plain one
/// elsewhere. No login is needed to learn that a path does not exist.
pub async fn unknown_path(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        let body = serde_json::json!({ "error": format!("no such API path: {}", uri.path()) }).to_string();
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn default_text(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such API path".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this path".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

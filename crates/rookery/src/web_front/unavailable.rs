//! The page a frontend answers with when an account's backend cannot be
//! reached: 503 with `Retry-After`, so a browser user knows to try again
//! (nothing of theirs is lost: the session lives on the backend).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The same policy as every web mail page (web-spec: CSP on every page).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   frame-ancestors 'none'; form-action 'self'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Temporarily unavailable</title>
<link rel="stylesheet" href="/static/webmail.css"></head>
<body><main>
<h1>Temporarily unavailable</h1>
<p role="alert">The server that keeps your mailbox cannot be reached right now. Please try again in a minute.</p>
<p><a href="/mail/INBOX">Try again</a></p>
</main></body>
</html>
"#;

/// 503 with the page; the reason is logged by the caller, never shown.
pub fn response() -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Html(PAGE)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 413 for a login form over the limit (no real login form is that big).
pub fn form_too_large() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, "the login form is too large").into_response()
}

/// 400 for a login form that did not arrive whole.
pub fn form_broken() -> Response {
    (StatusCode::BAD_REQUEST, "the login form did not arrive whole").into_response()
}

/// 404 for what a browser asks for on its own (`/favicon.ico`).
pub fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

//! Error pages, the page renderer, and the headers every response carries.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Content-Security-Policy of every page that does not set its own: only
/// this server's own styles and scripts, no framing, forms post here only.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                       frame-ancestors 'none'; form-action 'self'";

/// Why a request got no page of its own; each becomes an HTML page with the
/// matching status.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    /// No valid session: the login page.
    #[error("login required")]
    Login,
    /// A POST without the session's CSRF token (or the login form's).
    #[error("the form has expired or did not come from this site")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    #[error("too many failed logins")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("request too large (limit {limit} bytes)")]
    TooLarge { limit: usize },
    /// Something on our side; the text is logged, not shown.
    #[error("internal error")]
    Internal(String),
    /// Storage or directory out of reach for now.
    #[error("temporarily unavailable")]
    Unavailable(String),
}

impl From<store::StoreError> for WebError {
    fn from(error: store::StoreError) -> Self {
        use store::StoreError as E;
        match error {
            E::NoSuchMailbox(_) | E::NoSuchMessage(_) | E::BadMailboxName(_) => WebError::NotFound,
            E::Frozen(_) | E::NotOwned(_) => WebError::Unavailable(error.to_string()),
            E::QuotaExceeded { .. } | E::MailboxExists(_) | E::MailboxProtected(_) => {
                WebError::BadRequest(error.to_string())
            }
            E::Corrupt(_) | E::Io(_) => WebError::Internal(error.to_string()),
        }
    }
}

impl From<directory::DirectoryError> for WebError {
    fn from(error: directory::DirectoryError) -> Self {
        WebError::Unavailable(error.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    detail: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            WebError::Login => return to_login(),
            WebError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            WebError::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad request"),
            WebError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
            WebError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Too large"),
            WebError::Internal(reason) => {
                tracing::error!(target: "webmail", %reason, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Server error")
            }
            WebError::Unavailable(reason) => {
                tracing::warn!(target: "webmail", %reason, "service unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable")
            }
        };
        let detail = match &self {
            WebError::TooManyAttempts { retry_after_secs } => {
                format!("Too many failed logins. Try again in {retry_after_secs} seconds.")
            }
            WebError::Unavailable(_) => "Please try again in a moment.".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorPage { status: status.as_u16(), title, detail }.render().unwrap_or_else(|_| title.to_owned());
        let mut response = (status, axum::response::Html(body)).into_response();
        if let WebError::TooManyAttempts { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        response
    }
}

/// Renders a page template as an HTML response.
pub fn page<T: Template>(template: &T) -> Result<Response, WebError> {
    let html = template.render().map_err(|e| WebError::Internal(format!("rendering a page: {e}")))?;
    Ok(axum::response::Html(html).into_response())
}

/// 303 See Other to `location` (after a POST, and for moved pages).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => WebError::Internal(format!("bad redirect target {location:?}")).into_response(),
    }
}

/// Where a request without a valid session goes.
pub fn to_login() -> Response {
    see_other("/login")
}

/// Adds the security headers to every response; a page that sets its own
/// Content-Security-Policy (a message body) keeps it.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show private mail: never kept by shared caches.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a body whose Content-Length is over `limit` at once, with a page
/// that says the limit. Chunked bodies are cut by `DefaultBodyLimit` while
/// they are read (the extractor then fails; `compose` maps that to
/// [`WebError::TooLarge`], and the bare 413 of axum's `Form` extractor is
/// replaced here by the same page).
pub async fn limit_body(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return WebError::TooLarge { limit }.into_response();
    }
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_page {
        return WebError::TooLarge { limit }.into_response();
    }
    response
}

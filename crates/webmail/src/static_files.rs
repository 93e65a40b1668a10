//! The style sheet (and any script), embedded in the binary: pages load
//! nothing from outside the server.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Name, content type, bytes. Only these names are served, so a path
/// cannot reach anything else.
const FILES: &[(&str, &str, &str)] =
    &[("webmail.css", "text/css; charset=utf-8", include_str!("../static/webmail.css"))];

pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => {
            let mut response = (*body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            // Changes only with the binary; an hour keeps pages fast.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            response
        }
        None => crate::WebError::NotFound.into_response(),
    }
}

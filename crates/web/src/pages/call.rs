//! The pages act through the JSON API's own handlers, run in-process: the
//! same rules (the main domain and the administrator cannot be removed, a
//! frontend keeps no accounts...) and, in a cluster, the same routing of
//! account calls to the member hosting the account (CM-19, CM-24). The
//! administrator is already checked by the page, so no login is sent.

use crate::AdminServices;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tower::ServiceExt;

/// API answers are JSON lists of at most every domain, account or queued message.
const MAX_ANSWER: usize = 64 << 20;

/// Why an action or a listing failed, as the API put it.
#[derive(Debug)]
pub struct CallError {
    pub status: StatusCode,
    pub message: String,
}

/// One path segment of an API URL.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `method path` with an optional JSON body; the answer's JSON, if any, as `T`.
pub async fn api<T: DeserializeOwned>(
    services: &Arc<AdminServices>,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<T, CallError> {
    let text = run(services, method, path, body).await?;
    // An empty answer (204) reads as JSON null, so `()` and `Option<_>` fit.
    let text = if text.is_empty() { "null" } else { &text };
    serde_json::from_str(text).map_err(|e| CallError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("unexpected answer from the API: {e}"),
    })
}

async fn run(
    services: &Arc<AdminServices>,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<String, CallError> {
    let internal = |message: String| CallError { status: StatusCode::INTERNAL_SERVER_ERROR, message };
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|json| json.to_string()).unwrap_or_default();
    let request = request.body(Body::from(body)).map_err(|e| internal(format!("bad API request: {e}")))?;
    let router = crate::api::routes()
        .layer(axum::middleware::from_fn_with_state(services.clone(), crate::cluster::route_to_host))
        .with_state(services.clone());
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = to_bytes(response.into_body(), MAX_ANSWER)
        .await
        .map_err(|e| internal(format!("reading the API's answer: {e}")))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if status.is_success() {
        return Ok(text);
    }
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| json.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("the request failed ({status})"));
    Err(CallError { status, message })
}

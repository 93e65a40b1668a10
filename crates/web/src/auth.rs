//! HTTP Basic authentication of the administrator on every request.

use crate::{AdminServices, ApiError};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::sync::Arc;
use types::AccountName;

pub async fn require_admin(State(services): State<Arc<AdminServices>>, request: Request, next: Next) -> Response {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    match check(&services, header).await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn check(services: &AdminServices, header: Option<String>) -> Result<(), ApiError> {
    let header = header.ok_or(ApiError::Unauthorized)?;
    let encoded = header.strip_prefix("Basic ").ok_or(ApiError::Unauthorized)?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ApiError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    let (user, password) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
    let user = AccountName::parse(user, Some(&services.main_domain)).map_err(|_| ApiError::Unauthorized)?;
    if !services.is_administrator(&user).await {
        return Err(ApiError::Unauthorized);
    }
    match services.directory.authenticate(&user, password).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::Unauthorized),
    }
}

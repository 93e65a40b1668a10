//! Authentication of the administrator on every API request: HTTP Basic
//! (the CLI), or a frontend's signed [`forwarded_admin`] header for an
//! administrator it has authenticated itself (CM-19).

use crate::{AdminServices, ApiError, forwarded_admin};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::sync::Arc;
use std::time::SystemTime;
use types::AccountName;

pub async fn require_admin(State(services): State<Arc<AdminServices>>, request: Request, next: Next) -> Response {
    if forwarded(&services, request.headers()).await.is_some() {
        return next.run(request).await;
    }
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    match check(&services, header).await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The administrator a cluster member vouches for in [`forwarded_admin::HEADER`]:
/// the MAC must verify under the cluster's secret (so only a member can have
/// made it) and the account must be an administrator here too.
pub(crate) async fn forwarded(services: &AdminServices, headers: &HeaderMap) -> Option<AccountName> {
    let secret = services.link_secret.as_deref()?;
    let value = headers.get(forwarded_admin::HEADER)?.to_str().ok()?;
    let admin = forwarded_admin::verify(value, secret, SystemTime::now())?;
    services.is_administrator(&admin).await.then_some(admin)
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

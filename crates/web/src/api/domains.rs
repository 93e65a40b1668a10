use super::types::NewDomain;
use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::sync::Arc;
use types::DomainName;

pub async fn list(State(s): State<Arc<AdminServices>>) -> Result<Json<Vec<DomainName>>, ApiError> {
    Ok(Json(s.directory.domains().await?))
}

pub async fn add(State(s): State<Arc<AdminServices>>, Json(body): Json<NewDomain>) -> Result<StatusCode, ApiError> {
    let domain = DomainName::parse(&body.name)?;
    s.directory.add_domain(&domain).await?;
    tracing::info!(target: "web::admin", %domain, "domain added");
    Ok(StatusCode::CREATED)
}

pub async fn remove(State(s): State<Arc<AdminServices>>, Path(domain): Path<String>) -> Result<StatusCode, ApiError> {
    let domain = DomainName::parse(&domain)?;
    if domain == s.main_domain {
        return Err(ApiError::Conflict(format!("{domain} is the main domain and cannot be removed")));
    }
    s.directory.remove_domain(&domain).await?;
    tracing::info!(target: "web::admin", %domain, "domain removed");
    Ok(StatusCode::NO_CONTENT)
}

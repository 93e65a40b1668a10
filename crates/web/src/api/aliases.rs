use super::types::NewAlias;
use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use directory::AliasRecord;
use serde::Deserialize;
use std::sync::Arc;
use types::{AccountName, DomainName};

#[derive(Deserialize)]
pub struct Filter {
    domain: Option<String>,
}

pub async fn list(
    State(s): State<Arc<AdminServices>>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<AliasRecord>>, ApiError> {
    let domain = filter.domain.as_deref().map(DomainName::parse).transpose()?;
    Ok(Json(s.directory.aliases(domain.as_ref()).await?))
}

pub async fn add(State(s): State<Arc<AdminServices>>, Json(body): Json<NewAlias>) -> Result<StatusCode, ApiError> {
    let alias = AccountName::parse(&body.alias, Some(&s.main_domain))?;
    let target = AccountName::parse(&body.target, Some(&s.main_domain))?;
    s.directory.add_alias(&alias, &target).await?;
    tracing::info!(target: "web::admin", %alias, %target, "alias added");
    Ok(StatusCode::CREATED)
}

pub async fn show(
    State(s): State<Arc<AdminServices>>,
    Path(alias): Path<String>,
) -> Result<Json<AliasRecord>, ApiError> {
    let alias = AccountName::parse(&alias, Some(&s.main_domain))?;
    let aliases = s.directory.aliases(Some(alias.domain())).await?;
    aliases
        .into_iter()
        .find(|a| a.alias == alias)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("unknown alias {alias}")))
}

pub async fn remove(State(s): State<Arc<AdminServices>>, Path(alias): Path<String>) -> Result<StatusCode, ApiError> {
    let alias = AccountName::parse(&alias, Some(&s.main_domain))?;
    s.directory.remove_alias(&alias).await?;
    Ok(StatusCode::NO_CONTENT)
}

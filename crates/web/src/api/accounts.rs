use super::types::{AccountDetail, AccountQuota, AccountSummary, NewAccount, NewPassword, NewQuota};
use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use directory::AccountRecord;
use serde::Deserialize;
use std::sync::Arc;
use types::{AccountName, DomainName};

fn account_name(s: &AdminServices, name: &str) -> Result<AccountName, ApiError> {
    Ok(AccountName::parse(name, Some(&s.main_domain))?)
}

#[derive(Deserialize)]
pub struct ListOptions {
    #[serde(default)]
    usage: bool,
}

/// The accounts of a domain; with `?usage=true` each with its storage use.
/// Only a single server reads the usage of every account: a cluster
/// member would have to open (a dynamic member: take over) accounts that
/// another member serves, so there the figures are left out.
pub async fn list(
    State(s): State<Arc<AdminServices>>,
    Path(domain): Path<String>,
    Query(options): Query<ListOptions>,
) -> Result<Json<Vec<AccountSummary>>, ApiError> {
    let domain = DomainName::parse(&domain)?;
    if !s.directory.has_domain(&domain).await? {
        return Err(ApiError::NotFound(format!("unknown domain {domain}")));
    }
    let with_usage = options.usage && s.cluster.is_none();
    let mut accounts = Vec::new();
    for record in s.directory.accounts(&domain).await? {
        let usage = match with_usage {
            true => Some(s.store.account(&record.name).await?.usage()),
            false => None,
        };
        accounts.push(AccountSummary {
            name: record.name.to_string(),
            quota_bytes: record.quota_bytes,
            created: record.created,
            used_bytes: usage.map(|u| u.bytes),
            messages: usage.map(|u| u.messages),
        });
    }
    Ok(Json(accounts))
}

pub async fn add(
    State(s): State<Arc<AdminServices>>,
    Json(body): Json<NewAccount>,
) -> Result<(StatusCode, Json<AccountRecord>), ApiError> {
    let name = account_name(&s, &body.name)?;
    let record = s.directory.add_account(&name, &body.password, body.quota_bytes).await?;
    tracing::info!(target: "web::admin", account = %name, "account added");
    Ok((StatusCode::CREATED, Json(record)))
}

pub async fn show(
    State(s): State<Arc<AdminServices>>,
    Path(name): Path<String>,
) -> Result<Json<AccountDetail>, ApiError> {
    let name = account_name(&s, &name)?;
    let record =
        s.directory.account(&name).await?.ok_or_else(|| ApiError::NotFound(format!("unknown account {name}")))?;
    let usage = s.store.account(&name).await?.usage();
    let aliases = s.directory.aliases_of(&name).await?.iter().map(ToString::to_string).collect();
    Ok(Json(AccountDetail {
        name: name.to_string(),
        quota_bytes: record.quota_bytes,
        used_bytes: usage.bytes,
        messages: usage.messages,
        created: record.created,
        aliases,
    }))
}

/// The quota and what the account uses of it (run on its host in a cluster).
pub async fn quota(
    State(s): State<Arc<AdminServices>>,
    Path(name): Path<String>,
) -> Result<Json<AccountQuota>, ApiError> {
    let name = account_name(&s, &name)?;
    let record =
        s.directory.account(&name).await?.ok_or_else(|| ApiError::NotFound(format!("unknown account {name}")))?;
    let usage = s.store.account(&name).await?.usage();
    Ok(Json(AccountQuota {
        account: name.to_string(),
        quota_bytes: record.quota_bytes,
        used_bytes: usage.bytes,
        messages: usage.messages,
    }))
}

pub async fn remove(State(s): State<Arc<AdminServices>>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let name = account_name(&s, &name)?;
    if name == s.administrator() {
        return Err(ApiError::Conflict(format!("{name} is the administrator and cannot be removed")));
    }
    s.directory.remove_account(&name).await?;
    s.store.remove_account(&name).await?;
    tracing::info!(target: "web::admin", account = %name, "account removed");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_password(
    State(s): State<Arc<AdminServices>>,
    Path(name): Path<String>,
    Json(body): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    let name = account_name(&s, &name)?;
    s.directory.set_password(&name, &body.password).await?;
    tracing::info!(target: "web::admin", account = %name, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_quota(
    State(s): State<Arc<AdminServices>>,
    Path(name): Path<String>,
    Json(body): Json<NewQuota>,
) -> Result<StatusCode, ApiError> {
    let name = account_name(&s, &name)?;
    s.directory.set_quota(&name, body.quota_bytes).await?;
    tracing::info!(target: "web::admin", account = %name, quota_bytes = ?body.quota_bytes, "quota changed");
    Ok(StatusCode::NO_CONTENT)
}

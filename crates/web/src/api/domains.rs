use super::types::{DomainDetail, NewDomain};
use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use directory::DomainRecord;
use std::sync::Arc;
use types::DomainName;

/// Every domain, with the member it is local to (`server`, absent for a
/// Shared Domain or on a single server).
pub async fn list(State(s): State<Arc<AdminServices>>) -> Result<Json<Vec<DomainRecord>>, ApiError> {
    Ok(Json(s.directory.domain_records().await?))
}

/// One domain with who serves it and how many accounts and aliases it has.
pub async fn show(
    State(s): State<Arc<AdminServices>>,
    Path(domain): Path<String>,
) -> Result<Json<DomainDetail>, ApiError> {
    let domain = DomainName::parse(&domain)?;
    if !s.directory.has_domain(&domain).await? {
        return Err(ApiError::NotFound(format!("unknown domain {domain}")));
    }
    let server = s.directory.domain_server(&domain).await?.map(|server| server.to_string());
    let accounts = s.directory.accounts(&domain).await?.len() as u64;
    let aliases = s.directory.aliases(Some(&domain)).await?.len() as u64;
    Ok(Json(DomainDetail { name: domain.to_string(), server, accounts, aliases }))
}

/// On a single server every domain is its own. In a cluster, `shared`
/// makes a Shared Domain known to every member at once (they share the
/// directory, CM-3); otherwise the domain is local to this member, which
/// then alone hosts its accounts (CM-1).
pub async fn add(State(s): State<Arc<AdminServices>>, Json(body): Json<NewDomain>) -> Result<StatusCode, ApiError> {
    let domain = DomainName::parse(&body.name)?;
    match (&s.cluster, body.shared) {
        (None, true) => {
            return Err(ApiError::BadRequest(
                "a shared domain needs a cluster: this server is not a member of one ([cluster] role)".into(),
            ));
        }
        (None, false) | (Some(_), true) => s.directory.add_domain(&domain).await?,
        (Some(cluster), false) if !cluster.hosts_accounts() => {
            return Err(ApiError::BadRequest(format!(
                "this member is a frontend and hosts no domain of its own: add {domain} as a shared domain \
                 (--shared) or on the backend it belongs to"
            )));
        }
        (Some(cluster), false) => {
            let me = DomainName::parse(&cluster.server_name())?;
            s.directory.add_local_domain(&domain, &me).await?;
        }
    }
    tracing::info!(target: "web::admin", %domain, shared = body.shared, "domain added");
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

//! `/admin/aliases`: aliases (of one domain, or all), adding and removing one.

use super::call::{CallError, api, segment};
use super::{Flash, Page, render};
use crate::AdminServices;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::AliasRecord;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "aliases.html")]
struct AliasesPage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    domain: Option<String>,
    aliases: Vec<AliasRow>,
}

struct AliasRow {
    alias: String,
    path: String,
    target: String,
}

#[derive(serde::Deserialize, Default)]
pub struct Listing {
    domain: Option<String>,
    done: Option<String>,
}

pub async fn page(State(s): State<Arc<AdminServices>>, page: Page, Query(listing): Query<Listing>) -> Response {
    let domain = listing.domain.filter(|d| !d.trim().is_empty());
    show(&s, &page, domain, StatusCode::OK, Flash::done(listing.done.as_deref())).await
}

async fn show(
    s: &Arc<AdminServices>,
    page: &Page,
    domain: Option<String>,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let path = match &domain {
        Some(domain) => format!("/api/v1/aliases?domain={}", segment(domain.trim())),
        None => "/api/v1/aliases".to_owned(),
    };
    let (aliases, status, flash) = match api::<Vec<AliasRecord>>(s, Method::GET, &path, None).await {
        Ok(aliases) => (aliases, status, flash),
        Err(e) => (Vec::new(), e.status, Flash::error(e.message)),
    };
    let aliases = aliases
        .into_iter()
        .map(|a| AliasRow {
            path: segment(&a.alias.to_string()),
            alias: a.alias.to_string(),
            target: a.target.to_string(),
        })
        .collect();
    render(status, &AliasesPage { page, flash, section: "aliases", domain, aliases })
}

#[derive(serde::Deserialize)]
pub struct NewAliasForm {
    #[serde(default)]
    alias: String,
    #[serde(default)]
    target: String,
}

pub async fn add(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    axum::Form(form): axum::Form<NewAliasForm>,
) -> Response {
    let body = serde_json::json!({ "alias": form.alias.trim(), "target": form.target.trim() });
    let result = api::<serde_json::Value>(&s, Method::POST, "/api/v1/aliases", Some(body)).await.map(drop);
    done(&s, &page, &form.alias, result, "added").await
}

pub async fn remove(State(s): State<Arc<AdminServices>>, page: Page, Path(alias): Path<String>) -> Response {
    let result = api::<()>(&s, Method::DELETE, &format!("/api/v1/aliases/{}", segment(&alias)), None).await;
    done(&s, &page, &alias, result, "removed").await
}

/// Back to the aliases of the alias's domain.
async fn done(s: &Arc<AdminServices>, page: &Page, alias: &str, result: Result<(), CallError>, what: &str) -> Response {
    let domain = alias.trim().rsplit_once('@').map(|(_, domain)| domain.to_owned());
    match result {
        Ok(()) => {
            let filter = domain.map(|d| format!("&domain={}", segment(&d))).unwrap_or_default();
            page.redirect(&format!("/admin/aliases?done={what}{filter}")).into_response()
        }
        Err(e) => show(s, page, domain, e.status, Flash::error(e.message)).await,
    }
}

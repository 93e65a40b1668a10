//! `/admin/domains`: the domains, adding and removing one.

use super::call::{CallError, api, segment};
use super::{Done, Flash, Page, render};
use crate::AdminServices;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::DomainRecord;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "domains.html")]
struct DomainsPage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    clustered: bool,
    domains: Vec<DomainRow>,
}

struct DomainRow {
    name: String,
    /// The name as one URL path segment.
    path: String,
    server: Option<String>,
    main: bool,
}

pub async fn page(State(s): State<Arc<AdminServices>>, page: Page, Query(done): Query<Done>) -> Response {
    show(&s, &page, StatusCode::OK, Flash::done(done.done.as_deref())).await
}

/// The page with `flash` above it; a listing that fails is said on the page.
pub(crate) async fn show(s: &Arc<AdminServices>, page: &Page, status: StatusCode, flash: Flash) -> Response {
    let (domains, status, flash) = match api::<Vec<DomainRecord>>(s, Method::GET, "/api/v1/domains", None).await {
        Ok(domains) => (domains, status, flash),
        Err(e) => (Vec::new(), e.status, Flash::error(e.message)),
    };
    let domains = domains
        .into_iter()
        .map(|d| DomainRow {
            path: segment(d.name.as_str()),
            main: d.name == s.main_domain,
            name: d.name.to_string(),
            server: d.server.map(|server| server.to_string()),
        })
        .collect();
    let clustered = s.cluster.is_some();
    render(status, &DomainsPage { page, flash, section: "domains", clustered, domains })
}

#[derive(serde::Deserialize)]
pub struct NewDomainForm {
    #[serde(default)]
    name: String,
    /// A checkbox: present when ticked.
    shared: Option<String>,
}

pub async fn add(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    axum::Form(form): axum::Form<NewDomainForm>,
) -> Response {
    let body = serde_json::json!({ "name": form.name.trim(), "shared": form.shared.is_some() });
    done(&s, &page, api::<serde_json::Value>(&s, Method::POST, "/api/v1/domains", Some(body)).await, "added").await
}

pub async fn remove(State(s): State<Arc<AdminServices>>, page: Page, Path(domain): Path<String>) -> Response {
    let path = format!("/api/v1/domains/{}", segment(&domain));
    done(&s, &page, api::<serde_json::Value>(&s, Method::DELETE, &path, None).await, "removed").await
}

/// After an action: back to the list (303, so a reload does not repeat
/// it), or the list again with the API's reason.
async fn done<T>(s: &Arc<AdminServices>, page: &Page, result: Result<T, CallError>, what: &str) -> Response {
    match result {
        Ok(_) => page.redirect(&format!("/admin/domains?done={what}")).into_response(),
        Err(e) => show(s, page, e.status, Flash::error(e.message)).await,
    }
}

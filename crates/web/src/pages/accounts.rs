//! `/admin/domains/{domain}/accounts`: a domain's accounts with their
//! usage and quota, a page at a time; adding, removing, a new password, a
//! new quota. In a cluster an account's calls run on its host (the API's
//! own routing), so usage is the host's figure.

use super::call::{CallError, api, segment};
use super::{Flash, Page, render};
use crate::AdminServices;
use crate::api::types::AccountDetail;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::AccountRecord;
use std::sync::Arc;

/// Usage is asked per account (of its host, in a cluster), so a page is kept short.
const PER_PAGE: usize = 50;
const MIB: u64 = 1024 * 1024;

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    domain: String,
    domain_path: String,
    clustered: bool,
    total: usize,
    accounts: Vec<AccountRow>,
    prev: Option<usize>,
    next: Option<usize>,
}

struct AccountRow {
    name: String,
    path: String,
    quota: String,
    used: String,
    messages: String,
    administrator: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct Listing {
    page: Option<usize>,
    done: Option<String>,
}

pub async fn page(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    Path(domain): Path<String>,
    Query(listing): Query<Listing>,
) -> Response {
    let flash = Flash::done(listing.done.as_deref());
    show(&s, &page, &domain, listing.page.unwrap_or(0), StatusCode::OK, flash).await
}

async fn show(
    s: &Arc<AdminServices>,
    page: &Page,
    domain: &str,
    n: usize,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let path = format!("/api/v1/domains/{}/accounts", segment(domain));
    let (records, status, flash) = match api::<Vec<AccountRecord>>(s, Method::GET, &path, None).await {
        Ok(records) => (records, status, flash),
        Err(e) => (Vec::new(), e.status, Flash::error(e.message)),
    };
    let total = records.len();
    let mut accounts = Vec::new();
    for record in records.iter().skip(n * PER_PAGE).take(PER_PAGE) {
        accounts.push(row(s, record).await);
    }
    let template = AccountsPage {
        page,
        flash,
        section: "domains",
        domain: domain.to_owned(),
        domain_path: segment(domain),
        clustered: s.cluster.is_some(),
        total,
        accounts,
        prev: n.checked_sub(1),
        next: ((n + 1) * PER_PAGE < total).then_some(n + 1),
    };
    render(status, &template)
}

async fn row(s: &Arc<AdminServices>, record: &AccountRecord) -> AccountRow {
    let name = record.name.to_string();
    let path = segment(&name);
    let detail = api::<AccountDetail>(s, Method::GET, &format!("/api/v1/accounts/{path}"), None).await;
    // A host that cannot be reached leaves the figures unknown, not the page broken.
    let (used, messages) = match &detail {
        Ok(detail) => (size(detail.used_bytes), detail.messages.to_string()),
        Err(_) => ("unknown".to_owned(), "unknown".to_owned()),
    };
    AccountRow {
        administrator: record.name == s.administrator(),
        quota: record.quota_bytes.map_or_else(|| "unlimited".to_owned(), size),
        used,
        messages,
        name,
        path,
    }
}

fn size(bytes: u64) -> String {
    if bytes >= MIB { format!("{:.1} MiB", bytes as f64 / MIB as f64) } else { format!("{bytes} bytes") }
}

#[derive(serde::Deserialize)]
pub struct NewAccountForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    quota_mib: String,
    #[serde(default)]
    server: String,
}

pub async fn add(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    axum::Form(form): axum::Form<NewAccountForm>,
) -> Response {
    let result = match quota(&form.quota_mib) {
        Ok(quota_bytes) => {
            let server = Some(form.server.trim()).filter(|server| !server.is_empty());
            let name = format!("{}@{}", form.name.trim(), form.domain.trim());
            let body = serde_json::json!({ "name": name, "password": form.password, "quota_bytes": quota_bytes, "server": server });
            api::<serde_json::Value>(&s, Method::POST, "/api/v1/accounts", Some(body)).await.map(drop)
        }
        Err(e) => Err(e),
    };
    done(&s, &page, &form.domain, result, "added").await
}

#[derive(serde::Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    quota_mib: String,
}

/// `POST /admin/accounts/{account}/{remove|password|quota}`.
pub async fn act(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    Path((account, action)): Path<(String, String)>,
    axum::Form(form): axum::Form<AccountForm>,
) -> Response {
    let path = format!("/api/v1/accounts/{}", segment(&account));
    let result = match action.as_str() {
        "remove" => api::<()>(&s, Method::DELETE, &path, None).await,
        "password" => {
            let body = serde_json::json!({ "password": form.password });
            api::<()>(&s, Method::PUT, &format!("{path}/password"), Some(body)).await
        }
        "quota" => match quota(&form.quota_mib) {
            Ok(quota_bytes) => {
                let body = serde_json::json!({ "quota_bytes": quota_bytes });
                api::<()>(&s, Method::PUT, &format!("{path}/quota"), Some(body)).await
            }
            Err(e) => Err(e),
        },
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let domain = account.rsplit_once('@').map_or(form.domain.as_str(), |(_, domain)| domain).to_owned();
    done(&s, &page, &domain, result, &action).await
}

/// A quota typed in MiB; empty means unlimited.
fn quota(text: &str) -> Result<Option<u64>, CallError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().ok().and_then(|mib| mib.checked_mul(MIB)).map(Some).ok_or_else(|| CallError {
        status: StatusCode::BAD_REQUEST,
        message: format!("quota {text:?} is not a whole number of MiB"),
    })
}

async fn done(
    s: &Arc<AdminServices>,
    page: &Page,
    domain: &str,
    result: Result<(), CallError>,
    what: &str,
) -> Response {
    let back = format!("/admin/domains/{}/accounts", segment(domain));
    match result {
        Ok(()) => page.redirect(&format!("{back}?done={what}")).into_response(),
        Err(e) => show(s, page, domain, 0, e.status, Flash::error(e.message)).await,
    }
}

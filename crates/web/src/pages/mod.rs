//! The web admin pages under `/admin/`: server-rendered HTML (askama,
//! escaped at compile time), usable without JavaScript. Every change goes
//! through the JSON API's own handlers (see [`call`]), so the pages and the
//! CLI cannot disagree about what is allowed.

mod accounts;
mod aliases;
mod assets;
mod call;
mod cluster;
mod context;
mod domains;
mod limit;
mod login;
mod queue;
mod session;
mod svg;

use crate::AdminServices;
use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

pub use context::Page;
pub use session::{AdminSessions, COOKIE_NAME};

/// What the admin pages keep in memory on this member.
#[derive(Default)]
pub struct PageState {
    pub sessions: AdminSessions,
    pub(crate) limiter: limit::LoginLimiter,
}

/// The administrator a request to the admin pages is made by: a live
/// `rookery_admin` session, or a cluster member's signed forwarding header.
/// A frontend uses this to let administrators through to `/Cluster/...`.
pub async fn page_admin(services: &AdminServices, headers: &axum::http::HeaderMap) -> Option<types::AccountName> {
    context::authenticate(services, headers).await.map(|auth| auth.admin)
}

pub(crate) fn router(services: Arc<AdminServices>) -> Router<Arc<AdminServices>> {
    let pages = Router::new()
        .route("/admin", get(home))
        .route("/admin/", get(home))
        .route("/admin/domains", get(domains::page).post(domains::add))
        .route("/admin/domains/{domain}/remove", post(domains::remove))
        .route("/admin/domains/{domain}/accounts", get(accounts::page))
        .route("/admin/accounts", post(accounts::add))
        .route("/admin/accounts/{account}/{action}", post(accounts::act))
        .route("/admin/aliases", get(aliases::page).post(aliases::add))
        .route("/admin/aliases/{alias}/remove", post(aliases::remove))
        .route("/admin/queue", get(queue::page))
        .route("/admin/queue/{id}", get(queue::show))
        .route("/admin/queue/{id}/{action}", post(queue::act))
        .route("/admin/cluster", get(cluster::page))
        .route("/admin/cluster.svg", get(cluster::picture))
        .route("/admin/logout", post(login::logout))
        .layer(axum::middleware::from_fn_with_state(services.clone(), context::require_admin));
    Router::new()
        .route("/admin/login", get(login::page).post(login::submit))
        .route("/admin/static/{file}", get(assets::serve))
        .merge(pages)
        .layer(axum::middleware::map_response(security_headers))
}

async fn home(page: Page) -> Redirect {
    page.redirect("/admin/domains")
}

/// Every admin response: no framing, no sniffing, nothing loaded from elsewhere.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A page, rendered; a template error (a bug, not bad input) is a 500.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(target: "web::admin", error = %e, "admin page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// A message shown above a page after an action.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Flash {
    pub fn error(message: impl Into<String>) -> Flash {
        Flash { notice: None, error: Some(message.into()) }
    }

    /// The notice named in `?done=`: fixed texts only, so a link cannot
    /// put words of its own on the page.
    pub fn done(done: Option<&str>) -> Flash {
        let notice = match done {
            Some("added") => "Added.",
            Some("removed") => "Removed.",
            Some("password") => "Password changed.",
            Some("quota") => "Quota changed.",
            Some("retry") => "Retried.",
            Some("hold") => "Held.",
            Some("release") => "Released.",
            Some("delete") => "Deleted from the queue.",
            _ => return Flash::default(),
        };
        Flash { notice: Some(notice.into()), error: None }
    }
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct Done {
    pub done: Option<String>,
}

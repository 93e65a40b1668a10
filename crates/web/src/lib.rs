//! The JSON admin API over HTTP: the endpoint that the `rookery` admin
//! commands (and, later, the web admin pages) talk to. It authenticates
//! every request as the main domain's postmaster (CM-30) and calls the
//! directory, the store and the queue; it holds no state of its own.
#![forbid(unsafe_code)]

pub mod api;
mod auth;
pub mod cluster;
mod error;
pub mod forwarded_admin;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod pages;

use axum::Router;
use directory::Directory;
use queue::Queue;
use std::sync::Arc;
use store::Store;
use types::{AccountName, DomainName};

pub use error::ApiError;

/// What the admin API needs from the server.
pub struct AdminServices {
    pub directory: Arc<dyn Directory>,
    pub store: Arc<Store>,
    pub queue: Arc<Queue>,
    pub main_domain: DomainName,
    /// The cluster this server is a member of; `None` on a single server.
    pub cluster: Option<Arc<dyn cluster::ClusterAdmin>>,
    /// Key derived from the cluster link's secret that frontends sign
    /// [`forwarded_admin::HEADER`] with; `None` on a single server.
    pub link_secret: Option<Vec<u8>>,
    /// The admin pages' sessions and login limits (in memory, this member only).
    pub admin_pages: pages::PageState,
    /// Who may scrape `/metrics` without a login besides loopback: the
    /// cluster's allow-listed members (empty on a single server).
    pub metrics_from: net::TrustedProxies,
}

impl AdminServices {
    /// The account with full admin rights: the main domain's postmaster.
    pub fn administrator(&self) -> AccountName {
        AccountName::parse("postmaster", Some(&self.main_domain)).expect("postmaster is a valid local part")
    }

    /// Whether `user` may administer this server: its own postmaster, or
    /// in a cluster the postmaster of any member's main domain (CM-30), so
    /// that a frontend, which keeps no passwords (CM-15), is administered
    /// with a backend's postmaster login.
    pub async fn is_administrator(&self, user: &AccountName) -> bool {
        if *user == self.administrator() {
            return true;
        }
        match &self.cluster {
            Some(cluster) if user.local().as_str() == "postmaster" => cluster.is_member(user.domain().as_str()).await,
            _ => false,
        }
    }
}

/// The admin HTTP application, to be served on the admin listener.
pub fn admin_router(services: Arc<AdminServices>) -> Router {
    api::routes()
        .route("/api/v1/cluster/members", axum::routing::get(cluster::members))
        .route("/api/v1/cluster/status", axum::routing::get(cluster::status))
        .route("/api/v1/cluster/owners/{account}", axum::routing::get(cluster::owner))
        .route("/api/v1/cluster/members/{member}/{*rest}", axum::routing::any(cluster::via_member))
        // Layers run outside in: the login is checked before anything is
        // forwarded to another member.
        .layer(axum::middleware::from_fn_with_state(services.clone(), cluster::route_to_host))
        .layer(axum::middleware::from_fn(api::json_errors))
        .layer(axum::middleware::from_fn_with_state(services.clone(), auth::require_admin))
        // Added after the login layer, so outside it: the document holds
        // no data, and /metrics checks who asks itself.
        .route("/api/openapi.json", axum::routing::get(openapi::serve))
        .route(
            "/metrics",
            axum::routing::get(metrics::scrape)
                .layer(axum::middleware::from_fn_with_state(services.clone(), metrics::open_or_admin)),
        )
        // The pages check their own login (a session cookie, not Basic).
        .merge(pages::router(services.clone()))
        // Last, so that no layer above (the pages' login redirect) answers
        // for a path nobody serves.
        .fallback(api::unknown_path)
        .with_state(services)
}

/// Serves the admin API on `listener` until `shutdown` turns true.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    services: Arc<AdminServices>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let options = net::http::ListenOptions::default();
    listen::serve_app(listener, admin_router(services), &options, shutdown).await;
    Ok(())
}

//! The routes of the admin API, version 1, and the JSON shapes they take
//! and return (the `rookery` CLI deserialises the same types).

mod accounts;
mod aliases;
mod domains;
mod errors;
mod queue;
pub mod server;
pub mod types;

use crate::AdminServices;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use std::sync::Arc;

pub use errors::{json_errors, unknown_path};

/// Request bodies of the API are small JSON documents (a name, a password,
/// a path); anything bigger is refused with 413 before it is buffered.
pub const MAX_BODY: usize = 64 * 1024;

pub(crate) fn routes() -> Router<Arc<AdminServices>> {
    Router::new()
        .route("/api/v1/domains", get(domains::list).post(domains::add))
        .route("/api/v1/domains/{domain}", get(domains::show).delete(domains::remove))
        .route("/api/v1/domains/{domain}/accounts", get(accounts::list))
        .route("/api/v1/accounts", post(accounts::add))
        .route("/api/v1/accounts/{account}", get(accounts::show).delete(accounts::remove))
        .route("/api/v1/accounts/{account}/password", put(accounts::set_password))
        .route("/api/v1/accounts/{account}/quota", get(accounts::quota).put(accounts::set_quota))
        .route("/api/v1/aliases", get(aliases::list).post(aliases::add))
        .route("/api/v1/aliases/{alias}", get(aliases::show).delete(aliases::remove))
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/import", post(queue::import))
        .route("/api/v1/queue/{id}", get(queue::show).delete(queue::delete))
        .route("/api/v1/queue/{id}/{action}", post(queue::act))
        .route("/api/v1/server/status", get(server::show))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(json_errors))
}

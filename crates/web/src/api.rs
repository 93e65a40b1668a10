//! The routes of the admin API, version 1, and the JSON shapes they take
//! and return (the `rookery` CLI deserialises the same types).

mod accounts;
mod aliases;
mod domains;
mod queue;
pub mod types;

use crate::AdminServices;
use axum::Router;
use axum::routing::{get, put};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<AdminServices>> {
    Router::new()
        .route("/api/v1/domains", get(domains::list).post(domains::add))
        .route("/api/v1/domains/{domain}", axum::routing::delete(domains::remove))
        .route("/api/v1/domains/{domain}/accounts", get(accounts::list))
        .route("/api/v1/accounts", axum::routing::post(accounts::add))
        .route("/api/v1/accounts/{account}", get(accounts::show).delete(accounts::remove))
        .route("/api/v1/accounts/{account}/password", put(accounts::set_password))
        .route("/api/v1/accounts/{account}/quota", put(accounts::set_quota))
        .route("/api/v1/aliases", get(aliases::list).post(aliases::add))
        .route("/api/v1/aliases/{alias}", axum::routing::delete(aliases::remove))
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/import", axum::routing::post(queue::import))
        .route("/api/v1/queue/{id}", get(queue::show).delete(queue::delete))
        .route("/api/v1/queue/{id}/{action}", axum::routing::post(queue::act))
}

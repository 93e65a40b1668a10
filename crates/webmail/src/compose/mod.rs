//! Compose, reply, forward and send. Address checks (`address`), the
//! reply/forward prefill (`prefill`), building the message (`build`) and
//! reading the form (`form`) are pure or nearly so and unit-tested; `page`
//! shows the form and `send` queues the message and keeps a copy.

pub mod address;
pub mod build;
mod form;
mod page;
pub mod prefill;
mod send;

pub use send::SENT;

use crate::WebmailServices;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// The routes of the compose pages, merged into [`crate::router`]. Only
/// these take bodies up to `max_upload` (attachments); every other route
/// keeps the router's small form limit.
pub fn routes(max_upload: usize) -> Router<Arc<WebmailServices>> {
    Router::new()
        .route("/compose", get(page::form).post(send::send))
        .layer(axum::extract::DefaultBodyLimit::max(max_upload))
        .layer(axum::middleware::from_fn_with_state(max_upload, crate::error::limit_body))
}

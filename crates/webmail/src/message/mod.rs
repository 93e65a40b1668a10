//! Reading a message: the message page (`view`), part downloads (`part`),
//! and the flag/seen/delete/move forms (`actions`). The MIME walk (`mime`),
//! the HTML sanitiser (`sanitize`), plain-text rendering (`plain`) and the
//! download headers (`download`) are pure and unit-tested.

mod actions;
pub mod download;
pub mod mime;
pub(crate) mod open;
mod part;
pub mod plain;
pub mod sanitize;
pub(crate) mod view;

pub use actions::TRASH;
pub use view::CSP_WITH_REMOTE_IMAGES;

use crate::WebmailServices;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// The routes of the message pages, merged into [`crate::router`]. The
/// part path is one segment: `/part/1/../x` matches no route at all.
pub fn routes() -> Router<Arc<WebmailServices>> {
    Router::new()
        .route("/mail/{mailbox}/{uid}", get(view::show))
        .route("/mail/{mailbox}/{uid}/part/{path}", get(part::download))
        .route("/mail/{mailbox}/{uid}/flag", post(actions::flag))
        .route("/mail/{mailbox}/{uid}/delete", post(actions::delete))
        .route("/mail/{mailbox}/{uid}/move", post(actions::move_to))
}

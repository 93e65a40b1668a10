//! One file per group of commands (after stalwart's `crates/imap/src/op/`).
//! Each adds `handle_*` methods to the session.

mod any;
mod append;
mod auth;
mod copy;
mod fetch;
mod list_extended;
mod mailbox;
mod quota;
mod search;
mod select;
mod store;

pub(crate) use auth::SaslStep;
pub(crate) use list_extended::ListExtended;
pub use mailbox::SPECIAL_USE_MAILBOXES;
#[cfg(test)]
pub(crate) use mailbox::matches;

//! One file per group of commands (after stalwart's `crates/imap/src/op/`).
//! Each adds `handle_*` methods to the session.

mod any;
mod append;
mod auth;
mod copy;
mod fetch;
mod mailbox;
mod search;
mod select;
mod store;

#[cfg(test)]
pub(crate) use mailbox::matches;

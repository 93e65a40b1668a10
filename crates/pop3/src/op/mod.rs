//! One file per command, or per group of small commands (after stalwart's
//! `crates/imap/src/op/`). Each adds `handle_*` methods to the session.

mod auth;
mod capa;
mod dele;
mod list;
mod login;
mod noop;
mod quit;
mod retr;
mod stat;
mod stls;
mod user;

#[cfg(test)]
pub(crate) use retr::top_of_message;

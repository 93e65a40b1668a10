//! SMTP (MX role, RFC 5321), message submission (RFC 6409) and LMTP
//! (RFC 2033) sessions: RFC state machines behind [`net::Session`].
//!
//! A session turns the bytes the driver hands it into replies. It asks
//! the local delivery agent who a recipient is, the directory who a
//! client is, and hands accepted messages to the durable queue (SMTP,
//! submission) or the store (LMTP) before it answers 250. It owns no
//! socket, delivers nothing from the queue and sends nothing outward;
//! command parsing is smtp-proto's.
#![forbid(unsafe_code)]

mod command;
mod config;
mod data;
mod op;
mod received;
mod reply;
mod session;

pub use config::{Role, SmtpConfig};
pub use session::{SmtpServices, SmtpSession};

#[cfg(test)]
mod tests;

//! POP3 sessions (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL):
//! the state machine between the wire format of `pop3-codec` and the
//! directory, locator and store.
//!
//! [`Pop3Session`] implements [`net::Session`]: it is handed buffered input
//! and appends replies, and never touches a socket. Each command lives in
//! its own file under `op/`. A session holds its account's exclusive POP3
//! lock from login to QUIT or disconnect, and removes messages only at
//! QUIT (the UPDATE state); a dropped connection deletes nothing.
#![forbid(unsafe_code)]

mod config;
mod maildrop;
mod op;
mod session;

pub use config::Pop3Config;
pub use session::{Pop3Services, Pop3Session};

#[cfg(test)]
mod tests;

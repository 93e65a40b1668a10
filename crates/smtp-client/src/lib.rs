//! The outbound SMTP client of the MTA (RFC 5321): it owns connections to
//! other servers and one message transaction at a time on each, and
//! reports, per recipient, whether the server accepted the message, and
//! if not whether the failure is temporary or permanent and what the
//! server said, in the words a DSN quotes. It does not choose servers (MX
//! lookup and routing are the caller's), queue, retry or bounce.
//!
//! Why our own client, on smtp-proto (reply parsing, EHLO keywords) with
//! tokio and tokio-rustls, rather than mail-send: a queue needs the reply
//! to each RCPT, control over PIPELINING (RFC 2920), STARTTLS by policy
//! with a plaintext retry, and every failure classified by stage and
//! permanence; mail-send stops at the first refused recipient and reports
//! errors without that classification.
//!
//! Entry points: [`Connection`] (one session: `connect`, `send`, `reset`,
//! `quit`) and [`Pool`] (connections reused per destination address).
//! Every input from a server is bounded (`reply.rs`) and every wait has a
//! timeout ([`Timeouts`]), so a hostile or broken server ends in an
//! [`SmtpError`], never a hang. Logs go to target `smtp_client`: debug
//! per command, info per transaction; message bodies are never logged.
//!
//! Code map: `connection` (connect, greeting, EHLO/HELO, STARTTLS, RSET,
//! QUIT), `auth` (AUTH PLAIN/LOGIN where the config holds a login), `transaction` (MAIL/RCPT/DATA, pipelined or not), `wire` (the
//! socket with deadlines), `reply` (reply framing and limits), `data`
//! (dot-stuffing), `command` (command lines), `extensions` (EHLO
//! keywords), `tls` (verifying and opportunistic rustls configs), `pool`,
//! `error`.
#![forbid(unsafe_code)]

mod auth;
mod command;
mod config;
mod connection;
mod data;
mod destination;
mod error;
mod extensions;
mod pool;
mod reply;
mod tls;
mod transaction;
mod wire;

pub use auth::Credentials;
pub use config::{ClientConfig, Timeouts, TlsPolicy};
pub use connection::Connection;
pub use destination::Destination;
pub use error::{Cause, SmtpError, Stage};
pub use extensions::Extensions;
pub use pool::{Pool, PoolLimits};
pub use reply::{EnhancedStatus, MAX_LINE_BYTES, MAX_REPLY_BYTES, MAX_REPLY_LINES, Reply, ReplyError};
pub use tls::TlsSettings;
pub use transaction::{Envelope, RcptResult};

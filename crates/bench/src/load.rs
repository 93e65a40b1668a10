//! The load generator: one async client used unchanged against both
//! servers. SMTP and LMTP share one session (they differ in EHLO/LHLO
//! only, with one recipient per message); POP3 and IMAP are the same for
//! both.

pub(crate) mod conn;
pub mod imap;
pub mod message;
pub mod pop3;
pub mod smtp;

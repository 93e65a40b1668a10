//! IMAP sessions (RFC 3501 IMAP4rev1, with the RFC 9051 commands that
//! rev1 clients also use): the state machine between the wire and the
//! directory, locator and store.
//!
//! [`ImapSession`] implements [`net::Session`]: it is handed buffered
//! input and appends responses, and never touches a socket. Each group of
//! commands lives in its own file under `op/`.
//!
//! Commands are parsed by imap-codec's `CommandCodec`, driven directly
//! rather than through imap-next's sans-IO `Server`: our driver already
//! owns the buffering and hands the session bytes, and imap-next wants to
//! own the fragment handling and the output queue itself. `frame.rs`
//! splits the input into whole commands (lines plus literals), sends the
//! `+` continuation for a synchronising literal, and refuses a literal
//! over the limit with a tagged `NO` before a byte of it is read. Literal
//! bytes are moved out of the driver's buffer into the session's, so the
//! driver's buffer stays small whatever the literal size. Responses are
//! written by hand (`write.rs`). imap-codec does not parse LIST-EXTENDED
//! (RFC 5258); a command it refuses is tried as one by
//! `op/list_extended.rs` before it is answered with `BAD`.
//!
//! IDLE uses the driver's `Session::wake`: while idling, the session waits
//! on the account's change counter and writes the updates at once.
//!
//! MIME structure (ENVELOPE, BODYSTRUCTURE, part sections, BINARY) is
//! found by `mime.rs` over the stored bytes, with mail-parser parsing
//! each header block.
//!
//! Not yet: CONDSTORE/QRESYNC, ESEARCH (hence no IMAP4rev2), modified
//! UTF-7 mailbox names (names are passed through as UTF-8).
#![forbid(unsafe_code)]

mod config;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod mime;
mod op;
mod selected;
mod session;
mod write;

pub use config::ImapConfig;
pub use op::SPECIAL_USE_MAILBOXES;
pub use session::{ImapServices, ImapSession};

#[cfg(test)]
mod tests;

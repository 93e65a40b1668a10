//! IMAP sessions (RFC 9051 IMAP4rev2, with RFC 3501 IMAP4rev1 clients
//! served the rev1 way until they ENABLE IMAP4rev2): the state machine
//! between the wire and the directory, locator and store.
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
//! imap-codec does not parse SEARCH RETURN (ESEARCH, RFC 4731) or the
//! saved result `$` (SEARCHRES, RFC 5182) either, the last pieces of
//! IMAP4rev2: `op/search/` takes the result options off the command and
//! puts the saved UIDs in place of `$` before imap-codec decodes it.
//!
//! Mailbox names are UTF-8 in the store. On the wire they are modified
//! UTF-7 (`utf7.rs`) until the client enables IMAP4rev2, UTF-8 after:
//! `session::mailbox_name` decodes every name argument and
//! `op/mailbox.rs`'s `write_name` encodes every name written.
//!
//! imap-codec's quoted strings are 7-bit; one holding UTF-8 (RFC 9051
//! §4.3) is rewritten as a literal first (`tokens.rs`).
//!
//! CONDSTORE/QRESYNC (RFC 7162): modseqs are the store's; the store keeps
//! each mailbox's expunges by modseq, which SELECT (QRESYNC ...) and
//! UID FETCH (CHANGEDSINCE .. VANISHED) report as VANISHED (EARLIER).
//! `session::Enabled` holds what ENABLE (or a CONDSTORE-enabling command)
//! turned on, which changes the form of responses: MODSEQ in unsolicited
//! FETCH, VANISHED instead of EXPUNGE, ESEARCH for SEARCH, no RECENT.
#![forbid(unsafe_code)]

mod config;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod mime;
mod op;
mod selected;
mod session;
mod tokens;
mod utf7;
mod write;

pub use config::ImapConfig;
pub use op::SPECIAL_USE_MAILBOXES;
pub use session::{ImapServices, ImapSession};

#[cfg(test)]
mod tests;

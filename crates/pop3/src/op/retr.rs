//! RETR and TOP (RFC 1939 §5, §7).
//!
//! RETR is the hot path (benchmarked against Dovecot): the store hands out
//! the message as shared `Bytes`, and the codec dot-stuffs it straight into
//! the output buffer in one pass, with no allocation per line.

use crate::session::Pop3Session;
use bytes::Bytes;
use net::Step;
use pop3_codec::{ResponseCode, write_dot_stuffed, write_err, write_ok};
use store::StoreError;

impl Pop3Session {
    pub(crate) async fn handle_retr(&mut self, msg: u32, out: &mut Vec<u8>) -> Step {
        if self.maildrop().is_none() {
            return self.wrong_state(out);
        }
        if let Some(message) = self.read_message(msg, out).await {
            write_ok(out, format_args!("{} octets", message.len()));
            write_dot_stuffed(out, &message);
        }
        Step::Continue
    }

    pub(crate) async fn handle_top(&mut self, msg: u32, lines: u32, out: &mut Vec<u8>) -> Step {
        if self.maildrop().is_none() {
            return self.wrong_state(out);
        }
        if let Some(message) = self.read_message(msg, out).await {
            write_ok(out, "top of message follows");
            write_dot_stuffed(out, top_of_message(&message, lines));
        }
        Step::Continue
    }

    /// Reads message `msg` in the TRANSACTION state, or writes why not and
    /// gives `None`.
    async fn read_message(&mut self, msg: u32, out: &mut Vec<u8>) -> Option<Bytes> {
        let maildrop = self.maildrop()?;
        let message = match maildrop.get(msg) {
            Ok(message) => *message,
            Err(e) => {
                write_err(out, None, e);
                return None;
            }
        };
        match maildrop.account.read(maildrop.mailbox, message.uid).await {
            Ok(bytes) => Some(bytes),
            Err(StoreError::NoSuchMessage(_)) => {
                // Another protocol (IMAP) expunged it since login.
                write_err(out, None, format_args!("message {msg} has been removed by another session"));
                None
            }
            Err(e) => {
                tracing::error!(target: "pop3", uid = message.uid.0, error = %e, "cannot read message");
                write_err(out, Some(ResponseCode::SysTemp), "cannot read the message, try again later");
                None
            }
        }
    }
}

/// The part of a message TOP sends: the header, the blank line after it
/// and the first `lines` lines of the body (RFC 1939 §7). A message with
/// no blank line is all header and is sent whole.
pub(crate) fn top_of_message(message: &[u8], lines: u32) -> &[u8] {
    let mut line_start = 0;
    let mut body_start = None;
    for lf in memchr::memchr_iter(b'\n', message) {
        let line = &message[line_start..lf];
        if line.is_empty() || line == b"\r" {
            body_start = Some(lf + 1);
            break;
        }
        line_start = lf + 1;
    }
    let Some(mut end) = body_start else {
        return message;
    };
    for _ in 0..lines {
        match memchr::memchr(b'\n', &message[end..]) {
            Some(lf) => end += lf + 1,
            None => return message,
        }
    }
    &message[..end]
}

//! QUIT (RFC 1939 §4, §6): in the TRANSACTION state it enters the UPDATE
//! state, which removes the messages marked deleted.

use crate::session::{Pop3Session, State};
use net::Step;
use pop3_codec::{ResponseCode, write_err, write_ok};

impl Pop3Session {
    pub(crate) async fn handle_quit(&mut self, out: &mut Vec<u8>) -> Step {
        // Taking the maildrop out of the state releases the account's lock
        // when this function returns, whatever happens.
        let State::Transaction(maildrop) = std::mem::replace(&mut self.state, State::Update) else {
            write_ok(out, "Rookery POP3 signing off");
            return Step::Close;
        };
        let deleted = maildrop.deleted_uids();
        let left = maildrop.messages.len() - deleted.len();
        if deleted.is_empty() {
            write_ok(out, format_args!("Rookery POP3 signing off ({left} messages left)"));
            return Step::Close;
        }
        match maildrop.account.expunge(maildrop.mailbox, &deleted).await {
            Ok(removed) => {
                tracing::debug!(target: "pop3", removed = removed.len(), left, "maildrop updated");
                write_ok(
                    out,
                    format_args!("Rookery POP3 signing off ({} messages deleted, {left} left)", removed.len()),
                );
            }
            Err(e) => {
                tracing::error!(target: "pop3", error = %e, "cannot remove deleted messages");
                write_err(out, Some(ResponseCode::SysTemp), "deleted messages could not be removed");
            }
        }
        Step::Close
    }
}

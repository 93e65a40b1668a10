//! The commands that touch nothing but the session: RSET, NOOP, VRFY,
//! HELP, QUIT.

use crate::reply::write_reply;
use crate::session::{SmtpSession, State};
use net::Step;

impl SmtpSession {
    /// RFC 5321 §4.1.1.5: aborts the transaction, keeps EHLO and AUTH.
    pub(crate) fn rset(&mut self, out: &mut Vec<u8>) {
        self.state = State::Idle;
        write_reply(out, 250, "2.0.0", "ok");
    }

    pub(crate) fn noop(&mut self, out: &mut Vec<u8>) {
        write_reply(out, 250, "2.0.0", "ok");
    }

    /// RFC 5321 §3.5.3: 252 when the server will not verify but would
    /// accept the address (verifying would let anyone harvest accounts).
    pub(crate) fn vrfy(&mut self, out: &mut Vec<u8>) {
        write_reply(out, 252, "2.5.0", "cannot VRFY user, but will accept message and attempt delivery");
    }

    pub(crate) fn help(&mut self, out: &mut Vec<u8>) {
        let commands = if self.is_lmtp() {
            "LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"
        } else {
            "EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH"
        };
        write_reply(out, 214, "2.0.0", &format!("commands: {commands}"));
    }

    pub(crate) fn quit(&mut self, out: &mut Vec<u8>) -> Step {
        self.state = State::Idle;
        write_reply(out, 221, "2.0.0", "bye");
        Step::Close
    }
}

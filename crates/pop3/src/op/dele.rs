//! DELE and RSET (RFC 1939 §5): deletion marks, applied only at QUIT.

use crate::session::Pop3Session;
use net::Step;
use pop3_codec::{write_err, write_ok};

impl Pop3Session {
    pub(crate) fn handle_dele(&mut self, msg: u32, out: &mut Vec<u8>) -> Step {
        let Some(maildrop) = self.maildrop() else {
            return self.wrong_state(out);
        };
        match maildrop.get_mut(msg) {
            Ok(message) => {
                message.deleted = true;
                write_ok(out, format_args!("message {msg} deleted"));
            }
            Err(e) => write_err(out, None, e),
        }
        Step::Continue
    }

    pub(crate) fn handle_rset(&mut self, out: &mut Vec<u8>) -> Step {
        let Some(maildrop) = self.maildrop() else {
            return self.wrong_state(out);
        };
        for message in &mut maildrop.messages {
            message.deleted = false;
        }
        let (count, size) = maildrop.stat();
        write_ok(out, format_args!("maildrop has {count} messages ({size} octets)"));
        Step::Continue
    }
}

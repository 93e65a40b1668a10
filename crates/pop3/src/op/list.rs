//! LIST and UIDL (RFC 1939 §5, §7): one message, or every message not
//! marked deleted.

use crate::session::Pop3Session;
use net::Step;
use pop3_codec::{write_end, write_err, write_line, write_ok};

impl Pop3Session {
    pub(crate) fn handle_list(&mut self, msg: Option<u32>, out: &mut Vec<u8>) -> Step {
        let Some(maildrop) = self.maildrop() else {
            return self.wrong_state(out);
        };
        match msg {
            Some(msg) => match maildrop.get(msg) {
                Ok(message) => write_ok(out, format_args!("{msg} {}", message.size)),
                Err(e) => write_err(out, None, e),
            },
            None => {
                let (count, size) = maildrop.stat();
                write_ok(out, format_args!("{count} messages ({size} octets)"));
                for (msg, message) in maildrop.live() {
                    write_line(out, format_args!("{msg} {}", message.size));
                }
                write_end(out);
            }
        }
        Step::Continue
    }

    pub(crate) fn handle_uidl(&mut self, msg: Option<u32>, out: &mut Vec<u8>) -> Step {
        let Some(maildrop) = self.maildrop() else {
            return self.wrong_state(out);
        };
        match msg {
            Some(msg) => match maildrop.get(msg) {
                Ok(message) => write_ok(out, format_args!("{msg} {}", maildrop.unique_id(message))),
                Err(e) => write_err(out, None, e),
            },
            None => {
                write_ok(out, "unique-id listing follows");
                for (msg, message) in maildrop.live() {
                    write_line(out, format_args!("{msg} {}", maildrop.unique_id(message)));
                }
                write_end(out);
            }
        }
        Step::Continue
    }
}

//! NOOP (RFC 1939 §5).

use crate::session::Pop3Session;
use net::Step;
use pop3_codec::write_ok;

impl Pop3Session {
    pub(crate) fn handle_noop(&mut self, out: &mut Vec<u8>) -> Step {
        if self.maildrop().is_none() {
            return self.wrong_state(out);
        }
        write_ok(out, "");
        Step::Continue
    }
}

//! STAT (RFC 1939 §5).

use crate::session::Pop3Session;
use net::Step;
use pop3_codec::write_ok;

impl Pop3Session {
    pub(crate) fn handle_stat(&mut self, out: &mut Vec<u8>) -> Step {
        let Some(maildrop) = self.maildrop() else {
            return self.wrong_state(out);
        };
        let (count, size) = maildrop.stat();
        write_ok(out, format_args!("{count} {size}"));
        Step::Continue
    }
}

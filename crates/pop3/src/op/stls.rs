//! STLS (RFC 2595 §4).

use crate::session::{Pop3Session, State};
use net::Step;
use pop3_codec::write_ok;

impl Pop3Session {
    pub(crate) fn handle_stls(&mut self, out: &mut Vec<u8>) -> Step {
        if !matches!(self.state, State::Authorization(_)) {
            return self.wrong_state(out);
        }
        if self.conn.tls {
            return self.protocol_error(out, None, "TLS is already active");
        }
        if !self.conn.tls_available {
            return self.protocol_error(out, None, "STLS is not available");
        }
        write_ok(out, "begin TLS negotiation");
        // The driver writes the reply, then starts TLS and calls
        // `tls_started`; commands pipelined after STLS are dropped.
        Step::StartTls
    }
}

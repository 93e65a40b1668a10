//! CAPA (RFC 2449 §5).

use crate::session::{Pop3Session, State};
use net::Step;
use pop3_codec::{write_end, write_line, write_ok};

impl Pop3Session {
    pub(crate) fn handle_capa(&mut self, out: &mut Vec<u8>) -> Step {
        write_ok(out, "capability list follows");
        for capability in ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"] {
            write_line(out, capability);
        }
        // The login capabilities only mean something before login, and
        // plaintext ones only where they may be used (RFC 2595 §4: a
        // client should not see what it is not allowed to try).
        if matches!(self.state, State::Authorization(_)) {
            if self.plaintext_auth_allowed() {
                write_line(out, "USER");
                write_line(out, "SASL PLAIN LOGIN");
            }
            if self.conn.tls_available && !self.conn.tls {
                write_line(out, "STLS");
            }
        }
        write_line(out, "IMPLEMENTATION Rookery");
        write_end(out);
        Step::Continue
    }
}

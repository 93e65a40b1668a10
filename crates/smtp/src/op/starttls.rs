//! STARTTLS (RFC 3207).

use crate::reply::write_reply;
use crate::session::SmtpSession;
use net::Step;

impl SmtpSession {
    /// Answers 220 and asks the driver for the handshake; the driver drops
    /// whatever the client pipelined after the command and calls
    /// `tls_started`, which forgets EHLO, AUTH and the transaction
    /// (RFC 3207 §4.2).
    pub(crate) fn starttls(&mut self, out: &mut Vec<u8>) -> Step {
        if self.conn.tls {
            self.reject(out, 503, "5.5.1", "TLS is already active");
            return Step::Continue;
        }
        if !self.conn.tls_available {
            self.reject(out, 502, "5.5.1", "STARTTLS not available");
            return Step::Continue;
        }
        write_reply(out, 220, "2.0.0", "ready to start TLS");
        Step::StartTls
    }
}

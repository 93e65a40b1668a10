//! USER, PASS and APOP (RFC 1939 §7).

use crate::session::Pop3Session;
use net::Step;
use pop3_codec::{ResponseCode, Secret, write_ok};

impl Pop3Session {
    pub(crate) fn handle_user(&mut self, name: String, out: &mut Vec<u8>) -> Step {
        if self.authorization().is_none() {
            return self.wrong_state(out);
        }
        // Refused before the password is sent in the clear.
        if !self.plaintext_auth_allowed() {
            return self.refuse_plaintext(out);
        }
        if let Some(authorization) = self.authorization() {
            authorization.user = Some(name);
        }
        // Always +OK, so that USER does not tell which names exist.
        write_ok(out, "send PASS");
        Step::Continue
    }

    pub(crate) async fn handle_pass(&mut self, password: Secret, out: &mut Vec<u8>) -> Step {
        let Some(authorization) = self.authorization() else {
            return self.wrong_state(out);
        };
        // A failed PASS forgets the USER too (RFC 1939 §7).
        let Some(user) = authorization.user.take() else {
            return self.protocol_error(out, None, "send USER first");
        };
        self.login(None, &user, password.expose(), out).await
    }

    pub(crate) fn handle_apop(&mut self, out: &mut Vec<u8>) -> Step {
        if self.authorization().is_none() {
            return self.wrong_state(out);
        }
        // APOP needs the password in the clear on the server, which the
        // directory never keeps; the greeting offers no timestamp.
        self.protocol_error(out, None, "APOP is not supported")
    }

    /// The answer to USER or AUTH where plaintext logins are not allowed.
    pub(crate) fn refuse_plaintext(&mut self, out: &mut Vec<u8>) -> Step {
        if self.conn.tls_available {
            self.protocol_error(out, Some(ResponseCode::Auth), "plaintext authentication requires TLS, use STLS first")
        } else {
            self.protocol_error(out, Some(ResponseCode::Auth), "plaintext authentication is not allowed")
        }
    }
}

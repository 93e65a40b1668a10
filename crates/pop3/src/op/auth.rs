//! AUTH (RFC 5034) with the PLAIN and LOGIN mechanisms, with or without
//! an initial response; `AUTH` alone lists the mechanisms.

use crate::session::{Authorization, Pop3Session, SaslExchange, State};
use net::Step;
use pop3_codec::{Secret, write_continuation, write_end, write_err, write_line, write_ok};
use sasl::{LOGIN_PASSWORD_CHALLENGE, LOGIN_USERNAME_CHALLENGE, LoginExchange, Mechanism, SaslError};

impl Pop3Session {
    pub(crate) async fn handle_auth(
        &mut self,
        mechanism: Option<String>,
        initial_response: Option<Secret>,
        out: &mut Vec<u8>,
    ) -> Step {
        if self.authorization().is_none() {
            return self.wrong_state(out);
        }
        let Some(mechanism) = mechanism else {
            // The mechanism list many clients ask for before choosing.
            write_ok(out, "SASL mechanisms follow");
            if self.plaintext_auth_allowed() {
                write_line(out, "PLAIN");
                write_line(out, "LOGIN");
            }
            write_end(out);
            return Step::Continue;
        };
        if !self.plaintext_auth_allowed() {
            return self.refuse_plaintext(out);
        }
        let Some(mechanism) = Mechanism::parse(&mechanism) else {
            return self.protocol_error(out, None, "unsupported SASL mechanism");
        };
        let exchange = match mechanism {
            Mechanism::Plain => SaslExchange::Plain,
            Mechanism::Login => SaslExchange::Login(LoginExchange::default()),
        };
        self.set_sasl_exchange(Some(exchange));
        match initial_response {
            // The initial response stands for the first response line.
            Some(response) => self.handle_sasl_response(response.expose().as_bytes(), out).await,
            None => {
                let challenge = match mechanism {
                    Mechanism::Plain => "",
                    Mechanism::Login => LOGIN_USERNAME_CHALLENGE,
                };
                write_continuation(out, challenge);
                Step::Continue
            }
        }
    }

    /// Handles one client response of the SASL exchange in progress.
    pub(crate) async fn handle_sasl_response(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        let Some(exchange) = self.end_sasl_exchange() else {
            return self.wrong_state(out);
        };
        let response = match sasl::decode_response(line) {
            Ok(response) => response,
            // RFC 5034 §4: a `*` cancels, and the server answers -ERR.
            Err(SaslError::Cancelled) => {
                write_err(out, None, "authentication cancelled");
                return Step::Continue;
            }
            Err(e) => return self.protocol_error(out, None, e),
        };
        let credentials = match exchange {
            SaslExchange::Plain => sasl::parse_plain(&response),
            SaslExchange::Login(mut login) => match login.step(response) {
                Ok(None) => {
                    self.set_sasl_exchange(Some(SaslExchange::Login(login)));
                    write_continuation(out, LOGIN_PASSWORD_CHALLENGE);
                    return Step::Continue;
                }
                Ok(Some(credentials)) => Ok(credentials),
                Err(e) => Err(e),
            },
        };
        match credentials {
            Ok(c) => self.login(c.authzid.as_deref(), &c.authcid, &c.password, out).await,
            Err(e) => self.protocol_error(out, None, e),
        }
    }

    /// Ends the SASL exchange in progress, if any, and returns it.
    pub(crate) fn end_sasl_exchange(&mut self) -> Option<SaslExchange> {
        self.authorization()?.sasl.take()
    }

    fn set_sasl_exchange(&mut self, exchange: Option<SaslExchange>) {
        if let State::Authorization(authorization) = &mut self.state {
            *authorization = Authorization { user: None, sasl: exchange };
        }
    }
}

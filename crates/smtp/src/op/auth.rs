//! AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN; the `sasl` crate
//! decodes, this file runs the exchange and asks the directory.

use crate::config::Role;
use crate::reply::{Reply, write_reply};
use crate::session::{SmtpSession, State};
use sasl::{Credentials, LOGIN_PASSWORD_CHALLENGE, LOGIN_USERNAME_CHALLENGE, LoginExchange, SaslError};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};
use types::AccountName;

/// An exchange waiting for the client's next response.
#[derive(Debug)]
pub(crate) enum AuthExchange {
    /// `334 ` was sent; the PLAIN message comes next.
    Plain,
    /// A LOGIN challenge was sent.
    Login(LoginExchange),
}

impl SmtpSession {
    /// Whether AUTH may be used on this connection now: never over LMTP,
    /// and plaintext passwords only under TLS unless configured otherwise.
    pub(crate) fn auth_offered(&self) -> bool {
        self.config.role != Role::Lmtp && self.plaintext_auth_allowed()
    }

    fn plaintext_auth_allowed(&self) -> bool {
        self.conn.tls
            || self.config.allow_plaintext_auth
            || (self.config.allow_plaintext_auth_on_loopback && self.conn.peer_is_loopback())
    }

    pub(crate) async fn auth(&mut self, mechanism: u64, initial_response: &str, out: &mut Vec<u8>) {
        if let Err(reply) = self.check_auth() {
            self.refuse(out, reply);
            return;
        }
        match mechanism {
            AUTH_PLAIN if initial_response.is_empty() => {
                self.state = State::Auth(AuthExchange::Plain);
                out.extend_from_slice(b"334 \r\n");
            }
            AUTH_PLAIN => self.plain_response(initial_response.as_bytes(), out).await,
            AUTH_LOGIN if initial_response.is_empty() => {
                self.state = State::Auth(AuthExchange::Login(LoginExchange::default()));
                write_challenge(out, LOGIN_USERNAME_CHALLENGE);
            }
            AUTH_LOGIN => self.login_response(LoginExchange::default(), initial_response.as_bytes(), out).await,
            _ => self.reject(out, 504, "5.5.4", "mechanism not supported"),
        }
    }

    fn check_auth(&self) -> Result<(), Reply> {
        if self.config.role == Role::Lmtp {
            return Err(Reply::new(502, "5.5.1", "AUTH not available"));
        }
        if self.helo.is_none() {
            return Err(Reply::new(503, "5.5.1", "send EHLO first"));
        }
        if self.account.is_some() {
            return Err(Reply::new(503, "5.5.1", "already authenticated"));
        }
        if !matches!(self.state, State::Idle) {
            return Err(Reply::new(503, "5.5.1", "AUTH not permitted during a mail transaction"));
        }
        if !self.plaintext_auth_allowed() {
            return Err(if self.conn.tls_available {
                Reply::new(530, "5.7.0", "must issue STARTTLS first")
            } else {
                Reply::new(538, "5.7.11", "encryption required")
            });
        }
        Ok(())
    }

    /// A line sent in answer to a 334 challenge.
    pub(crate) async fn auth_response(&mut self, line: &[u8], out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Auth(AuthExchange::Plain) => self.plain_response(line, out).await,
            State::Auth(AuthExchange::Login(exchange)) => self.login_response(exchange, line, out).await,
            other => self.state = other,
        }
    }

    async fn plain_response(&mut self, response: &[u8], out: &mut Vec<u8>) {
        match sasl::decode_response(response).and_then(|message| sasl::parse_plain(&message)) {
            Ok(credentials) => self.verify(credentials, out).await,
            Err(error) => self.sasl_error(error, out),
        }
    }

    async fn login_response(&mut self, mut exchange: LoginExchange, response: &[u8], out: &mut Vec<u8>) {
        match sasl::decode_response(response).and_then(|decoded| exchange.step(decoded)) {
            Ok(Some(credentials)) => self.verify(credentials, out).await,
            Ok(None) => {
                self.state = State::Auth(AuthExchange::Login(exchange));
                write_challenge(out, LOGIN_PASSWORD_CHALLENGE);
            }
            Err(error) => self.sasl_error(error, out),
        }
    }

    fn sasl_error(&mut self, error: SaslError, out: &mut Vec<u8>) {
        match error {
            SaslError::Cancelled => self.reject(out, 501, "5.0.0", "authentication cancelled"),
            SaslError::Base64 => self.reject(out, 501, "5.5.2", "invalid base64"),
            SaslError::Utf8 | SaslError::Malformed => {
                self.reject(out, 501, "5.5.2", "malformed authentication response")
            }
        }
    }

    async fn verify(&mut self, credentials: Credentials, out: &mut Vec<u8>) {
        let delivery = &self.services.delivery;
        let main_domain = delivery.main_domain();
        let name = AccountName::parse(&credentials.authcid, Some(main_domain));
        // Acting as another identity is not offered: an authzid must name
        // the authenticating account itself.
        let authzid_matches = match (&credentials.authzid, &name) {
            (None, _) => true,
            (Some(authzid), Ok(name)) => AccountName::parse(authzid, Some(main_domain)).is_ok_and(|z| &z == name),
            (Some(_), Err(_)) => false,
        };
        let outcome = match name {
            Ok(name) if authzid_matches => delivery.directory().authenticate(&name, &credentials.password).await,
            _ => Ok(None),
        };
        match outcome {
            Ok(Some(record)) => {
                tracing::debug!(target: "smtp::auth", account = %record.name, "authenticated");
                self.span.record("account", tracing::field::display(&record.name));
                self.account = Some(record.name);
                self.logged_in = Some(net::LoggedIn::new(self.protocol()));
                write_reply(out, 235, "2.7.0", "authentication successful");
            }
            Ok(None) => {
                tracing::debug!(target: "smtp::auth", login = %credentials.authcid, "authentication failed");
                tokio::time::sleep(self.config.auth_failure_delay).await;
                self.reject(out, 535, "5.7.8", "authentication credentials invalid");
            }
            Err(error) => {
                tracing::warn!(target: "smtp::auth", %error, "directory failed during AUTH");
                write_reply(out, 454, "4.7.0", "temporary authentication failure");
            }
        }
    }
}

fn write_challenge(out: &mut Vec<u8>, challenge: &str) {
    out.extend_from_slice(b"334 ");
    out.extend_from_slice(challenge.as_bytes());
    out.extend_from_slice(b"\r\n");
}

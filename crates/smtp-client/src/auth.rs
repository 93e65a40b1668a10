//! SMTP AUTH (RFC 4954) to servers that want a login, such as a relay
//! host ("smarthost") of a provider: PLAIN (RFC 4616), or LOGIN where a
//! server offers only that. Credentials never cross a network in the
//! clear: without TLS they are sent only to a loopback address (the same
//! host). A refused login is a temporary failure, never a bounce: it is
//! the operator's to fix, and the mail should wait for it.

use crate::connection::Connection;
use crate::error::{Cause, SmtpError, Stage};
use crate::reply::{EnhancedStatus, Reply};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tracing::{debug, info};

/// A login at one server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

impl Connection {
    /// Logs in with `credentials`, after EHLO (and STARTTLS, when used).
    pub(crate) async fn authenticate(&mut self, credentials: &Credentials) -> Result<(), SmtpError> {
        let server = self.wire.server.clone();
        let refuse = |text: String| {
            SmtpError::new(&server, Stage::Auth, Cause::Refused { status: EnhancedStatus::new(4, 7, 0), text })
        };
        if !may_send_login(self.is_tls(), server.addr.ip()) {
            return Err(refuse(format!("will not send the login for {server} without TLS")));
        }
        let reply = if self.extensions.auth_plain {
            let token = STANDARD.encode(format!("\0{}\0{}", credentials.user, credentials.password));
            self.secret_command(&format!("AUTH PLAIN {token}\r\n")).await?
        } else if self.extensions.auth_login {
            let reply = self.secret_command("AUTH LOGIN\r\n").await?;
            let reply = self.continue_login(reply, &credentials.user).await?;
            self.continue_login(reply, &credentials.password).await?
        } else {
            return Err(refuse(format!("{server} needs a login but offers neither AUTH PLAIN nor AUTH LOGIN")));
        };
        if reply.code != 235 {
            return Err(SmtpError::new(&server, Stage::Auth, Cause::Reply(reply)).into_temporary());
        }
        info!(target: "smtp_client", server = %server, user = %credentials.user, "logged in");
        Ok(())
    }

    /// The next step of AUTH LOGIN: `value` in answer to a 334 challenge.
    async fn continue_login(&mut self, reply: Reply, value: &str) -> Result<Reply, SmtpError> {
        if reply.code != 334 {
            return Ok(reply);
        }
        self.secret_command(&format!("{}\r\n", STANDARD.encode(value))).await
    }

    /// A command carrying a secret: written and answered like any other,
    /// but never logged.
    async fn secret_command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        debug!(target: "smtp_client", server = %self.wire.server, "AUTH step (not logged)");
        let timeout = self.timeouts.command;
        let result = async {
            self.wire.write(line.as_bytes(), Stage::Auth, timeout).await?;
            self.wire.read_reply(Stage::Auth, timeout).await
        }
        .await;
        self.note(result, Stage::Auth)
    }
}

/// A login goes over TLS, or in the clear only to this same host.
fn may_send_login(tls: bool, server: std::net::IpAddr) -> bool {
    tls || server.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_crosses_a_network_only_inside_tls() {
        assert!(may_send_login(true, "192.0.2.1".parse().unwrap()));
        assert!(!may_send_login(false, "192.0.2.1".parse().unwrap()));
        assert!(!may_send_login(false, "2001:db8::1".parse().unwrap()));
        assert!(may_send_login(false, "127.0.0.2".parse().unwrap()));
        assert!(may_send_login(false, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(may_send_login(false, "::1".parse().unwrap()));
    }

    #[test]
    fn passwords_are_not_in_debug_output() {
        let credentials = Credentials { user: "me".into(), password: "hunter2".into() };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}

//! LOGIN and AUTHENTICATE PLAIN and LOGIN (with SASL-IR): check the
//! credentials, find where the account lives, open it.

use crate::session::ImapSession;
use crate::write;
use cluster::Location;
use net::Step;
use types::AccountName;

/// Where an AUTHENTICATE exchange waiting for the client's line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaslStep {
    /// PLAIN: the one message.
    Plain,
    /// LOGIN (draft-murchison-sasl-login): the user name, then the password.
    LoginUser,
    LoginPassword {
        user: String,
    },
}

/// LOGIN's prompts, base64 of `Username:` and `Password:`.
const USERNAME_PROMPT: &[u8] = b"+ VXNlcm5hbWU6\r\n";
const PASSWORD_PROMPT: &[u8] = b"+ UGFzc3dvcmQ6\r\n";

impl ImapSession {
    pub(crate) async fn handle_login(&mut self, tag: &str, user: &[u8], password: &[u8], out: &mut Vec<u8>) -> Step {
        if self.auth.is_some() {
            return self.bad(out, tag, "already logged in");
        }
        if !self.plaintext_auth_allowed() {
            return self.no(out, tag, "[PRIVACYREQUIRED] use STARTTLS first");
        }
        let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password)) else {
            return self.auth_failed(tag, out).await;
        };
        self.login(tag, None, user, password, out).await
    }

    pub(crate) async fn handle_authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Step {
        if self.auth.is_some() {
            return self.bad(out, tag, "already logged in");
        }
        let login = mechanism.eq_ignore_ascii_case("LOGIN");
        if !login && !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self.no(out, tag, "unsupported mechanism");
        }
        if !self.plaintext_auth_allowed() {
            return self.no(out, tag, "[PRIVACYREQUIRED] use STARTTLS first");
        }
        match (initial, login) {
            (Some(message), false) => self.finish_plain(tag, &message, out).await,
            (None, false) => {
                out.extend_from_slice(b"+ \r\n");
                self.wait_sasl(tag, SaslStep::Plain)
            }
            (Some(user), true) => self.login_user(tag, &user, out).await,
            (None, true) => {
                out.extend_from_slice(USERNAME_PROMPT);
                self.wait_sasl(tag, SaslStep::LoginUser)
            }
        }
    }

    fn wait_sasl(&mut self, tag: &str, step: SaslStep) -> Step {
        self.sasl_tag = Some(tag.to_owned());
        self.sasl_step = step;
        Step::Continue
    }

    /// LOGIN's user name arrived: ask for the password.
    async fn login_user(&mut self, tag: &str, user: &[u8], out: &mut Vec<u8>) -> Step {
        let Ok(user) = String::from_utf8(user.to_vec()) else { return self.auth_failed(tag, out).await };
        out.extend_from_slice(PASSWORD_PROMPT);
        self.wait_sasl(tag, SaslStep::LoginPassword { user })
    }

    /// The client's answer to `+ ` in AUTHENTICATE.
    pub(crate) async fn handle_sasl_response(&mut self, tag: &str, line: &[u8], out: &mut Vec<u8>) -> Step {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"*" {
            return self.bad(out, tag, "authentication cancelled");
        }
        let Ok(message) = sasl::decode_response(line) else { return self.bad(out, tag, "invalid base64") };
        match std::mem::replace(&mut self.sasl_step, SaslStep::Plain) {
            SaslStep::Plain => self.finish_plain(tag, &message, out).await,
            SaslStep::LoginUser => self.login_user(tag, &message, out).await,
            SaslStep::LoginPassword { user } => match std::str::from_utf8(&message) {
                Ok(password) => self.login(tag, None, &user, password, out).await,
                Err(_) => self.auth_failed(tag, out).await,
            },
        }
    }

    async fn finish_plain(&mut self, tag: &str, message: &[u8], out: &mut Vec<u8>) -> Step {
        match sasl::parse_plain(message) {
            Ok(c) => self.login(tag, c.authzid.as_deref(), &c.authcid, &c.password, out).await,
            Err(_) => self.bad(out, tag, "invalid PLAIN message"),
        }
    }

    async fn login(
        &mut self,
        tag: &str,
        authzid: Option<&str>,
        authcid: &str,
        password: &str,
        out: &mut Vec<u8>,
    ) -> Step {
        let main_domain = &self.config.main_domain;
        let Ok(name) = AccountName::parse(authcid, Some(main_domain)) else {
            return self.auth_failed(tag, out).await;
        };
        if let Some(authzid) = authzid
            && AccountName::parse(authzid, Some(main_domain)).ok().as_ref() != Some(&name)
        {
            return self.auth_failed(tag, out).await;
        }
        let record = match self.services.directory.authenticate(&name, password).await {
            Ok(Some(record)) => record,
            Ok(None) => return self.auth_failed(tag, out).await,
            Err(e) => {
                tracing::error!(target: "imap", error = %e, "directory unavailable");
                return self.no(out, tag, "[UNAVAILABLE] authentication is unavailable, try again later");
            }
        };
        match self.services.locator.locate(&record.name).await {
            Ok(Location::Here) => {}
            Ok(Location::Elsewhere { server }) => {
                tracing::debug!(target: "imap", server, "account is served elsewhere");
                return self.no(out, tag, "[UNAVAILABLE] account is served elsewhere");
            }
            Err(e) => {
                tracing::warn!(target: "imap", error = %e, "cannot locate account");
                return self.no(out, tag, "[UNAVAILABLE] account is unavailable, try again later");
            }
        }
        let account = match self.services.store.account(&record.name).await {
            Ok(account) => account,
            Err(store::StoreError::Frozen(_)) => {
                tracing::info!(target: "imap", "account is being moved");
                return self.no(out, tag, "[UNAVAILABLE] account is being moved, try again later");
            }
            Err(store::StoreError::NotOwned(_)) => {
                tracing::info!(target: "imap", "account is not open on this server");
                return self.no(out, tag, "[UNAVAILABLE] account is served elsewhere now, try again later");
            }
            Err(e) => {
                tracing::error!(target: "imap", error = %e, "cannot open account");
                return self.no(out, tag, "[UNAVAILABLE] account is unavailable, try again later");
            }
        };
        self.logged_in(account, &record.name, record.quota_bytes);
        tracing::info!(target: "imap", "logged in");
        let capabilities = self.capabilities();
        write::tagged(out, tag, "OK", format_args!("[CAPABILITY {capabilities}] logged in"));
        Step::Continue
    }

    async fn auth_failed(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        self.auth_failures += 1;
        tracing::debug!(target: "imap", failures = self.auth_failures, "authentication failed");
        if !self.config.auth_failure_delay.is_zero() {
            tokio::time::sleep(self.config.auth_failure_delay).await;
        }
        write::tagged(out, tag, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
        if self.config.max_auth_failures != 0 && self.auth_failures >= self.config.max_auth_failures {
            write::line(out, format_args!("* BYE too many failed logins"));
            return Step::Close;
        }
        Step::Continue
    }
}

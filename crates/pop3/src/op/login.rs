//! What PASS and AUTH share once the client has given its credentials:
//! check them, find where the account lives, lock and open its maildrop.

use crate::maildrop::Maildrop;
use crate::session::{Pop3Session, State};
use cluster::Location;
use net::Step;
use pop3_codec::{ResponseCode, write_err, write_ok};
use types::AccountName;

impl Pop3Session {
    /// Logs in with a password: on success the session enters the
    /// TRANSACTION state; otherwise it stays in AUTHORIZATION.
    pub(crate) async fn login(
        &mut self,
        authzid: Option<&str>,
        authcid: &str,
        password: &str,
        out: &mut Vec<u8>,
    ) -> Step {
        let main_domain = &self.config.main_domain;
        let Ok(name) = AccountName::parse(authcid, Some(main_domain)) else {
            return self.auth_failed(out).await;
        };
        // Acting as another account is not offered: an authorization
        // identity must name the same account.
        if let Some(authzid) = authzid
            && AccountName::parse(authzid, Some(main_domain)).ok().as_ref() != Some(&name)
        {
            return self.auth_failed(out).await;
        }
        let record = match self.services.directory.authenticate(&name, password).await {
            Ok(Some(record)) => record,
            Ok(None) => return self.auth_failed(out).await,
            Err(e) => {
                tracing::error!(target: "pop3", error = %e, "directory unavailable");
                write_err(out, Some(ResponseCode::SysTemp), "authentication is unavailable, try again later");
                return Step::Continue;
            }
        };
        let account = record.name;
        self.span.record("account", tracing::field::display(&account));
        match self.services.locator.locate(&account).await {
            Ok(Location::Here) => {}
            Ok(Location::Elsewhere { server }) => {
                // Proxying to the account's server comes later.
                tracing::debug!(target: "pop3", server, "account is served elsewhere");
                write_err(out, Some(ResponseCode::SysTemp), "account is served elsewhere");
                return Step::Continue;
            }
            Err(e) => {
                tracing::warn!(target: "pop3", error = %e, "cannot locate account");
                write_err(out, Some(ResponseCode::SysTemp), "account is unavailable, try again later");
                return Step::Continue;
            }
        }
        let handle = match self.services.store.account(&account).await {
            Ok(handle) => handle,
            Err(store::StoreError::Frozen(_)) => {
                tracing::info!(target: "pop3", "account is being moved");
                write_err(out, Some(ResponseCode::SysTemp), "account is being moved, try again later");
                return Step::Continue;
            }
            Err(store::StoreError::NotOwned(_)) => {
                tracing::info!(target: "pop3", "account is not open on this server");
                write_err(out, Some(ResponseCode::SysTemp), "account is served elsewhere now, try again later");
                return Step::Continue;
            }
            Err(e) => {
                tracing::error!(target: "pop3", error = %e, "cannot open account");
                write_err(out, Some(ResponseCode::SysTemp), "mailbox is unavailable, try again later");
                return Step::Continue;
            }
        };
        let Some(guard) = handle.try_lock_exclusive() else {
            tracing::debug!(target: "pop3", "maildrop is locked");
            write_err(out, Some(ResponseCode::InUse), "mailbox is locked by another session");
            return Step::Continue;
        };
        let snapshot = match handle.snapshot("INBOX") {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::error!(target: "pop3", error = %e, "cannot read INBOX");
                write_err(out, Some(ResponseCode::SysTemp), "mailbox is unavailable, try again later");
                return Step::Continue;
            }
        };
        let maildrop = Maildrop::new(handle, guard, snapshot);
        let (count, size) = maildrop.stat();
        tracing::info!(target: "pop3", messages = count, "logged in");
        write_ok(out, format_args!("{account} has {count} messages ({size} octets)"));
        self.state = State::Transaction(maildrop);
        self.logged_in = Some(net::LoggedIn::new("pop3"));
        Step::Continue
    }

    /// Answers a wrong name or password, after the configured delay;
    /// closes the connection after too many.
    async fn auth_failed(&mut self, out: &mut Vec<u8>) -> Step {
        self.auth_failures += 1;
        tracing::debug!(target: "pop3", failures = self.auth_failures, "authentication failed");
        if !self.config.auth_failure_delay.is_zero() {
            tokio::time::sleep(self.config.auth_failure_delay).await;
        }
        if self.config.max_auth_failures != 0 && self.auth_failures >= self.config.max_auth_failures {
            write_err(out, Some(ResponseCode::Auth), "invalid credentials; too many failures, closing connection");
            return Step::Close;
        }
        write_err(out, Some(ResponseCode::Auth), "invalid credentials");
        Step::Continue
    }
}

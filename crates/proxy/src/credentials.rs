//! The login a client gave, in the form the frontend replays it: full
//! account names (CM-8: inter-server traffic names accounts in full) and
//! SASL PLAIN, which every backend service accepts in one message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sasl::Credentials;
use types::{AccountName, DomainName};

/// A login to replay. The password is only ever passed on.
pub(crate) struct Login {
    pub(crate) account: AccountName,
    authzid: Option<AccountName>,
    password: String,
}

impl std::fmt::Debug for Login {
    // Never print a password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("account", &self.account).field("authzid", &self.authzid).finish()
    }
}

impl Login {
    /// `None` when a name is not an account name at all: answered like a
    /// wrong password, as the backends answer it.
    pub(crate) fn resolve(credentials: Credentials, main_domain: &DomainName) -> Option<Login> {
        let account = AccountName::parse(&credentials.authcid, Some(main_domain)).ok()?;
        let authzid = match credentials.authzid {
            Some(authzid) => Some(AccountName::parse(&authzid, Some(main_domain)).ok()?),
            None => None,
        };
        Some(Login { account, authzid, password: credentials.password })
    }

    /// The SASL PLAIN message, base64: `authzid NUL authcid NUL password`.
    pub(crate) fn plain_base64(&self) -> String {
        let authzid = self.authzid.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let message = format!("{authzid}\0{}\0{}", self.account, self.password);
        STANDARD.encode(message)
    }
}

#[cfg(test)]
mod tests;

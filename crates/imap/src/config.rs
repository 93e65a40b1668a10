//! What an IMAP listener tells its sessions.

use std::time::Duration;
use types::DomainName;

/// Settings of the IMAP (and IMAPS) listeners.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// The domain of login names given without `@domain` (DESIGN §9).
    pub main_domain: DomainName,
    /// How long to wait for the next command; RFC 9051 §5.4 asks for at
    /// least thirty minutes.
    pub idle_timeout: Duration,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS when the client is
    /// on a loopback address.
    pub allow_plaintext_auth_on_loopback: bool,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS from anywhere.
    /// Never in production.
    pub allow_plaintext_auth: bool,
    /// Failed logins after which the session is closed; zero: no limit.
    pub max_auth_failures: usize,
    /// How long a failed login waits before its `NO`, to slow guessing.
    pub auth_failure_delay: Duration,
    /// The longest command line (without literals) accepted.
    pub max_line: usize,
    /// The largest literal accepted (APPEND's message); larger ones are
    /// refused before they are read.
    pub max_literal: u32,
    /// Protocol errors (BAD) after which the session is closed; zero: no
    /// limit.
    pub max_errors: usize,
}

impl Default for ImapConfig {
    fn default() -> Self {
        Self {
            main_domain: DomainName::parse("localhost").expect("localhost is a valid domain"),
            idle_timeout: Duration::from_secs(30 * 60),
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(1),
            max_line: 64 * 1024,
            max_literal: 50 << 20,
            max_errors: 20,
        }
    }
}

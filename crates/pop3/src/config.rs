//! What a POP3 listener tells its sessions.

use std::time::Duration;
use types::DomainName;

/// Settings of the POP3 (and POP3S) listeners.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// The domain of login names given without `@domain` (DESIGN §9).
    pub main_domain: DomainName,
    /// How long to wait for the next command; RFC 1939 §3 asks for at
    /// least ten minutes. On expiry the session closes without entering
    /// the UPDATE state, so nothing is deleted.
    pub idle_timeout: Duration,
    /// Allow USER/PASS and AUTH PLAIN/LOGIN without TLS when the client is
    /// on a loopback address.
    pub allow_plaintext_auth_on_loopback: bool,
    /// Allow USER/PASS and AUTH PLAIN/LOGIN without TLS from anywhere.
    /// Never in production.
    pub allow_plaintext_auth: bool,
    /// Failed logins after which the session is closed; zero means no
    /// limit.
    pub max_auth_failures: usize,
    /// How long a failed login waits before its `-ERR`, to slow guessing.
    pub auth_failure_delay: Duration,
    /// Protocol errors (unknown commands, bad arguments, commands in the
    /// wrong state, too long lines) after which the session is closed;
    /// zero means no limit.
    pub max_errors: usize,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Self {
            main_domain: DomainName::parse("localhost").expect("localhost is a valid domain"),
            idle_timeout: Duration::from_secs(10 * 60),
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(1),
            max_errors: 10,
        }
    }
}

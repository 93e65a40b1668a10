//! What a frontend needs to know that is not in the directory.

use std::time::Duration;
use types::DomainName;

/// One frontend's settings, shared by its IMAP, POP3 and submission
/// listeners. The answers it gives before the login (capabilities, the
/// failure texts) are fixed lists identical to the backends', so the
/// values here that show up in them must match the backends' config.
#[derive(Debug, Clone)]
pub struct FrontendConfig {
    /// The domain a bare login name (`alice`) belongs to.
    pub main_domain: DomainName,
    /// Named in the SMTP greeting and EHLO reply.
    pub hostname: String,
    /// How long a client may stay silent before it has logged in.
    pub login_timeout: Duration,
    /// How long a spliced session may stay silent in both directions.
    pub splice_idle: SpliceTimeouts,
    /// For connecting to a backend and for each of its answers up to the
    /// login's (which the backend delays by its own `auth_failure_delay`).
    pub backend_timeout: Duration,
    /// Failed logins on one connection before it is closed; 0: no limit.
    /// Every attempt uses a fresh backend connection, so the backend's own
    /// count never reaches its limit: the frontend counts instead.
    pub max_auth_failures: usize,
    /// Waited before answering a login for an account no backend hosts,
    /// so that it takes as long as a wrong password does on a backend.
    pub auth_failure_delay: Duration,
    /// Plaintext logins without TLS from any client (tests, trusted LANs).
    pub allow_plaintext_auth: bool,
    /// Plaintext logins without TLS from loopback clients.
    pub allow_plaintext_auth_on_loopback: bool,
    /// The longest command line accepted before the login.
    pub max_line: usize,
    /// The largest IMAP literal accepted before the login (a user name or
    /// password); a larger non-synchronising one closes the connection.
    pub max_login_literal: usize,
    /// Shown as `APPENDLIMIT=` in IMAP capabilities: the backends'
    /// `[imap] max_literal`.
    pub imap_append_limit: u64,
    /// Shown as `SIZE` in the EHLO reply: the backends'
    /// `[submission] max_message_size`.
    pub max_message_size: u64,
}

impl FrontendConfig {
    /// The backends' defaults, so an unconfigured frontend advertises what
    /// an unconfigured backend does.
    pub fn new(main_domain: DomainName) -> Self {
        Self {
            main_domain,
            hostname: "localhost".to_owned(),
            login_timeout: Duration::from_secs(120),
            splice_idle: SpliceTimeouts::default(),
            backend_timeout: Duration::from_secs(30),
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(1),
            allow_plaintext_auth: false,
            allow_plaintext_auth_on_loopback: true,
            max_line: 8192,
            max_login_literal: 4096,
            imap_append_limit: 50 << 20,
            max_message_size: 50 << 20,
        }
    }
}

/// Idle timeouts of spliced sessions, one per protocol.
///
/// Each is a minute longer than the backend's own idle timeout: the
/// backend is the one that knows the protocol state, so its timeout must
/// fire first and say goodbye in the protocol (`* BYE`, `-ERR`, `421`);
/// the frontend's only catches a backend or client that vanished without
/// closing. IMAP in particular: a client in IDLE re-issues it at least
/// every 29 minutes (RFC 9051 §6.3.13) and the backend allows 30, so the
/// splice allows 31 and an IDLE of 29 silent minutes stays up.
#[derive(Debug, Clone, Copy)]
pub struct SpliceTimeouts {
    /// The backends' `[imap] idle_timeout` (30 min) plus a minute.
    pub imap: Duration,
    /// The backends' `[pop3] idle_timeout` (10 min) plus a minute.
    pub pop3: Duration,
    /// The backends' `[submission] idle_timeout` (5 min) plus a minute.
    pub submission: Duration,
}

impl Default for SpliceTimeouts {
    fn default() -> Self {
        Self {
            imap: Duration::from_secs(31 * 60),
            pop3: Duration::from_secs(11 * 60),
            submission: Duration::from_secs(6 * 60),
        }
    }
}

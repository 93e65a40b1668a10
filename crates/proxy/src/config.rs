//! What a frontend needs to know that is not in the directory.

use std::net::IpAddr;
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
    /// When a login in the clear is taken without TLS, per protocol: the
    /// backends' own rule, so a session behaves as a direct one would.
    pub plaintext_auth: PlaintextAuthByProtocol,
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
    /// The address connections to backends leave from: this member's
    /// cluster address (CM-21), which the backends trust to send PROXY
    /// headers. `None`: the system picks.
    pub source_address: Option<IpAddr>,
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
            plaintext_auth: PlaintextAuthByProtocol::default(),
            max_line: 8192,
            max_login_literal: 4096,
            imap_append_limit: 50 << 20,
            max_message_size: 50 << 20,
            source_address: None,
        }
    }
}

/// When a plaintext login (LOGIN, PLAIN, USER/PASS) is taken on a
/// connection without TLS.
#[derive(Debug, Clone, Copy)]
pub struct PlaintextAuth {
    /// From any client (tests, trusted LANs).
    pub anywhere: bool,
    /// From loopback clients.
    pub on_loopback: bool,
}

impl Default for PlaintextAuth {
    /// The sessions' defaults: over TLS, or from loopback.
    fn default() -> Self {
        Self { anywhere: false, on_loopback: true }
    }
}

/// [`PlaintextAuth`] for each protocol, as `[imap]`, `[pop3]` and
/// `[submission]` set it for the backends' sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaintextAuthByProtocol {
    pub imap: PlaintextAuth,
    pub pop3: PlaintextAuth,
    pub submission: PlaintextAuth,
}

impl PlaintextAuthByProtocol {
    /// The same rule for every protocol.
    pub fn all(rule: PlaintextAuth) -> Self {
        Self { imap: rule, pop3: rule, submission: rule }
    }

    pub(crate) fn of(&self, protocol: crate::Protocol) -> PlaintextAuth {
        match protocol {
            crate::Protocol::Imap => self.imap,
            crate::Protocol::Pop3 => self.pop3,
            crate::Protocol::Submission => self.submission,
            // No line login happens for web mail here (see Protocol::Web).
            crate::Protocol::Web => PlaintextAuth { anywhere: false, on_loopback: false },
        }
    }
}

/// Idle timeouts of spliced sessions, one per protocol.
///
/// Each is a minute longer than the backend's own idle timeout (the
/// binary sets them from the member's `idle_timeout`s, which the members
/// share; the defaults match the backends' defaults): the backend is the
/// one that knows the protocol state, so its timeout must fire first and
/// say goodbye in the protocol (`* BYE`, `-ERR`, `421`); the frontend's
/// only catches a backend or client that vanished without closing, which
/// TCP keepalive on both legs usually notices sooner. IMAP in particular: a client in IDLE re-issues it at least
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

//! The web mail's settings, filled by the binary from `[webmail]`.

use std::time::Duration;

/// How long sessions last and how much they may hold.
#[derive(Debug, Clone)]
pub struct WebmailConfig {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login however much it is used.
    pub session_max: Duration,
    /// The largest request body (a compose POST with its attachments).
    pub max_upload: usize,
    /// Sessions kept in all; past it the least recently used one ends.
    pub max_sessions: usize,
    /// Sessions one account may have; past it its least recently used ends.
    pub max_sessions_per_account: usize,
    pub login_limits: LoginLimits,
}

impl Default for WebmailConfig {
    fn default() -> Self {
        WebmailConfig {
            session_idle: Duration::from_secs(2 * 3600),
            session_max: Duration::from_secs(7 * 24 * 3600),
            max_upload: 25 * 1000 * 1000,
            max_sessions: 100_000,
            max_sessions_per_account: 20,
            login_limits: LoginLimits::default(),
        }
    }
}

impl WebmailConfig {
    pub(crate) fn session_limits(&self) -> crate::sessions::SessionLimits {
        crate::sessions::SessionLimits {
            idle: self.session_idle,
            max_age: self.session_max,
            max_sessions: self.max_sessions.max(1),
            max_per_account: self.max_sessions_per_account.max(1),
        }
    }
}

/// Failed logins allowed before further attempts are answered 429.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Failures from one client address within `window`.
    pub per_ip: u32,
    /// Failures for one account within `window`, from anywhere: slows a
    /// password guesser that spreads over many addresses.
    pub per_account: u32,
    pub window: Duration,
    /// Addresses and accounts tracked at once; the oldest are forgotten
    /// first, so a flood of names cannot grow memory.
    pub max_tracked: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_ip: 20, per_account: 10, window: Duration::from_secs(300), max_tracked: 10_000 }
    }
}

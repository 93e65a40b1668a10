//! The count of logged-in sessions per protocol, for `/metrics`: every
//! protocol's login point makes a [`LoggedIn`] and keeps it in the session,
//! so the count falls when the session ends, however it ends.

/// Held by a logged-in session; counts it in `rookery_sessions_logged_in`
/// while it lives and counted the login in `rookery_logins_total`.
#[derive(Debug)]
pub struct LoggedIn {
    protocol: &'static str,
}

impl LoggedIn {
    /// A successful login of `protocol` (`imap`, `pop3`, `submission`, `webmail`).
    pub fn new(protocol: &'static str) -> LoggedIn {
        count_login(protocol);
        metrics::gauge!("rookery_sessions_logged_in", "protocol" => protocol).increment(1.0);
        LoggedIn { protocol }
    }
}

impl Drop for LoggedIn {
    fn drop(&mut self) {
        metrics::gauge!("rookery_sessions_logged_in", "protocol" => self.protocol).decrement(1.0);
    }
}

/// Counts a login in `rookery_logins_total` alone, for sessions that are
/// not a connection (web mail's live in a table of their own).
pub fn count_login(protocol: &'static str) {
    metrics::counter!("rookery_logins_total", "protocol" => protocol).increment(1);
}

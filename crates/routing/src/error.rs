//! The two ways routing fails: a bad configuration (at start-up) and a
//! domain that cannot be routed now or ever (per message).

/// A bad `[outbound]` value. `key` is the full key, e.g.
/// `outbound.routes."example.com"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), problem: problem.into() }
    }
}

/// Why a domain has no destinations. The queue retries a temporary error
/// and bounces a permanent one; `status` and `text` go into the DSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {text}")]
pub struct RouteError {
    /// True: try again later (4.x.x); false: bounce (5.x.x).
    pub temporary: bool,
    /// The RFC 3463 enhanced status code, e.g. "5.1.2"; its class agrees
    /// with `temporary`.
    pub status: &'static str,
    /// A sentence for the DSN's diagnostic, naming the domain.
    pub text: String,
}

impl RouteError {
    pub(crate) fn temporary(status: &'static str, text: impl Into<String>) -> RouteError {
        debug_assert!(status.starts_with('4'));
        RouteError { temporary: true, status, text: text.into() }
    }

    pub(crate) fn permanent(status: &'static str, text: impl Into<String>) -> RouteError {
        debug_assert!(status.starts_with('5'));
        RouteError { temporary: false, status, text: text.into() }
    }
}

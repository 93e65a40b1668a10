//! One LDAP connection, shared by every caller and re-opened when broken.
//!
//! ldap3's `Ldap` handle multiplexes concurrent operations over a single
//! connection (message ids), so one bound connection serves the whole
//! process; a pool would only add binds. When the connection breaks
//! (slapd restarted, network cut) the failing operation opens a new one and
//! is tried once more, so a restart of slapd costs callers nothing but the
//! reconnect. An operation whose answer was lost may thereby run twice; the
//! callers' writes are idempotent or report the second run's "already
//! exists" / "no such entry" as what it is.

use std::future::Future;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use tokio::sync::Mutex;

use crate::DirectoryError;

const TARGET: &str = "directory::ldap";

/// Where and as whom to connect.
pub(super) struct Endpoint {
    pub url: String,
    pub bind_dn: String,
    pub bind_password: String,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
}

pub(super) struct Connection {
    endpoint: Endpoint,
    current: Mutex<Current>,
    next_generation: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Current {
    /// The open connection and its generation; the generation lets a
    /// caller drop exactly the connection that failed it, not a fresh one
    /// another caller has opened meanwhile.
    open: Option<(u64, Ldap)>,
    /// When the last attempt to connect failed. Callers that were waiting
    /// for that attempt fail at once instead of each trying again: against
    /// a server that does not answer, N waiting requests would otherwise
    /// take N connect timeouts, one after the other.
    failed_at: Option<Instant>,
}

impl Connection {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            current: Mutex::new(Current::default()),
            next_generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Runs `operation` on the shared connection, opening it first if
    /// needed; if the connection turns out to be broken, opens a new one
    /// and runs `operation` once more.
    pub async fn run<T, F, Fut>(&self, operation: F) -> Result<T, LdapError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>> + Send,
    {
        let mut retried = false;
        loop {
            let (generation, mut ldap) = self.handle().await?;
            ldap.with_timeout(self.endpoint.operation_timeout);
            match operation(ldap).await {
                Err(error) if is_connection_failure(&error) => {
                    self.forget(generation).await;
                    if retried {
                        return Err(error);
                    }
                    tracing::debug!(target: TARGET, url = %self.endpoint.url, %error, "connection broken; reconnecting");
                    retried = true;
                }
                outcome => return outcome,
            }
        }
    }

    /// The error a caller reports for an unexpected LDAP failure. Every
    /// one is a temporary back-end failure: the same request may succeed
    /// once the server is back.
    pub fn failure(&self, error: LdapError) -> DirectoryError {
        if is_connection_failure(&error) {
            DirectoryError::Backend(format!("ldap server {} unreachable: {error}", self.endpoint.url))
        } else {
            DirectoryError::Backend(format!("ldap server {}: {error}", self.endpoint.url))
        }
    }

    /// A new bound connection for the caller alone, outside the shared
    /// one: an LDAP transaction belongs to its connection, so each
    /// transaction in flight needs its own. Closed when the last handle
    /// is dropped.
    pub async fn open_dedicated(&self) -> Result<Ldap, LdapError> {
        self.open().await
    }

    /// The limit on each request; ldap3 applies a timeout to one request
    /// only, so callers with their own handles set it on each.
    pub fn operation_timeout(&self) -> Duration {
        self.endpoint.operation_timeout
    }

    /// The server's URL as configured.
    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    async fn handle(&self) -> Result<(u64, Ldap), LdapError> {
        let asked = Instant::now();
        let mut current = self.current.lock().await;
        if let Some((generation, ldap)) = current.open.as_mut()
            && !ldap.is_closed()
        {
            return Ok((*generation, ldap.clone()));
        }
        if current.failed_at.is_some_and(|failed| failed >= asked) {
            return Err(LdapError::Io {
                source: std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "could not connect (an attempt made while this request waited failed)",
                ),
            });
        }
        match self.open().await {
            Ok(ldap) => {
                let generation = self.next_generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                *current = Current { open: Some((generation, ldap.clone())), failed_at: None };
                Ok((generation, ldap))
            }
            Err(error) => {
                current.failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }

    async fn forget(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.open.as_ref().is_some_and(|(open, _)| *open == generation) {
            current.open = None;
        }
    }

    async fn open(&self) -> Result<Ldap, LdapError> {
        let settings = LdapConnSettings::new().set_conn_timeout(self.endpoint.connect_timeout);
        let (driver, mut ldap) = LdapConnAsync::with_settings(settings, &self.endpoint.url).await?;
        let url = self.endpoint.url.clone();
        // The driver owns the socket; when it ends, the handle reports
        // `is_closed()` and the next operation reconnects.
        tokio::spawn(async move {
            if let Err(error) = driver.drive().await {
                tracing::debug!(target: TARGET, %url, %error, "connection ended");
            }
        });
        // The bind is part of connecting: a server that accepts the TCP
        // connection but does not answer (stopped, overloaded) counts as
        // unreachable after the short connect timeout, so that reads can
        // move on to a replica (`servers.rs`).
        ldap.with_timeout(self.endpoint.connect_timeout);
        ldap.simple_bind(&self.endpoint.bind_dn, &self.endpoint.bind_password).await?.success()?;
        tracing::debug!(target: TARGET, url = %self.endpoint.url, "connected");
        Ok(ldap)
    }
}

/// Failures of the connection rather than answers from the server.
pub(super) fn is_connection_failure(error: &LdapError) -> bool {
    match error {
        // busy, unavailable: the server is there but not serving.
        LdapError::LdapResult { result } => matches!(result.rc, 51 | 52),
        LdapError::Io { .. }
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. }
        | LdapError::Timeout { .. }
        | LdapError::EndOfStream => true,
        _ => false,
    }
}

/// An error that is, or carries, an [`LdapError`].
pub(super) trait AsLdapError {
    fn ldap_error(&self) -> &LdapError;
}

impl AsLdapError for LdapError {
    fn ldap_error(&self) -> &LdapError {
        self
    }
}

/// The LDAP result code of a server's answer, if `error` is one.
pub(super) fn result_code(error: &impl AsLdapError) -> Option<u32> {
    match error.ldap_error() {
        LdapError::LdapResult { result } => Some(result.rc),
        _ => None,
    }
}

/// LDAP result codes the back-end tells apart (RFC 4511 appendix A).
pub(super) mod rc {
    pub const PROTOCOL_ERROR: u32 = 2;
    /// The server does not hold the entry (a replica refusing a write)
    /// and names another that does.
    pub const REFERRAL: u32 = 10;
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    /// RFC 4528: the entry does not match the assertion control's filter.
    pub const ASSERTION_FAILED: u32 = 122;
}

//! Several directory servers (CM-36): the primary (`url`) and replicas
//! that hold copies of it through OpenLDAP's own replication (syncrepl
//! consumers of a syncprov provider), so that many frontends do not all
//! read from one server.
//!
//! Reads go to the first server that answers, in the configured order
//! (`url`, then `replicas`). A server that fails at the connection level
//! (refused, broken, no answer within the connect or operation timeout,
//! `busy`/`unavailable`) is passed over, and rests: for
//! [`Policy::retry_down_after`] reads go to the others first, then one
//! read (not every concurrent one) tries it again in its place in the
//! order, so the preferred server is used again soon after it is back.
//! A resting server is still tried as a last resort when no other
//! answers. Every server keeps its one multiplexed connection
//! (`connection.rs`); nothing is retried beyond one attempt per server.
//!
//! Writes go to the primary only: replicas are read-only copies, and a
//! write to one would be lost or refused. When the primary cannot be
//! reached the write fails at once with a temporary error naming it.
//!
//! Referrals: a syncrepl consumer answers a write with a referral to its
//! provider (`updateref`). Such an answer is followed once, and only to a
//! server of our own list (the same scheme, host and port as `url` or a
//! replica), because following it means sending our bind password
//! there: a referral to any other server, or a second referral, is
//! reported as an error that names it. So a frontend may set `url` to
//! its nearest consumer and list the provider among its replicas; its
//! few writes (the services it publishes) reach the provider.
//!
//! Reading one's own writes: replication lags a little behind a write.
//! After a write answered by a server, this process reads from that same
//! server first for [`Policy::read_own_writes`], so `add_account` then
//! `account` (or a reassign followed by its check) never sees the state
//! before the write on a replica that has not caught up.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapError};
use parking_lot::Mutex;

use super::connection::{AsLdapError, Connection, Endpoint, is_connection_failure, rc, result_code};
use crate::DirectoryError;

const TARGET: &str = "directory::ldap";

/// How long servers rest after a failure, and how long reads follow a
/// write.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    pub retry_down_after: Duration,
    pub read_own_writes: Duration,
}

pub(super) struct Servers {
    /// The primary first, then the replicas in the configured order.
    servers: Vec<Server>,
    policy: Policy,
    /// The server that last answered a write, and when.
    last_write: Mutex<Option<(usize, Instant)>>,
    /// The server that answered the last read (for operators and tests).
    last_read: AtomicUsize,
}

struct Server {
    connection: Connection,
    /// Scheme, host and port, to match referrals against.
    key: Option<ServerKey>,
    /// Set while the server rests after a failure.
    down_until: Mutex<Option<Instant>>,
}

impl Server {
    /// Marks the server down; true when it was up (worth a log line).
    fn rest(&self, policy: &Policy) -> bool {
        self.down_until.lock().replace(Instant::now() + policy.retry_down_after).is_none()
    }

    fn answered(&self) {
        if self.down_until.lock().take().is_some() {
            tracing::info!(target: TARGET, url = %self.connection.url(), "ldap server answers again");
        }
    }
}

impl Servers {
    /// `endpoints[0]` is the primary; `LdapDirectory::connect` always
    /// passes it, so the list is never empty.
    pub fn new(endpoints: Vec<Endpoint>, policy: Policy) -> Self {
        let servers = endpoints
            .into_iter()
            .map(|endpoint| Server {
                key: server_key(&endpoint.url),
                connection: Connection::new(endpoint),
                down_until: Mutex::new(None),
            })
            .collect();
        Self { servers, policy, last_write: Mutex::new(None), last_read: AtomicUsize::new(0) }
    }

    /// The server that takes writes; failover rewrites open their own
    /// connections to it.
    pub fn primary(&self) -> &Connection {
        &self.servers[0].connection
    }

    /// The URL of the server that answered the last read.
    pub fn last_read_url(&self) -> &str {
        let index = self.last_read.load(Ordering::Relaxed).min(self.servers.len() - 1);
        self.servers[index].connection.url()
    }

    /// Runs a read on the first server that answers (see the module doc).
    /// An answer, even an error such as `noSuchObject`, is final; only
    /// failures to reach a server move on to the next.
    pub async fn read<T, F, Fut>(&self, operation: F) -> Result<T, Failure>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>> + Send,
    {
        let mut unreachable = Vec::new();
        for index in self.read_order(Instant::now()) {
            let server = &self.servers[index];
            match server.connection.run(&operation).await {
                Err(error) if is_connection_failure(&error) => {
                    if server.rest(&self.policy) && self.servers.len() > 1 {
                        tracing::warn!(target: TARGET, url = %server.connection.url(), %error,
                            retry_after = ?self.policy.retry_down_after,
                            "ldap server unreachable; reading from the other directory servers");
                    }
                    unreachable.push((index, error));
                }
                // A server that refers a read elsewhere does not hold the
                // data (a misconfigured replica): not followed (see the
                // module doc), the next server is asked.
                Err(error) if result_code(&error) == Some(rc::REFERRAL) => unreachable.push((index, error)),
                outcome => {
                    server.answered();
                    self.last_read.store(index, Ordering::Relaxed);
                    return outcome.map_err(|error| Failure::at(server.connection.url(), error));
                }
            }
        }
        Err(self.none_answered(unreachable))
    }

    /// Runs a write on the primary, following one referral to a server of
    /// our own list (see the module doc).
    pub async fn write<T, F, Fut>(&self, operation: F) -> Result<T, Failure>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>> + Send,
    {
        let referral = match self.write_to(0, &operation).await {
            Err(failure) if result_code(&failure) == Some(rc::REFERRAL) => failure,
            outcome => return outcome,
        };
        let refs = referrals(&referral.error);
        let Some(target) = self.referred_server(&refs) else {
            return Err(referral.with_note(format!(
                "it refers writes to {}, which is not directory.url or one of directory.replicas; not followed",
                refs.join(", ")
            )));
        };
        tracing::debug!(target: TARGET, from = %self.servers[0].connection.url(),
            to = %self.servers[target].connection.url(), "write referred; following once");
        match self.write_to(target, &operation).await {
            Err(failure) if result_code(&failure) == Some(rc::REFERRAL) => {
                let onward = referrals(&failure.error).join(", ");
                Err(failure.with_note(format!(
                    "referred there by {}, it refers on to {onward}; a second referral is not followed",
                    self.servers[0].connection.url()
                )))
            }
            outcome => outcome,
        }
    }

    async fn write_to<T, F, Fut>(&self, index: usize, operation: &F) -> Result<T, Failure>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>> + Send,
    {
        let server = &self.servers[index];
        let outcome = server.connection.run(operation).await;
        match &outcome {
            Err(error) if is_connection_failure(error) => {
                server.rest(&self.policy);
            }
            Err(error) if result_code(error) == Some(rc::REFERRAL) => {}
            // Answered (done, or refused for a reason of the data): reads
            // follow this server for a while.
            _ => {
                server.answered();
                *self.last_write.lock() = Some((index, Instant::now()));
            }
        }
        outcome.map_err(|error| Failure::at(server.connection.url(), error))
    }

    /// Which servers to try, in order: the one that took this process's
    /// last write while that is recent, then the configured order with
    /// resting servers moved to the end. A server whose rest is over is
    /// put back in its place, and its rest is extended at once so that
    /// concurrent reads do not all try it: this read is the probe.
    fn read_order(&self, now: Instant) -> Vec<usize> {
        let recent_write = (*self.last_write.lock())
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.policy.read_own_writes)
            .map(|(index, _)| index);
        let configured = (0..self.servers.len()).filter(|index| Some(*index) != recent_write);
        let mut order = Vec::with_capacity(self.servers.len());
        let mut resting = Vec::new();
        for index in recent_write.into_iter().chain(configured) {
            let mut down_until = self.servers[index].down_until.lock();
            match *down_until {
                Some(until) if until > now => resting.push(index),
                Some(_) => {
                    *down_until = Some(now + self.policy.retry_down_after);
                    order.push(index);
                }
                None => order.push(index),
            }
        }
        order.extend(resting);
        order
    }

    /// The server of our list a referral names, other than the primary.
    fn referred_server(&self, refs: &[String]) -> Option<usize> {
        refs.iter()
            .filter_map(|url| server_key(url))
            .find_map(|key| (1..self.servers.len()).find(|index| self.servers[*index].key.as_ref() == Some(&key)))
    }

    fn none_answered(&self, mut unreachable: Vec<(usize, LdapError)>) -> Failure {
        if unreachable.len() <= 1 {
            let (index, error) = unreachable.pop().unwrap_or((0, LdapError::EndOfStream));
            return Failure::at(self.servers[index].connection.url(), error);
        }
        let detail: Vec<String> = unreachable
            .iter()
            .map(|(index, error)| format!("{}: {error}", self.servers[*index].connection.url()))
            .collect();
        let (index, error) = unreachable.swap_remove(0);
        Failure::at(self.servers[index].connection.url(), error)
            .with_note(format!("no directory server answered ({})", detail.join("; ")))
    }
}

/// An LDAP failure and the server it came from.
pub(super) struct Failure {
    url: String,
    error: LdapError,
    /// What the error alone does not say (a referral not followed, the
    /// other servers tried).
    note: Option<String>,
}

impl Failure {
    pub fn at(url: &str, error: LdapError) -> Self {
        Self { url: url.to_owned(), error, note: None }
    }

    fn with_note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }
}

impl AsLdapError for Failure {
    fn ldap_error(&self) -> &LdapError {
        &self.error
    }
}

/// Every failure is temporary (the same request may succeed later) and
/// names the server.
impl From<Failure> for DirectoryError {
    fn from(failure: Failure) -> Self {
        let Failure { url, error, note } = failure;
        let what = if is_connection_failure(&error) { " unreachable" } else { "" };
        match note {
            Some(note) => DirectoryError::Backend(format!("ldap server {url}{what}: {error}; {note}")),
            None => DirectoryError::Backend(format!("ldap server {url}{what}: {error}")),
        }
    }
}

fn referrals(error: &LdapError) -> Vec<String> {
    match error {
        LdapError::LdapResult { result } => result.refs.clone(),
        _ => Vec::new(),
    }
}

/// Scheme, host and port of an LDAP URL, lower case, with the default
/// port filled in: what tells two servers apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerKey {
    scheme: String,
    authority: String,
}

fn server_key(url: &str) -> Option<ServerKey> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "ldap" => "389",
        "ldaps" => "636",
        // A socket path (percent-encoded), or slapd's default socket.
        "ldapi" => return Some(ServerKey { scheme, authority }),
        _ => return None,
    };
    if authority.is_empty() || authority.contains(char::is_whitespace) || authority.contains('@') {
        return None;
    }
    // `host:port`, `[v6]:port`, or no port.
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                // `[::1]` alone ends in `]`, not in a port.
                if !authority.ends_with(']') {
                    return None;
                }
                false
            } else {
                !host.is_empty() && (!host.contains(':') || host.ends_with(']'))
            }
        }
        None => false,
    };
    let authority = if has_port { authority } else { format!("{authority}:{default_port}") };
    Some(ServerKey { scheme, authority })
}

/// Why `url` cannot name a directory server, if it cannot.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    match server_key(url) {
        Some(_) => Ok(()),
        None => Err("not an LDAP URL (ldap://host:port/, ldaps://host:port/ or ldapi://...)".to_owned()),
    }
}

/// Whether two URLs name the same server.
pub(super) fn same_server(a: &str, b: &str) -> bool {
    matches!((server_key(a), server_key(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_servers_by_scheme_host_and_port() {
        assert!(same_server("ldap://127.0.0.1:20389/", "LDAP://127.0.0.1:20389/ou=x,dc=rookery,dc=test"));
        assert!(same_server("ldap://dir.example", "ldap://DIR.example:389/"));
        assert!(same_server("ldaps://[::1]", "ldaps://[::1]:636"));
        assert!(!same_server("ldap://127.0.0.1:389/", "ldaps://127.0.0.1:389/"));
        assert!(!same_server("ldap://127.0.0.1:389/", "ldap://127.0.0.2:389/"));
        assert!(!same_server("ldap://[::1]:389", "ldap://[::1]:390"));
    }

    #[test]
    fn bad_urls_are_refused() {
        for good in ["ldap://127.0.0.2:389", "ldaps://dir.example/", "ldap://[::1]:389/", "ldapi:///"] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in ["", "127.0.0.2:389", "http://dir.example/", "ldap://", "ldap://host:port/", "ldap://a b/"] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
    }
}

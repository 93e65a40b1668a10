//! Account -> the backend address serving it for one protocol (CM-7,
//! CM-22): the directory names the host server; the configuration, or
//! else the addresses the server published in the directory (CM-4), give
//! that server's service address.

use crate::frontend::Protocol;
use async_trait::async_trait;
use directory::{CachedHosts, HostDirectory, ServiceKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use types::{AccountName, DomainName};

/// The lookup could not be made; trying again later may work.
#[derive(Debug, thiserror::Error)]
#[error("cannot find the backend for {account}: {reason}")]
pub struct LookupError {
    pub account: AccountName,
    pub reason: String,
}

/// Where an account's session goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// This member hosts the account (a symmetric member, CM-8): the
    /// session is served in process, without a network hop.
    Here,
    /// Another member's service address.
    There(SocketAddr),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Here => f.write_str("this member"),
            Backend::There(addr) => addr.fmt(f),
        }
    }
}

/// Where a frontend sends an account's sessions.
#[async_trait]
pub trait BackendLookup: Send + Sync + 'static {
    /// Where `account`'s `protocol` sessions go; `None` when no backend
    /// hosts the account (answered like a wrong password).
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, LookupError>;

    /// The backend answered "not hosted here": forget what is cached for
    /// the account, the directory has moved it (CM-10).
    fn invalidate(&self, _account: &AccountName) {}

    /// `backend` (what [`BackendLookup::backend`] answered) could not be
    /// reached. A lookup that can tell when another backend takes the
    /// account over (a dynamic cluster: once the dead owner's lease has
    /// expired) may wait for that and answer true to be asked again, so
    /// the login succeeds late rather than failing; by default the client
    /// gets a temporary failure at once.
    async fn unreachable(&self, _account: &AccountName, _backend: Backend) -> bool {
        false
    }
}

/// A fixed account -> backend table (tests, tiny sites).
#[derive(Debug, Clone, Default)]
pub struct StaticBackends {
    backends: HashMap<(AccountName, Protocol), SocketAddr>,
}

impl StaticBackends {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `account`'s `protocol` sessions to `addr`.
    pub fn with(mut self, account: AccountName, protocol: Protocol, addr: SocketAddr) -> Self {
        self.backends.insert((account, protocol), addr);
        self
    }
}

#[async_trait]
impl BackendLookup for StaticBackends {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        Ok(self.backends.get(&(account.clone(), protocol)).copied().map(Backend::There))
    }
}

/// The cluster's lookup: `hostServer` from the directory (cached for a
/// few seconds), then the configured service address of that server, or
/// the one it published in the directory when the configuration does not
/// name it: a backend added to the running cluster gets sessions at once.
pub struct DirectoryBackends<H> {
    /// Shared with the member's locator, so that an invalidation made
    /// here ("not hosted here") is seen there too.
    hosts: Arc<CachedHosts<H>>,
    servers: HashMap<(DomainName, Protocol), SocketAddr>,
    /// This member's own name on a symmetric member: its accounts are
    /// [`Backend::Here`]. `None` on a pure frontend, which hosts nothing.
    me: Option<DomainName>,
}

impl<H: HostDirectory> DirectoryBackends<H> {
    /// `servers` maps each backend (by its main domain, CM-2) and protocol
    /// to the address of that service on the cluster network.
    pub fn new(hosts: Arc<CachedHosts<H>>, servers: HashMap<(DomainName, Protocol), SocketAddr>) -> Self {
        Self { hosts, servers, me: None }
    }

    /// For a symmetric member named `me`: accounts hosted by `me`, and
    /// accounts with no host recorded (made before clustering, as the
    /// member's locator sees them), are served here.
    pub fn hosting(self, me: DomainName) -> Self {
        Self { me: Some(me), ..self }
    }

    /// The host cache this lookup reads (shared with the member's locator).
    pub fn hosts(&self) -> &Arc<CachedHosts<H>> {
        &self.hosts
    }
}

#[async_trait]
impl<H: HostDirectory> BackendLookup for DirectoryBackends<H> {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, LookupError> {
        let host = self
            .hosts
            .host_server(account)
            .await
            .map_err(|e| LookupError { account: account.clone(), reason: e.to_string() })?;
        let host = match (host, &self.me) {
            (Some(host), Some(me)) if host == *me => return Ok(Some(Backend::Here)),
            (None, Some(_)) => return Ok(Some(Backend::Here)),
            (None, None) => return Ok(None),
            (Some(host), _) => host,
        };
        // The configuration overrides what the server published.
        if let Some(addr) = self.servers.get(&(host.clone(), protocol)) {
            return Ok(Some(Backend::There(*addr)));
        }
        let published = self
            .hosts
            .server_services(&host)
            .await
            .map_err(|e| LookupError { account: account.clone(), reason: e.to_string() })?;
        match published.get(&service_kind(protocol)) {
            Some(addr) => Ok(Some(Backend::There(*addr))),
            // A host known nowhere is an operator's mistake (or a member
            // not started yet), not an unknown account: answer "try later".
            None => Err(LookupError {
                account: account.clone(),
                reason: format!("no {protocol} address configured for server {host}"),
            }),
        }
    }

    fn invalidate(&self, account: &AccountName) {
        self.hosts.invalidate(account);
    }
}

/// The directory's name for a proxied protocol's service.
fn service_kind(protocol: Protocol) -> ServiceKind {
    match protocol {
        Protocol::Imap => ServiceKind::Imap,
        Protocol::Pop3 => ServiceKind::Pop3,
        Protocol::Submission => ServiceKind::Submission,
        Protocol::Web => ServiceKind::Web,
    }
}

#[cfg(test)]
mod tests;

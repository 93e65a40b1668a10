//! Account -> the backend address serving it for one protocol (CM-7,
//! CM-22): the directory names the host server, the configuration maps
//! servers to their service addresses.

use crate::frontend::Protocol;
use async_trait::async_trait;
use directory::{CachedHosts, HostDirectory};
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

/// Where a frontend sends an account's sessions.
#[async_trait]
pub trait BackendLookup: Send + Sync + 'static {
    /// The backend address for `account`'s `protocol` service; `None`
    /// when no backend hosts the account (answered like a wrong password).
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<SocketAddr>, LookupError>;

    /// The backend answered "not hosted here": forget what is cached for
    /// the account, the directory has moved it (CM-10).
    fn invalidate(&self, _account: &AccountName) {}
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
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<SocketAddr>, LookupError> {
        Ok(self.backends.get(&(account.clone(), protocol)).copied())
    }
}

/// The cluster's lookup: `hostServer` from the directory (cached for a
/// few seconds), then the configured service address of that server.
pub struct DirectoryBackends<H> {
    /// Shared with the member's locator, so that an invalidation made
    /// here ("not hosted here") is seen there too.
    hosts: Arc<CachedHosts<H>>,
    servers: HashMap<(DomainName, Protocol), SocketAddr>,
}

impl<H: HostDirectory> DirectoryBackends<H> {
    /// `servers` maps each backend (by its main domain, CM-2) and protocol
    /// to the address of that service on the cluster network.
    pub fn new(hosts: Arc<CachedHosts<H>>, servers: HashMap<(DomainName, Protocol), SocketAddr>) -> Self {
        Self { hosts, servers }
    }
}

#[async_trait]
impl<H: HostDirectory> BackendLookup for DirectoryBackends<H> {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<SocketAddr>, LookupError> {
        let host = self
            .hosts
            .host_server(account)
            .await
            .map_err(|e| LookupError { account: account.clone(), reason: e.to_string() })?;
        let Some(host) = host else { return Ok(None) };
        match self.servers.get(&(host.clone(), protocol)) {
            Some(addr) => Ok(Some(*addr)),
            // A host the configuration does not know is an operator's
            // mistake, not an unknown account: answer "try later".
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

#[cfg(test)]
mod tests;

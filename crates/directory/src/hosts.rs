//! Which cluster member hosts each account: the static cluster's routing
//! table (`hostServer`, CM-6/CM-7) and the failover rewrite (CM-10).
//!
//! A server is named by its main domain name (CM-2), or by a backend
//! cluster's name in a cluster of clusters (CM-34); both are
//! [`DomainName`]s.

mod cache;

pub use cache::{CachedHosts, HostCacheLimits};

use async_trait::async_trait;
use std::sync::Arc;
use types::{AccountName, DomainName};

use crate::Result;

/// Called as `(done, total)` while records are rewritten: once with
/// `done = 0` when the total is known, then after each record.
pub type Progress<'a> = &'a mut (dyn FnMut(usize, usize) + Send);

/// Account -> host server, kept in the shared directory.
#[async_trait]
pub trait HostDirectory: Send + Sync + 'static {
    /// The server hosting `account`; `None` when the account is unknown or
    /// has no host recorded (a single-server account).
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>>;

    /// Records `server` as the account's host; the account must exist.
    async fn set_host_server(&self, account: &AccountName, server: &DomainName) -> Result<()>;

    /// Every account whose host is `server`, sorted; the answer may hold
    /// any number of accounts (paged underneath).
    async fn accounts_on(&self, server: &DomainName) -> Result<Vec<AccountName>>;

    /// Failover (CM-10): every account hosted on `from` is moved to `to`,
    /// remembering `from` as its old host so that [`HostDirectory::restore`]
    /// can undo the move. An account already moved once keeps its first
    /// old host: that is where its storage belongs. Returns how many
    /// records were rewritten. Safe to run again after an interruption:
    /// it picks up the records still on `from`.
    async fn reassign(&self, from: &DomainName, to: &DomainName, progress: Progress<'_>) -> Result<usize>;

    /// Undoes [`HostDirectory::reassign`]: every account whose old host is
    /// `server` is hosted on `server` again and forgets its old host.
    /// Returns how many records were rewritten.
    async fn restore(&self, server: &DomainName, progress: Progress<'_>) -> Result<usize>;
}

/// A shared directory serves as the routing table too (the binary keeps
/// one `Arc<LdapDirectory>` for both traits).
#[async_trait]
impl<H: HostDirectory + ?Sized> HostDirectory for Arc<H> {
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>> {
        (**self).host_server(account).await
    }

    async fn set_host_server(&self, account: &AccountName, server: &DomainName) -> Result<()> {
        (**self).set_host_server(account, server).await
    }

    async fn accounts_on(&self, server: &DomainName) -> Result<Vec<AccountName>> {
        (**self).accounts_on(server).await
    }

    async fn reassign(&self, from: &DomainName, to: &DomainName, progress: Progress<'_>) -> Result<usize> {
        (**self).reassign(from, to, progress).await
    }

    async fn restore(&self, server: &DomainName, progress: Progress<'_>) -> Result<usize> {
        (**self).restore(server, progress).await
    }
}

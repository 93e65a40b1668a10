//! Which cluster member hosts each account: the static cluster's routing
//! table (`hostServer`, CM-6/CM-7) and the failover rewrite (CM-10).
//!
//! A server is named by its main domain name (CM-2), or by a backend
//! cluster's name in a cluster of clusters (CM-34); both are
//! [`DomainName`]s.
//!
//! Two ways to fail a backend over. A reassign rewrites every account
//! record (one write per account, batched). An adoption is one write: the
//! server entry of the failed server names the member that serves its
//! name now, and [`CachedHosts::host_server`] answers with that member for
//! every account recorded on the failed one. Adoptions are one hop: a
//! server that is adopted cannot adopt, and one that serves another
//! cannot be adopted, so the answer never depends on a chain.

mod cache;

pub use cache::{CachedHosts, HostCacheLimits};

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use types::{AccountName, DomainName};

use crate::{DirectoryError, Result};

/// Which member serves which adopted server name: adopted -> adopter.
pub type Adoptions = BTreeMap<DomainName, DomainName>;

/// A service a member publishes in the directory, so that the others
/// reach it without a line in their configs (CM-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    Imap,
    Pop3,
    Submission,
    /// The cluster link (CM-5): deliveries and administration.
    Link,
    /// The web mail listener, where frontends forward users' requests.
    Web,
    /// The admin listener, which a frontend's `/Cluster/<member>/` reaches
    /// (CM-19).
    Admin,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 6] = [
        ServiceKind::Imap,
        ServiceKind::Pop3,
        ServiceKind::Submission,
        ServiceKind::Link,
        ServiceKind::Web,
        ServiceKind::Admin,
    ];

    /// The name in the directory's values (`imap 10.0.0.11:143`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Imap => "imap",
            ServiceKind::Pop3 => "pop3",
            ServiceKind::Submission => "submission",
            ServiceKind::Link => "link",
            ServiceKind::Web => "web",
            ServiceKind::Admin => "admin",
        }
    }

    /// The kind a directory value names (case-insensitive); `None` for a
    /// name this version does not know.
    pub fn parse(name: &str) -> Option<ServiceKind> {
        ServiceKind::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the other members reach one server's services; empty when it
/// published none.
pub type ServiceAddresses = BTreeMap<ServiceKind, SocketAddr>;

/// Every server that published its services: server -> addresses.
pub type PublishedServices = BTreeMap<DomainName, ServiceAddresses>;

/// Why an adoption or a release was refused; every message names the
/// server concerned.
#[derive(Debug, thiserror::Error)]
pub enum AdoptionError {
    #[error("unknown server {0}: no member of that name has connected to the directory and no account is hosted on it")]
    UnknownServer(DomainName),
    #[error("{0} cannot adopt itself")]
    OwnName(DomainName),
    #[error("{server} is already served by {by}; release {server} first")]
    AlreadyAdopted { server: DomainName, by: DomainName },
    #[error("{adopter} is itself adopted (served by {served_by}); adopt by {served_by}, or release {adopter} first")]
    AdopterIsAdopted { adopter: DomainName, served_by: DomainName },
    #[error("{server} serves {adopted}; release {adopted} first")]
    ServesOthers { server: DomainName, adopted: String },
    #[error("{0} is not adopted: it serves its own accounts")]
    NotAdopted(DomainName),
    #[error("this directory keeps no server entries: adoption needs the shared LDAP directory")]
    Unsupported,
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Called as `(done, total)` while records are rewritten: once with
/// `done = 0` when the total is known, then as records are written (after
/// each batch; the last call has `done = total` when all went well).
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

    /// Every adopted server with the member serving it now. A directory
    /// without server entries has none.
    async fn adoptions(&self) -> Result<Adoptions> {
        Ok(Adoptions::new())
    }

    /// Failover in one write: `by` serves `server`'s accounts from now on
    /// (after `server`'s storage has been attached to `by`). Adopting
    /// again by the same member changes nothing.
    async fn adopt(&self, _server: &DomainName, _by: &DomainName) -> Result<(), AdoptionError> {
        Err(AdoptionError::Unsupported)
    }

    /// Undoes [`HostDirectory::adopt`]: `server` serves its own accounts
    /// again. Returns the member that served them.
    async fn release(&self, _server: &DomainName) -> Result<DomainName, AdoptionError> {
        Err(AdoptionError::Unsupported)
    }

    /// Records where the other members reach `server` (CM-4), replacing
    /// what it published before. A directory without server entries
    /// cannot say.
    async fn publish_services(&self, _server: &DomainName, _services: &ServiceAddresses) -> Result<()> {
        Err(DirectoryError::Backend(
            "this directory keeps no server entries: publishing services needs the shared LDAP directory".into(),
        ))
    }

    /// What `server` published; empty when it published nothing (or the
    /// directory keeps no server entries).
    async fn server_services(&self, _server: &DomainName) -> Result<ServiceAddresses> {
        Ok(ServiceAddresses::new())
    }

    /// Every server's published services (servers that published nothing
    /// are left out).
    async fn published_services(&self) -> Result<PublishedServices> {
        Ok(PublishedServices::new())
    }
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

    async fn adoptions(&self) -> Result<Adoptions> {
        (**self).adoptions().await
    }

    async fn adopt(&self, server: &DomainName, by: &DomainName) -> Result<(), AdoptionError> {
        (**self).adopt(server, by).await
    }

    async fn release(&self, server: &DomainName) -> Result<DomainName, AdoptionError> {
        (**self).release(server).await
    }

    async fn publish_services(&self, server: &DomainName, services: &ServiceAddresses) -> Result<()> {
        (**self).publish_services(server, services).await
    }

    async fn server_services(&self, server: &DomainName) -> Result<ServiceAddresses> {
        (**self).server_services(server).await
    }

    async fn published_services(&self) -> Result<PublishedServices> {
        (**self).published_services().await
    }
}

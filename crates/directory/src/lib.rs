//! Domains, accounts, credentials and aliases behind one trait,
//! [`Directory`], so that the embedded back-end ([`EmbeddedDirectory`],
//! one redb file) and the LDAP back-end ([`LdapDirectory`], OpenLDAP with
//! the schema in `schema/`) are interchangeable. The static cluster's host
//! routing (`hostServer`, CM-7, CM-10) is a second trait,
//! [`HostDirectory`], with a short-lived look-up cache for frontends
//! ([`CachedHosts`]). Look-ups always take full `name@domain` names. This
//! crate stores no mail and knows nothing of protocols.
#![forbid(unsafe_code)]

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use types::{AccountName, DomainName};

mod auth_cache;
mod embedded;
mod hosts;
mod ldap;
mod password;
pub use embedded::{EmbeddedDirectory, EmbeddedOptions};
pub use hosts::{
    AdoptionError, Adoptions, CachedHosts, HostCacheLimits, HostDirectory, Progress, PublishedServices,
    ServiceAddresses, ServiceKind,
};
pub use ldap::{LdapDirectory, LdapOptions};

/// One account as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub name: AccountName,
    /// Storage limit in bytes; `None` means unlimited.
    pub quota_bytes: Option<u64>,
    /// Unix seconds.
    pub created: u64,
}

/// An alias: mail to `alias` goes to the account `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub alias: AccountName,
    pub target: AccountName,
}

/// A domain and who serves it (CM-1..CM-3): `server` is the one cluster
/// member that hosts a local domain's accounts (a member's main domain is
/// always local to it, CM-2); `None` is a Shared Domain, whose accounts
/// may live on any backend, or any domain of a single server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub name: DomainName,
    pub server: Option<DomainName>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("unknown domain {0}")]
    UnknownDomain(DomainName),
    #[error("domain {0} already exists")]
    DomainExists(DomainName),
    #[error("domain {0} still has accounts or aliases")]
    DomainNotEmpty(DomainName),
    #[error("account {0} already exists")]
    AccountExists(AccountName),
    #[error("unknown account {0}")]
    UnknownAccount(AccountName),
    #[error("alias {0} already exists")]
    AliasExists(AccountName),
    #[error("unknown alias {0}")]
    UnknownAlias(AccountName),
    #[error("{0} is already an account name")]
    NameTaken(AccountName),
    #[error("password must not be empty")]
    EmptyPassword,
    #[error("directory back-end: {0}")]
    Backend(String),
}

pub type Result<T, E = DirectoryError> = std::result::Result<T, E>;

/// Where the server learns which domains, accounts and aliases exist.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Adds a domain; in a cluster directory, a Shared Domain (CM-3).
    async fn add_domain(&self, domain: &DomainName) -> Result<()>;
    /// Adds a domain whose accounts live on `server` only (CM-1, CM-2). A
    /// directory that serves one server has nothing to record.
    async fn add_local_domain(&self, domain: &DomainName, _server: &DomainName) -> Result<()> {
        self.add_domain(domain).await
    }
    /// Every domain with the member it is local to, if any.
    async fn domain_records(&self) -> Result<Vec<DomainRecord>> {
        Ok(self.domains().await?.into_iter().map(|name| DomainRecord { name, server: None }).collect())
    }
    /// The member `domain` is local to; `None` when it is shared (or on a
    /// single server); [`DirectoryError::UnknownDomain`] when it is not
    /// there at all.
    async fn domain_server(&self, domain: &DomainName) -> Result<Option<DomainName>> {
        if self.has_domain(domain).await? { Ok(None) } else { Err(DirectoryError::UnknownDomain(domain.clone())) }
    }
    /// Fails with [`DirectoryError::DomainNotEmpty`] while accounts or
    /// aliases remain in it.
    async fn remove_domain(&self, domain: &DomainName) -> Result<()>;
    async fn domains(&self) -> Result<Vec<DomainName>>;
    async fn has_domain(&self, domain: &DomainName) -> Result<bool>;

    /// The domain must exist; the name must not be an account or an alias.
    async fn add_account(&self, name: &AccountName, password: &str, quota_bytes: Option<u64>) -> Result<AccountRecord>;
    /// Also removes the aliases that point at the account.
    async fn remove_account(&self, name: &AccountName) -> Result<()>;
    async fn account(&self, name: &AccountName) -> Result<Option<AccountRecord>>;
    async fn accounts(&self, domain: &DomainName) -> Result<Vec<AccountRecord>>;
    async fn set_password(&self, name: &AccountName, password: &str) -> Result<()>;
    async fn set_quota(&self, name: &AccountName, quota_bytes: Option<u64>) -> Result<()>;
    /// Checks a password. `Ok(None)` for an unknown account or a wrong
    /// password alike, so callers cannot tell the two apart.
    async fn authenticate(&self, name: &AccountName, password: &str) -> Result<Option<AccountRecord>>;

    /// The alias's domain must exist and its name must not be an account.
    async fn add_alias(&self, alias: &AccountName, target: &AccountName) -> Result<()>;
    async fn remove_alias(&self, alias: &AccountName) -> Result<()>;
    /// All aliases, or those of one domain.
    async fn aliases(&self, domain: Option<&DomainName>) -> Result<Vec<AliasRecord>>;
    /// The aliases that point at `account`.
    async fn aliases_of(&self, account: &AccountName) -> Result<Vec<AccountName>>;
    /// The account an address delivers to: the account itself or an
    /// alias's target; `None` when neither exists.
    async fn resolve(&self, address: &AccountName) -> Result<Option<AccountName>>;
}

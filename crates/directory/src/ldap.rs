//! The LDAP directory: domains, accounts, aliases and host servers kept in
//! OpenLDAP, shared by every member of a static cluster (CM-7).
//!
//! Layout under the configured base DN (schema: `schema/rookery.schema`):
//!
//! ```text
//! ou=domains,<base>                                  organizationalUnit
//!   ou=example.com,ou=domains,<base>                 organizationalUnit + rookeryDomain
//!     uid=alice,ou=example.com,ou=domains,<base>     inetOrgPerson + rookeryAccount
//!         uid, cn, sn, rookeryAddress: alice@example.com,
//!         userPassword: {ARGON2}$argon2id$v=19$...,
//!         rookeryQuotaBytes (absent = unlimited), hostServer, oldHostServer
//!     uid=info,ou=example.com,ou=domains,<base>      rookeryAlias
//!         uid, rookeryAddress: info@example.com,
//!         rookeryAliasTarget: alice@example.com
//! ou=servers,<base>                                  organizationalUnit
//!   cn=sv2.example.com,ou=servers,<base>             rookeryServer
//!         cn, rookeryServedBy (only while another member adopts it),
//!         rookeryService: imap 10.0.0.11:143, link 10.0.0.11:4410 ...
//! ```
//!
//! Why this shape: an account and an alias of one domain are siblings
//! named by their local part, so the server itself refuses a second entry
//! with a taken name; a domain with children cannot be deleted
//! (`notAllowedOnNonLeaf`), which is "domain not empty" without a race;
//! names use `ou`/`uid` and our directory-string attributes rather than
//! `dc`/`mail`, which are IA5 only, because names may be UTF-8. The
//! creation time is slapd's own `createTimestamp`.
//!
//! Passwords are argon2id PHC strings made by `crate::password` (the same
//! code as the embedded directory) and stored with OpenLDAP's `{ARGON2}`
//! tag, so slapd never holds a plaintext password; they are checked here,
//! after reading the hash as the bind DN, which therefore needs read
//! access to `userPassword`.
//!
//! Every failure to reach or use the server is a [`DirectoryError::Backend`]
//! naming the server's URL: temporary, the same call may succeed later.
//!
//! Several servers (CM-36): `url` is the primary, which takes every write;
//! `replicas` are copies kept by OpenLDAP's replication that serve reads
//! when the servers before them in the list do not answer
//! (`ldap/servers.rs`).

mod batch;
mod connection;
mod hosts;
mod layout;
mod search;
mod servers;
mod services;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ldap3::{Mod, Scope, SearchEntry};

use crate::auth_cache::{AuthCache, AuthCacheLimits};
use crate::password::Passwords;
use crate::*;
use connection::{Endpoint, rc, result_code};
use layout::*;
use search::{lookup, search_all};
use servers::{Failure, Policy, Servers};

const TARGET: &str = "directory::ldap";

/// Where the LDAP server is and how to use it.
#[derive(Debug, Clone)]
pub struct LdapOptions {
    /// `ldap://host:port/` or `ldaps://...`: the primary server, which
    /// takes every write and is the first asked for reads.
    pub url: String,
    /// Further servers holding replicas of the same data (syncrepl
    /// consumers, or the provider when `url` is a consumer), asked for
    /// reads in this order when the ones before do not answer. Writes
    /// never go to them, except by following `url`'s referral to one of
    /// them (see `ldap/servers.rs`).
    pub replicas: Vec<String>,
    /// The entry under which `ou=domains` lives; it must exist.
    pub base_dn: String,
    /// Binds with write access under `base_dn` and read access to
    /// `userPassword`.
    pub bind_dn: String,
    pub bind_password: String,
    /// This server's name: accounts created through this directory get it
    /// as their `hostServer`. `None` records no host (single server).
    pub local_server: Option<DomainName>,
    pub connect_timeout: Duration,
    /// Limit on each request; a server that does not answer in time is
    /// treated as unreachable.
    pub operation_timeout: Duration,
    /// As in [`EmbeddedOptions`]: how long and how many successful logins
    /// are remembered, so repeated logins skip argon2.
    pub auth_cache_ttl: Duration,
    pub auth_cache_capacity: usize,
    pub max_concurrent_password_hashes: usize,
    /// Modifies per LDAP transaction in a failover rewrite (reassign,
    /// restore), and how many transactions are in flight, each on its own
    /// connection. A batch of 1 uses no transactions (see `ldap/batch.rs`
    /// for slapd 2.5.13 with `dbnosync`).
    pub rewrite_batch: usize,
    pub rewrite_connections: usize,
    /// How long a server that failed is passed over for reads before one
    /// read tries it again (then the preferred server is used again).
    pub retry_down_after: Duration,
    /// How long after a write this process reads from the server that
    /// took it, so that replication lag does not hide its own writes.
    pub read_own_writes: Duration,
}

impl LdapOptions {
    /// Options with default timeouts and caches.
    pub fn new(url: &str, base_dn: &str, bind_dn: &str, bind_password: &str) -> Self {
        let embedded = EmbeddedOptions::default();
        Self {
            url: url.to_owned(),
            base_dn: base_dn.to_owned(),
            bind_dn: bind_dn.to_owned(),
            bind_password: bind_password.to_owned(),
            replicas: Vec::new(),
            local_server: None,
            // Short: a server that does not answer makes reads wait this
            // long once before they move on to a replica.
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(30),
            auth_cache_ttl: embedded.auth_cache_ttl,
            auth_cache_capacity: embedded.auth_cache_capacity,
            max_concurrent_password_hashes: embedded.max_concurrent_password_hashes,
            rewrite_batch: batch::BATCH,
            rewrite_connections: batch::CONNECTIONS,
            retry_down_after: Duration::from_secs(10),
            read_own_writes: Duration::from_secs(5),
        }
    }

    /// Why `url` cannot name a directory server, if it cannot: for
    /// checking a configuration before connecting.
    pub fn check_url(url: &str) -> std::result::Result<(), String> {
        servers::check_url(url)
    }

    /// Whether two URLs name the same server (scheme, host and port).
    pub fn same_server(a: &str, b: &str) -> bool {
        servers::same_server(a, b)
    }
}

/// The directory back-end on an LDAP server (OpenLDAP with Rookery's
/// schema).
pub struct LdapDirectory {
    servers: Servers,
    layout: Layout,
    local_server: Option<DomainName>,
    passwords: Passwords,
    auth_cache: AuthCache,
    rewrite: batch::Shape,
}

/// What a name is in the directory.
enum Named {
    Account(SearchEntry),
    Alias(AccountName),
}

impl LdapDirectory {
    /// Connects, binds, and creates `ou=domains` under the base DN when it
    /// is missing. Fails when the server cannot be reached.
    pub async fn connect(options: LdapOptions) -> Result<Self> {
        let endpoints = std::iter::once(options.url)
            .chain(options.replicas)
            .map(|url| Endpoint {
                url,
                bind_dn: options.bind_dn.clone(),
                bind_password: options.bind_password.clone(),
                connect_timeout: options.connect_timeout,
                operation_timeout: options.operation_timeout,
            })
            .collect();
        let policy = Policy { retry_down_after: options.retry_down_after, read_own_writes: options.read_own_writes };
        let directory = Self {
            servers: Servers::new(endpoints, policy),
            layout: Layout::new(&options.base_dn),
            local_server: options.local_server,
            passwords: Passwords::new(options.max_concurrent_password_hashes),
            auth_cache: AuthCache::new(AuthCacheLimits {
                ttl: options.auth_cache_ttl,
                capacity: options.auth_cache_capacity,
            }),
            rewrite: batch::Shape {
                batch: options.rewrite_batch.max(1),
                connections: options.rewrite_connections.max(1),
            },
        };
        directory.ensure_domains_container().await?;
        if let Some(name) = &directory.local_server {
            directory.register_server(name).await;
        }
        Ok(directory)
    }

    /// The URL of the server that answered the last read: `url` normally,
    /// a replica while the servers before it do not answer.
    pub fn last_read_server(&self) -> &str {
        self.servers.last_read_url()
    }

    /// Looks before adding, so that a bind DN that may only read (a
    /// frontend's) can connect once the container exists.
    async fn ensure_domains_container(&self) -> Result<()> {
        let dn = self.layout.domains_dn();
        if lookup(&self.servers, dn, "(objectClass=*)", &["1.1"]).await.map_err(|e| self.failure(e))?.is_some() {
            return Ok(());
        }
        let attributes =
            vec![attribute("objectClass", ["organizationalUnit".into()]), attribute("ou", ["domains".into()])];
        match self.add(dn, attributes).await {
            Err(error) if result_code(&error) != Some(rc::ENTRY_ALREADY_EXISTS) => Err(self.failure(error)),
            _ => Ok(()),
        }
    }

    /// Whether `name` is an account, an alias, or nothing.
    async fn named(&self, name: &AccountName) -> Result<Option<Named>> {
        let dn = self.layout.name_dn(name);
        let filter = format!("(|{}{})", class(ACCOUNT_CLASS), class(ALIAS_CLASS));
        let mut attributes = vec!["objectClass", ALIAS_TARGET, PASSWORD];
        attributes.extend(ACCOUNT_ATTRIBUTES);
        let Some(entry) = lookup(&self.servers, &dn, &filter, &attributes).await.map_err(|e| self.failure(e))? else {
            return Ok(None);
        };
        if has_class(&entry, ALIAS_CLASS) {
            return Ok(Some(Named::Alias(alias_record(&entry)?.target)));
        }
        Ok(Some(Named::Account(entry)))
    }

    /// The account's entry (with its password hash), or `None`.
    async fn account_entry(&self, name: &AccountName) -> Result<Option<SearchEntry>> {
        Ok(match self.named(name).await? {
            Some(Named::Account(entry)) => Some(entry),
            _ => None,
        })
    }

    async fn require_account(&self, name: &AccountName) -> Result<SearchEntry> {
        self.account_entry(name).await?.ok_or_else(|| DirectoryError::UnknownAccount(name.clone()))
    }

    async fn modify(&self, dn: &str, changes: Vec<Mod<String>>) -> Result<(), Failure> {
        self.servers
            .write(|mut ldap| {
                let changes = changes.clone();
                async move { ldap.modify(dn, changes).await?.success() }
            })
            .await?;
        Ok(())
    }

    async fn delete(&self, dn: &str) -> Result<(), Failure> {
        self.servers.write(|mut ldap| async move { ldap.delete(dn).await?.success() }).await?;
        Ok(())
    }

    async fn add(&self, dn: &str, attributes: Vec<(String, HashSet<String>)>) -> Result<(), Failure> {
        self.servers
            .write(|mut ldap| {
                let attributes = attributes.clone();
                async move { ldap.add(dn, attributes).await?.success() }
            })
            .await?;
        Ok(())
    }

    /// A failure as the caller reports it: temporary, naming the server.
    fn failure(&self, error: Failure) -> DirectoryError {
        error.into()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

fn attribute(name: &str, values: impl IntoIterator<Item = String>) -> (String, HashSet<String>) {
    (name.to_owned(), values.into_iter().collect())
}

impl LdapDirectory {
    /// A domain entry; `server` set makes the domain local to that member.
    async fn add_domain_entry(&self, domain: &DomainName, server: Option<&DomainName>) -> Result<()> {
        let mut attributes = vec![
            attribute("objectClass", ["organizationalUnit".into(), DOMAIN_CLASS.into()]),
            attribute("ou", [domain.to_string()]),
        ];
        if let Some(server) = server {
            attributes.push(attribute(HOST_SERVER, [server.to_string()]));
        }
        match self.add(&self.layout.domain_dn(domain), attributes).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::ENTRY_ALREADY_EXISTS) => {
                return Err(DirectoryError::DomainExists(domain.clone()));
            }
            Err(error) => return Err(self.failure(error)),
        }
        tracing::debug!(target: TARGET, domain = %domain, server = ?server.map(DomainName::as_str), "domain added");
        Ok(())
    }

    /// The domain of a domain entry: the RDN's value (`ou` may hold other
    /// values too).
    fn entry_domain(&self, entry: &SearchEntry) -> Option<DomainName> {
        entry.attrs.iter().filter(|(name, _)| name.eq_ignore_ascii_case("ou")).flat_map(|(_, values)| values).find_map(
            |value| {
                DomainName::parse(value)
                    .ok()
                    .filter(|domain| self.layout.domain_dn(domain).eq_ignore_ascii_case(&entry.dn))
            },
        )
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn add_domain(&self, domain: &DomainName) -> Result<()> {
        self.add_domain_entry(domain, None).await
    }

    async fn add_local_domain(&self, domain: &DomainName, server: &DomainName) -> Result<()> {
        self.add_domain_entry(domain, Some(server)).await
    }

    async fn domain_records(&self) -> Result<Vec<DomainRecord>> {
        let attributes = ["ou", HOST_SERVER];
        let entries =
            search_all(&self.servers, self.layout.domains_dn(), Scope::OneLevel, &class(DOMAIN_CLASS), &attributes)
                .await
                .map_err(|error| self.failure(error))?;
        let mut records = Vec::with_capacity(entries.len());
        for entry in &entries {
            let Some(name) = self.entry_domain(entry) else {
                tracing::warn!(target: TARGET, dn = %entry.dn, "domain entry without a valid domain name; ignored");
                continue;
            };
            records
                .push(DomainRecord { name, server: first(entry, HOST_SERVER).and_then(|s| DomainName::parse(s).ok()) });
        }
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    async fn domain_server(&self, domain: &DomainName) -> Result<Option<DomainName>> {
        let found = lookup(&self.servers, &self.layout.domain_dn(domain), &class(DOMAIN_CLASS), &[HOST_SERVER])
            .await
            .map_err(|error| self.failure(error))?;
        let entry = found.ok_or_else(|| DirectoryError::UnknownDomain(domain.clone()))?;
        Ok(first(&entry, HOST_SERVER).and_then(|server| DomainName::parse(server).ok()))
    }

    async fn remove_domain(&self, domain: &DomainName) -> Result<()> {
        match self.delete(&self.layout.domain_dn(domain)).await {
            Ok(()) => {}
            Err(error) => {
                return Err(match result_code(&error) {
                    Some(rc::NO_SUCH_OBJECT) => DirectoryError::UnknownDomain(domain.clone()),
                    Some(rc::NOT_ALLOWED_ON_NON_LEAF) => DirectoryError::DomainNotEmpty(domain.clone()),
                    _ => self.failure(error),
                });
            }
        }
        tracing::debug!(target: TARGET, domain = %domain, "domain removed");
        Ok(())
    }

    async fn domains(&self) -> Result<Vec<DomainName>> {
        Ok(self.domain_records().await?.into_iter().map(|record| record.name).collect())
    }

    async fn has_domain(&self, domain: &DomainName) -> Result<bool> {
        let found = lookup(&self.servers, &self.layout.domain_dn(domain), &class(DOMAIN_CLASS), &["1.1"])
            .await
            .map_err(|error| self.failure(error))?;
        Ok(found.is_some())
    }

    async fn add_account(&self, name: &AccountName, password: &str, quota_bytes: Option<u64>) -> Result<AccountRecord> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let hash = self.passwords.hash(password).await?;
        let local = name.local().as_str().to_owned();
        let mut attributes = vec![
            attribute("objectClass", ["inetOrgPerson".into(), ACCOUNT_CLASS.into()]),
            attribute("uid", [local.clone()]),
            attribute("cn", [name.to_string()]),
            attribute("sn", [local]),
            attribute(ADDRESS, [name.to_string()]),
            attribute(PASSWORD, [format!("{PASSWORD_SCHEME}{hash}")]),
        ];
        if let Some(quota) = quota_bytes {
            attributes.push(attribute(QUOTA, [quota.to_string()]));
        }
        if let Some(server) = &self.local_server {
            attributes.push(attribute(HOST_SERVER, [server.to_string()]));
        }
        match self.add(&self.layout.name_dn(name), attributes).await {
            Ok(()) => {}
            Err(error) => {
                return Err(match result_code(&error) {
                    Some(rc::NO_SUCH_OBJECT) => DirectoryError::UnknownDomain(name.domain().clone()),
                    Some(rc::ENTRY_ALREADY_EXISTS) => match self.named(name).await? {
                        Some(Named::Alias(_)) => DirectoryError::NameTaken(name.clone()),
                        _ => DirectoryError::AccountExists(name.clone()),
                    },
                    _ => self.failure(error),
                });
            }
        }
        tracing::debug!(target: TARGET, account = %name, "account added");
        // Read back for slapd's creation time, so later reads agree.
        match self.account(name).await? {
            Some(record) => Ok(record),
            None => Ok(AccountRecord { name: name.clone(), quota_bytes, created: unix_now() }),
        }
    }

    async fn remove_account(&self, name: &AccountName) -> Result<()> {
        self.require_account(name).await?;
        for alias in self.aliases_of(name).await? {
            match self.delete(&self.layout.name_dn(&alias)).await {
                Err(error) if result_code(&error) != Some(rc::NO_SUCH_OBJECT) => return Err(self.failure(error)),
                _ => {}
            }
        }
        match self.delete(&self.layout.name_dn(name)).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => {
                return Err(DirectoryError::UnknownAccount(name.clone()));
            }
            Err(error) => return Err(self.failure(error)),
        }
        self.auth_cache.invalidate(name);
        tracing::debug!(target: TARGET, account = %name, "account removed");
        Ok(())
    }

    async fn account(&self, name: &AccountName) -> Result<Option<AccountRecord>> {
        self.account_entry(name).await?.as_ref().map(account_record).transpose()
    }

    async fn accounts(&self, domain: &DomainName) -> Result<Vec<AccountRecord>> {
        let entries = search_all(
            &self.servers,
            &self.layout.domain_dn(domain),
            Scope::OneLevel,
            &class(ACCOUNT_CLASS),
            &ACCOUNT_ATTRIBUTES,
        )
        .await
        .map_err(|error| match result_code(&error) {
            Some(rc::NO_SUCH_OBJECT) => DirectoryError::UnknownDomain(domain.clone()),
            _ => self.failure(error),
        })?;
        let mut records = entries.iter().map(account_record).collect::<Result<Vec<_>>>()?;
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    async fn set_password(&self, name: &AccountName, password: &str) -> Result<()> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        // Fail before spending argon2 on an account that is not there.
        self.require_account(name).await?;
        let hash = self.passwords.hash(password).await?;
        let changes = vec![Mod::Replace(PASSWORD.to_owned(), set(format!("{PASSWORD_SCHEME}{hash}")))];
        match self.modify(&self.layout.name_dn(name), changes).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => {
                return Err(DirectoryError::UnknownAccount(name.clone()));
            }
            Err(error) => return Err(self.failure(error)),
        }
        self.auth_cache.invalidate(name);
        tracing::debug!(target: TARGET, account = %name, "password changed");
        Ok(())
    }

    async fn set_quota(&self, name: &AccountName, quota_bytes: Option<u64>) -> Result<()> {
        self.require_account(name).await?;
        // Replacing with no values removes the attribute: unlimited.
        let values = quota_bytes.map(|quota| quota.to_string()).into_iter().collect();
        match self.modify(&self.layout.name_dn(name), vec![Mod::Replace(QUOTA.to_owned(), values)]).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => {
                return Err(DirectoryError::UnknownAccount(name.clone()));
            }
            Err(error) => return Err(self.failure(error)),
        }
        tracing::debug!(target: TARGET, account = %name, quota_bytes, "quota changed");
        Ok(())
    }

    async fn authenticate(&self, name: &AccountName, password: &str) -> Result<Option<AccountRecord>> {
        // No account has an empty password; answering at once tells nothing.
        if password.is_empty() {
            return Ok(None);
        }
        let entry = self.account_entry(name).await?;
        let hash = entry.as_ref().and_then(argon2_hash);
        let (Some(entry), Some(hash)) = (entry, hash) else {
            // Same argon2 work as a wrong password, so timing does not
            // reveal whether the account exists.
            self.passwords.verify(password, None).await?;
            tracing::debug!(target: TARGET, account = %name, "login failed");
            return Ok(None);
        };
        if self.auth_cache.contains(name, &hash, password, Instant::now()) {
            return account_record(&entry).map(Some);
        }
        if !self.passwords.verify(password, Some(hash.clone())).await? {
            tracing::debug!(target: TARGET, account = %name, "login failed");
            return Ok(None);
        }
        self.auth_cache.insert(name, &hash, password, Instant::now());
        account_record(&entry).map(Some)
    }

    async fn add_alias(&self, alias: &AccountName, target: &AccountName) -> Result<()> {
        // The same checks, in the same order, as the embedded directory.
        if !self.has_domain(alias.domain()).await? {
            return Err(DirectoryError::UnknownDomain(alias.domain().clone()));
        }
        match self.named(alias).await? {
            Some(Named::Alias(_)) => return Err(DirectoryError::AliasExists(alias.clone())),
            Some(Named::Account(_)) => return Err(DirectoryError::NameTaken(alias.clone())),
            None => {}
        }
        self.require_account(target).await?;
        let attributes = vec![
            attribute("objectClass", [ALIAS_CLASS.into()]),
            attribute("uid", [alias.local().as_str().to_owned()]),
            attribute(ADDRESS, [alias.to_string()]),
            attribute(ALIAS_TARGET, [target.to_string()]),
        ];
        match self.add(&self.layout.name_dn(alias), attributes).await {
            Ok(()) => {}
            Err(error) => {
                return Err(match result_code(&error) {
                    Some(rc::NO_SUCH_OBJECT) => DirectoryError::UnknownDomain(alias.domain().clone()),
                    Some(rc::ENTRY_ALREADY_EXISTS) => match self.named(alias).await? {
                        Some(Named::Account(_)) => DirectoryError::NameTaken(alias.clone()),
                        _ => DirectoryError::AliasExists(alias.clone()),
                    },
                    _ => self.failure(error),
                });
            }
        }
        tracing::debug!(target: TARGET, alias = %alias, account = %target, "alias added");
        Ok(())
    }

    async fn remove_alias(&self, alias: &AccountName) -> Result<()> {
        if !matches!(self.named(alias).await?, Some(Named::Alias(_))) {
            return Err(DirectoryError::UnknownAlias(alias.clone()));
        }
        match self.delete(&self.layout.name_dn(alias)).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => {
                return Err(DirectoryError::UnknownAlias(alias.clone()));
            }
            Err(error) => return Err(self.failure(error)),
        }
        tracing::debug!(target: TARGET, alias = %alias, "alias removed");
        Ok(())
    }

    async fn aliases(&self, domain: Option<&DomainName>) -> Result<Vec<AliasRecord>> {
        let (base, scope) = match domain {
            Some(domain) => (self.layout.domain_dn(domain), Scope::OneLevel),
            None => (self.layout.domains_dn().to_owned(), Scope::Subtree),
        };
        let entries = search_all(&self.servers, &base, scope, &class(ALIAS_CLASS), &[ADDRESS, ALIAS_TARGET])
            .await
            .map_err(|error| match (result_code(&error), domain) {
                (Some(rc::NO_SUCH_OBJECT), Some(domain)) => DirectoryError::UnknownDomain(domain.clone()),
                _ => self.failure(error),
            })?;
        let mut records = entries.iter().map(alias_record).collect::<Result<Vec<_>>>()?;
        records.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(records)
    }

    async fn aliases_of(&self, account: &AccountName) -> Result<Vec<AccountName>> {
        self.require_account(account).await?;
        let filter = class_and(ALIAS_CLASS, ALIAS_TARGET, &account.to_string());
        let entries = search_all(&self.servers, self.layout.domains_dn(), Scope::Subtree, &filter, &[ADDRESS])
            .await
            .map_err(|error| self.failure(error))?;
        let mut aliases = entries.iter().map(address).collect::<Result<Vec<_>>>()?;
        aliases.sort();
        Ok(aliases)
    }

    async fn resolve(&self, address: &AccountName) -> Result<Option<AccountName>> {
        Ok(match self.named(address).await? {
            Some(Named::Account(_)) => Some(address.clone()),
            Some(Named::Alias(target)) => Some(target),
            None => None,
        })
    }
}

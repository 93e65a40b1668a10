//! The embedded directory: one redb file in the data directory.
//!
//! Hot-path reads (`has_domain`, `account`, `resolve`, asked on every SMTP
//! RCPT and login) are redb read transactions run directly on the async
//! worker, not an in-memory copy: a read transaction is an MVCC snapshot
//! that never waits for a writer, and with redb's page cache warm a point
//! look-up takes a few microseconds. The file stays the one source of
//! truth, so there is no second copy to keep in step with the writes and
//! memory does not grow with the number of accounts beyond the page cache.
//! Listings, which grow with the directory, and writes, which fsync, run on
//! the blocking pool; argon2 runs there too (see `crate::password`).

mod tables;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::auth_cache::{AuthCache, AuthCacheLimits};
use crate::password::Passwords;
use crate::*;
use tables::{DirectoryFile, StoredAccount};

/// Tracing target of this back-end.
const TARGET: &str = "directory::embedded";

/// Tuning of [`EmbeddedDirectory`]; the defaults suit a single server.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// How long a successful login is remembered, so that the same account
    /// and password log in again without argon2.
    pub auth_cache_ttl: Duration,
    /// How many remembered logins at most; the oldest goes first. Zero
    /// turns the cache off.
    pub auth_cache_capacity: usize,
    /// How many argon2 hashes or verifies run at once; each takes about
    /// 19 MiB and one core for tens of milliseconds. Defaults to the
    /// number of cores.
    pub max_concurrent_password_hashes: usize,
    /// Memory redb may use to cache pages of the file.
    pub page_cache_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            auth_cache_ttl: Duration::from_secs(5 * 60),
            auth_cache_capacity: 10_000,
            max_concurrent_password_hashes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            page_cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The single-server directory back-end.
pub struct EmbeddedDirectory {
    file: Arc<DirectoryFile>,
    passwords: Passwords,
    auth_cache: AuthCache,
}

impl EmbeddedDirectory {
    /// Opens (creating if absent) the directory database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, EmbeddedOptions::default())
    }

    /// Opens (creating if absent) the directory database at `path` with
    /// non-default tuning. Blocks while the file is opened or created.
    pub fn open_with(path: &Path, options: EmbeddedOptions) -> Result<Self> {
        let file = DirectoryFile::open(path, options.page_cache_bytes)?;
        Ok(Self {
            file: Arc::new(file),
            passwords: Passwords::new(options.max_concurrent_password_hashes),
            auth_cache: AuthCache::new(AuthCacheLimits {
                ttl: options.auth_cache_ttl,
                capacity: options.auth_cache_capacity,
            }),
        })
    }

    /// Runs `work` on the blocking pool: writes that fsync and listings.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&DirectoryFile) -> Result<T, tables::Failure> + Send + 'static,
    ) -> Result<T> {
        let file = Arc::clone(&self.file);
        tokio::task::spawn_blocking(move || work(&file))
            .await
            .map_err(|error| DirectoryError::Backend(format!("directory task failed: {error}")))?
            .map_err(DirectoryError::from)
    }

    #[cfg(test)]
    fn file(&self) -> &DirectoryFile {
        &self.file
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[async_trait]
impl Directory for EmbeddedDirectory {
    async fn add_domain(&self, domain: &DomainName) -> Result<()> {
        let owned = domain.clone();
        self.blocking(move |file| file.add_domain(&owned)).await?;
        tracing::debug!(target: TARGET, domain = %domain, "domain added");
        Ok(())
    }

    async fn remove_domain(&self, domain: &DomainName) -> Result<()> {
        let owned = domain.clone();
        self.blocking(move |file| file.remove_domain(&owned)).await?;
        tracing::debug!(target: TARGET, domain = %domain, "domain removed");
        Ok(())
    }

    async fn domains(&self) -> Result<Vec<DomainName>> {
        self.blocking(|file| file.domains()).await
    }

    async fn has_domain(&self, domain: &DomainName) -> Result<bool> {
        Ok(self.file.has_domain(domain)?)
    }

    async fn add_account(&self, name: &AccountName, password: &str, quota_bytes: Option<u64>) -> Result<AccountRecord> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let stored =
            StoredAccount { quota_bytes, created: unix_now(), password_hash: self.passwords.hash(password).await? };
        let record = stored.record(name);
        let owned = name.clone();
        self.blocking(move |file| file.add_account(&owned, &stored)).await?;
        tracing::debug!(target: TARGET, account = %name, "account added");
        Ok(record)
    }

    async fn remove_account(&self, name: &AccountName) -> Result<()> {
        let owned = name.clone();
        self.blocking(move |file| file.remove_account(&owned)).await?;
        self.auth_cache.invalidate(name);
        tracing::debug!(target: TARGET, account = %name, "account removed");
        Ok(())
    }

    async fn account(&self, name: &AccountName) -> Result<Option<AccountRecord>> {
        Ok(self.file.account(name)?)
    }

    async fn accounts(&self, domain: &DomainName) -> Result<Vec<AccountRecord>> {
        let owned = domain.clone();
        self.blocking(move |file| file.accounts(&owned)).await
    }

    async fn set_password(&self, name: &AccountName, password: &str) -> Result<()> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        // Fail before spending argon2 on an account that is not there; the
        // update below checks again inside its transaction.
        if self.file.account(name)?.is_none() {
            return Err(DirectoryError::UnknownAccount(name.clone()));
        }
        let password_hash = self.passwords.hash(password).await?;
        let owned = name.clone();
        self.blocking(move |file| file.update_account(&owned, |stored| stored.password_hash = password_hash)).await?;
        // Entries cover the old hash and could not match any more; this
        // frees them.
        self.auth_cache.invalidate(name);
        tracing::debug!(target: TARGET, account = %name, "password changed");
        Ok(())
    }

    async fn set_quota(&self, name: &AccountName, quota_bytes: Option<u64>) -> Result<()> {
        let owned = name.clone();
        self.blocking(move |file| file.update_account(&owned, |stored| stored.quota_bytes = quota_bytes)).await?;
        tracing::debug!(target: TARGET, account = %name, quota_bytes, "quota changed");
        Ok(())
    }

    async fn authenticate(&self, name: &AccountName, password: &str) -> Result<Option<AccountRecord>> {
        // No account has an empty password; answering at once tells nothing
        // about which accounts exist.
        if password.is_empty() {
            return Ok(None);
        }
        let Some(stored) = self.file.stored_account(name)? else {
            // Same argon2 work as a wrong password, so timing does not
            // reveal whether the account exists.
            self.passwords.verify(password, None).await?;
            tracing::debug!(target: TARGET, account = %name, "login failed");
            return Ok(None);
        };
        if self.auth_cache.contains(name, &stored.password_hash, password, Instant::now()) {
            return Ok(Some(stored.record(name)));
        }
        if !self.passwords.verify(password, Some(stored.password_hash.clone())).await? {
            tracing::debug!(target: TARGET, account = %name, "login failed");
            return Ok(None);
        }
        self.auth_cache.insert(name, &stored.password_hash, password, Instant::now());
        Ok(Some(stored.record(name)))
    }

    async fn add_alias(&self, alias: &AccountName, target: &AccountName) -> Result<()> {
        let (owned_alias, owned_target) = (alias.clone(), target.clone());
        self.blocking(move |file| file.add_alias(&owned_alias, &owned_target)).await?;
        tracing::debug!(target: TARGET, alias = %alias, account = %target, "alias added");
        Ok(())
    }

    async fn remove_alias(&self, alias: &AccountName) -> Result<()> {
        let owned = alias.clone();
        self.blocking(move |file| file.remove_alias(&owned)).await?;
        tracing::debug!(target: TARGET, alias = %alias, "alias removed");
        Ok(())
    }

    async fn aliases(&self, domain: Option<&DomainName>) -> Result<Vec<AliasRecord>> {
        let owned = domain.cloned();
        self.blocking(move |file| file.aliases(owned.as_ref())).await
    }

    async fn aliases_of(&self, account: &AccountName) -> Result<Vec<AccountName>> {
        let owned = account.clone();
        self.blocking(move |file| file.aliases_of(&owned)).await
    }

    async fn resolve(&self, address: &AccountName) -> Result<Option<AccountName>> {
        Ok(self.file.resolve(address)?)
    }
}

#[cfg(test)]
mod tests;

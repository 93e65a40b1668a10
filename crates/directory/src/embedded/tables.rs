//! The layout of the directory's redb file and every transaction on it.
//!
//! Keys are the string forms of the `types` newtypes (already lower-case),
//! so the file reads the same to anyone who opens it with redb. Three
//! multimap indexes keep listings and cascades proportional to their result
//! instead of to the whole directory. Functions here are synchronous: point
//! reads take microseconds and may run on an async worker; writes end in an
//! fsync (`Durability::Immediate`, redb's default) and belong on the
//! blocking pool.

use std::path::Path;

use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use types::{AccountName, DomainName};

use crate::{AccountRecord, AliasRecord, DirectoryError};

/// `"schema_version"` -> [`SCHEMA_VERSION`]; lets a later release refuse or
/// migrate a file it does not understand.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Domain name -> nothing.
const DOMAINS: TableDefinition<&str, ()> = TableDefinition::new("domains");
/// Account name -> JSON [`StoredAccount`].
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Alias name -> target account name.
const ALIASES: TableDefinition<&str, &str> = TableDefinition::new("aliases");
/// Domain -> names of its accounts.
const ACCOUNTS_BY_DOMAIN: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("accounts_by_domain");
/// Domain -> names of its aliases.
const ALIASES_BY_DOMAIN: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("aliases_by_domain");
/// Target account -> aliases pointing at it.
const ALIASES_BY_TARGET: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("aliases_by_target");

const SCHEMA_VERSION_KEY: &str = "schema_version";
const SCHEMA_VERSION: u64 = 1;

/// What the file holds for one account; the name is the key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredAccount {
    pub quota_bytes: Option<u64>,
    /// Unix seconds.
    pub created: u64,
    /// Argon2id PHC string (`$argon2id$v=19$...`), salt included.
    pub password_hash: String,
}

impl StoredAccount {
    pub fn record(&self, name: &AccountName) -> AccountRecord {
        AccountRecord { name: name.clone(), quota_bytes: self.quota_bytes, created: self.created }
    }
}

/// A failure inside a transaction, so that `?` works on redb's several
/// error types; it becomes a [`DirectoryError`] at the module boundary.
#[derive(Debug)]
pub(super) struct Failure(DirectoryError);

impl From<DirectoryError> for Failure {
    fn from(error: DirectoryError) -> Self {
        Self(error)
    }
}

impl From<Failure> for DirectoryError {
    fn from(failure: Failure) -> Self {
        failure.0
    }
}

macro_rules! backend_failure_from {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Self {
                Self(DirectoryError::Backend(error.to_string()))
            }
        }
    )*};
}

backend_failure_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
);

type Result<T, E = Failure> = std::result::Result<T, E>;

fn corrupt(what: String) -> Failure {
    Failure(DirectoryError::Backend(format!("corrupt directory file: {what}")))
}

fn parse_account_name(stored: &str) -> Result<AccountName> {
    AccountName::parse(stored, None).map_err(|error| corrupt(format!("account name {stored:?}: {error}")))
}

fn parse_domain_name(stored: &str) -> Result<DomainName> {
    DomainName::parse(stored).map_err(|error| corrupt(format!("domain name {stored:?}: {error}")))
}

fn decode_account(name: &AccountName, bytes: &[u8]) -> Result<StoredAccount> {
    serde_json::from_slice(bytes).map_err(|error| corrupt(format!("record of account {name}: {error}")))
}

fn encode_account(account: &StoredAccount) -> Result<Vec<u8>> {
    serde_json::to_vec(account).map_err(|error| Failure(DirectoryError::Backend(error.to_string())))
}

/// The open redb file.
pub(super) struct DirectoryFile {
    db: Database,
}

impl DirectoryFile {
    /// Opens or creates the file and makes sure every table exists, so that
    /// read transactions never meet a missing table.
    pub fn open(path: &Path, cache_size_bytes: usize) -> Result<Self> {
        let db = Database::builder().set_cache_size(cache_size_bytes).create(path)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let version = meta.get(SCHEMA_VERSION_KEY)?.map(|guard| guard.value());
            match version {
                None => {
                    meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => {
                    return Err(corrupt(format!("schema version {other}, this build understands {SCHEMA_VERSION}")));
                }
            }
            txn.open_table(DOMAINS)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(ALIASES)?;
            txn.open_multimap_table(ACCOUNTS_BY_DOMAIN)?;
            txn.open_multimap_table(ALIASES_BY_DOMAIN)?;
            txn.open_multimap_table(ALIASES_BY_TARGET)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }

    fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    fn write(&self) -> Result<WriteTransaction> {
        Ok(self.db.begin_write()?)
    }

    // ----- domains -----

    pub fn add_domain(&self, domain: &DomainName) -> Result<()> {
        let txn = self.write()?;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            if domains.get(domain.as_str())?.is_some() {
                return Err(DirectoryError::DomainExists(domain.clone()).into());
            }
            domains.insert(domain.as_str(), ())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn remove_domain(&self, domain: &DomainName) -> Result<()> {
        let txn = self.write()?;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            if domains.get(domain.as_str())?.is_none() {
                return Err(DirectoryError::UnknownDomain(domain.clone()).into());
            }
            let has_accounts = !txn.open_multimap_table(ACCOUNTS_BY_DOMAIN)?.get(domain.as_str())?.is_empty();
            let has_aliases = !txn.open_multimap_table(ALIASES_BY_DOMAIN)?.get(domain.as_str())?.is_empty();
            if has_accounts || has_aliases {
                return Err(DirectoryError::DomainNotEmpty(domain.clone()).into());
            }
            domains.remove(domain.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Sorted: redb orders `&str` keys bytewise, which is `String`'s order.
    pub fn domains(&self) -> Result<Vec<DomainName>> {
        let txn = self.read()?;
        let domains = txn.open_table(DOMAINS)?;
        let mut names = Vec::new();
        for entry in domains.iter()? {
            let (key, _) = entry?;
            names.push(parse_domain_name(key.value())?);
        }
        Ok(names)
    }

    pub fn has_domain(&self, domain: &DomainName) -> Result<bool> {
        let txn = self.read()?;
        let domains = txn.open_table(DOMAINS)?;
        Ok(domains.get(domain.as_str())?.is_some())
    }

    fn require_domain(txn: &WriteTransaction, domain: &DomainName) -> Result<()> {
        if txn.open_table(DOMAINS)?.get(domain.as_str())?.is_none() {
            return Err(DirectoryError::UnknownDomain(domain.clone()).into());
        }
        Ok(())
    }

    // ----- accounts -----

    pub fn add_account(&self, name: &AccountName, account: &StoredAccount) -> Result<()> {
        let key = name.to_string();
        let bytes = encode_account(account)?;
        let txn = self.write()?;
        {
            Self::require_domain(&txn, name.domain())?;
            let mut accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(key.as_str())?.is_some() {
                return Err(DirectoryError::AccountExists(name.clone()).into());
            }
            if txn.open_table(ALIASES)?.get(key.as_str())?.is_some() {
                return Err(DirectoryError::NameTaken(name.clone()).into());
            }
            accounts.insert(key.as_str(), bytes.as_slice())?;
            txn.open_multimap_table(ACCOUNTS_BY_DOMAIN)?.insert(name.domain().as_str(), key.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes the account and every alias that points at it, in one
    /// transaction.
    pub fn remove_account(&self, name: &AccountName) -> Result<()> {
        let key = name.to_string();
        let txn = self.write()?;
        {
            if txn.open_table(ACCOUNTS)?.remove(key.as_str())?.is_none() {
                return Err(DirectoryError::UnknownAccount(name.clone()).into());
            }
            txn.open_multimap_table(ACCOUNTS_BY_DOMAIN)?.remove(name.domain().as_str(), key.as_str())?;

            let mut pointing = Vec::new();
            for alias in txn.open_multimap_table(ALIASES_BY_TARGET)?.remove_all(key.as_str())? {
                pointing.push(parse_account_name(alias?.value())?);
            }
            let mut aliases = txn.open_table(ALIASES)?;
            let mut aliases_by_domain = txn.open_multimap_table(ALIASES_BY_DOMAIN)?;
            for alias in &pointing {
                let alias_key = alias.to_string();
                aliases.remove(alias_key.as_str())?;
                aliases_by_domain.remove(alias.domain().as_str(), alias_key.as_str())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The account's full stored form, password hash included.
    pub fn stored_account(&self, name: &AccountName) -> Result<Option<StoredAccount>> {
        let txn = self.read()?;
        let accounts = txn.open_table(ACCOUNTS)?;
        let Some(bytes) = accounts.get(name.to_string().as_str())? else {
            return Ok(None);
        };
        Ok(Some(decode_account(name, bytes.value())?))
    }

    pub fn account(&self, name: &AccountName) -> Result<Option<AccountRecord>> {
        Ok(self.stored_account(name)?.map(|stored| stored.record(name)))
    }

    /// Sorted by [`AccountName`]'s order (local part), which is not the
    /// bytewise order of `local@domain` (`a.b@d` < `a@d`).
    pub fn accounts(&self, domain: &DomainName) -> Result<Vec<AccountRecord>> {
        let txn = self.read()?;
        if txn.open_table(DOMAINS)?.get(domain.as_str())?.is_none() {
            return Err(DirectoryError::UnknownDomain(domain.clone()).into());
        }
        let accounts = txn.open_table(ACCOUNTS)?;
        let mut records = Vec::new();
        for member in txn.open_multimap_table(ACCOUNTS_BY_DOMAIN)?.get(domain.as_str())? {
            let member = member?;
            let name = parse_account_name(member.value())?;
            let Some(bytes) = accounts.get(member.value())? else {
                return Err(corrupt(format!("domain index names missing account {name}")));
            };
            records.push(decode_account(&name, bytes.value())?.record(&name));
        }
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    /// Applies `change` to the stored account and writes it back.
    pub fn update_account(&self, name: &AccountName, change: impl FnOnce(&mut StoredAccount)) -> Result<()> {
        let key = name.to_string();
        let txn = self.write()?;
        {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut stored = match accounts.get(key.as_str())? {
                Some(bytes) => decode_account(name, bytes.value())?,
                None => return Err(DirectoryError::UnknownAccount(name.clone()).into()),
            };
            change(&mut stored);
            accounts.insert(key.as_str(), encode_account(&stored)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    // ----- aliases -----

    pub fn add_alias(&self, alias: &AccountName, target: &AccountName) -> Result<()> {
        let alias_key = alias.to_string();
        let target_key = target.to_string();
        let txn = self.write()?;
        {
            Self::require_domain(&txn, alias.domain())?;
            let mut aliases = txn.open_table(ALIASES)?;
            if aliases.get(alias_key.as_str())?.is_some() {
                return Err(DirectoryError::AliasExists(alias.clone()).into());
            }
            let accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(alias_key.as_str())?.is_some() {
                return Err(DirectoryError::NameTaken(alias.clone()).into());
            }
            if accounts.get(target_key.as_str())?.is_none() {
                return Err(DirectoryError::UnknownAccount(target.clone()).into());
            }
            aliases.insert(alias_key.as_str(), target_key.as_str())?;
            txn.open_multimap_table(ALIASES_BY_DOMAIN)?.insert(alias.domain().as_str(), alias_key.as_str())?;
            txn.open_multimap_table(ALIASES_BY_TARGET)?.insert(target_key.as_str(), alias_key.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn remove_alias(&self, alias: &AccountName) -> Result<()> {
        let alias_key = alias.to_string();
        let txn = self.write()?;
        {
            let target = match txn.open_table(ALIASES)?.remove(alias_key.as_str())? {
                Some(target) => target.value().to_owned(),
                None => return Err(DirectoryError::UnknownAlias(alias.clone()).into()),
            };
            txn.open_multimap_table(ALIASES_BY_DOMAIN)?.remove(alias.domain().as_str(), alias_key.as_str())?;
            txn.open_multimap_table(ALIASES_BY_TARGET)?.remove(target.as_str(), alias_key.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// All aliases, or those whose alias name is in `domain`; sorted by alias.
    pub fn aliases(&self, domain: Option<&DomainName>) -> Result<Vec<AliasRecord>> {
        let txn = self.read()?;
        let aliases = txn.open_table(ALIASES)?;
        let mut records = Vec::new();
        match domain {
            None => {
                for entry in aliases.iter()? {
                    let (alias, target) = entry?;
                    records.push(AliasRecord {
                        alias: parse_account_name(alias.value())?,
                        target: parse_account_name(target.value())?,
                    });
                }
            }
            Some(domain) => {
                if txn.open_table(DOMAINS)?.get(domain.as_str())?.is_none() {
                    return Err(DirectoryError::UnknownDomain(domain.clone()).into());
                }
                for member in txn.open_multimap_table(ALIASES_BY_DOMAIN)?.get(domain.as_str())? {
                    let member = member?;
                    let alias = parse_account_name(member.value())?;
                    let Some(target) = aliases.get(member.value())? else {
                        return Err(corrupt(format!("domain index names missing alias {alias}")));
                    };
                    records.push(AliasRecord { target: parse_account_name(target.value())?, alias });
                }
            }
        }
        records.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(records)
    }

    /// The aliases pointing at `account`, sorted.
    pub fn aliases_of(&self, account: &AccountName) -> Result<Vec<AccountName>> {
        let key = account.to_string();
        let txn = self.read()?;
        if txn.open_table(ACCOUNTS)?.get(key.as_str())?.is_none() {
            return Err(DirectoryError::UnknownAccount(account.clone()).into());
        }
        let mut names = Vec::new();
        for alias in txn.open_multimap_table(ALIASES_BY_TARGET)?.get(key.as_str())? {
            names.push(parse_account_name(alias?.value())?);
        }
        names.sort();
        Ok(names)
    }

    /// The account itself if it exists, else the alias's target.
    pub fn resolve(&self, address: &AccountName) -> Result<Option<AccountName>> {
        let key = address.to_string();
        let txn = self.read()?;
        if txn.open_table(ACCOUNTS)?.get(key.as_str())?.is_some() {
            return Ok(Some(address.clone()));
        }
        match txn.open_table(ALIASES)?.get(key.as_str())? {
            Some(target) => Ok(Some(parse_account_name(target.value())?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
pub(super) mod test_support {
    use super::*;

    /// Writes raw bytes as an account's record, to test corrupt files.
    pub fn put_raw_account(file: &DirectoryFile, name: &str, bytes: &[u8]) {
        let txn = file.db.begin_write().expect("begin write");
        txn.open_table(ACCOUNTS).expect("open").insert(name, bytes).expect("insert");
        txn.commit().expect("commit");
    }
}

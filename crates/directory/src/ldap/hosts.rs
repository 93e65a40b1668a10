//! [`HostDirectory`] on LDAP: `hostServer` and `oldHostServer` on the
//! account entries (CM-7, CM-10), and the server entries that say which
//! member serves an adopted server's name.
//!
//! A failover rewrite selects by the attribute it changes
//! (`hostServer=<from>`) and writes in LDAP transactions of a few thousand
//! modifies (`batch`): each transaction is all or nothing, and running
//! the rewrite again after an interruption picks up exactly the records
//! not yet moved.
//!
//! Server entries, `cn=<server>,ou=servers,<base>` (`rookeryServer`), are
//! made by each backend when it connects; `rookeryServedBy` is set while
//! another member has adopted the server.

use ldap3::{Mod, Scope, SearchEntry};

use super::batch::{self, Change};
use super::connection::{rc, result_code};
use super::layout::*;
use super::search::{lookup, search_all};
use super::{LdapDirectory, attribute};
use crate::hosts::{AdoptionError, Adoptions, HostDirectory, Progress, PublishedServices, ServiceAddresses};
use crate::*;

const TARGET: &str = "directory::ldap";

#[async_trait]
impl HostDirectory for LdapDirectory {
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>> {
        let dn = self.layout.name_dn(account);
        let entry = lookup(&self.servers, &dn, &class(ACCOUNT_CLASS), &[HOST_SERVER])
            .await
            .map_err(|error| self.failure(error))?;
        match entry {
            Some(entry) => server(&entry, HOST_SERVER),
            None => Ok(None),
        }
    }

    async fn set_host_server(&self, account: &AccountName, host: &DomainName) -> Result<()> {
        self.require_account(account).await?;
        let changes = vec![Mod::Replace(HOST_SERVER.to_owned(), set(host.to_string()))];
        self.modify(&self.layout.name_dn(account), changes).await.map_err(|error| self.failure(error))?;
        tracing::debug!(target: TARGET, account = %account, host_server = %host, "host server set");
        Ok(())
    }

    async fn accounts_on(&self, host: &DomainName) -> Result<Vec<AccountName>> {
        let filter = class_and(ACCOUNT_CLASS, HOST_SERVER, host.as_str());
        let entries = search_all(&self.servers, self.layout.domains_dn(), Scope::Subtree, &filter, &[ADDRESS])
            .await
            .map_err(|error| self.failure(error))?;
        let mut accounts = entries.iter().map(address).collect::<Result<Vec<_>>>()?;
        accounts.sort();
        Ok(accounts)
    }

    async fn reassign(&self, from: &DomainName, to: &DomainName, progress: Progress<'_>) -> Result<usize> {
        if from == to {
            progress(0, 0);
            return Ok(0);
        }
        let filter = class_and(ACCOUNT_CLASS, HOST_SERVER, from.as_str());
        let entries = search_all(&self.servers, self.layout.domains_dn(), Scope::Subtree, &filter, &[OLD_HOST_SERVER])
            .await
            .map_err(|error| self.failure(error))?;
        let mut changes = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut mods = vec![Mod::Replace(HOST_SERVER.to_owned(), set(to.to_string()))];
            match server(&entry, OLD_HOST_SERVER)? {
                // Moved before: its storage still belongs to the first host.
                Some(old) if old != *to => {}
                // Moved back home: nothing left to undo.
                Some(_) => mods.push(Mod::Replace(OLD_HOST_SERVER.to_owned(), Default::default())),
                None => mods.push(Mod::Replace(OLD_HOST_SERVER.to_owned(), set(from.to_string()))),
            }
            changes.push(Change { dn: entry.dn, mods });
        }
        let moved =
            batch::apply(self.servers.primary(), self.rewrite, changes, &equals(HOST_SERVER, from.as_str()), progress)
                .await?;
        tracing::info!(target: TARGET, from = %from, to = %to, accounts = moved, "accounts reassigned");
        Ok(moved)
    }

    async fn restore(&self, host: &DomainName, progress: Progress<'_>) -> Result<usize> {
        let filter = class_and(ACCOUNT_CLASS, OLD_HOST_SERVER, host.as_str());
        let entries = search_all(&self.servers, self.layout.domains_dn(), Scope::Subtree, &filter, &["1.1"])
            .await
            .map_err(|error| self.failure(error))?;
        let changes = entries
            .into_iter()
            .map(|entry| Change {
                dn: entry.dn,
                mods: vec![
                    Mod::Replace(HOST_SERVER.to_owned(), set(host.to_string())),
                    Mod::Replace(OLD_HOST_SERVER.to_owned(), Default::default()),
                ],
            })
            .collect();
        let moved = batch::apply(
            self.servers.primary(),
            self.rewrite,
            changes,
            &equals(OLD_HOST_SERVER, host.as_str()),
            progress,
        )
        .await?;
        tracing::info!(target: TARGET, host_server = %host, accounts = moved, "accounts restored");
        Ok(moved)
    }

    async fn adoptions(&self) -> Result<Adoptions> {
        let filter = format!("(&{}({SERVED_BY}=*))", class(SERVER_CLASS));
        let entries =
            match search_all(&self.servers, self.layout.servers_dn(), Scope::OneLevel, &filter, &["cn", SERVED_BY])
                .await
            {
                Ok(entries) => entries,
                // No member has registered yet: nothing is adopted.
                Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => return Ok(Adoptions::new()),
                Err(error) => return Err(self.failure(error)),
            };
        let mut adoptions = Adoptions::new();
        for entry in &entries {
            match (self.server_name(entry), server(entry, SERVED_BY)) {
                (Some(adopted), Ok(Some(by))) => {
                    adoptions.insert(adopted, by);
                }
                _ => tracing::warn!(target: TARGET, dn = %entry.dn, "server entry with an invalid name; ignored"),
            }
        }
        Ok(adoptions)
    }

    async fn adopt(&self, adopted: &DomainName, by: &DomainName) -> Result<(), AdoptionError> {
        if adopted == by {
            return Err(AdoptionError::OwnName(adopted.clone()));
        }
        let adoptions = self.adoptions().await?;
        if let Some(served_by) = adoptions.get(by) {
            return Err(AdoptionError::AdopterIsAdopted { adopter: by.clone(), served_by: served_by.clone() });
        }
        match adoptions.get(adopted) {
            Some(current) if current == by => return Ok(()),
            Some(current) => {
                return Err(AdoptionError::AlreadyAdopted { server: adopted.clone(), by: current.clone() });
            }
            None => {}
        }
        let served: Vec<String> =
            adoptions.iter().filter(|(_, serving)| *serving == adopted).map(|(name, _)| name.to_string()).collect();
        if !served.is_empty() {
            return Err(AdoptionError::ServesOthers { server: adopted.clone(), adopted: served.join(", ") });
        }
        for name in [adopted, by] {
            if !self.server_known(name).await? {
                return Err(AdoptionError::UnknownServer(name.clone()));
            }
        }
        self.write_served_by(adopted, Some(by)).await?;
        tracing::info!(target: TARGET, server = %adopted, by = %by, "server adopted");
        Ok(())
    }

    async fn release(&self, adopted: &DomainName) -> Result<DomainName, AdoptionError> {
        let entry = lookup(&self.servers, &self.layout.server_dn(adopted), &class(SERVER_CLASS), &[SERVED_BY])
            .await
            .map_err(|error| self.failure(error))?;
        let by = match &entry {
            Some(entry) => server(entry, SERVED_BY)?,
            None => None,
        };
        let Some(by) = by else {
            return Err(match entry.is_some() || self.server_known(adopted).await? {
                true => AdoptionError::NotAdopted(adopted.clone()),
                false => AdoptionError::UnknownServer(adopted.clone()),
            });
        };
        self.write_served_by(adopted, None).await?;
        tracing::info!(target: TARGET, server = %adopted, by = %by, "server released");
        Ok(by)
    }

    // Published service addresses (CM-4): see `ldap/services.rs`.
    async fn publish_services(&self, server: &DomainName, services: &ServiceAddresses) -> Result<()> {
        self.write_services(server, services).await
    }

    async fn server_services(&self, server: &DomainName) -> Result<ServiceAddresses> {
        self.read_services(server).await
    }

    async fn published_services(&self) -> Result<PublishedServices> {
        self.read_all_services().await
    }
}

impl LdapDirectory {
    /// Makes this member's server entry if it is missing, so that other
    /// members can adopt its name. Not fatal: a directory with an older
    /// schema, or a bind DN that may only read, still serves everything
    /// else (adoption then explains what is wrong).
    pub(super) async fn register_server(&self, name: &DomainName) {
        if let Err(error) = self.ensure_server_entry(name).await {
            tracing::warn!(target: TARGET, server = %name, %error,
                "cannot record this server in the directory; it cannot be adopted by another member");
        }
    }

    async fn ensure_server_entry(&self, name: &DomainName) -> Result<()> {
        let dn = self.layout.server_dn(name);
        if lookup(&self.servers, &dn, "(objectClass=*)", &["1.1"]).await.map_err(|e| self.failure(e))?.is_some() {
            return Ok(());
        }
        self.ensure_servers_container().await?;
        match self.add(&dn, server_attributes(name, None)).await {
            Err(error) if result_code(&error) != Some(rc::ENTRY_ALREADY_EXISTS) => Err(self.failure(error)),
            _ => Ok(()),
        }
    }

    async fn ensure_servers_container(&self) -> Result<()> {
        let dn = self.layout.servers_dn();
        if lookup(&self.servers, dn, "(objectClass=*)", &["1.1"]).await.map_err(|e| self.failure(e))?.is_some() {
            return Ok(());
        }
        let attributes =
            vec![attribute("objectClass", ["organizationalUnit".into()]), attribute("ou", ["servers".into()])];
        match self.add(dn, attributes).await {
            Err(error) if result_code(&error) != Some(rc::ENTRY_ALREADY_EXISTS) => Err(self.failure(error)),
            _ => Ok(()),
        }
    }

    /// A server is known when it has an entry (it has connected as a
    /// backend) or hosts at least one account (a directory from before
    /// server entries existed).
    async fn server_known(&self, name: &DomainName) -> Result<bool> {
        let entry = lookup(&self.servers, &self.layout.server_dn(name), &class(SERVER_CLASS), &["1.1"])
            .await
            .map_err(|error| self.failure(error))?;
        if entry.is_some() {
            return Ok(true);
        }
        let filter = class_and(ACCOUNT_CLASS, HOST_SERVER, name.as_str());
        let base = self.layout.domains_dn();
        let found = self
            .servers
            .read(|mut ldap| {
                let filter = filter.clone();
                async move {
                    let options = ldap3::SearchOptions::new().sizelimit(1);
                    let result =
                        ldap.with_search_options(options).search(base, Scope::Subtree, &filter, vec!["1.1"]).await?;
                    // sizeLimitExceeded: there are more than one; one is enough.
                    match result.1.rc {
                        0 | 4 => Ok(!result.0.is_empty()),
                        _ => Err(ldap3::LdapError::from(result.1)),
                    }
                }
            })
            .await;
        match found {
            Ok(found) => Ok(found),
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => Ok(false),
            Err(error) => Err(self.failure(error)),
        }
    }

    /// Sets (or with `None` removes) `rookeryServedBy` on the server's
    /// entry, making the entry when a server known only by its accounts
    /// has none yet.
    async fn write_served_by(&self, name: &DomainName, by: Option<&DomainName>) -> Result<(), AdoptionError> {
        let values = by.map(|by| set(by.to_string())).unwrap_or_default();
        let dn = self.layout.server_dn(name);
        match self.modify(&dn, vec![Mod::Replace(SERVED_BY.to_owned(), values)]).await {
            Ok(()) => Ok(()),
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) && by.is_some() => {
                self.ensure_servers_container().await?;
                self.add(&dn, server_attributes(name, by)).await.map_err(|error| self.schema_failure(error))?;
                Ok(())
            }
            Err(error) => Err(self.schema_failure(error).into()),
        }
    }

    /// A write refused because slapd lacks `rookeryServer` says so.
    fn schema_failure(&self, error: super::servers::Failure) -> DirectoryError {
        match result_code(&error) {
            Some(rc::OBJECT_CLASS_VIOLATION | rc::UNDEFINED_ATTRIBUTE_TYPE) => DirectoryError::Backend(format!(
                "{}; load the current schema/rookery.ldif (it defines rookeryServer and rookeryServedBy)",
                self.failure(error)
            )),
            _ => self.failure(error),
        }
    }

    /// The server an entry stands for: the `cn` value its DN is named by.
    fn server_name(&self, entry: &SearchEntry) -> Option<DomainName> {
        entry.attrs.iter().filter(|(name, _)| name.eq_ignore_ascii_case("cn")).flat_map(|(_, values)| values).find_map(
            |value| {
                DomainName::parse(value).ok().filter(|name| self.layout.server_dn(name).eq_ignore_ascii_case(&entry.dn))
            },
        )
    }
}

fn server_attributes(
    name: &DomainName,
    served_by: Option<&DomainName>,
) -> Vec<(String, std::collections::HashSet<String>)> {
    let mut attributes = vec![attribute("objectClass", [SERVER_CLASS.into()]), attribute("cn", [name.to_string()])];
    if let Some(by) = served_by {
        attributes.push(attribute(SERVED_BY, [by.to_string()]));
    }
    attributes
}

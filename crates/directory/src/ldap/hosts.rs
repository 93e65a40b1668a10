//! [`HostDirectory`] on LDAP: `hostServer` and `oldHostServer` on the
//! account entries (CM-7, CM-10).
//!
//! A failover rewrite is one modify per account, each atomic on its own
//! entry; LDAP has no transaction over many entries. The rewrite is
//! therefore made restartable instead: it selects by the attribute it
//! changes (`hostServer=<from>`), so running it again after an
//! interruption picks up exactly the records not yet moved.

use ldap3::{Mod, Scope};

use super::LdapDirectory;
use super::layout::*;
use super::search::{lookup, search_all};
use crate::hosts::{HostDirectory, Progress};
use crate::*;

#[async_trait]
impl HostDirectory for LdapDirectory {
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>> {
        let dn = self.layout.name_dn(account);
        let entry = lookup(&self.connection, &dn, &class(ACCOUNT_CLASS), &[HOST_SERVER])
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
        tracing::debug!(target: "directory::ldap", account = %account, host_server = %host, "host server set");
        Ok(())
    }

    async fn accounts_on(&self, host: &DomainName) -> Result<Vec<AccountName>> {
        let filter = class_and(ACCOUNT_CLASS, HOST_SERVER, host.as_str());
        let entries = search_all(&self.connection, self.layout.domains_dn(), Scope::Subtree, &filter, &[ADDRESS])
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
        let entries =
            search_all(&self.connection, self.layout.domains_dn(), Scope::Subtree, &filter, &[OLD_HOST_SERVER])
                .await
                .map_err(|error| self.failure(error))?;
        let total = entries.len();
        progress(0, total);
        for (done, entry) in entries.iter().enumerate() {
            let mut changes = vec![Mod::Replace(HOST_SERVER.to_owned(), set(to.to_string()))];
            match server(entry, OLD_HOST_SERVER)? {
                // Moved before: its storage still belongs to the first host.
                Some(old) if old != *to => {}
                // Moved back home: nothing left to undo.
                Some(_) => changes.push(Mod::Replace(OLD_HOST_SERVER.to_owned(), Default::default())),
                None => changes.push(Mod::Replace(OLD_HOST_SERVER.to_owned(), set(from.to_string()))),
            }
            self.modify(&entry.dn, changes).await.map_err(|error| self.failure(error))?;
            progress(done + 1, total);
        }
        tracing::info!(target: "directory::ldap", from = %from, to = %to, accounts = total, "accounts reassigned");
        Ok(total)
    }

    async fn restore(&self, host: &DomainName, progress: Progress<'_>) -> Result<usize> {
        let filter = class_and(ACCOUNT_CLASS, OLD_HOST_SERVER, host.as_str());
        let entries = search_all(&self.connection, self.layout.domains_dn(), Scope::Subtree, &filter, &["1.1"])
            .await
            .map_err(|error| self.failure(error))?;
        let total = entries.len();
        progress(0, total);
        for (done, entry) in entries.iter().enumerate() {
            let changes = vec![
                Mod::Replace(HOST_SERVER.to_owned(), set(host.to_string())),
                Mod::Replace(OLD_HOST_SERVER.to_owned(), Default::default()),
            ];
            self.modify(&entry.dn, changes).await.map_err(|error| self.failure(error))?;
            progress(done + 1, total);
        }
        tracing::info!(target: "directory::ldap", host_server = %host, accounts = total, "accounts restored");
        Ok(total)
    }
}

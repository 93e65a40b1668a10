//! Where the other members reach a server (CM-4): `rookeryService` values
//! on its server entry, `cn=<server>,ou=servers,<base>`, one per service,
//! `<service> <ip>:<port>` (`imap 10.0.0.11:143`, `link 10.0.0.11:4410`).
//!
//! Each member writes its own values when it starts, replacing the old
//! ones, so a backend added to a running cluster is found by every
//! frontend through the directory they share, with no config edit or
//! restart. A value this version cannot read (a service added by a newer
//! member, a malformed address) is skipped, never an error: one bad value
//! must not make a whole server unreachable.

use std::collections::HashSet;

use ldap3::{Mod, Scope, SearchEntry};

use super::LdapDirectory;
use super::connection::{rc, result_code};
use super::layout::*;
use super::search::{lookup, search_all};
use crate::hosts::{PublishedServices, ServiceAddresses, ServiceKind};
use crate::*;

const TARGET: &str = "directory::ldap";
pub(super) const SERVICE: &str = "rookeryService";

impl LdapDirectory {
    /// Replaces `server`'s published services with `services` (none
    /// removes them all), making its server entry when it has none.
    pub(super) async fn write_services(&self, server: &DomainName, services: &ServiceAddresses) -> Result<()> {
        let dn = self.layout.server_dn(server);
        let values: HashSet<String> = services.iter().map(|(kind, addr)| format!("{kind} {addr}")).collect();
        let replace = || vec![Mod::Replace(SERVICE.to_owned(), values.clone())];
        match self.modify(&dn, replace()).await {
            Ok(()) => {}
            Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => {
                // Made on connect normally; a bind DN that could not make
                // it then, or an entry deleted since, is retried here.
                self.register_server(server).await;
                self.modify(&dn, replace()).await.map_err(|error| self.services_failure(error))?;
            }
            Err(error) => return Err(self.services_failure(error)),
        }
        tracing::info!(target: TARGET, server = %server, services = ?values, "services published");
        Ok(())
    }

    /// What `server` published; empty when it has no entry or no values.
    pub(super) async fn read_services(&self, server: &DomainName) -> Result<ServiceAddresses> {
        let entry = lookup(&self.servers, &self.layout.server_dn(server), &class(SERVER_CLASS), &[SERVICE])
            .await
            .map_err(|error| self.failure(error))?;
        Ok(entry.map(|entry| services_of(&entry)).unwrap_or_default())
    }

    /// Every server entry's services, in one search (a cluster has a
    /// handful of members).
    pub(super) async fn read_all_services(&self) -> Result<PublishedServices> {
        let filter = format!("(&{}({SERVICE}=*))", class(SERVER_CLASS));
        let entries =
            match search_all(&self.servers, self.layout.servers_dn(), Scope::OneLevel, &filter, &["cn", SERVICE]).await
            {
                Ok(entries) => entries,
                // No member has registered yet: none published anything.
                Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => return Ok(PublishedServices::new()),
                Err(error) => return Err(self.failure(error)),
            };
        let mut published = PublishedServices::new();
        for entry in &entries {
            match self.server_of(entry) {
                Some(server) => {
                    let services = services_of(entry);
                    if !services.is_empty() {
                        published.insert(server, services);
                    }
                }
                None => tracing::warn!(target: TARGET, dn = %entry.dn, "server entry with an invalid name; ignored"),
            }
        }
        Ok(published)
    }

    /// The server an entry stands for: the `cn` value its DN is named by.
    fn server_of(&self, entry: &SearchEntry) -> Option<DomainName> {
        entry.attrs.iter().filter(|(name, _)| name.eq_ignore_ascii_case("cn")).flat_map(|(_, values)| values).find_map(
            |value| {
                DomainName::parse(value).ok().filter(|name| self.layout.server_dn(name).eq_ignore_ascii_case(&entry.dn))
            },
        )
    }

    /// A write refused because slapd's schema predates `rookeryService`
    /// says what to load.
    fn services_failure(&self, error: super::servers::Failure) -> DirectoryError {
        match result_code(&error) {
            Some(rc::OBJECT_CLASS_VIOLATION | rc::UNDEFINED_ATTRIBUTE_TYPE) => DirectoryError::Backend(format!(
                "{}; load the current schema/rookery.ldif (it defines rookeryService)",
                self.failure(error)
            )),
            _ => self.failure(error),
        }
    }
}

/// The readable `rookeryService` values of an entry.
fn services_of(entry: &SearchEntry) -> ServiceAddresses {
    let values = entry.attrs.iter().filter(|(name, _)| name.eq_ignore_ascii_case(SERVICE)).flat_map(|(_, v)| v);
    let mut services = ServiceAddresses::new();
    for value in values {
        match parse_service(value) {
            Some((kind, addr)) => {
                services.insert(kind, addr);
            }
            None => tracing::warn!(target: TARGET, dn = %entry.dn, value, "unreadable rookeryService value; skipped"),
        }
    }
    services
}

/// `imap 10.0.0.11:143` -> (Imap, 10.0.0.11:143).
fn parse_service(value: &str) -> Option<(ServiceKind, std::net::SocketAddr)> {
    let (kind, addr) = value.trim().split_once(' ')?;
    Some((ServiceKind::parse(kind)?, addr.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_values_are_read_leniently() {
        let imap = parse_service("imap 10.0.0.11:143");
        assert_eq!(imap, Some((ServiceKind::Imap, "10.0.0.11:143".parse().unwrap())));
        assert_eq!(parse_service("LINK [::1]:4410"), Some((ServiceKind::Link, "[::1]:4410".parse().unwrap())));
        for bad in ["imap", "imap 10.0.0.11", "smtp 10.0.0.11:25", "", "imap host.example:143"] {
            assert_eq!(parse_service(bad), None, "{bad:?}");
        }
    }
}

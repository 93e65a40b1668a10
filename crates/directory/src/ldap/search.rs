//! The two kinds of read the back-end makes: one entry by DN, and every
//! entry under a base, fetched in pages; each from the first directory
//! server that answers (`servers.rs`).

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Scope, SearchEntry};

use super::connection::{rc, result_code};
use super::servers::{Failure, Servers};

/// Entries per page. Below slapd's default size limit (500), so that a
/// bind DN held to that limit per search gets every entry, provided its
/// `limits` allow paged totals (`size.prtotal=unlimited`; by default slapd
/// caps a paged search's total at the hard size limit too).
const PAGE_SIZE: i32 = 400;

/// The entry at `dn` if it exists and matches `filter`.
pub(super) async fn lookup(
    servers: &Servers,
    dn: &str,
    filter: &str,
    attributes: &[&str],
) -> Result<Option<SearchEntry>, Failure> {
    let found = servers
        .read(|mut ldap| async move { ldap.search(dn, Scope::Base, filter, attributes.to_vec()).await?.success() })
        .await;
    match found {
        Ok((mut entries, _)) => Ok(entries.pop().map(SearchEntry::construct)),
        Err(error) if result_code(&error) == Some(rc::NO_SUCH_OBJECT) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every entry under `base` (excluding `base` itself) that matches
/// `filter`. A missing `base` is the server's `noSuchObject` error.
pub(super) async fn search_all(
    servers: &Servers,
    base: &str,
    scope: Scope,
    filter: &str,
    attributes: &[&str],
) -> Result<Vec<SearchEntry>, Failure> {
    servers
        .read(|mut ldap| async move {
            let adapters: Vec<Box<dyn Adapter<_, _>>> =
                vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(PAGE_SIZE))];
            let mut stream = ldap.streaming_search_with(adapters, base, scope, filter, attributes.to_vec()).await?;
            let mut entries = Vec::new();
            while let Some(entry) = stream.next().await? {
                entries.push(SearchEntry::construct(entry));
            }
            stream.finish().await.success()?;
            Ok(entries)
        })
        .await
}

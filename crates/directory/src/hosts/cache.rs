//! A frontend asks for an account's host on every login and every
//! recipient; [`CachedHosts`] answers repeats from memory for a few
//! seconds so the directory server sees one look-up per account per TTL.
//!
//! The TTL is short because a failover rewrites hosts behind the cache's
//! back (CM-10): after it, a stale entry sends sessions to the failed
//! backend for at most one TTL. A backend that answers "not hosted here"
//! tells the frontend sooner; it then calls [`CachedHosts::invalidate`].
//! Unknown accounts are cached too, so a spammer's run of made-up
//! recipients costs one look-up each per TTL, not one per attempt.
//!
//! The answer is the *effective* host: an account recorded on a server
//! that another member has adopted is served by that member. The table of
//! adoptions (a handful of server entries) is read as a whole and kept
//! for [`HostCacheLimits::server_ttl`], so an adoption reaches every
//! member within that time without a look-up per account.
//!
//! The services the members publish (CM-4) are read the same way, as one
//! table, kept for [`HostCacheLimits::ttl`] like an account's host: a
//! backend added to the running cluster is found within that time, and a
//! server missing from the table is looked for again once it expires.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use types::{AccountName, DomainName};

use super::{AdoptionError, Adoptions, HostDirectory, Progress, PublishedServices, ServiceAddresses};
use crate::Result;

/// How long an answer is kept, and how many are.
#[derive(Debug, Clone, Copy)]
pub struct HostCacheLimits {
    pub ttl: Duration,
    /// Zero disables the cache of accounts (not that of adoptions).
    pub capacity: usize,
    /// How long the table of adopted servers is kept: how soon an
    /// adoption or a release is seen by this member.
    pub server_ttl: Duration,
}

impl Default for HostCacheLimits {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(5), capacity: 100_000, server_ttl: Duration::from_secs(2) }
    }
}

/// A [`HostDirectory`] with a bounded, short-lived cache of look-ups in
/// front. Writes go through to the inner directory and drop what they
/// change from the cache.
pub struct CachedHosts<H> {
    inner: H,
    limits: HostCacheLimits,
    state: Mutex<State>,
    adoptions: Mutex<Option<(Adoptions, Instant)>>,
    /// One re-read of the adoptions at a time; the others wait for it.
    adoptions_refresh: tokio::sync::Mutex<()>,
    services: Mutex<Option<(PublishedServices, Instant)>>,
    services_refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    entries: HashMap<AccountName, Entry>,
    /// Insertion sequence -> account, oldest first, for eviction.
    order: BTreeMap<u64, AccountName>,
    next_sequence: u64,
}

struct Entry {
    host: Option<DomainName>,
    fetched_at: Instant,
    sequence: u64,
}

impl State {
    fn remove(&mut self, account: &AccountName) {
        if let Some(entry) = self.entries.remove(account) {
            self.order.remove(&entry.sequence);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

impl<H: HostDirectory> CachedHosts<H> {
    pub fn new(inner: H, limits: HostCacheLimits) -> Self {
        Self {
            inner,
            limits,
            state: Mutex::new(State::default()),
            adoptions: Mutex::new(None),
            adoptions_refresh: tokio::sync::Mutex::new(()),
            services: Mutex::new(None),
            services_refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// Forgets what is cached for `account`, e.g. after its supposed host
    /// answered that it does not host it.
    pub fn invalidate(&self, account: &AccountName) {
        self.state.lock().remove(account);
    }

    /// How many answers are cached (expired ones included until they are
    /// looked up again or pushed out).
    pub fn len(&self) -> usize {
        self.state.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`HostDirectory::host_server`] as of `now`; tests pass their own
    /// clock.
    pub(crate) async fn host_server_at(&self, account: &AccountName, now: Instant) -> Result<Option<DomainName>> {
        let Some(recorded) = self.recorded_host_at(account, now).await? else { return Ok(None) };
        Ok(Some(self.serving_at(&recorded, now).await?))
    }

    /// The `hostServer` recorded for `account`, adoptions not applied.
    async fn recorded_host_at(&self, account: &AccountName, now: Instant) -> Result<Option<DomainName>> {
        if let Some(host) = self.cached(account, now) {
            return Ok(host);
        }
        // Errors are not cached: the next call tries the directory again.
        let host = self.inner.host_server(account).await?;
        self.insert(account, host.clone(), now);
        Ok(host)
    }

    /// The member serving `server`'s name: its adopter, or itself.
    /// Adoptions are one hop (see the `hosts` module), so one look-up.
    pub(crate) async fn serving_at(&self, server: &DomainName, now: Instant) -> Result<DomainName> {
        let adoptions = self.adoptions_at(now).await?;
        Ok(adoptions.get(server).cloned().unwrap_or_else(|| server.clone()))
    }

    async fn adoptions_at(&self, now: Instant) -> Result<Adoptions> {
        if let Some(fresh) = self.fresh_adoptions(now) {
            return Ok(fresh);
        }
        let _refresh = self.adoptions_refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(fresh) = self.fresh_adoptions(now) {
            return Ok(fresh);
        }
        match self.inner.adoptions().await {
            Ok(adoptions) => {
                *self.adoptions.lock() = Some((adoptions.clone(), now));
                Ok(adoptions)
            }
            Err(error) => {
                // Keep routing by the last table rather than failing every
                // look-up while the directory is away; ask again after one
                // server TTL, not on every call.
                let mut kept = self.adoptions.lock();
                match kept.as_mut() {
                    Some((adoptions, fetched_at)) => {
                        tracing::warn!(target: "directory::hosts", %error, "cannot re-read adopted servers; using the last known table");
                        *fetched_at = now;
                        Ok(adoptions.clone())
                    }
                    None => Err(error),
                }
            }
        }
    }

    fn fresh_adoptions(&self, now: Instant) -> Option<Adoptions> {
        let kept = self.adoptions.lock();
        let (adoptions, fetched_at) = kept.as_ref()?;
        (now.saturating_duration_since(*fetched_at) < self.limits.server_ttl).then(|| adoptions.clone())
    }

    /// The table of published services as of `now`: re-read once it is
    /// older than the TTL; the last one is kept while the directory is
    /// away, as the adoptions are.
    pub(crate) async fn services_at(&self, now: Instant) -> Result<PublishedServices> {
        if let Some(fresh) = self.fresh_services(now) {
            return Ok(fresh);
        }
        let _refresh = self.services_refresh.lock().await;
        if let Some(fresh) = self.fresh_services(now) {
            return Ok(fresh);
        }
        match self.inner.published_services().await {
            Ok(services) => {
                *self.services.lock() = Some((services.clone(), now));
                Ok(services)
            }
            Err(error) => {
                let mut kept = self.services.lock();
                match kept.as_mut() {
                    Some((services, fetched_at)) => {
                        tracing::warn!(target: "directory::hosts", %error, "cannot re-read published services; using the last known table");
                        *fetched_at = now;
                        Ok(services.clone())
                    }
                    None => Err(error),
                }
            }
        }
    }

    fn fresh_services(&self, now: Instant) -> Option<PublishedServices> {
        let kept = self.services.lock();
        let (services, fetched_at) = kept.as_ref()?;
        (now.saturating_duration_since(*fetched_at) < self.limits.ttl).then(|| services.clone())
    }

    /// The last table of published services read, however old, without
    /// waiting for the directory (`None` before the first read): for
    /// callers that cannot wait, which call [`HostDirectory::published_services`]
    /// elsewhere to keep it fresh.
    pub fn last_services(&self) -> Option<PublishedServices> {
        self.services.lock().as_ref().map(|(services, _)| services.clone())
    }

    /// Forgets the table of adoptions: the next look-up reads it again.
    pub fn invalidate_adoptions(&self) {
        *self.adoptions.lock() = None;
    }

    fn cached(&self, account: &AccountName, now: Instant) -> Option<Option<DomainName>> {
        let state = self.state.lock();
        let fresh = state
            .entries
            .get(account)
            .filter(|entry| now.saturating_duration_since(entry.fetched_at) < self.limits.ttl);
        let counter = if fresh.is_some() {
            "rookery_directory_host_cache_hits_total"
        } else {
            "rookery_directory_host_cache_misses_total"
        };
        metrics::counter!(counter).increment(1);
        fresh.map(|entry| entry.host.clone())
    }

    fn insert(&self, account: &AccountName, host: Option<DomainName>, now: Instant) {
        if self.limits.capacity == 0 {
            return;
        }
        let mut state = self.state.lock();
        state.remove(account);
        while state.entries.len() >= self.limits.capacity {
            let Some((_, oldest)) = state.order.pop_first() else { break };
            state.entries.remove(&oldest);
        }
        let sequence = state.next_sequence;
        state.next_sequence += 1;
        state.order.insert(sequence, account.clone());
        state.entries.insert(account.clone(), Entry { host, fetched_at: now, sequence });
    }
}

#[async_trait]
impl<H: HostDirectory> HostDirectory for CachedHosts<H> {
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>> {
        self.host_server_at(account, Instant::now()).await
    }

    async fn set_host_server(&self, account: &AccountName, server: &DomainName) -> Result<()> {
        let result = self.inner.set_host_server(account, server).await;
        self.invalidate(account);
        result
    }

    async fn accounts_on(&self, server: &DomainName) -> Result<Vec<AccountName>> {
        self.inner.accounts_on(server).await
    }

    async fn reassign(&self, from: &DomainName, to: &DomainName, progress: Progress<'_>) -> Result<usize> {
        // Cleared even on failure: part of the records may have moved.
        let result = self.inner.reassign(from, to, progress).await;
        self.state.lock().clear();
        result
    }

    async fn restore(&self, server: &DomainName, progress: Progress<'_>) -> Result<usize> {
        let result = self.inner.restore(server, progress).await;
        self.state.lock().clear();
        result
    }

    async fn adoptions(&self) -> Result<Adoptions> {
        self.inner.adoptions().await
    }

    async fn adopt(&self, server: &DomainName, by: &DomainName) -> Result<(), AdoptionError> {
        let result = self.inner.adopt(server, by).await;
        self.invalidate_adoptions();
        result
    }

    async fn release(&self, server: &DomainName) -> Result<DomainName, AdoptionError> {
        let result = self.inner.release(server).await;
        self.invalidate_adoptions();
        result
    }

    async fn publish_services(&self, server: &DomainName, services: &ServiceAddresses) -> Result<()> {
        let result = self.inner.publish_services(server, services).await;
        *self.services.lock() = None;
        result
    }

    async fn server_services(&self, server: &DomainName) -> Result<ServiceAddresses> {
        Ok(self.services_at(Instant::now()).await?.remove(server).unwrap_or_default())
    }

    async fn published_services(&self) -> Result<PublishedServices> {
        self.services_at(Instant::now()).await
    }
}

#[cfg(test)]
mod tests;

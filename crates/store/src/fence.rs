//! Sharing one storage root between the members of a dynamic cluster: at
//! most one member has an account open, and the store makes sure that a
//! member never writes an account it no longer owns.
//!
//! Ownership itself is decided outside the store (the binary, in etcd);
//! the store asks a [`Fence`] before it opens an account and before every
//! write to its files. Once the fence refuses a write, that instance of the
//! account is done for good ("fenced"): a later yes from the fence does not
//! make it write again, because another member may have written the files
//! meanwhile and this instance's memory is stale. Only a fresh open through
//! [`Store::account`] (which re-reads the files) writes again.
//!
//! [`Store::release`] hands an account over cleanly: it refuses new writes
//! (as `Account::freeze` does, `freeze.rs`), waits until the ones accepted
//! before are durable, drops the account from the cache and asks its
//! sessions to close. [`Store::idle_accounts`] names accounts worth
//! releasing because nobody uses them; idleness is one atomic timestamp
//! per account, set when it is handed out or committed to.

use crate::account::Inner;
use crate::{Store, StoreError};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use types::AccountName;

/// Whether this process may use an account, asked by the store.
/// Implemented by the binary from etcd ownership; without one (single
/// server, static cluster) every account may be used.
pub trait Fence: Send + Sync + 'static {
    /// May `account` be opened here now (this member owns it)? Asked by
    /// [`Store::account`] before it hands out or opens an account.
    fn may_open(&self, account: &AccountName) -> bool;
    /// May this member still write `account`? Asked by the committer right
    /// before it writes each batch, and before each maintenance step
    /// (snapshot, compaction) and before an account is opened (recovery
    /// and creation write). Must be cheap (no I/O): it is asked with the
    /// account's file lock held.
    fn may_write(&self, account: &AccountName) -> bool;
}

/// Milliseconds on a monotonic clock private to this process, for idle
/// times (an `Instant` does not fit an atomic).
pub(crate) fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Inner {
    /// Whether the committer may write the files now. A refusal from the
    /// fence fences this instance off for good.
    pub(crate) fn may_write(&self) -> bool {
        if self.fenced.load(Ordering::Acquire) {
            return false;
        }
        if self.fence.as_ref().is_none_or(|fence| fence.may_write(&self.name)) {
            return true;
        }
        tracing::warn!(target: "store::fence", account = %self.name, "no longer owned here; refusing its writes until reopened");
        // Under the queue lock like `release`, so that no write is queued
        // after this without seeing it.
        let _queue = self.queue.lock();
        self.fenced.store(true, Ordering::Release);
        self.released.store(true, Ordering::Release);
        false
    }

    /// Refuses every later write with [`StoreError::NotOwned`]; writes
    /// queued before still go through (if the fence lets them).
    fn release(&self) {
        let _queue = self.queue.lock();
        self.released.store(true, Ordering::Release);
    }

    /// Released or fenced off: takes no new writes.
    pub(crate) fn refuses_writes(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// The open-account cache must open the account afresh instead of
    /// handing this instance out: it is broken or fenced off (it writes
    /// nothing more), or released with its last writes done. A released
    /// account whose committer still runs is kept, so that a second
    /// instance never writes the files while the first still does.
    pub(crate) fn is_stale(&self) -> bool {
        self.is_broken()
            || self.fenced.load(Ordering::Acquire)
            || (self.released.load(Ordering::Acquire) && !self.queue.lock().running)
    }

    /// Marks the account as used now.
    pub(crate) fn touch(&self) {
        self.last_used.store(clock_ms(), Ordering::Relaxed);
    }

    /// Unused for at least `idle_ms` milliseconds.
    pub(crate) fn unused_for(&self, idle_ms: u64) -> bool {
        clock_ms().saturating_sub(self.last_used.load(Ordering::Relaxed)) >= idle_ms
    }

    pub(crate) fn not_owned(&self) -> StoreError {
        StoreError::NotOwned(self.name.to_string())
    }
}

impl Store {
    /// Asks `fence` before opening or writing any account.
    pub fn with_fence(mut self, fence: Arc<dyn Fence>) -> Store {
        self.fence = Some(fence);
        // Closed for the cache's bound, an account stays owned here; it is
        // remembered so that `idle_accounts` still names it.
        self.cache.remember_evicted = true;
        self
    }

    /// Hands the account over: refuses its writes from now on (holders of
    /// the old `Arc` get [`StoreError::NotOwned`]), waits until every write
    /// accepted before is durable (or refused by the fence), takes it out
    /// of the open-account cache and asks its sessions to close with
    /// `reason` ([`crate::Account::close_sessions`]). The next
    /// [`Store::account`] the fence allows opens it afresh from the files,
    /// seeing what another member wrote meanwhile. No-op when not open;
    /// an account still opening is waited for and then released.
    ///
    /// It leaves the cache only once its writes are done: had it left
    /// first, a new open could start a second writer on the same files.
    /// Until then [`Store::account`] refuses it.
    pub async fn release(&self, name: &AccountName, reason: &str) {
        let Some(account) = self.cache.settled(name).await else {
            self.cache.forget_evicted(name);
            return;
        };
        account.inner.release();
        account.inner.wait_idle().await;
        self.cache.remove_if_same(name, &account);
        account.close_sessions(reason);
        tracing::debug!(target: "store::fence", account = %name, reason, "released");
    }

    /// Every account open now, or opening (for releasing them all when the
    /// lease is lost).
    pub fn open_account_names(&self) -> Vec<AccountName> {
        self.cache.names()
    }

    /// Open accounts that only the cache holds, with no write running and
    /// no exclusive lock, unused (not handed out by [`Store::account`],
    /// nothing committed) for at least `idle_for`: the binary releases
    /// these so that other members can open them directly. With a fence,
    /// also accounts the cache closed to stay within its bound (still
    /// owned here) once unused that long; releasing one only forgets it.
    pub fn idle_accounts(&self, idle_for: Duration) -> Vec<AccountName> {
        let idle_ms = u64::try_from(idle_for.as_millis()).unwrap_or(u64::MAX);
        self.cache.unused(|account| !account.inner.refuses_writes() && account.inner.unused_for(idle_ms), idle_ms)
    }
}

#[cfg(test)]
mod tests;

//! The open-account cache: every caller of `Store::account` gets the same
//! `Arc<Account>` while anyone holds it (two open instances of one account
//! would both write its files). Accounts nobody uses are closed once the
//! cache is over its bound, so file descriptors stay bounded.
//!
//! With a fence (`fence.rs`) an account closed that way is still owned by
//! this member, so it is remembered, to be named by `Store::idle_accounts`
//! and released like any idle account rather than owned until the lease
//! ends.

use crate::{Account, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::OnceCell;
use types::AccountName;

type Slot = Arc<OnceCell<Arc<Account>>>;

pub(crate) struct Cache {
    slots: Mutex<HashMap<AccountName, Slot>>,
    bound: usize,
    /// Accounts closed for the bound, when last used (`fence::clock_ms`),
    /// while `remember_evicted`; forgotten when opened or released again.
    evicted: Mutex<HashMap<AccountName, u64>>,
    pub(crate) remember_evicted: bool,
}

impl Cache {
    pub(crate) fn new(bound: usize) -> Self {
        Cache { slots: Mutex::new(HashMap::new()), bound, evicted: Mutex::default(), remember_evicted: false }
    }

    /// The cached account, or the one `open` opens (once, however many
    /// callers ask at the same time).
    pub(crate) async fn get_or_open<F, Fut>(&self, name: &AccountName, open: F) -> Result<Arc<Account>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<Account>, StoreError>>,
    {
        let slot = {
            let mut slots = self.slots.lock();
            match slots.get(name) {
                // A broken, fenced-off or released account is replaced by
                // a fresh open, which recovers from the files; holders of
                // the old one get errors.
                Some(slot) if !slot.get().is_some_and(|a| a.inner.is_stale()) => slot.clone(),
                _ => {
                    if slots.len() >= self.bound {
                        self.evict_unused(&mut slots);
                    }
                    self.evicted.lock().remove(name);
                    let slot = Slot::default();
                    slots.insert(name.clone(), slot.clone());
                    slot
                }
            }
        };
        slot.get_or_try_init(open).await.cloned()
    }

    /// Takes the account out of the cache (it may still be opening).
    pub(crate) fn take(&self, name: &AccountName) -> Option<Arc<Account>> {
        self.slots.lock().remove(name).and_then(|slot| slot.get().cloned())
    }

    /// The account once an open in progress has ended; `None` when it is
    /// not in the cache or its open failed.
    pub(crate) async fn settled(&self, name: &AccountName) -> Option<Arc<Account>> {
        let slot = self.slots.lock().get(name).cloned()?;
        // Waits for an open in progress; runs only when there is none.
        slot.get_or_try_init(|| async { Err(()) }).await.ok().cloned()
    }

    /// Takes the account out of the cache if it is still this instance.
    pub(crate) fn remove_if_same(&self, name: &AccountName, account: &Arc<Account>) {
        let mut slots = self.slots.lock();
        if slots.get(name).and_then(|slot| slot.get()).is_some_and(|cached| Arc::ptr_eq(cached, account)) {
            slots.remove(name);
        }
    }

    /// Names of the accounts open or opening now.
    pub(crate) fn names(&self) -> Vec<AccountName> {
        let slots = self.slots.lock();
        // An empty slot nobody holds is an open that failed.
        slots
            .iter()
            .filter(|(_, slot)| slot.get().is_some() || Arc::strong_count(slot) > 1)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Open accounts only the cache holds, with no commit running and no
    /// exclusive lock, that also pass `wanted`; and accounts closed for
    /// the bound that were last used `idle_ms` or more ago.
    pub(crate) fn unused(&self, wanted: impl Fn(&Account) -> bool, idle_ms: u64) -> Vec<AccountName> {
        let slots = self.slots.lock();
        let open = slots
            .iter()
            .filter(|(_, slot)| Arc::strong_count(slot) == 1 && slot.get().is_some_and(|a| is_unused(a) && wanted(a)));
        let evicted = self.evicted.lock();
        let now = crate::fence::clock_ms();
        let closed = evicted.iter().filter(|(_, last_used)| now.saturating_sub(**last_used) >= idle_ms);
        open.map(|(name, _)| name.clone()).chain(closed.map(|(name, _)| name.clone())).collect()
    }

    /// Forgets an account closed for the bound (it is being released).
    pub(crate) fn forget_evicted(&self, name: &AccountName) {
        self.evicted.lock().remove(name);
    }

    /// Drops accounts that only the cache holds until below the bound.
    fn evict_unused(&self, slots: &mut HashMap<AccountName, Slot>) {
        let unused: Vec<(AccountName, Option<u64>)> = slots
            .iter()
            .filter(|(_, slot)| {
                // An empty slot nobody holds is an open that failed.
                Arc::strong_count(slot) == 1 && slot.get().is_none_or(is_unused)
            })
            .map(|(name, slot)| (name.clone(), slot.get().map(|a| a.inner.last_used.load(Ordering::Relaxed))))
            .take((slots.len() + 1).saturating_sub(self.bound))
            .collect();
        for (name, last_used) in unused {
            slots.remove(&name);
            if let Some(last_used) = last_used.filter(|_| self.remember_evicted) {
                self.evicted.lock().insert(name, last_used);
            }
        }
    }

    /// The accounts open now.
    pub(crate) fn open_accounts(&self) -> Vec<Arc<Account>> {
        self.slots.lock().values().filter_map(|slot| slot.get().cloned()).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().len()
    }
}

/// Nobody but the cache holds the account and it has no work running, so
/// closing it loses nothing.
fn is_unused(account: &Arc<Account>) -> bool {
    Arc::strong_count(account) == 1 && account.is_idle()
}

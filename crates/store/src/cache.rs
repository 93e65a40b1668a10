//! The open-account cache: every caller of `Store::account` gets the same
//! `Arc<Account>` while anyone holds it (two open instances of one account
//! would both write its files). Accounts nobody uses are closed once the
//! cache is over its bound, so file descriptors stay bounded.

use crate::{Account, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;
use types::AccountName;

type Slot = Arc<OnceCell<Arc<Account>>>;

pub(crate) struct Cache {
    slots: Mutex<HashMap<AccountName, Slot>>,
    bound: usize,
}

impl Cache {
    pub(crate) fn new(bound: usize) -> Self {
        Cache { slots: Mutex::new(HashMap::new()), bound }
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
                // A broken account is replaced by a fresh open, which
                // recovers from the files; holders of the old one get errors.
                Some(slot) if !slot.get().is_some_and(|a| a.inner.is_broken()) => slot.clone(),
                _ => {
                    if slots.len() >= self.bound {
                        evict_unused(&mut slots, self.bound);
                    }
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

    /// The accounts open now.
    pub(crate) fn open_accounts(&self) -> Vec<Arc<Account>> {
        self.slots.lock().values().filter_map(|slot| slot.get().cloned()).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().len()
    }
}

/// Drops accounts that only the cache holds until below `bound`.
fn evict_unused(slots: &mut HashMap<AccountName, Slot>, bound: usize) {
    let unused: Vec<AccountName> = slots
        .iter()
        .filter(|(_, slot)| {
            // An empty slot nobody holds is an open that failed.
            Arc::strong_count(slot) == 1 && slot.get().is_none_or(|a| Arc::strong_count(a) == 1 && a.is_idle())
        })
        .map(|(name, _)| name.clone())
        .take((slots.len() + 1).saturating_sub(bound))
        .collect();
    for name in unused {
        slots.remove(&name);
    }
}

//! Moving an account to another server: freezing it here while its last
//! changes are copied, telling its live sessions to close, and parking its
//! directory once another server hosts it.
//!
//! Freezing is in memory only: a restart unfreezes, and the account is
//! served here again, which is what a failed move must leave behind.
//! Whoever freezes an account keeps its `Arc<Account>`: the open-account
//! cache never evicts an account that is held, so the flag cannot be
//! lost by a close and reopen.

use crate::{Account, Result, Store, blocking, layout};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;
use types::AccountName;

impl Account {
    /// Refuses every write from now on ([`crate::StoreError::Frozen`]) and
    /// returns once every write accepted before is durable, so that what
    /// is read afterwards is final. [`Store::account`] refuses the account
    /// too, so no new session or delivery opens it.
    pub async fn freeze(&self) {
        {
            let _queue = self.inner.queue.lock();
            self.inner.frozen.store(true, Ordering::Release);
        }
        self.inner.wait_idle().await;
    }

    /// Takes writes and sessions again, and withdraws a request to close.
    pub fn unfreeze(&self) {
        self.inner.frozen.store(false, Ordering::Release);
        self.inner.closing.send_replace(None);
    }

    pub fn is_frozen(&self) -> bool {
        self.inner.frozen.load(Ordering::Acquire)
    }

    /// Asks every live session of the account to close, giving `reason`
    /// (IMAP says it in a `BYE`); sessions watch [`Account::closing`].
    pub fn close_sessions(&self, reason: &str) {
        self.inner.closing.send_replace(Some(Arc::from(reason)));
    }

    /// Holds a reason once the account's sessions must close. A session
    /// checks the current value when it starts watching (the request may
    /// have come before it subscribed), then waits for `changed()`.
    pub fn closing(&self) -> watch::Receiver<Option<Arc<str>>> {
        self.inner.closing.subscribe()
    }
}

impl Store {
    /// Marks the account as moved away: [`Store::account`] refuses it
    /// ([`crate::StoreError::Frozen`]) instead of starting it empty, for
    /// as long as this process runs or until [`Store::accept_account`].
    /// Closes the gap in which a session that looked up the host just
    /// before a move could open a fresh, empty account here.
    pub fn refuse_account(&self, name: &AccountName) {
        self.moved_away.lock().insert(name.clone());
    }

    /// Opens a moved-away account again (it is moving back here).
    pub fn accept_account(&self, name: &AccountName) {
        self.moved_away.lock().remove(name);
    }

    /// Moves the account's directory aside, to `<local>~<label>` next to
    /// it (a name no account can have: `~` is always percent-encoded in
    /// account directory names), after closing the open account for good:
    /// holders of it get errors on every write. Returns the new path, or
    /// `None` when the account had no directory here. The next
    /// [`Store::account`] for the name starts an empty account, so the
    /// caller must make sure the name is no longer served here first.
    pub async fn park_account(&self, name: &AccountName, label: &str) -> Result<Option<PathBuf>> {
        if let Some(account) = self.cache.take(name) {
            let inner = account.inner.clone();
            blocking(move || {
                inner.close_for_removal();
                Ok(())
            })
            .await?;
        }
        let dir = self.account_dir(name);
        let Some(file_name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            return Ok(None);
        };
        let parked = dir.with_file_name(format!("{file_name}~{}", layout::encode_component(label)));
        let sync = self.config.durability == crate::Durability::Fsync;
        blocking(move || {
            match std::fs::rename(&dir, &parked) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            if let Some(parent) = parked.parent().filter(|_| sync) {
                layout::sync_dir(parent)?;
            }
            Ok(Some(parked))
        })
        .await
    }
}

#[cfg(test)]
mod tests;

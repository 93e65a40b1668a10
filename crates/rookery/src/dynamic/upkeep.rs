//! The background work of a dynamic member: self-fencing (every account
//! closed the moment the lease is no longer known valid), the release of
//! accounts left idle, and the queue size in the member's registry entry
//! (for `rookery cluster status`).

use super::Accounts;
use queue::Queue;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::sync::watch;

/// Closes every open account whenever the coordinator stops serving: the
/// lease may expire soon and another member open them (DESIGN §4,
/// "self-fencing"). The store refuses their writes already (the fence
/// answers from the same state); this closes their sessions and drops
/// what the store caches, so that the next open reads the files afresh.
pub async fn fence_on_lease_loss(accounts: Arc<Accounts>, mut shutdown: watch::Receiver<bool>) {
    let mut epochs = accounts.coord().epochs();
    loop {
        let epoch = *epochs.borrow_and_update();
        if !epoch.serving {
            accounts.drop_all("this member lost contact with the cluster; reconnect").await;
        }
        tokio::select! {
            changed = epochs.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Hands over accounts nobody has used for `idle`: closed here and their
/// keys released, so that the next session or delivery opens them on
/// whichever member it reaches, without a hop through this one.
pub async fn release_idle_accounts(
    accounts: Arc<Accounts>,
    store: Arc<Store>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        for account in store.idle_accounts(idle) {
            accounts.release(&account, "account closed after being idle").await;
        }
    }
}

/// Keeps the queue size in this member's registry entry, written only
/// when it changes.
pub async fn publish_queue_size(
    accounts: Arc<Accounts>,
    queue: Arc<Queue>,
    mut info: coord::MemberInfo,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut published = None;
    let mut epochs = accounts.coord().epochs();
    loop {
        let size = queue.len() as u64;
        // A new lease means a new registry entry: publish again.
        if epochs.has_changed().unwrap_or(false) {
            epochs.borrow_and_update();
            published = None;
        }
        if published != Some(size) && accounts.coord().serving() {
            info.queue_messages = Some(size);
            match accounts.coord().publish(info.clone()).await {
                Ok(()) => published = Some(size),
                Err(error) => tracing::debug!(target: "cluster::coord", %error, "cannot publish the queue size"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

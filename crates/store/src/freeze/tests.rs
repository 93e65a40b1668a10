use crate::*;
use tempfile::TempDir;

fn alice() -> AccountName {
    "alice@example.com".parse().unwrap()
}

fn delivery(id: u128) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: "INBOX".to_owned(),
        body: Bytes::from_static(b"Subject: x\r\n\r\nbody\r\n"),
        flags: Vec::new(),
        internal_date: 1_700_000_000,
        quota_bytes: None,
    }
}

fn store(dir: &TempDir) -> Store {
    Store::open(dir.path(), StoreConfig { durability: Durability::Buffered }).unwrap()
}

#[tokio::test]
async fn a_frozen_account_refuses_writes_and_opens_until_unfrozen() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let account = store.account(&alice()).await.unwrap();
    account.deliver(delivery(1)).await.unwrap();
    account.freeze().await;
    assert!(account.is_frozen());
    assert!(matches!(account.deliver(delivery(2)).await, Err(StoreError::Frozen(_))));
    assert!(matches!(account.create_mailbox("Later").await, Err(StoreError::Frozen(_))));
    assert!(matches!(store.account(&alice()).await, Err(StoreError::Frozen(_))));
    // Reads still work: the final copy reads a frozen account.
    assert_eq!(account.status("INBOX").unwrap().messages, 1);
    account.unfreeze();
    account.deliver(delivery(2)).await.unwrap();
    assert_eq!(store.account(&alice()).await.unwrap().status("INBOX").unwrap().messages, 2);
}

#[tokio::test]
async fn freeze_waits_for_writes_already_queued() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let account = store.account(&alice()).await.unwrap();
    let mut writes = tokio::task::JoinSet::new();
    for id in 0..50 {
        let account = account.clone();
        writes.spawn(async move { account.deliver(delivery(id)).await.is_ok() });
    }
    tokio::task::yield_now().await;
    account.freeze().await;
    let seen = account.status("INBOX").unwrap().messages;
    let mut accepted = 0;
    while let Some(ok) = writes.join_next().await {
        accepted += u32::from(ok.unwrap());
    }
    assert_eq!(seen, accepted, "every write acknowledged before the freeze is visible once it returns");
}

#[tokio::test]
async fn sessions_see_a_close_request_even_when_they_start_watching_late() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let account = store.account(&alice()).await.unwrap();
    let mut early = account.closing();
    account.close_sessions("moved");
    early.changed().await.unwrap();
    assert_eq!(early.borrow().as_deref(), Some("moved"));
    assert_eq!(account.closing().borrow().as_deref(), Some("moved"));
    account.unfreeze();
    assert!(account.closing().borrow().is_none());
}

#[tokio::test]
async fn a_parked_account_is_set_aside_and_the_name_starts_afresh() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    let account = store.account(&alice()).await.unwrap();
    account.deliver(delivery(1)).await.unwrap();
    let parked = store.park_account(&alice(), "moved-1").await.unwrap().unwrap();
    assert!(parked.ends_with("example.com/alice~moved-1"), "{}", parked.display());
    assert!(parked.read_dir().unwrap().next().is_some(), "the files moved with it");
    assert!(account.deliver(delivery(2)).await.is_err(), "the old handle writes nothing more");
    let fresh = store.account(&alice()).await.unwrap();
    assert_eq!(fresh.status("INBOX").unwrap().messages, 0);
    // Parking a name with no directory is not an error.
    assert!(store.park_account(&"bob@example.com".parse().unwrap(), "x").await.unwrap().is_none());
}

#[tokio::test]
async fn a_refused_account_is_not_started_afresh_until_accepted_back() {
    let dir = TempDir::new().unwrap();
    let store = store(&dir);
    store.account(&alice()).await.unwrap().deliver(delivery(1)).await.unwrap();
    store.refuse_account(&alice());
    store.park_account(&alice(), "moved").await.unwrap();
    assert!(matches!(store.account(&alice()).await, Err(StoreError::Frozen(_))));
    assert!(!store.account_dir(&alice()).exists(), "nothing made anew");
    store.accept_account(&alice());
    assert_eq!(store.account(&alice()).await.unwrap().status("INBOX").unwrap().messages, 0);
}

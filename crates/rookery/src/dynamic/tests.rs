//! Two members' `Accounts` over one storage root and a real etcd: an
//! account is open on one member at a time, a hand-over finishes the old
//! owner's writes before the new owner may open it, and the old owner's
//! handle writes nothing afterwards.

use super::Accounts;
use coord::{CoordConfig, Coordinator, MemberInfo, Owner};
use std::sync::Arc;
use std::time::Duration;
use store::{Delivery, DeliveryId, Store, StoreConfig, StoreError};
use testkit::etcd::Etcd;
use types::AccountName;

async fn member(etcd: &Etcd, name: &str, root: &std::path::Path) -> (Arc<Accounts>, Arc<Store>) {
    let mut config = CoordConfig::new(etcd.endpoints(), "dc.test", name);
    config.lease_ttl = Duration::from_secs(3);
    let coordinator = Coordinator::start(config, MemberInfo::default()).await.unwrap();
    let accounts = Accounts::new(coordinator);
    let store = Arc::new(Store::open(root, StoreConfig::default()).unwrap().with_fence(accounts.clone()));
    accounts.attach(store.clone());
    (accounts, store)
}

fn delivery(id: u128) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: "INBOX".into(),
        body: bytes::Bytes::from(format!("Subject: {id}\r\n\r\nbody\r\n")),
        flags: Vec::new(),
        internal_date: 0,
        quota_bytes: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_at_a_time_and_a_hand_over_leaves_the_old_owner_nothing_to_write() {
    let etcd = Etcd::start().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (a, store_a) = member(&etcd, "a.dc.test", root.path()).await;
    let (b, store_b) = member(&etcd, "b.dc.test", root.path()).await;
    let account = AccountName::parse("alice@dyn.example", None).unwrap();

    // Not open anywhere: neither store may open it.
    assert!(matches!(store_a.account(&account).await, Err(StoreError::NotOwned(_))));
    assert!(matches!(a.open(&account).await.unwrap(), Owner::Me));
    assert_eq!(b.open(&account).await.unwrap(), Owner::Other("a.dc.test".into()));
    assert!(matches!(store_b.account(&account).await, Err(StoreError::NotOwned(_))));
    let held = store_a.account(&account).await.unwrap();
    for id in 1..=5 {
        held.deliver(delivery(id)).await.unwrap();
    }

    // Handed over: b opens it and sees every message a acknowledged; a's
    // handle may not write any more.
    a.release(&account, "test hand-over").await;
    assert_eq!(a.coord().owner(&account.to_string()).await.unwrap(), None);
    assert!(matches!(b.open(&account).await.unwrap(), Owner::Me));
    let now_b = store_b.account(&account).await.unwrap();
    assert_eq!(now_b.usage().messages, 5);
    assert!(held.deliver(delivery(6)).await.is_err(), "the old owner's handle still writes");
    assert!(matches!(store_a.account(&account).await, Err(StoreError::NotOwned(_))));
    now_b.deliver(delivery(7)).await.unwrap();
    assert_eq!(now_b.usage().messages, 6);
    assert_eq!(a.open(&account).await.unwrap(), Owner::Other("b.dc.test".into()));
}

//! Account ownership and the member registry against a real etcd.

mod common;

use common::{TTL, eventually, info, member};
use coord::{CoordError, Owner};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use testkit::etcd::Etcd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_is_exclusive_under_a_race() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let b = member(etcd.endpoints(), "b").await;
    let accounts: Vec<String> = (0..50).map(|i| format!("user{i}@race.example")).collect();
    let race = |coordinator: coord::Coordinator| {
        let accounts = accounts.clone();
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for account in accounts {
                let coordinator = coordinator.clone();
                tasks.push(tokio::spawn(async move { (account.clone(), coordinator.acquire(&account).await) }));
            }
            let mut results = BTreeMap::new();
            for task in tasks {
                let (account, result) = task.await.expect("task");
                results.insert(account, result.expect("acquire answers"));
            }
            results
        })
    };
    let (a_results, b_results) = (race(a.clone()), race(b.clone()));
    let (a_results, b_results) = (a_results.await.expect("a"), b_results.await.expect("b"));
    let mut owned_by_a = 0;
    for account in &accounts {
        let owner = a.owner(account).await.expect("owner").expect("someone owns it");
        assert_eq!(b.owner(account).await.expect("owner").as_deref(), Some(owner.as_str()), "both agree on {account}");
        // Exactly one of the two was told Me, and the other names it.
        match (&a_results[account], &b_results[account]) {
            (Owner::Me, Owner::Other(other)) => {
                assert_eq!((owner.as_str(), other.as_str()), ("a", "a"));
                owned_by_a += 1;
            }
            (Owner::Other(other), Owner::Me) => assert_eq!((owner.as_str(), other.as_str()), ("b", "b")),
            both => panic!("{account}: not exactly one owner: {both:?}"),
        }
        // Asking again changes nothing.
        let again = if owner == "a" { a.acquire(account).await } else { b.acquire(account).await };
        assert_eq!(again.expect("acquire"), Owner::Me);
    }
    let mut owned = a.owned().await.expect("owned");
    owned.sort();
    assert_eq!(owned.len(), owned_by_a);
    let counts = a.open_accounts().await.expect("open accounts");
    assert_eq!(counts.values().sum::<usize>(), 50);
    assert_eq!(counts.get("a").copied().unwrap_or(0), owned_by_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_lets_another_acquire_and_a_non_owner_releases_nothing() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let b = member(etcd.endpoints(), "b").await;
    let account = "alice@example.com";
    assert_eq!(a.owner(account).await.expect("owner"), None);
    assert_eq!(a.acquire(account).await.expect("acquire"), Owner::Me);
    assert_eq!(b.acquire(account).await.expect("acquire"), Owner::Other("a".into()));
    // b does not own it: its release deletes nothing.
    b.release(account).await.expect("release by non-owner");
    assert_eq!(b.owner(account).await.expect("owner").as_deref(), Some("a"));
    assert_eq!(b.acquire(account).await.expect("acquire"), Owner::Other("a".into()));
    a.release(account).await.expect("release");
    assert_eq!(a.owner(account).await.expect("owner"), None);
    assert!(a.owned().await.expect("owned").is_empty());
    assert_eq!(b.acquire(account).await.expect("acquire"), Owner::Me);
    assert_eq!(a.acquire(account).await.expect("acquire"), Owner::Other("b".into()));
    assert_eq!(b.owned().await.expect("owned"), vec![account.to_owned()]);
    assert!(matches!(a.acquire("").await, Err(CoordError::Invalid(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_shows_live_members_and_drops_stopped_ones() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let b = coord::Coordinator::start(common::config(etcd.endpoints(), "b"), info("frontend", 2143)).await.expect("b");
    let members = a.members().await.expect("members");
    assert_eq!(members, vec![("a".to_owned(), info("backend", 1143)), ("b".to_owned(), info("frontend", 2143))]);
    let updated = info("backend", 3143);
    a.publish(updated.clone()).await.expect("publish");
    let reader = coord::Reader::connect(etcd.endpoints(), "dc1.example".into()).await.expect("reader");
    assert_eq!(reader.members().await.expect("members")[0], ("a".to_owned(), updated));
    assert_eq!(b.acquire("bob@example.com").await.expect("acquire"), Owner::Me);
    assert_eq!(reader.owner("bob@example.com").await.expect("owner").as_deref(), Some("b"));

    // An orderly stop revokes the lease: everything of b goes at once.
    // (A member that stops renewing is in failure.rs.)
    let stopped = Instant::now();
    b.shutdown().await;
    assert!(!b.serving());
    eventually(TTL, "b leaves the registry", || async {
        reader.members().await.expect("members").iter().all(|(name, _)| name != "b")
    })
    .await;
    assert!(stopped.elapsed() < TTL, "an orderly stop removes the member before its lease could expire");
    assert_eq!(reader.owner("bob@example.com").await.expect("owner"), None);
    assert!(matches!(b.acquire("carol@example.com").await, Err(CoordError::Fenced)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_etcd_is_an_error_not_a_hang() {
    common::init_logs();
    let started = Instant::now();
    // Nothing listens on port 1 of 127.0.0.1.
    let reader = coord::Reader::connect(vec!["127.0.0.1:1".into()], "dc1.example".into()).await;
    assert!(matches!(reader, Err(CoordError::Unavailable(_))));
    let member = coord::Coordinator::start(common::config(vec!["127.0.0.1:1".into()], "a"), info("backend", 1)).await;
    assert!(matches!(member, Err(CoordError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(10));
}

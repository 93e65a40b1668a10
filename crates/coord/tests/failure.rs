//! Self-fencing and lease loss against a real etcd: a member cut off from
//! etcd stops serving before anyone else can own its accounts.

mod common;

use common::{MARGIN, Proxy, TTL, eventually, member};
use coord::{CoordError, Epoch, Owner};
use std::time::{Duration, Instant};
use testkit::etcd::Etcd;

/// Polls `serving()` until it turns false; returns when that was seen and
/// the last renewal send time seen while it was still true.
async fn until_fenced(member: &coord::Coordinator, timeout: Duration) -> (Instant, Instant) {
    let deadline = Instant::now() + timeout;
    let mut last_renewal = member.last_renewal().expect("a renewal was confirmed");
    loop {
        let renewal = member.last_renewal().expect("renewal");
        if !member.serving() {
            return (Instant::now(), last_renewal);
        }
        last_renewal = renewal;
        assert!(Instant::now() < deadline, "{} still serving after {timeout:?}", member.member());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_etcd_fences_the_member_before_its_lease_can_expire() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let mut epochs = a.epochs();
    assert_eq!(*epochs.borrow_and_update(), Epoch { number: 1, serving: true });
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    let old_lease = a.lease_id();

    etcd.pause(0).expect("pause etcd");
    let paused = Instant::now();
    let (fenced, last_renewal) = until_fenced(&a, TTL * 2).await;
    // The fence comes before the lease could expire at etcd: etcd starts
    // the TTL when it receives a renewal, which is after we sent it.
    let since_renewal = fenced - last_renewal;
    assert!(since_renewal < TTL, "fenced {since_renewal:?} after the last confirmed renewal (TTL {TTL:?})");
    assert!(since_renewal >= TTL - MARGIN - Duration::from_millis(50), "fenced early: {since_renewal:?}");
    assert!(fenced - paused < TTL);
    // Subscribers hear of it at once.
    tokio::time::timeout(Duration::from_millis(500), epochs.changed()).await.expect("epoch change").expect("open");
    assert_eq!(*epochs.borrow_and_update(), Epoch { number: 1, serving: false });
    assert!(matches!(a.acquire("bob@example.com").await, Err(CoordError::Fenced)));

    // Keep it paused past the TTL, then let etcd run again: the member
    // serves under a new lease, and its old keys are gone.
    tokio::time::sleep((paused + TTL + Duration::from_millis(300)).saturating_duration_since(Instant::now())).await;
    etcd.resume(0).expect("resume etcd");
    tokio::time::timeout(Duration::from_secs(15), epochs.wait_for(|epoch| epoch.serving))
        .await
        .expect("serves again")
        .expect("open");
    assert_eq!(*epochs.borrow(), Epoch { number: 2, serving: true });
    assert!(a.serving());
    assert_ne!(a.lease_id(), old_lease);
    assert_eq!(a.owner("alice@example.com").await.expect("owner"), None);
    assert!(a.owned().await.expect("owned").is_empty());
    assert_eq!(a.members().await.expect("members").len(), 1, "re-registered under the new lease");
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_pause_still_replaces_the_lease() {
    // A pause longer than the fence margin but shorter than the TTL: the
    // member fenced itself, so it must not silently resume under the old
    // lease with accounts its subscribers already dropped.
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let mut epochs = a.epochs();
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    etcd.pause(0).expect("pause");
    until_fenced(&a, TTL * 2).await;
    etcd.resume(0).expect("resume");
    tokio::time::timeout(Duration::from_secs(15), epochs.wait_for(|epoch| epoch.number == 2 && epoch.serving))
        .await
        .expect("serves again")
        .expect("open");
    assert_eq!(a.owner("alice@example.com").await.expect("owner"), None, "old lease revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_cut_off_from_etcd_fences_before_another_takes_its_account() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let proxy = Proxy::start(etcd.client_addr(0)).await;
    let a = member(vec![proxy.endpoint()], "a").await;
    let b = member(etcd.endpoints(), "b").await;
    let account = "alice@example.com";
    assert_eq!(a.acquire(account).await.expect("acquire"), Owner::Me);
    assert_eq!(b.acquire(account).await.expect("acquire"), Owner::Other("a".into()));

    proxy.cut();
    let cut = Instant::now();
    // b waits by a watch for a's key to go: that is a's lease expiring.
    let b_waits = {
        let b = b.clone();
        tokio::spawn(async move {
            let released = b.wait_released(account, Duration::from_secs(10)).await;
            (released, Instant::now())
        })
    };
    let (fenced, last_renewal) = until_fenced(&a, TTL * 2).await;
    assert!(fenced - last_renewal < TTL);
    let (released, released_at) = b_waits.await.expect("task");
    assert!(released.expect("wait_released"), "a's key went with its lease");
    assert_eq!(b.acquire(account).await.expect("acquire"), Owner::Me);
    let taken = Instant::now();
    // The property: a stopped serving before b could own the account.
    assert!(fenced < released_at, "a fenced {:?} after b took over", fenced - released_at);
    assert!(taken - cut < TTL + Duration::from_secs(2), "takeover took {:?}", taken - cut);
    // a's member key went with the lease too.
    let members = b.members().await.expect("members");
    assert_eq!(members.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), vec!["b"]);
    assert!(!a.serving());
    assert!(matches!(a.acquire("bob@example.com").await, Err(CoordError::Fenced)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_released_answers_at_once_or_times_out() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let b = member(etcd.endpoints(), "b").await;
    assert!(b.wait_released("nobody@example.com", Duration::from_secs(1)).await.expect("wait"));
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    let started = Instant::now();
    assert!(!b.wait_released("alice@example.com", Duration::from_millis(300)).await.expect("wait"));
    assert!(started.elapsed() < Duration::from_secs(2));
    // A release wakes the waiter at once, well before any TTL.
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.wait_released("alice@example.com", Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let released = Instant::now();
    a.release("alice@example.com").await.expect("release");
    assert!(waiter.await.expect("task").expect("wait"));
    assert!(released.elapsed() < Duration::from_secs(1));
    // The same after the owner's orderly stop (lease revoked).
    assert_eq!(a.acquire("carol@example.com").await.expect("acquire"), Owner::Me);
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.wait_released("carol@example.com", Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.shutdown().await;
    assert!(waiter.await.expect("task").expect("wait"));
    eventually(Duration::from_secs(1), "a unregistered", || async { b.members().await.expect("members").len() == 1 })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_lost_at_etcd_fences_and_serves_again_under_a_new_one() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let mut epochs = a.epochs();
    epochs.borrow_and_update();
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    let old_lease = a.lease_id();
    // Someone (an operator, etcd itself after a long stall) removes the
    // lease: the next renewal answers TTL 0.
    let mut client = etcd_client::Client::connect(etcd.endpoints(), None).await.expect("client");
    client.lease_revoke(old_lease).await.expect("revoke");
    tokio::time::timeout(TTL, epochs.wait_for(|epoch| !epoch.serving)).await.expect("fenced").expect("open");
    tokio::time::timeout(Duration::from_secs(10), epochs.wait_for(|epoch| epoch.serving))
        .await
        .expect("serves again")
        .expect("open");
    assert_eq!(*epochs.borrow(), Epoch { number: 2, serving: true });
    assert_ne!(a.lease_id(), old_lease);
    assert_eq!(a.owner("alice@example.com").await.expect("owner"), None);
    assert_eq!(a.members().await.expect("members").len(), 1);
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    assert_eq!(a.owned().await.expect("owned"), ["alice@example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_for_a_while_then_back_serves_and_leads_again() {
    common::init_logs();
    let mut etcd = Etcd::start().expect("etcd");
    let a = member(etcd.endpoints(), "a").await;
    let controller = a.controller();
    let mut leading = controller.leading();
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(Option::is_some))
        .await
        .expect("leads")
        .expect("open");
    let first = leading.borrow().clone().expect("leadership");
    let mut epochs = a.epochs();
    epochs.borrow_and_update();

    // etcd dies (SIGKILL) for three TTLs: the member fences, keeps
    // retrying with backoff, and leads no more.
    etcd.kill(0);
    tokio::time::timeout(TTL, epochs.wait_for(|epoch| !epoch.serving)).await.expect("fenced").expect("open");
    tokio::time::timeout(Duration::from_secs(1), leading.wait_for(Option::is_none))
        .await
        .expect("deposed")
        .expect("open");
    assert!(matches!(a.acquire("alice@example.com").await, Err(CoordError::Unavailable(_) | CoordError::Fenced)));
    tokio::time::sleep(TTL * 3).await;
    assert!(!a.serving());

    // Back on the same data: a new lease, the member registered again,
    // and the election won again under the new lease.
    etcd.restart(0).expect("restart");
    tokio::time::timeout(Duration::from_secs(10), epochs.wait_for(|epoch| epoch.serving))
        .await
        .expect("serves again")
        .expect("open");
    assert_eq!(epochs.borrow().number, 2);
    tokio::time::timeout(Duration::from_secs(10), leading.wait_for(Option::is_some))
        .await
        .expect("leads again")
        .expect("open");
    let second = leading.borrow().clone().expect("leadership");
    assert_eq!(second.epoch, 2);
    assert!(second.revision > first.revision);
    assert!(!controller.fenced(&first, Vec::new()).await.expect("txn"), "the old leadership is dead");
    assert!(controller.fenced(&second, Vec::new()).await.expect("txn"));
    assert_eq!(controller.leader().await.expect("leader").as_deref(), Some("a"));
    assert_eq!(a.members().await.expect("members").len(), 1);
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
}

//! A three-node etcd: the members keep working while one node is down.

mod common;

use coord::{CoordConfig, Coordinator, Epoch, Owner, Reader};
use std::time::Duration;
use testkit::etcd::Etcd;

async fn member(etcd: &Etcd, name: &str) -> Coordinator {
    // The default 5 s lease: enough to ride out a raft re-election on a
    // loaded machine without fencing, which this test asserts.
    let config = CoordConfig::new(etcd.endpoints(), "dc1.example", name);
    Coordinator::start(config, common::info("backend", 1143)).await.expect("coordinator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_killed_node_does_not_stop_the_cluster() {
    common::init_logs();
    let mut etcd = Etcd::start_cluster(3).expect("etcd cluster");
    let a = member(&etcd, "a").await;
    let b = member(&etcd, "b").await;
    let reader = Reader::connect(etcd.endpoints(), "dc1.example".into()).await.expect("reader");
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);

    // The first endpoint, where every client starts, dies.
    etcd.kill(0);
    assert_eq!(b.acquire("bob@example.com").await.expect("acquire"), Owner::Me);
    assert_eq!(b.acquire("alice@example.com").await.expect("acquire"), Owner::Other("a".into()));
    assert_eq!(reader.owner("alice@example.com").await.expect("owner").as_deref(), Some("a"));
    a.release("alice@example.com").await.expect("release");
    assert_eq!(b.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    let names: Vec<String> = reader.members().await.expect("members").into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["a", "b"]);
    // Leases stay renewed through the other nodes: after more than a TTL
    // the members still serve under their first lease, never fenced.
    tokio::time::sleep(CoordConfig::DEFAULT_LEASE_TTL + Duration::from_secs(1)).await;
    for member in [&a, &b] {
        assert!(member.serving(), "{} serving", member.member());
        assert_eq!(*member.epochs().borrow(), Epoch { number: 1, serving: true }, "{} never fenced", member.member());
    }
    assert_eq!(reader.owner("bob@example.com").await.expect("owner").as_deref(), Some("b"));

    // Node 0 comes back, another one dies: still fine.
    etcd.restart(0).expect("restart");
    etcd.kill(2);
    let mut owned = b.owned().await.expect("owned");
    owned.sort();
    assert_eq!(owned, ["alice@example.com", "bob@example.com"]);
    b.release("bob@example.com").await.expect("release");
    assert_eq!(a.acquire("bob@example.com").await.expect("acquire"), Owner::Me);
    assert_eq!(
        a.open_accounts().await.expect("open").into_iter().collect::<Vec<_>>(),
        [("a".into(), 1), ("b".into(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_is_passed_over_by_timeout() {
    common::init_logs();
    let etcd = Etcd::start_cluster(3).expect("etcd cluster");
    let a = member(&etcd, "a").await;
    let b = member(&etcd, "b").await;
    let controller = a.controller();
    let mut leading = controller.leading();
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(Option::is_some))
        .await
        .expect("leads")
        .expect("open");
    // The first endpoint freezes: its sockets stay open and silent, so
    // only timeouts tell the clients to move on.
    etcd.pause(0).expect("pause");
    assert_eq!(a.acquire("alice@example.com").await.expect("acquire"), Owner::Me);
    assert_eq!(b.acquire("alice@example.com").await.expect("acquire"), Owner::Other("a".into()));
    tokio::time::sleep(CoordConfig::DEFAULT_LEASE_TTL + Duration::from_secs(1)).await;
    for member in [&a, &b] {
        assert_eq!(*member.epochs().borrow(), Epoch { number: 1, serving: true }, "{} never fenced", member.member());
    }
    assert_eq!(b.owner("alice@example.com").await.expect("owner").as_deref(), Some("a"));
    assert!(leading.borrow().is_some(), "a still leads");
    assert_eq!(b.controller().leader().await.expect("leader").as_deref(), Some("a"));
    etcd.resume(0).expect("resume");
}

//! The controller election with the members' own short leases.

mod common;

use common::{Proxy, TTL, eventually, member};
use coord::{Controller, Leadership, TxnOp};
use std::time::{Duration, Instant};
use testkit::etcd::Etcd;

async fn read(etcd: &Etcd, key: &str) -> Option<String> {
    let mut client = etcd_client::Client::connect(etcd.endpoints(), None).await.expect("client");
    let response = client.get(key, None).await.expect("get");
    response.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
}

/// Waits until exactly one of `controllers` leads; returns its index and
/// its leadership.
async fn one_leader(controllers: &[(&str, Controller)], timeout: Duration) -> (usize, Leadership) {
    let deadline = Instant::now() + timeout;
    loop {
        let leading: Vec<(usize, Leadership)> = controllers
            .iter()
            .enumerate()
            .filter_map(|(index, (_, controller))| controller.leading().borrow().clone().map(|lead| (index, lead)))
            .collect();
        assert!(leading.len() <= 1, "two leaders at once: {leading:?}");
        if let Some(found) = leading.into_iter().next() {
            return found;
        }
        assert!(Instant::now() < deadline, "no leader within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_and_a_new_one_after_shutdown_or_lost_lease() {
    common::init_logs();
    let etcd = Etcd::start().expect("etcd");
    // Member c reaches etcd through a proxy the test can cut.
    let proxy = Proxy::start(etcd.client_addr(0)).await;
    let a = member(etcd.endpoints(), "a").await;
    let b = member(etcd.endpoints(), "b").await;
    let c = member(vec![proxy.endpoint()], "c").await;
    // c campaigns first, so that it leads and can be cut off later.
    let c_controller = c.controller();
    eventually(Duration::from_secs(5), "c leads", || async { c_controller.leading().borrow().is_some() }).await;
    let controllers = [("a", a.controller()), ("b", b.controller()), ("c", c_controller.clone())];
    let (index, first) = one_leader(&controllers, Duration::from_secs(5)).await;
    assert_eq!(controllers[index].0, "c");
    for (_, controller) in &controllers {
        assert_eq!(controller.leader().await.expect("leader").as_deref(), Some("c"));
    }
    let reader = coord::Reader::connect(etcd.endpoints(), "dc1.example".into()).await.expect("reader");
    assert_eq!(reader.leader().await.expect("leader").as_deref(), Some("c"));
    // A fenced write while leading goes through.
    let fence_key = "/rookery/dc1.example/controller-state";
    assert!(c_controller.fenced(&first, vec![TxnOp::put(fence_key, "by c", None)]).await.expect("txn"));

    // c stops renewing (its network to etcd is cut): it gives up the lead
    // at its fence, and another member leads within TTL + 2 s.
    proxy.cut();
    let cut = Instant::now();
    eventually(TTL, "c notices it no longer leads", || async { c_controller.leading().borrow().is_none() }).await;
    let survivors = [("a", controllers[0].1.clone()), ("b", controllers[1].1.clone())];
    let (index, second) = one_leader(&survivors, TTL + Duration::from_secs(2)).await;
    let second_name = survivors[index].0;
    assert!(cut.elapsed() < TTL + Duration::from_secs(2), "handover took {:?}", cut.elapsed());
    assert_eq!(survivors[0].1.leader().await.expect("leader").as_deref(), Some(second_name));
    // The deposed leader's fenced write is refused and writes nothing,
    // even when sent through a working connection.
    let deposed = Controller::clone(&survivors[index].1);
    assert!(!deposed.fenced(&first, vec![TxnOp::put(fence_key, "by a deposed leader", None)]).await.expect("txn"));
    assert_eq!(read(&etcd, fence_key).await.as_deref(), Some("by c"), "the deposed leader wrote nothing");

    // An orderly stop of the new leader hands over at once.
    let stopping = if second_name == "a" { &a } else { &b };
    let remaining = if second_name == "a" { ("b", survivors[1].1.clone()) } else { ("a", survivors[0].1.clone()) };
    let stopped = Instant::now();
    stopping.shutdown().await;
    let (_, third) = one_leader(std::slice::from_ref(&remaining), TTL + Duration::from_secs(2)).await;
    assert!(stopped.elapsed() < Duration::from_secs(2), "handover after shutdown took {:?}", stopped.elapsed());
    assert_eq!(remaining.1.leader().await.expect("leader").as_deref(), Some(remaining.0));
    // The stopped leader is deposed as well.
    assert!(survivors[index].1.leading().borrow().is_none());
    assert!(!survivors[index].1.fenced(&second, vec![TxnOp::put(fence_key, "stale", None)]).await.expect("txn"));
    assert!(remaining.1.fenced(&third, vec![TxnOp::put(fence_key, "current", None)]).await.expect("txn"));
    assert_eq!(read(&etcd, fence_key).await.as_deref(), Some("current"));
}

//! Delivery and read throughput of the store, with fsync on.
//!
//! `cargo run -p store --release --example bench [-- --seconds 3 --buffered]`
//!
//! Prints deliveries/s of 10 KB messages at 1, 8 and 32 concurrent tasks,
//! spread over 100 accounts and all to a single account, then reads/s.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::{Delivery, DeliveryId, Durability, Store, StoreConfig};
use types::{AccountName, Uid};

const BODY_BYTES: usize = 10 * 1024;

fn account_name(i: usize) -> AccountName {
    format!("user{i}@bench.test").parse().expect("valid name")
}

/// Delivers for `duration` from `tasks` tasks, task `t` cycling through
/// the accounts `t, t + tasks, ...` modulo `accounts`; returns deliveries/s.
async fn deliver(store: &Arc<Store>, tasks: usize, accounts: usize, duration: Duration) -> f64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let body = Bytes::from(vec![b'x'; BODY_BYTES]);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let (store, body, done) = (store.clone(), body.clone(), done.clone());
            tokio::spawn(async move {
                let mut next = task % accounts;
                while Instant::now() < deadline {
                    let account = store.account(&account_name(next)).await.expect("open");
                    next = (next + tasks) % accounts;
                    let delivery = Delivery {
                        id: DeliveryId(u128::from(NEXT_ID.fetch_add(1, Ordering::Relaxed))),
                        mailbox: "INBOX".to_owned(),
                        body: body.clone(),
                        flags: Vec::new(),
                        internal_date: 1_700_000_000,
                        quota_bytes: None,
                    };
                    account.deliver(delivery).await.expect("deliver");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Reads every message of the first `accounts` accounts from `tasks`
/// tasks; returns reads/s.
async fn read(store: &Arc<Store>, tasks: usize, accounts: usize) -> f64 {
    let mut work = Vec::new();
    for i in 0..accounts {
        let account = store.account(&account_name(i)).await.expect("open");
        let snapshot = account.snapshot("INBOX").expect("inbox");
        work.extend(snapshot.messages.iter().map(|m| (account.clone(), snapshot.info.id, m.uid)));
    }
    let work = Arc::new(work);
    let cursor = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (work, cursor) = (work.clone(), cursor.clone());
            tokio::spawn(async move {
                loop {
                    let i = cursor.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((account, mailbox, uid)) = work.get(i) else { break };
                    let bytes = account.read(*mailbox, Uid(uid.0)).await.expect("read");
                    assert_eq!(bytes.len(), BODY_BYTES);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    work.len() as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args.iter().position(|a| a == "--seconds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(3);
    let durability = if args.iter().any(|a| a == "--buffered") { Durability::Buffered } else { Durability::Fsync };
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::TempDir::new_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).expect("temp dir");
    let store = Arc::new(Store::open(dir.path(), StoreConfig { durability }).expect("open store"));
    println!("durability {durability:?}, {BODY_BYTES}-byte messages, {seconds} s per run, in {}", dir.path().display());
    // Account creation is not what is measured.
    for i in 0..100 {
        store.account(&account_name(i)).await.expect("open");
    }
    for accounts in [100, 1] {
        for tasks in [1, 8, 32] {
            let rate = deliver(&store, tasks, accounts, duration).await;
            println!("deliver  accounts {accounts:>3}  tasks {tasks:>2}  {rate:>9.0} deliveries/s");
        }
    }
    store.wait_idle().await;
    for tasks in [1, 8, 32] {
        let rate = read(&store, tasks, 100).await;
        println!("read     accounts 100  tasks {tasks:>2}  {rate:>9.0} reads/s");
    }
}

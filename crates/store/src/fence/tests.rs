//! Two members on one storage root, each a `Store` with a fence backed by
//! one ownership table (etcd's part in the real cluster), on real files.

use crate::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn alice() -> AccountName {
    "alice@example.com".parse().unwrap()
}

fn body(id: u128) -> String {
    format!("Subject: {id}\r\n\r\nmessage {id}\r\n")
}

fn delivery(id: u128) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: "INBOX".to_owned(),
        body: Bytes::from(body(id)),
        flags: Vec::new(),
        internal_date: 1_700_000_000,
        quota_bytes: None,
    }
}

/// Which member owns which account.
#[derive(Default)]
struct Owners(parking_lot::Mutex<HashMap<AccountName, &'static str>>);

impl Owners {
    fn give(&self, account: &AccountName, member: &'static str) {
        self.0.lock().insert(account.clone(), member);
    }
}

struct MemberFence {
    member: &'static str,
    owners: Arc<Owners>,
}

impl Fence for MemberFence {
    fn may_open(&self, account: &AccountName) -> bool {
        self.owners.0.lock().get(account) == Some(&self.member)
    }
    fn may_write(&self, account: &AccountName) -> bool {
        self.may_open(account)
    }
}

/// Allows opening always and writing while the switch is on.
struct Switch(AtomicBool);

impl Fence for Switch {
    fn may_open(&self, _: &AccountName) -> bool {
        true
    }
    fn may_write(&self, _: &AccountName) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Allows opening always and this many writes (asks of `may_write`).
struct Countdown(AtomicUsize);

impl Fence for Countdown {
    fn may_open(&self, _: &AccountName) -> bool {
        true
    }
    fn may_write(&self, _: &AccountName) -> bool {
        self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}

fn unfenced(dir: &Path) -> Store {
    Store::open(dir, StoreConfig { durability: Durability::Buffered }).unwrap()
}

fn member(dir: &Path, name: &'static str, owners: &Arc<Owners>) -> Store {
    unfenced(dir).with_fence(Arc::new(MemberFence { member: name, owners: owners.clone() }))
}

fn not_owned<T>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotOwned(_)))
}

/// Every file under `dir` with its bytes: what "nothing was written" is
/// checked against.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The INBOX as (uid, body, flags), read back from the files.
async fn inbox(account: &Account) -> Vec<(u32, String, Vec<Flag>)> {
    let snapshot = account.snapshot("INBOX").unwrap();
    let uids: Vec<Uid> = snapshot.messages.iter().map(|m| m.uid).collect();
    let bodies = account.read_many(snapshot.info.id, &uids, Extent::Whole).await.unwrap();
    snapshot
        .messages
        .iter()
        .zip(bodies)
        .map(|(m, b)| (m.uid.0, String::from_utf8(b.unwrap().to_vec()).unwrap(), m.flags.clone()))
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_released_account_moves_to_another_member_whole_and_the_old_handle_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let owners = Arc::new(Owners::default());
    let (a, b) = (member(dir.path(), "a", &owners), member(dir.path(), "b", &owners));
    owners.give(&alice(), "a");
    assert!(not_owned(b.account(&alice()).await));

    let old = a.account(&alice()).await.unwrap();
    for id in 1..=5 {
        old.deliver(delivery(id)).await.unwrap();
    }
    let inbox_id = old.status("INBOX").unwrap().id;
    old.create_mailbox("Archive").await.unwrap();
    old.append("Archive", Bytes::from_static(b"appended\r\n"), vec![Flag::Seen], 1_700_000_001, None).await.unwrap();
    old.set_flags(inbox_id, &[Uid(1)], FlagOp::Add, &[Flag::Seen], None).await.unwrap();
    assert_eq!(old.expunge(inbox_id, &[Uid(2)]).await.unwrap(), vec![Uid(2)]);
    let mut closing = old.closing();

    a.release(&alice(), "moved to b").await;
    closing.changed().await.unwrap();
    assert_eq!(closing.borrow().as_deref(), Some("moved to b"));
    assert!(a.open_account_names().is_empty());
    owners.give(&alice(), "b");

    let new = b.account(&alice()).await.unwrap();
    let expected = |uid: u32, flags: Vec<Flag>| (uid, body(u128::from(uid)), flags);
    let acknowledged =
        vec![expected(1, vec![Flag::Seen]), expected(3, vec![]), expected(4, vec![]), expected(5, vec![])];
    assert_eq!(inbox(&new).await, acknowledged);
    assert_eq!(new.status("Archive").unwrap().messages, 1);
    for id in 6..=7 {
        new.deliver(delivery(id)).await.unwrap();
    }
    new.set_flags(inbox_id, &[Uid(3)], FlagOp::Add, &[Flag::Flagged], None).await.unwrap();
    new.wait_idle().await;

    // The old handle and the old member get nowhere, and touch no file.
    let before = files(dir.path());
    assert!(not_owned(old.deliver(delivery(100)).await));
    assert!(not_owned(old.append("INBOX", Bytes::from_static(b"late\r\n"), vec![], 0, None).await));
    assert!(not_owned(old.set_flags(inbox_id, &[Uid(1)], FlagOp::Add, &[Flag::Deleted], None).await));
    assert!(not_owned(old.expunge(inbox_id, &[Uid(1)]).await));
    assert!(not_owned(old.create_mailbox("Late").await));
    assert!(not_owned(a.account(&alice()).await));
    assert!(before == files(dir.path()), "the old member wrote to the account's files");

    // A third look at the files: exactly what was acknowledged, nothing
    // twice, and the journal takes more writes.
    drop(new);
    b.wait_idle().await;
    let check = unfenced(dir.path());
    let account = check.account(&alice()).await.unwrap();
    let mut all = acknowledged;
    all[1].2 = vec![Flag::Flagged];
    all.extend([expected(6, vec![]), expected(7, vec![])]);
    assert_eq!(inbox(&account).await, all);
    assert_eq!(account.usage().messages, 7);
    assert_eq!(account.status("INBOX").unwrap().uid_next, Uid(8));
    for id in [1, 6] {
        let again = account.deliver(delivery(id)).await.unwrap();
        assert!(matches!(again, DeliveryOutcome::Duplicate { .. }), "{again:?}");
    }
    assert_eq!(account.deliver(delivery(8)).await.unwrap(), DeliveryOutcome::Delivered { uid: Uid(8) });
}

#[tokio::test]
async fn a_handle_the_fence_turns_away_never_writes_again_even_when_ownership_returns() {
    let dir = TempDir::new().unwrap();
    let owners = Arc::new(Owners::default());
    let a = member(dir.path(), "a", &owners);
    owners.give(&alice(), "a");
    let old = a.account(&alice()).await.unwrap();
    old.deliver(delivery(1)).await.unwrap();
    old.wait_idle().await;

    // The lease lapsed: ownership moved with no release.
    owners.give(&alice(), "b");
    let before = files(dir.path());
    assert!(not_owned(old.deliver(delivery(2)).await));
    assert!(not_owned(a.account(&alice()).await));
    assert!(before == files(dir.path()), "a write went through after the fence said no");

    // Back to this member: the old instance stays shut (another member
    // may have written meanwhile), a fresh open works.
    owners.give(&alice(), "a");
    assert!(not_owned(old.deliver(delivery(3)).await));
    let fresh = a.account(&alice()).await.unwrap();
    assert!(!Arc::ptr_eq(&old, &fresh), "the fenced-off instance is replaced");
    fresh.deliver(delivery(3)).await.unwrap();
    let uids: Vec<u32> = inbox(&fresh).await.into_iter().map(|(uid, _, _)| uid).collect();
    assert_eq!(uids, vec![1, 2]);
}

#[tokio::test]
async fn deliveries_racing_a_lost_ownership_are_each_stored_whole_or_refused() {
    let dir = TempDir::new().unwrap();
    let fence = Arc::new(Switch(AtomicBool::new(true)));
    let store = Arc::new(unfenced(dir.path()).with_fence(fence.clone()));
    let account = store.account(&alice()).await.unwrap();
    let mut closing = account.closing();
    let stored = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..8u128 {
        let (account, fence, stored, store) = (account.clone(), fence.clone(), stored.clone(), store.clone());
        senders.spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..25 {
                let id = sender * 100 + n;
                let outcome = account.deliver(delivery(id)).await;
                if outcome.is_ok() && stored.fetch_add(1, Ordering::SeqCst) + 1 == 20 {
                    // Lost in the middle of the stream, with other
                    // deliveries queued and being committed; the binary
                    // then releases every account (and must not hang).
                    fence.0.store(false, Ordering::SeqCst);
                    let name = alice();
                    let release = store.release(&name, "lease lost");
                    tokio::time::timeout(Duration::from_secs(60), release).await.expect("release finishes");
                }
                outcomes.push((id, outcome));
            }
            outcomes
        });
    }
    let (mut ok, mut refused) = (BTreeSet::new(), 0);
    while let Some(outcomes) = senders.join_next().await {
        for (id, outcome) in outcomes.unwrap() {
            match outcome {
                Ok(DeliveryOutcome::Delivered { .. }) => assert!(ok.insert(id)),
                Err(StoreError::NotOwned(_)) => refused += 1,
                other => panic!("delivery {id}: {other:?}"),
            }
        }
    }
    assert!(ok.len() >= 20 && refused > 0, "{} stored, {refused} refused", ok.len());
    assert_eq!(closing.borrow_and_update().as_deref(), Some("lease lost"));
    assert!(store.open_account_names().is_empty());
    store.wait_idle().await;
    drop((account, store));

    let check = unfenced(dir.path());
    let account = check.account(&alice()).await.unwrap();
    let found: BTreeSet<u128> = inbox(&account)
        .await
        .into_iter()
        .map(|(_, text, _)| {
            let id = text.lines().next().and_then(|l| l.strip_prefix("Subject: ")).unwrap();
            id.parse().unwrap()
        })
        .collect();
    assert_eq!(found, ok, "stored exactly the acknowledged deliveries");
    assert_eq!(account.usage().messages, ok.len() as u64, "none twice");
    account.deliver(delivery(10_000)).await.unwrap();
}

#[tokio::test]
async fn a_member_that_does_not_own_an_account_neither_opens_nor_creates_it() {
    let dir = TempDir::new().unwrap();
    let owners = Arc::new(Owners::default());
    let a = member(dir.path(), "a", &owners);
    assert!(not_owned(a.account(&alice()).await));
    assert!(!dir.path().join("example.com").exists(), "not even the domain's directory");
    assert!(a.open_account_names().is_empty());

    // May open but not write: opening writes (recovery, creation), so no.
    let store = unfenced(dir.path()).with_fence(Arc::new(Countdown(AtomicUsize::new(0))));
    assert!(not_owned(store.account(&alice()).await));
    assert!(!store.account_dir(&alice()).exists());

    // An account that exists, owned by another member, is not opened.
    owners.give(&alice(), "b");
    let b = member(dir.path(), "b", &owners);
    b.account(&alice()).await.unwrap().deliver(delivery(1)).await.unwrap();
    b.wait_idle().await;
    let before = files(dir.path());
    assert!(not_owned(a.account(&alice()).await));
    assert!(before == files(dir.path()));
}

#[tokio::test]
async fn no_snapshot_is_written_once_the_fence_refuses_writes() {
    let limits = StoreLimits { journal_min_bytes: 1, ..StoreLimits::default() };
    let config = StoreConfig { durability: Durability::Buffered };
    // Unfenced, the first commit's journal is over the threshold and the
    // committer writes a snapshot right after it.
    let dir = TempDir::new().unwrap();
    let store = Store::open_with_limits(dir.path(), config.clone(), limits.clone()).unwrap();
    store.account(&alice()).await.unwrap().wait_idle().await;
    assert!(store.account_dir(&alice()).join(layout::SNAPSHOT).exists());

    // Fenced: writes allowed for the open and its first commit (creating
    // INBOX), refused from the maintenance step after it.
    let dir = TempDir::new().unwrap();
    let store = Store::open_with_limits(dir.path(), config, limits)
        .unwrap()
        .with_fence(Arc::new(Countdown(AtomicUsize::new(2))));
    // The refusal may come before the open is handed out, and then the
    // open is refused too (the instance is fenced off by then).
    let opened = store.account(&alice()).await;
    store.wait_idle().await;
    let account_dir = store.account_dir(&alice());
    assert!(account_dir.join("journal.0").exists());
    assert!(!account_dir.join(layout::SNAPSHOT).exists(), "maintenance ran for an account it may not write");
    match opened {
        Ok(account) => assert!(not_owned(account.deliver(delivery(1)).await)),
        Err(e) => assert!(matches!(e, StoreError::NotOwned(_)), "{e}"),
    }
}

#[tokio::test]
async fn idle_accounts_are_those_only_the_cache_holds_and_nobody_used_for_a_while() {
    let dir = TempDir::new().unwrap();
    let store = unfenced(dir.path());
    let idle_for = Duration::from_secs(2);
    let held = store.account(&alice()).await.unwrap();
    held.wait_idle().await;
    assert!(store.idle_accounts(Duration::ZERO).is_empty(), "held by a session");
    assert_eq!(store.open_account_names(), vec![alice()]);
    drop(held);
    assert_eq!(store.idle_accounts(Duration::ZERO), vec![alice()]);
    assert!(store.idle_accounts(idle_for).is_empty(), "just handed out");
    wait_until("alice is idle", || store.idle_accounts(idle_for) == vec![alice()]).await;

    // Held past the idle time, then a commit: idle again only once the
    // idle time has passed since the commit.
    let held = store.account(&alice()).await.unwrap();
    tokio::time::sleep(idle_for + Duration::from_millis(500)).await;
    assert!(store.idle_accounts(idle_for).is_empty(), "still held");
    held.deliver(delivery(1)).await.unwrap();
    drop(held);
    assert!(store.idle_accounts(idle_for).is_empty(), "the commit counts as use");
    wait_until("alice is idle after the commit", || store.idle_accounts(idle_for) == vec![alice()]).await;

    // A POP3 session's lock keeps it busy, even with no handle left.
    let held = store.account(&alice()).await.unwrap();
    let guard = held.try_lock_exclusive().unwrap();
    drop(held);
    assert!(store.idle_accounts(Duration::ZERO).is_empty());
    drop(guard);
    assert_eq!(store.idle_accounts(Duration::ZERO), vec![alice()]);

    store.release(&alice(), "idle").await;
    assert!(store.open_account_names().is_empty());
    assert!(store.idle_accounts(Duration::ZERO).is_empty());
}

#[tokio::test]
async fn release_waits_for_writes_in_flight_and_closes_sessions() {
    let dir = TempDir::new().unwrap();
    let store = unfenced(dir.path());
    let account = store.account(&alice()).await.unwrap();
    let mut closing = account.closing();
    let mut writes = tokio::task::JoinSet::new();
    for id in 0..50 {
        let account = account.clone();
        writes.spawn(async move { (id, account.deliver(delivery(id)).await) });
    }
    tokio::task::yield_now().await;
    store.release(&alice(), "handed over").await;
    closing.changed().await.unwrap();
    assert_eq!(closing.borrow().as_deref(), Some("handed over"));
    // Every write accepted before the release is durable by now.
    let seen = inbox(&account).await.len();
    let mut ok = 0;
    while let Some(joined) = writes.join_next().await {
        match joined.unwrap() {
            (_, Ok(_)) => ok += 1,
            (_, Err(StoreError::NotOwned(_))) => {}
            (id, Err(e)) => panic!("delivery {id}: {e}"),
        }
    }
    assert_eq!(seen, ok);
    assert!(not_owned(account.deliver(delivery(99)).await));

    let fresh = store.account(&alice()).await.unwrap();
    assert!(!Arc::ptr_eq(&account, &fresh), "opened afresh from the files");
    assert_eq!(inbox(&fresh).await.len(), ok);
    fresh.deliver(delivery(99)).await.unwrap();
    // Releasing what is not open does nothing.
    store.release(&"bob@example.com".parse().unwrap(), "x").await;
}

#[tokio::test]
async fn an_account_closed_for_the_cache_bound_is_still_named_idle_until_released() {
    let dir = TempDir::new().unwrap();
    let limits = StoreLimits { open_accounts: 1, ..StoreLimits::default() };
    let config = StoreConfig { durability: Durability::Buffered };
    let fence = Arc::new(Switch(AtomicBool::new(true)));
    let store = Store::open_with_limits(dir.path(), config.clone(), limits.clone()).unwrap().with_fence(fence);
    let bob: AccountName = "bob@example.com".parse().unwrap();
    store.account(&alice()).await.unwrap().wait_idle().await;
    let held = store.account(&bob).await.unwrap();
    held.wait_idle().await;
    assert_eq!(store.open_account_names(), vec![bob.clone()], "alice was closed for the bound");
    // Still owned here: named once idle long enough, like an open one.
    assert!(store.idle_accounts(Duration::from_secs(3600)).is_empty());
    assert_eq!(store.idle_accounts(Duration::ZERO), vec![alice()]);
    store.release(&alice(), "idle").await;
    assert!(store.idle_accounts(Duration::ZERO).is_empty());
    // Opened again, it is an open account and no longer a closed one.
    drop(held);
    store.account(&alice()).await.unwrap().wait_idle().await;
    let mut idle = store.idle_accounts(Duration::ZERO);
    idle.sort_by_key(|name| name.to_string());
    assert_eq!(idle, vec![alice(), bob.clone()], "bob closed for the bound, alice open and unused");

    // Without a fence nothing is owned, and nothing closed is remembered.
    let dir = TempDir::new().unwrap();
    let store = Store::open_with_limits(dir.path(), config, limits).unwrap();
    store.account(&alice()).await.unwrap().wait_idle().await;
    let _held = store.account(&bob).await.unwrap();
    assert!(store.idle_accounts(Duration::ZERO).is_empty());
}

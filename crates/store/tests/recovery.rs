//! Reopening: the state after a reopen equals the state before, with and
//! without snapshots, across compaction, and after torn or damaged tails.

use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{
    Account, Delivery, DeliveryId, DeliveryOutcome, Durability, Flag, FlagOp, MailboxInfo, MessageMeta, Store,
    StoreConfig, StoreError, StoreLimits, Usage,
};
use tempfile::TempDir;
use types::{AccountName, ModSeq, Uid};

fn alice() -> AccountName {
    "alice@example.com".parse().unwrap()
}

fn open(root: &Path, limits: &StoreLimits) -> Store {
    Store::open_with_limits(root, StoreConfig { durability: Durability::Buffered }, limits.clone()).unwrap()
}

fn body(id: u128, len: usize) -> Bytes {
    let mut out = format!("Message-Id: <{id}@test>\r\n\r\n").into_bytes();
    out.extend((0..len).map(|i| b'a' + ((i as u128 + id) % 26) as u8));
    Bytes::from(out)
}

fn delivery(id: u128, mailbox: &str, len: usize) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: mailbox.to_owned(),
        body: body(id, len),
        flags: Vec::new(),
        internal_date: 1_700_000_000 + id as i64,
        quota_bytes: None,
    }
}

/// Everything observable about an account.
#[derive(Debug, PartialEq)]
struct State {
    mailboxes: Vec<MailboxInfo>,
    messages: Vec<Vec<MessageMeta>>,
    bodies: Vec<Bytes>,
    usage: Usage,
    /// Every mailbox's expunge history (QRESYNC).
    expunged: Vec<Vec<(Uid, Uid)>>,
}

async fn state(account: &Account) -> State {
    let mailboxes = account.mailboxes();
    let mut messages = Vec::new();
    let mut bodies = Vec::new();
    let mut expunged = Vec::new();
    for mb in &mailboxes {
        expunged.push(account.expunged_since(mb.id, ModSeq(0)).unwrap());
        let snap = account.snapshot(&mb.name).unwrap();
        for m in &snap.messages {
            bodies.push(account.read(mb.id, m.uid).await.unwrap());
        }
        messages.push(snap.messages);
    }
    State { mailboxes, messages, bodies, usage: account.usage(), expunged }
}

/// A bit of every kind of write.
async fn workload(account: &Account, base: u128) {
    for i in 0..6 {
        account.deliver(delivery(base + i, "INBOX", 300 + i as usize * 50)).await.unwrap();
    }
    let inbox = account.status("INBOX").unwrap().id;
    let work = account.create_mailbox(&format!("Work{base}/Projects")).await.unwrap();
    account.set_subscribed(&format!("Work{base}"), true).await.unwrap();
    let first = account.snapshot("INBOX").unwrap().messages[0].uid;
    let uids: Vec<Uid> = account.snapshot("INBOX").unwrap().messages.iter().map(|m| m.uid).collect();
    account.set_flags(inbox, &uids[..3], FlagOp::Add, &[Flag::Seen, Flag::Keyword("$x".into())], None).await.unwrap();
    account.copy(inbox, &uids[1..4], work).await.unwrap();
    account.move_messages(inbox, &uids[4..5], work).await.unwrap();
    account.expunge(inbox, &[first]).await.unwrap();
    account.rename_mailbox(&format!("Work{base}"), &format!("Old{base}")).await.unwrap();
    account.create_mailbox(&format!("Tmp{base}")).await.unwrap();
    account.deliver(delivery(base + 100, &format!("Tmp{base}"), 10)).await.unwrap();
    account.delete_mailbox(&format!("Tmp{base}")).await.unwrap();
    account.append("INBOX", body(base + 200, 64), vec![Flag::Draft], 17, None).await.unwrap();
}

async fn reopen_state(root: &Path, limits: &StoreLimits) -> State {
    let store = open(root, limits);
    state(&store.account(&alice()).await.unwrap()).await
}

#[tokio::test]
async fn reopen_without_snapshot() {
    let dir = TempDir::new().unwrap();
    let limits = StoreLimits::default();
    let before = {
        let store = open(dir.path(), &limits);
        let account = store.account(&alice()).await.unwrap();
        workload(&account, 1000).await;
        store.wait_idle().await;
        state(&account).await
    };
    assert!(!account_dir(dir.path()).join("snapshot").exists());
    assert_eq!(reopen_state(dir.path(), &limits).await, before);
    // And it goes on from there: new UIDs above the old ones.
    let store = open(dir.path(), &limits);
    let account = store.account(&alice()).await.unwrap();
    workload(&account, 2000).await;
    store.wait_idle().await;
    let after = state(&account).await;
    drop((account, store));
    assert_eq!(reopen_state(dir.path(), &limits).await, after);
}

fn account_dir(root: &Path) -> PathBuf {
    root.join("example.com").join("alice")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Where the journal's frames end (the file goes on with zeros written
/// ahead of use).
fn journal_end(dir: &Path) -> u64 {
    let bytes = std::fs::read(journal_path(dir)).unwrap();
    let mut pos = 16;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        pos += 8 + len;
    }
    pos as u64
}

fn journal_path(dir: &Path) -> PathBuf {
    let name = file_names(dir).into_iter().find(|n| n.starts_with("journal.")).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn reopen_across_snapshot_rotation() {
    let dir = TempDir::new().unwrap();
    // A snapshot after nearly every commit.
    let limits = StoreLimits { journal_min_bytes: 200, journal_snapshot_ratio: 0, ..StoreLimits::default() };
    let before = {
        let store = open(dir.path(), &limits);
        let account = store.account(&alice()).await.unwrap();
        workload(&account, 1000).await;
        workload(&account, 3000).await;
        store.wait_idle().await;
        state(&account).await
    };
    let names = file_names(&account_dir(dir.path()));
    assert!(names.contains(&"snapshot".to_owned()), "{names:?}");
    assert!(!names.contains(&"journal.0".to_owned()), "the journal moved on: {names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("journal.")).count(), 1, "{names:?}");
    assert_eq!(reopen_state(dir.path(), &limits).await, before);
    // Same files read with thresholds that never snapshot.
    assert_eq!(reopen_state(dir.path(), &StoreLimits::default()).await, before);

    // Leftovers of a snapshot interrupted before or after its rename.
    let account = account_dir(dir.path());
    let generation: u64 = journal_path(&account).extension().unwrap().to_str().unwrap().parse().unwrap();
    std::fs::write(account.join("snapshot.tmp"), b"half a snapshot").unwrap();
    std::fs::write(account.join(format!("journal.{}", generation + 1)), b"RKJ1").unwrap();
    std::fs::write(account.join(format!("journal.{}", generation - 1)), b"old").unwrap();
    assert_eq!(reopen_state(dir.path(), &StoreLimits::default()).await, before);
    let names = file_names(&account);
    assert!(!names.contains(&"snapshot.tmp".to_owned()));
    assert_eq!(names.iter().filter(|n| n.starts_with("journal.")).count(), 1, "{names:?}");
}

#[tokio::test]
async fn damaged_snapshot_is_reported() {
    let dir = TempDir::new().unwrap();
    let limits = StoreLimits { journal_min_bytes: 0, journal_snapshot_ratio: 0, ..StoreLimits::default() };
    {
        let store = open(dir.path(), &limits);
        workload(&store.account(&alice()).await.unwrap(), 1).await;
        store.wait_idle().await;
    }
    let path = account_dir(dir.path()).join("snapshot");
    let good = std::fs::read(&path).unwrap();
    for at in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        let store = open(dir.path(), &limits);
        let result = store.account(&alice()).await.map(|_| ());
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "flipped byte {at}: {result:?}");
    }
}

fn segment_files(dir: &Path) -> Vec<String> {
    file_names(dir).into_iter().filter(|n| n.starts_with("seg-")).collect()
}

#[tokio::test]
async fn compaction_reclaims_space_and_keeps_messages() {
    let dir = TempDir::new().unwrap();
    let limits = StoreLimits { segment_bytes: 4096, compaction_step_bytes: 2048, ..StoreLimits::default() };
    let store = open(dir.path(), &limits);
    let account = store.account(&alice()).await.unwrap();
    for id in 0..60 {
        account.deliver(delivery(id, "INBOX", 900)).await.unwrap();
    }
    let inbox = account.status("INBOX").unwrap().id;
    let archive = account.create_mailbox("Archive").await.unwrap();
    let uids: Vec<Uid> = account.snapshot("INBOX").unwrap().messages.iter().map(|m| m.uid).collect();
    account.copy(inbox, &uids[..10], archive).await.unwrap();
    let doomed: Vec<Uid> = uids.iter().copied().filter(|u| u.0 % 4 != 0).collect();
    let files_before = segment_files(&account_dir(dir.path()));
    account.expunge(inbox, &doomed).await.unwrap();
    // Compaction runs after commits, until nothing is left to do.
    store.wait_idle().await;
    let files_after = segment_files(&account_dir(dir.path()));
    assert!(files_after.len() * 2 <= files_before.len(), "{files_before:?} -> {files_after:?}");
    let before = state(&account).await;
    assert_eq!(before.usage.messages, 25);
    drop((account, store));
    assert_eq!(reopen_state(dir.path(), &limits).await, before);
    let store = open(dir.path(), &limits);
    let account = store.account(&alice()).await.unwrap();
    account.deliver(delivery(999, "INBOX", 900)).await.unwrap();
    assert_eq!(state(&account).await.usage.messages, 26);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn set_len(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

fn last_segment(dir: &Path) -> PathBuf {
    dir.join(segment_files(dir).pop().unwrap())
}

/// An account with some history, its state, and the journal and segment
/// lengths before and after one more acknowledged delivery.
struct TornSetup {
    _dir: TempDir,
    account_dir: PathBuf,
    state_before: State,
    journal_before: u64,
    journal_after: u64,
    segment_before: u64,
    segment_after: u64,
}

async fn torn_setup() -> TornSetup {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), &StoreLimits::default());
    let account = store.account(&alice()).await.unwrap();
    workload(&account, 10).await;
    let account_dir = account_dir(dir.path());
    let state_before = state(&account).await;
    let journal_before = journal_end(&account_dir);
    let segment_before = std::fs::metadata(last_segment(&account_dir)).unwrap().len();
    account.deliver(delivery(77, "INBOX", 333)).await.unwrap();
    let journal_after = journal_end(&account_dir);
    let segment_after = std::fs::metadata(last_segment(&account_dir)).unwrap().len();
    store.wait_idle().await;
    TornSetup { _dir: dir, account_dir, state_before, journal_before, journal_after, segment_before, segment_after }
}

/// Opens a copy of the account after `damage`, expects `expected`, and
/// checks that it takes new mail afterwards.
async fn check_damaged(setup: &TornSetup, expected: &State, damage: impl FnOnce(&Path)) {
    let root = TempDir::new().unwrap();
    let copy = account_dir(root.path());
    copy_dir(&setup.account_dir, &copy);
    damage(&copy);
    let store = open(root.path(), &StoreLimits::default());
    let account = store.account(&alice()).await.unwrap();
    assert_eq!(&state(&account).await, expected);
    let outcome = account.deliver(delivery(78, "INBOX", 500)).await.unwrap();
    let DeliveryOutcome::Delivered { uid } = outcome else { panic!("{outcome:?}") };
    let inbox = account.status("INBOX").unwrap().id;
    assert_eq!(account.read(inbox, uid).await.unwrap(), body(78, 500));
    store.wait_idle().await;
    let after = state(&account).await;
    drop((account, store));
    assert_eq!(reopen_state(root.path(), &StoreLimits::default()).await, after);
}

#[tokio::test]
async fn torn_journal_tail_is_cut_at_every_offset() {
    let setup = torn_setup().await;
    assert!(setup.journal_after > setup.journal_before);
    for len in setup.journal_before..setup.journal_after {
        check_damaged(&setup, &setup.state_before, |dir| set_len(&journal_path(dir), len)).await;
    }
}

#[tokio::test]
async fn corrupt_journal_tail_is_cut_at_every_offset() {
    let setup = torn_setup().await;
    for at in setup.journal_before..setup.journal_after {
        check_damaged(&setup, &setup.state_before, |dir| {
            let path = journal_path(dir);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[at as usize] ^= 0x41;
            std::fs::write(&path, bytes).unwrap();
        })
        .await;
    }
}

#[tokio::test]
async fn zeroed_or_garbage_journal_tail_is_cut() {
    let setup = torn_setup().await;
    let garbage: [&[u8]; 5] =
        [&[0; 4096], &[0xff; 9], &[1, 0, 0, 0], &[200, 0, 0, 0, 1, 2, 3, 4, 5], b"hello world, hello"];
    for tail in garbage {
        check_damaged(&setup, &setup.state_before, |dir| {
            let path = journal_path(dir);
            set_len(&path, setup.journal_before);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend_from_slice(tail);
            std::fs::write(&path, bytes).unwrap();
        })
        .await;
    }
}

#[tokio::test]
async fn torn_segment_tail_without_record_is_ignored() {
    let setup = torn_setup().await;
    assert!(setup.segment_after > setup.segment_before);
    // The crash came after (part of) the bytes were written, before the
    // record: every length of the unacknowledged blob.
    for len in (setup.segment_before..=setup.segment_after).step_by(7) {
        check_damaged(&setup, &setup.state_before, |dir| {
            set_len(&journal_path(dir), setup.journal_before);
            set_len(&last_segment(dir), len);
        })
        .await;
    }
}

#[tokio::test]
async fn damaged_message_bytes_are_reported_not_served() {
    let setup = torn_setup().await;
    let root = TempDir::new().unwrap();
    let copy = account_dir(root.path());
    copy_dir(&setup.account_dir, &copy);
    let segment = last_segment(&copy);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[setup.segment_after as usize - 1] ^= 1;
    std::fs::write(&segment, bytes).unwrap();
    let store = open(root.path(), &StoreLimits::default());
    let account = store.account(&alice()).await.unwrap();
    let inbox = account.snapshot("INBOX").unwrap();
    let last = inbox.messages.last().unwrap().uid;
    assert!(matches!(account.read(inbox.info.id, last).await, Err(StoreError::Corrupt(_))));
    // Cut short: still no panic, still an error.
    set_len(&segment, setup.segment_after - 10);
    drop((account, store));
    let store = open(root.path(), &StoreLimits::default());
    let account: Arc<Account> = store.account(&alice()).await.unwrap();
    assert!(matches!(account.read(inbox.info.id, last).await, Err(StoreError::Corrupt(_))));
}

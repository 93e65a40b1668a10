//! Operations through the public API, one behaviour per test.

use super::*;
use tempfile::TempDir;

fn account_name(s: &str) -> AccountName {
    s.parse().unwrap()
}

fn store_in(dir: &Path, limits: StoreLimits) -> Store {
    Store::open_with_limits(dir, StoreConfig { durability: Durability::Buffered }, limits).unwrap()
}

async fn fresh() -> (TempDir, Store, Arc<Account>) {
    let dir = TempDir::new().unwrap();
    let store = store_in(dir.path(), StoreLimits::default());
    let account = store.account(&account_name("alice@example.com")).await.unwrap();
    (dir, store, account)
}

fn delivery(id: u128, mailbox: &str, body: &str) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: mailbox.to_owned(),
        body: Bytes::from(body.to_owned()),
        flags: Vec::new(),
        internal_date: 1_700_000_000,
        quota_bytes: None,
    }
}

async fn deliver(account: &Account, id: u128, body: &str) -> Uid {
    match account.deliver(delivery(id, "INBOX", body)).await.unwrap() {
        DeliveryOutcome::Delivered { uid } => uid,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn inbox(account: &Account) -> MailboxInfo {
    account.status("INBOX").unwrap()
}

fn uids(list: &[u32]) -> Vec<Uid> {
    list.iter().map(|u| Uid(*u)).collect()
}

#[tokio::test]
async fn new_account_has_subscribed_inbox() {
    let (_dir, _store, account) = fresh().await;
    let boxes = account.mailboxes();
    assert_eq!(boxes.len(), 1);
    assert_eq!(boxes[0].name, "INBOX");
    assert!(boxes[0].subscribed);
    assert_eq!(boxes[0].uid_next, Uid(1));
    assert_eq!(account.usage(), Usage::default());
}

#[tokio::test]
async fn new_account_gets_initial_mailboxes_once() {
    let dir = TempDir::new().unwrap();
    let name = account_name("alice@example.com");
    let store = store_in(dir.path(), StoreLimits::default()).with_initial_mailboxes(&["Sent", "Trash", "Lists/Rust"]);
    let account = store.account(&name).await.unwrap();
    let names: Vec<(String, bool)> = account.mailboxes().into_iter().map(|m| (m.name, m.subscribed)).collect();
    let expected = [("INBOX", true), ("Lists", false), ("Lists/Rust", true), ("Sent", true), ("Trash", true)];
    assert_eq!(names, expected.map(|(n, s)| (n.to_owned(), s)));
    account.delete_mailbox("Trash").await.unwrap();
    drop(account);
    store.wait_idle().await;
    drop(store);
    // Reopened: an existing account does not get them back.
    let store = store_in(dir.path(), StoreLimits::default()).with_initial_mailboxes(&["Sent", "Trash"]);
    let account = store.account(&name).await.unwrap();
    assert!(account.status("Trash").is_err());
    assert!(account.status("Sent").is_ok());
}

#[tokio::test]
async fn deliver_assigns_ascending_uids_and_reads_back() {
    let (_dir, _store, account) = fresh().await;
    assert_eq!(deliver(&account, 1, "first").await, Uid(1));
    assert_eq!(deliver(&account, 2, "second!").await, Uid(2));
    let info = inbox(&account);
    assert_eq!((info.messages, info.unseen, info.size, info.uid_next), (2, 2, 12, Uid(3)));
    assert_eq!(account.read(info.id, Uid(2)).await.unwrap(), "second!");
    assert!(matches!(account.read(info.id, Uid(9)).await, Err(StoreError::NoSuchMessage(Uid(9)))));
    assert!(matches!(account.read(MailboxId(99), Uid(1)).await, Err(StoreError::NoSuchMailbox(_))));
    assert_eq!(account.usage(), Usage { bytes: 12, messages: 2 });
    let snap = account.snapshot("inbox").unwrap();
    assert_eq!(snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[1, 2]));
    assert!(snap.messages[0].modseq < snap.messages[1].modseq);
    assert_eq!(snap.info.highest_modseq, snap.messages[1].modseq);
}

#[tokio::test]
async fn read_many_reads_whole_messages_or_headers_in_order() {
    let (_dir, _store, account) = fresh().await;
    // A header several times the read-ahead, so that it takes several
    // reads, and a body larger still.
    let mut big = String::from("Subject: big\r\n");
    while big.len() < 3 * blobs::HEADER_READ_AHEAD {
        big.push_str("Received: from a.example by b.example; Mon, 7 Feb 1994 21:52:25 -0800\r\n");
    }
    let big_header_len = big.len() + 2;
    big.push_str("\r\n");
    big.push_str(&"body line\r\n".repeat(2 * blobs::HEADER_READ_AHEAD));
    let messages = [
        "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n\r\nmore\r\n",
        "From: a@example.com\r\nSubject: no empty line\r\n",
        "From: a@example.com\r\nSubject: empty body\r\n\r\n",
        "",
        &big,
    ];
    for (id, message) in messages.iter().enumerate() {
        deliver(&account, id as u128, message).await;
    }
    let mailbox = inbox(&account).id;
    let wanted = uids(&[5, 1, 9, 2, 3, 4]);
    let whole = account.read_many(mailbox, &wanted, Extent::Whole).await.unwrap();
    let expected: Vec<Option<&str>> =
        vec![Some(&big), Some(messages[0]), None, Some(messages[1]), Some(messages[2]), Some("")];
    assert_eq!(
        whole.iter().map(|b| b.as_deref()).collect::<Vec<_>>(),
        expected.iter().map(|m| m.map(str::as_bytes)).collect::<Vec<_>>()
    );
    let headers = account.read_many(mailbox, &wanted, Extent::Header).await.unwrap();
    let expected: Vec<Option<&str>> = vec![
        Some(&big[..big_header_len]),
        Some("From: a@example.com\r\nSubject: hi\r\n\r\n"),
        None,
        Some(messages[1]),
        Some(messages[2]),
        Some(""),
    ];
    assert_eq!(
        headers.iter().map(|b| b.as_deref()).collect::<Vec<_>>(),
        expected.iter().map(|m| m.map(str::as_bytes)).collect::<Vec<_>>()
    );
    // Each header is exactly what `header_length` finds in the whole.
    for (whole, header) in whole.iter().zip(&headers) {
        assert_eq!(whole.as_ref().map(|w| &w[..header_length(w)]), header.as_deref());
    }
    assert!(account.read_many(mailbox, &[], Extent::Header).await.unwrap().is_empty());
    assert!(matches!(
        account.read_many(MailboxId(99), &wanted, Extent::Header).await,
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[tokio::test]
async fn duplicate_delivery_id_stores_nothing() {
    let (_dir, _store, account) = fresh().await;
    let uid = deliver(&account, 7, "once").await;
    let before = (inbox(&account), account.usage());
    let again = account.deliver(delivery(7, "INBOX", "twice")).await.unwrap();
    assert_eq!(again, DeliveryOutcome::Duplicate { uid });
    assert_eq!((inbox(&account), account.usage()), before);
    // Still remembered after the message is gone.
    account.expunge(before.0.id, &[uid]).await.unwrap();
    assert_eq!(account.deliver(delivery(7, "INBOX", "x")).await.unwrap(), DeliveryOutcome::Duplicate { uid });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_store_one_message() {
    let (_dir, _store, account) = fresh().await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let account = account.clone();
            tokio::spawn(async move { account.deliver(delivery(42, "INBOX", "same")).await.unwrap() })
        })
        .collect();
    let mut delivered = 0;
    for task in tasks {
        match task.await.unwrap() {
            DeliveryOutcome::Delivered { uid } | DeliveryOutcome::Duplicate { uid } => assert_eq!(uid, Uid(1)),
        }
        delivered += 1;
    }
    assert_eq!(delivered, 16);
    assert_eq!(inbox(&account).messages, 1);
}

#[tokio::test]
async fn deliver_creates_missing_mailbox() {
    let (_dir, _store, account) = fresh().await;
    let mut d = delivery(1, "Lists/rust", "hello");
    d.flags = vec![Flag::Seen, Flag::Keyword("$label1".into())];
    account.deliver(d).await.unwrap();
    let snap = account.snapshot("Lists/rust").unwrap();
    assert_eq!(snap.info.messages, 1);
    assert_eq!(snap.info.unseen, 0);
    assert_eq!(snap.messages[0].flags, vec![Flag::Seen, Flag::Keyword("$label1".into())]);
    assert!(matches!(account.deliver(delivery(2, "", "x")).await, Err(StoreError::BadMailboxName(_))));
}

#[tokio::test]
async fn append_needs_an_existing_mailbox() {
    let (_dir, _store, account) = fresh().await;
    let err = account.append("Drafts", Bytes::from_static(b"x"), vec![], 5, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchMailbox(name) if name == "Drafts"));
    let id = account.create_mailbox("Drafts").await.unwrap();
    let (validity, uid) =
        account.append("Drafts", Bytes::from_static(b"draft"), vec![Flag::Draft], 5, None).await.unwrap();
    let info = account.status("Drafts").unwrap();
    assert_eq!((info.id, info.uid_validity, uid), (id, validity, Uid(1)));
    let snap = account.snapshot("Drafts").unwrap();
    assert_eq!(snap.messages[0].internal_date, 5);
    assert_eq!(snap.messages[0].flags, vec![Flag::Draft]);
    assert_eq!(account.read(id, uid).await.unwrap(), "draft");
}

#[tokio::test]
async fn quota_is_enforced() {
    let (_dir, _store, account) = fresh().await;
    let mut d = delivery(1, "INBOX", "0123456789");
    d.quota_bytes = Some(15);
    account.deliver(d.clone()).await.unwrap();
    d.id = DeliveryId(2);
    let err = account.deliver(d).await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { usage: 10, limit: 15 }));
    let err = account.append("INBOX", Bytes::from_static(b"123456"), vec![], 0, Some(15)).await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { usage: 10, limit: 15 }));
    account.append("INBOX", Bytes::from_static(b"12345"), vec![], 0, Some(15)).await.unwrap();
    assert_eq!(account.usage(), Usage { bytes: 15, messages: 2 });
}

#[tokio::test]
async fn flags_follow_store_semantics_and_modseq() {
    let (_dir, _store, account) = fresh().await;
    for id in 1..=3 {
        deliver(&account, id, "m").await;
    }
    let mailbox = inbox(&account).id;
    let base = inbox(&account).highest_modseq;
    let (metas, failed) =
        account.set_flags(mailbox, &uids(&[1, 2, 99]), FlagOp::Add, &[Flag::Seen, Flag::Flagged], None).await.unwrap();
    assert!(failed.is_empty());
    assert_eq!(metas.len(), 2, "missing uids are ignored");
    assert_eq!(metas[0].flags, vec![Flag::Seen, Flag::Flagged]);
    let after_add = inbox(&account);
    assert_eq!(after_add.highest_modseq, ModSeq(base.0 + 1));
    assert_eq!(after_add.unseen, 1);
    assert!(metas.iter().all(|m| m.modseq == after_add.highest_modseq));

    // Adding flags already there changes nothing, not even the modseq.
    let (metas, _) = account.set_flags(mailbox, &uids(&[1]), FlagOp::Add, &[Flag::Seen], None).await.unwrap();
    assert_eq!(metas[0].modseq, after_add.highest_modseq);
    assert_eq!(inbox(&account).highest_modseq, after_add.highest_modseq);

    account.set_flags(mailbox, &uids(&[1]), FlagOp::Remove, &[Flag::Flagged], None).await.unwrap();
    let (metas, _) = account
        .set_flags(
            mailbox,
            &uids(&[2]),
            FlagOp::Replace,
            &[Flag::Keyword("Work".into()), Flag::Keyword("work".into())],
            None,
        )
        .await
        .unwrap();
    assert_eq!(metas[0].flags, vec![Flag::Keyword("Work".into())], "keywords are case-insensitive");
    let snap = account.snapshot("INBOX").unwrap();
    assert_eq!(snap.messages[0].flags, vec![Flag::Seen]);
    assert_eq!(snap.info.unseen, 2);

    // CONDSTORE: message 2 changed after `base + 1`, message 3 did not.
    let since = ModSeq(base.0 + 1);
    let (metas, failed) =
        account.set_flags(mailbox, &uids(&[2, 3]), FlagOp::Add, &[Flag::Answered], Some(since)).await.unwrap();
    assert_eq!(failed, uids(&[2]));
    assert_eq!(metas.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[3]));
    assert!(matches!(
        account.set_flags(MailboxId(77), &uids(&[1]), FlagOp::Add, &[Flag::Seen], None).await,
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[tokio::test]
async fn expunge_removes_and_bumps_modseq() {
    let (_dir, _store, account) = fresh().await;
    for id in 1..=4 {
        deliver(&account, id, "abc").await;
    }
    let before = inbox(&account);
    let removed = account.expunge(before.id, &uids(&[3, 1, 1, 9])).await.unwrap();
    assert_eq!(removed, uids(&[1, 3]));
    let after = inbox(&account);
    assert_eq!((after.messages, after.unseen, after.size), (2, 2, 6));
    assert!(after.highest_modseq > before.highest_modseq);
    assert_eq!(after.uid_next, before.uid_next, "UIDs are never reused");
    assert_eq!(account.usage(), Usage { bytes: 6, messages: 2 });
    assert!(account.expunge(before.id, &uids(&[1])).await.unwrap().is_empty());
    assert_eq!(inbox(&account).highest_modseq, after.highest_modseq);
}

#[tokio::test]
async fn expunges_are_remembered_by_modseq() {
    let (_dir, _store, account) = fresh().await;
    for id in 1..=6 {
        deliver(&account, id, "abc").await;
    }
    let id = inbox(&account).id;
    account.expunge(id, &uids(&[2, 3])).await.unwrap();
    let between = inbox(&account).highest_modseq;
    account.expunge(id, &uids(&[5])).await.unwrap();
    assert_eq!(account.expunged_since(id, ModSeq(0)).unwrap(), vec![(Uid(2), Uid(3)), (Uid(5), Uid(5))]);
    assert_eq!(account.expunged_since(id, between).unwrap(), vec![(Uid(5), Uid(5))]);
    assert!(account.expunged_since(id, inbox(&account).highest_modseq).unwrap().is_empty());
}

#[tokio::test]
async fn forgotten_expunge_history_answers_with_every_missing_uid() {
    let (_dir, _store, account) = fresh().await;
    for id in 1..=5 {
        deliver(&account, id, "abc").await;
    }
    let id = inbox(&account).id;
    account.expunge(id, &uids(&[1, 4])).await.unwrap();
    let modseq = inbox(&account).highest_modseq.0;
    // As after loading a snapshot written before histories were kept.
    account.inner.meta.write().mailboxes.get_mut(&id.0).unwrap().expunged =
        crate::expunged::Expunged::forgotten_until(modseq);
    assert_eq!(account.expunged_since(id, ModSeq(modseq)).unwrap(), vec![]);
    assert_eq!(account.expunged_since(id, ModSeq(1)).unwrap(), vec![(Uid(1), Uid(1)), (Uid(4), Uid(4))]);
}

fn segment_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[tokio::test]
async fn copy_shares_the_stored_bytes() {
    let (_dir, store, account) = fresh().await;
    let account_dir = store.account_dir(account.name());
    deliver(&account, 1, "shared body").await;
    deliver(&account, 2, "other").await;
    let archive = account.create_mailbox("Archive").await.unwrap();
    let inbox_id = inbox(&account).id;
    let stored = segment_bytes(&account_dir);
    let pairs = account.copy(inbox_id, &uids(&[2, 1, 5]), archive).await.unwrap();
    assert_eq!(pairs, vec![(Uid(1), Uid(1)), (Uid(2), Uid(2))]);
    assert_eq!(segment_bytes(&account_dir), stored, "no bytes written for a copy");
    assert_eq!(account.usage(), Usage { bytes: 32, messages: 4 });
    {
        let meta = account.inner.meta.read();
        assert_eq!(meta.blobs.len(), 2);
        assert!(meta.blobs.values().all(|b| b.refs == 2));
    }
    account.expunge(inbox_id, &uids(&[1])).await.unwrap();
    assert_eq!(account.read(archive, Uid(1)).await.unwrap(), "shared body");
    assert_eq!(account.inner.meta.read().blobs.values().map(|b| b.refs).sum::<u32>(), 3);
    account.expunge(archive, &uids(&[1])).await.unwrap();
    assert_eq!(account.inner.meta.read().blobs.len(), 1, "the last reference frees the blob");
}

#[tokio::test]
async fn move_is_copy_and_expunge() {
    let (_dir, _store, account) = fresh().await;
    deliver(&account, 1, "a").await;
    deliver(&account, 2, "b").await;
    let spam = account.create_mailbox("Spam").await.unwrap();
    let inbox_id = inbox(&account).id;
    let modseq = inbox(&account).highest_modseq;
    let pairs = account.move_messages(inbox_id, &uids(&[2]), spam).await.unwrap();
    assert_eq!(pairs, vec![(Uid(2), Uid(1))]);
    assert_eq!(account.snapshot("INBOX").unwrap().messages.len(), 1);
    assert!(inbox(&account).highest_modseq > modseq);
    assert_eq!(account.read(spam, Uid(1)).await.unwrap(), "b");
    assert_eq!(account.usage().messages, 2);
    assert_eq!(account.inner.meta.read().blobs.values().map(|b| b.refs).collect::<Vec<_>>(), vec![1, 1]);
    assert!(matches!(
        account.move_messages(inbox_id, &uids(&[1]), MailboxId(50)).await,
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[tokio::test]
async fn create_validates_and_makes_superiors() {
    let (_dir, _store, account) = fresh().await;
    let id = account.create_mailbox("a/b/c").await.unwrap();
    let names: Vec<String> = account.mailboxes().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["INBOX", "a", "a/b", "a/b/c"]);
    assert_eq!(account.status("a/b/c").unwrap().id, id);
    assert!(matches!(account.create_mailbox("a/b").await, Err(StoreError::MailboxExists(_))));
    assert!(matches!(account.create_mailbox("inbox").await, Err(StoreError::MailboxExists(_))));
    for bad in ["", "a//b", "/a", "a/", "x\ty", &"n".repeat(256)] {
        assert!(matches!(account.create_mailbox(bad).await, Err(StoreError::BadMailboxName(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn rename_moves_inferiors_and_subscriptions() {
    let (_dir, _store, account) = fresh().await;
    let a = account.create_mailbox("a").await.unwrap();
    account.create_mailbox("a/b").await.unwrap();
    account.create_mailbox("ab").await.unwrap();
    account.set_subscribed("a/b", true).await.unwrap();
    account.deliver(delivery(1, "a", "kept")).await.unwrap();
    let validity = account.status("a").unwrap().uid_validity;
    account.rename_mailbox("a", "x/y").await.unwrap();
    let names: Vec<String> = account.mailboxes().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["INBOX", "ab", "x", "x/y", "x/y/b"]);
    let renamed = account.status("x/y").unwrap();
    assert_eq!((renamed.id, renamed.uid_validity, renamed.messages), (a, validity, 1));
    assert!(account.status("x/y/b").unwrap().subscribed);
    assert!(matches!(account.rename_mailbox("a", "q").await, Err(StoreError::NoSuchMailbox(_))));
    assert!(matches!(account.rename_mailbox("ab", "x").await, Err(StoreError::MailboxExists(_))));
    assert!(matches!(account.rename_mailbox("x", "x/z").await, Err(StoreError::BadMailboxName(_))));
}

#[tokio::test]
async fn rename_inbox_moves_its_messages() {
    let (_dir, _store, account) = fresh().await;
    deliver(&account, 1, "one").await;
    deliver(&account, 2, "two").await;
    account.create_mailbox("INBOX/sub").await.unwrap();
    account.rename_mailbox("Inbox", "Old").await.unwrap();
    assert_eq!(inbox(&account).messages, 0);
    assert!(account.status("INBOX/sub").is_ok(), "inferiors of INBOX stay");
    let old = account.snapshot("Old").unwrap();
    assert_eq!(old.messages.len(), 2);
    assert_eq!(account.read(old.info.id, Uid(2)).await.unwrap(), "two");
}

#[tokio::test]
async fn delete_keeps_inferiors_and_protects_inbox() {
    let (_dir, _store, account) = fresh().await;
    account.create_mailbox("p/q").await.unwrap();
    account.deliver(delivery(1, "p", "12345")).await.unwrap();
    assert!(matches!(account.delete_mailbox("inbox").await, Err(StoreError::MailboxProtected(_))));
    assert!(matches!(account.delete_mailbox("nope").await, Err(StoreError::NoSuchMailbox(_))));
    account.delete_mailbox("p").await.unwrap();
    let names: Vec<String> = account.mailboxes().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["INBOX", "p/q"]);
    assert_eq!(account.usage(), Usage::default());
    assert!(account.inner.meta.read().blobs.is_empty());
}

#[tokio::test]
async fn subscriptions() {
    let (_dir, _store, account) = fresh().await;
    account.create_mailbox("News").await.unwrap();
    assert!(!account.status("News").unwrap().subscribed);
    account.set_subscribed("News", true).await.unwrap();
    assert!(account.status("News").unwrap().subscribed);
    account.set_subscribed("News", false).await.unwrap();
    assert!(!account.status("News").unwrap().subscribed);
    assert!(matches!(account.set_subscribed("Gone", true).await, Err(StoreError::NoSuchMailbox(_))));
    account.set_subscribed("Gone", false).await.unwrap();
}

#[tokio::test]
async fn uid_validity_is_new_for_each_incarnation() {
    let (_dir, _store, account) = fresh().await;
    account.create_mailbox("T").await.unwrap();
    account.deliver(delivery(1, "T", "x")).await.unwrap();
    let first = account.status("T").unwrap();
    account.delete_mailbox("T").await.unwrap();
    account.create_mailbox("T").await.unwrap();
    let second = account.status("T").unwrap();
    assert_ne!(first.uid_validity, second.uid_validity);
    assert!(second.uid_validity.0 > first.uid_validity.0);
    assert_ne!(first.id, second.id);
    assert_eq!(second.uid_next, Uid(1));
}

#[tokio::test]
async fn exclusive_lock_is_single() {
    let (_dir, _store, account) = fresh().await;
    let guard = account.try_lock_exclusive().unwrap();
    assert!(account.try_lock_exclusive().is_none());
    drop(guard);
    assert!(account.try_lock_exclusive().is_some());
}

#[tokio::test]
async fn changes_are_announced() {
    let (_dir, _store, account) = fresh().await;
    let mut changes = account.changes();
    changes.mark_unchanged();
    deliver(&account, 1, "x").await;
    assert!(changes.has_changed().unwrap());
}

#[tokio::test]
async fn accounts_are_shared_and_evicted_when_unused() {
    let dir = TempDir::new().unwrap();
    let store = store_in(dir.path(), StoreLimits { open_accounts: 2, ..StoreLimits::default() });
    let a = store.account(&account_name("a@x.org")).await.unwrap();
    let a2 = store.account(&account_name("a@x.org")).await.unwrap();
    assert!(Arc::ptr_eq(&a, &a2));
    drop(a2);
    a.wait_idle().await;
    for name in ["b@x.org", "c@x.org", "d@x.org"] {
        // An account still busy with its first commit is not evicted;
        // wait, so that the bound is what this test sees.
        store.account(&account_name(name)).await.unwrap().wait_idle().await;
    }
    assert!(store.cache.len() <= 3, "unused accounts are closed");
    let a3 = store.account(&account_name("a@x.org")).await.unwrap();
    assert!(Arc::ptr_eq(&a, &a3), "an account in use is never evicted");
}

#[tokio::test]
async fn remove_account_deletes_its_directory() {
    let (_dir, store, account) = fresh().await;
    deliver(&account, 1, "bye").await;
    let path = store.account_dir(account.name());
    assert!(path.join("journal.0").exists());
    store.remove_account(account.name()).await.unwrap();
    assert!(!path.exists());
    assert!(account.deliver(delivery(2, "INBOX", "late")).await.is_err());
    let again = store.account(account.name()).await.unwrap();
    assert_eq!(again.usage(), Usage::default());
    store.remove_account(&account_name("never@example.com")).await.unwrap();
}

#[tokio::test]
async fn odd_account_names_stay_inside_the_root() {
    let dir = TempDir::new().unwrap();
    let store = store_in(dir.path(), StoreLimits::default());
    let name = account_name("a/b.c@example.com");
    let account = store.account(&name).await.unwrap();
    deliver(&account, 1, "x").await;
    assert_eq!(store.account_dir(&name), dir.path().join("example.com").join("a%2Fb.c"));
    assert!(store.account_dir(&name).is_dir());
}

#[tokio::test]
async fn empty_message_needs_no_bytes() {
    let dir = TempDir::new().unwrap();
    let name = account_name("e@example.com");
    {
        let store = store_in(dir.path(), StoreLimits::default());
        let account = store.account(&name).await.unwrap();
        let uid = deliver(&account, 1, "").await;
        assert_eq!(account.read(inbox(&account).id, uid).await.unwrap(), "");
        store.wait_idle().await;
    }
    let store = store_in(dir.path(), StoreLimits::default());
    let account = store.account(&name).await.unwrap();
    assert_eq!(account.usage(), Usage { bytes: 0, messages: 1 });
    assert_eq!(account.read(inbox(&account).id, Uid(1)).await.unwrap(), "");
}

#[tokio::test]
async fn an_account_locked_exclusively_is_never_evicted() {
    let dir = TempDir::new().unwrap();
    let store = store_in(dir.path(), StoreLimits { open_accounts: 1, ..StoreLimits::default() });
    let a = store.account(&account_name("a@x.org")).await.unwrap();
    a.wait_idle().await;
    let guard = a.try_lock_exclusive().expect("first lock");
    drop(a);
    for name in ["b@x.org", "c@x.org"] {
        store.account(&account_name(name)).await.unwrap().wait_idle().await;
    }
    // Had "a" been closed and opened again, a second lock would succeed
    // and two POP3 sessions would share the mailbox.
    let again = store.account(&account_name("a@x.org")).await.unwrap();
    assert!(again.try_lock_exclusive().is_none());
    drop(guard);
    assert!(again.try_lock_exclusive().is_some());
}

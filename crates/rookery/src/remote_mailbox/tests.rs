//! The member side of mailbox access on a real store, as a single server
//! (the locator always says "here").

use super::*;
use tempfile::TempDir;

struct Fixture {
    _dir: TempDir,
    service: Arc<MailboxService>,
    store: Arc<store::Store>,
}

fn alice() -> AccountName {
    AccountName::parse("alice@example.com", None).unwrap()
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store = store::Store::open(&dir.path().join("accounts"), store::StoreConfig::default()).unwrap();
    let store = Arc::new(store);
    let directory = directory::EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
    let domain = types::DomainName::parse("example.com").unwrap();
    let delivery =
        Arc::new(LocalDelivery::new(Arc::new(directory), store.clone(), Arc::new(cluster::SingleServer), domain));
    Fixture { _dir: dir, service: MailboxService::new(delivery, None), store }
}

async fn call(service: &Arc<MailboxService>, op: MailboxOp) -> Result<MailboxReply, MailboxError> {
    service.serve(op, Bytes::new()).await.0
}

async fn append(store: &store::Store, body: &str, flags: Vec<Flag>) -> u32 {
    let account = store.account(&alice()).await.unwrap();
    account.append("INBOX", Bytes::from(body.to_owned()), flags, 1_600_000_000, None).await.unwrap().1.0
}

fn inbox(store_account: &Account) -> store::MailboxInfo {
    store_account.status("INBOX").unwrap()
}

#[tokio::test]
async fn fetches_are_bounded_and_a_large_message_comes_in_parts() {
    let f = fixture();
    append(&f.store, &"a".repeat(10), vec![Flag::Seen]).await;
    let big = append(&f.store, &"b".repeat(100), vec![Flag::Keyword("$Label1".into())]).await;
    append(&f.store, &"c".repeat(10), vec![]).await;
    let id = inbox(&f.store.account(&alice()).await.unwrap()).id.0;
    let fetch =
        |after_uid| MailboxOp::Fetch { account: alice(), mailbox: id, after_uid, max_messages: 10, max_bytes: 50 };
    let (reply, body) = f.service.serve(fetch(0), Bytes::new()).await;
    let Ok(MailboxReply::Messages { messages, more, .. }) = reply else { panic!("{reply:?}") };
    assert_eq!((messages.len(), more), (1, true), "the 100-byte message does not fit after the first");
    assert_eq!((messages[0].flags.clone(), body.len()), (vec!["\\Seen".to_owned()], 10));
    let (reply, body) = f.service.serve(fetch(messages[0].uid), Bytes::new()).await;
    let Ok(MailboxReply::Messages { messages, more, .. }) = reply else { panic!("{reply:?}") };
    assert_eq!((messages.len(), messages[0].uid, messages[0].size, messages[0].len), (1, big, 100, 50));
    assert!(more);
    assert_eq!(messages[0].flags, vec!["$Label1".to_owned()]);
    assert_eq!(body, Bytes::from("b".repeat(50)));
    let part = MailboxOp::FetchPart { account: alice(), mailbox: id, uid: big, offset: 50, max_bytes: 1000 };
    let (reply, rest) = f.service.serve(part, Bytes::new()).await;
    assert_eq!(reply, Ok(MailboxReply::Part { size: 100 }));
    assert_eq!(rest, Bytes::from("b".repeat(50)));
}

#[tokio::test]
async fn changes_since_a_modseq_list_new_flags_and_expunged_uids() {
    let f = fixture();
    let first = append(&f.store, "one", vec![]).await;
    let second = append(&f.store, "two", vec![]).await;
    let third = append(&f.store, "three", vec![]).await;
    let account = f.store.account(&alice()).await.unwrap();
    let before = inbox(&account);
    account.set_flags(before.id, &[Uid(first)], FlagOp::Add, &[Flag::Flagged], None).await.unwrap();
    account.expunge(before.id, &[Uid(third)]).await.unwrap();
    let op = MailboxOp::Changes {
        account: alice(),
        mailbox: before.id.0,
        since_modseq: before.highest_modseq.0,
        after_uid: 0,
    };
    let Ok(MailboxReply::Changes { changed, vanished, more }) = call(&f.service, op).await else { panic!() };
    assert_eq!(
        changed.iter().map(|c| (c.uid, c.flags.clone())).collect::<Vec<_>>(),
        vec![(first, vec!["\\Flagged".to_owned()])]
    );
    assert_eq!((vanished, more), (vec![(third, third)], false));
    assert!(!changed.iter().any(|c| c.uid == second));
}

#[tokio::test]
async fn a_freeze_refuses_writes_and_sessions_until_its_owner_unfreezes() {
    let f = fixture();
    append(&f.store, "one", vec![]).await;
    let freeze = |token| MailboxOp::Freeze { account: alice(), token, lease_secs: 60 };
    assert_eq!(call(&f.service, freeze(1)).await, Ok(MailboxReply::Done));
    assert!(matches!(f.store.account(&alice()).await, Err(StoreError::Frozen(_))));
    let create = MailboxOp::CreateMailbox { account: alice(), name: "New".into() };
    assert!(matches!(call(&f.service, create.clone()).await, Err(MailboxError::Frozen(_))));
    // Reads go on: the final sync reads a frozen account.
    assert!(matches!(
        call(&f.service, MailboxOp::ListMailboxes { account: alice() }).await,
        Ok(MailboxReply::Mailboxes { .. })
    ));
    // Another move cannot take it over or end it.
    assert!(matches!(call(&f.service, freeze(2)).await, Err(MailboxError::Frozen(_))));
    assert!(matches!(
        call(&f.service, MailboxOp::Unfreeze { account: alice(), token: 2 }).await,
        Err(MailboxError::Frozen(_))
    ));
    // The same move renews it.
    assert_eq!(call(&f.service, freeze(1)).await, Ok(MailboxReply::Done));
    // The directory (here: a single server) does not name another host:
    // completing is refused and the account stays frozen, not parked.
    let complete = MailboxOp::CompleteMoveOut { account: alice(), token: 1, to: "sv2.test".into() };
    assert!(matches!(call(&f.service, complete).await, Err(MailboxError::Refused(ref r)) if r.contains("still names")));
    assert!(matches!(f.store.account(&alice()).await, Err(StoreError::Frozen(_))));
    assert_eq!(call(&f.service, MailboxOp::Unfreeze { account: alice(), token: 1 }).await, Ok(MailboxReply::Done));
    assert_eq!(inbox(&f.store.account(&alice()).await.unwrap()).messages, 1);
    assert!(matches!(call(&f.service, create).await, Ok(MailboxReply::Created { .. })));
}

#[tokio::test]
async fn a_freeze_whose_lease_runs_out_serves_the_account_again() {
    let f = fixture();
    append(&f.store, "one", vec![]).await;
    let freeze = MailboxOp::Freeze { account: alice(), token: 7, lease_secs: 1 };
    assert_eq!(call(&f.service, freeze).await, Ok(MailboxReply::Done));
    assert!(f.store.account(&alice()).await.is_err());
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.store.account(&alice()).await.is_err() {
        assert!(Instant::now() < deadline, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_member_that_hosts_the_account_will_not_prepare_a_copy_over_it() {
    let f = fixture();
    append(&f.store, "one", vec![]).await;
    let prepare = MailboxOp::PrepareMoveIn { account: alice(), uid_validity_above: 0 };
    assert!(matches!(call(&f.service, prepare).await, Err(MailboxError::Refused(ref r)) if r.contains("hosted here")));
    let abandon = MailboxOp::AbandonMoveIn { account: alice() };
    assert!(matches!(call(&f.service, abandon).await, Err(MailboxError::Refused(_))));
    assert_eq!(inbox(&f.store.account(&alice()).await.unwrap()).messages, 1, "nothing was set aside");
}

fn import(upload: Option<Upload>) -> MailboxOp {
    MailboxOp::Import {
        account: alice(),
        mailbox: "INBOX".into(),
        flags: vec!["\\Seen".into(), "$Moved".into()],
        internal_date: 1_500_000_000,
        upload,
    }
}

#[tokio::test]
async fn an_upload_in_parts_is_stored_once_whole_and_only_in_order() {
    let f = fixture();
    let part = |offset| Some(Upload { id: 1, offset, total: 6 });
    let (reply, _) = f.service.serve(import(part(0)), Bytes::from_static(b"abc")).await;
    assert!(matches!(reply, Ok(MailboxReply::Imported { uid: None, .. })), "{reply:?}");
    let (reply, _) = f.service.serve(import(part(3)), Bytes::from_static(b"def")).await;
    let Ok(MailboxReply::Imported { uid: Some(uid), .. }) = reply else { panic!("{reply:?}") };
    let account = f.store.account(&alice()).await.unwrap();
    let snapshot = account.snapshot("INBOX").unwrap();
    assert_eq!(snapshot.messages.len(), 1);
    assert_eq!((snapshot.messages[0].internal_date, snapshot.messages[0].flags.len()), (1_500_000_000, 2));
    assert_eq!(account.read(snapshot.info.id, Uid(uid)).await.unwrap(), Bytes::from_static(b"abcdef"));
    // A part out of order drops the upload; nothing is stored.
    let part = |offset| Some(Upload { id: 2, offset, total: 6 });
    f.service.serve(import(part(0)), Bytes::from_static(b"abc")).await.0.unwrap();
    assert!(matches!(
        f.service.serve(import(part(4)), Bytes::from_static(b"ef")).await.0,
        Err(MailboxError::Refused(_))
    ));
    assert!(matches!(
        f.service.serve(import(part(3)), Bytes::from_static(b"def")).await.0,
        Err(MailboxError::Refused(_))
    ));
    // More than the staging bound at once is refused up front.
    let huge = Some(Upload { id: 3, offset: 0, total: MAX_STAGED_BYTES + 1 });
    assert!(matches!(f.service.serve(import(huge), Bytes::from_static(b"x")).await.0, Err(MailboxError::Refused(_))));
    assert_eq!(account.snapshot("INBOX").unwrap().messages.len(), 1);
}

#[test]
fn flags_round_trip_and_bad_ones_are_refused() {
    for flag in [Flag::Seen, Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Draft, Flag::Keyword("$Label1".into())]
    {
        assert_eq!(parse_flag(&flag_text(&flag)).unwrap(), flag);
    }
    assert_eq!(parse_flag("\\SEEN").unwrap(), Flag::Seen);
    for bad in ["", "two words", "\\Recent", "a(b", "\u{e9}t\u{e9}"] {
        assert!(parse_flag(bad).is_err(), "{bad:?}");
    }
}

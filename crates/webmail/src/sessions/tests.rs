use super::*;

fn limits() -> SessionLimits {
    SessionLimits {
        idle: Duration::from_secs(100),
        max_age: Duration::from_secs(1000),
        max_sessions: 5,
        max_per_account: 2,
    }
}

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

fn cookie(session: &ActiveSession) -> SessionCookie {
    SessionCookie { account: session.account.clone(), id: session.id.clone() }
}

#[tokio::test]
async fn lookup_finds_only_the_right_account_and_id() {
    let table = SessionTable::open(None, limits()).unwrap();
    let session = table.create_at(&account("a@x.org"), 10).await.unwrap();
    assert_eq!(table.lookup_at(&cookie(&session), 11).await, Some(session.clone()));
    let other_account = SessionCookie { account: account("b@x.org"), id: session.id.clone() };
    assert_eq!(table.lookup_at(&other_account, 11).await, None);
    let other_id = SessionCookie { account: session.account.clone(), id: "nope".into() };
    assert_eq!(table.lookup_at(&other_id, 11).await, None);
    table.remove(&session.id).await;
    assert_eq!(table.lookup_at(&cookie(&session), 12).await, None);
}

#[tokio::test]
async fn idle_and_max_age_end_sessions() {
    let table = SessionTable::open(None, limits()).unwrap();
    let idle = table.create_at(&account("a@x.org"), 0).await.unwrap();
    assert_eq!(table.lookup_at(&cookie(&idle), 99).await.as_ref(), Some(&idle));
    // Used at 99, so alive until 199.
    assert!(table.lookup_at(&cookie(&idle), 198).await.is_some());
    assert!(table.lookup_at(&cookie(&idle), 298).await.is_none());
    let busy = table.create_at(&account("b@x.org"), 0).await.unwrap();
    for now in (50..1000).step_by(50) {
        assert!(table.lookup_at(&cookie(&busy), now).await.is_some(), "{now}");
    }
    assert!(table.lookup_at(&cookie(&busy), 1000).await.is_none());
    assert!(table.is_empty());
}

#[tokio::test]
async fn bounded_per_account_and_in_all_least_recently_used_first() {
    let table = SessionTable::open(None, limits()).unwrap();
    let first = table.create_at(&account("a@x.org"), 1).await.unwrap();
    let second = table.create_at(&account("a@x.org"), 2).await.unwrap();
    assert!(table.lookup_at(&cookie(&first), 3).await.is_some());
    let third = table.create_at(&account("a@x.org"), 4).await.unwrap();
    // `second` was the least recently used of a@.
    assert!(table.lookup_at(&cookie(&second), 5).await.is_none());
    assert!(table.lookup_at(&cookie(&first), 5).await.is_some());
    assert!(table.lookup_at(&cookie(&third), 5).await.is_some());
    for n in 0..10 {
        table.create_at(&account(&format!("u{n}@x.org")), 10 + n).await.unwrap();
    }
    assert_eq!(table.len(), 5);
    assert!(table.lookup_at(&cookie(&first), 30).await.is_none());
}

#[tokio::test]
async fn sessions_survive_a_reopen_and_logouts_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web/sessions.redb");
    let now = unix_now();
    let (kept, ended) = {
        let table = SessionTable::open(Some(&path), limits()).unwrap();
        let kept = table.create_at(&account("a@x.org"), now).await.unwrap();
        let ended = table.create_at(&account("b@x.org"), now).await.unwrap();
        table.remove(&ended.id).await;
        (kept, ended)
    };
    let table = SessionTable::open(Some(&path), limits()).unwrap();
    assert_eq!(table.lookup_at(&cookie(&kept), now + 1).await, Some(kept.clone()));
    assert_eq!(table.lookup_at(&cookie(&ended), now + 1).await, None);
    drop(table);
    // Opened after the idle time: the session expired while the server was down.
    let short = SessionLimits { idle: Duration::ZERO, ..limits() };
    let table = SessionTable::open(Some(&path), short).unwrap();
    assert!(table.is_empty());
    drop(table);
    let table = SessionTable::open(Some(&path), limits()).unwrap();
    assert!(table.is_empty(), "expired sessions are removed from disk on load");
}

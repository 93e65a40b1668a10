use super::*;
use std::path::PathBuf;
use tempfile::TempDir;

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid domain")
}

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

/// A directory in a fresh temporary file; the file outlives reopening.
struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    directory: EmbeddedDirectory,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("directory.redb");
        let directory = EmbeddedDirectory::open(&path).expect("open");
        Self { _dir: dir, path, directory }
    }

    /// With `example.com` and `example.org` present.
    async fn with_domains() -> Self {
        let fixture = Self::new();
        for d in ["example.com", "example.org"] {
            fixture.directory.add_domain(&domain(d)).await.expect("add domain");
        }
        fixture
    }

    /// Closes the file and opens it again.
    fn reopen(self) -> Self {
        let Self { _dir, path, directory } = self;
        drop(directory);
        let directory = EmbeddedDirectory::open(&path).expect("reopen");
        Self { _dir, path, directory }
    }
}

// ----- domains -----

#[tokio::test]
async fn domains_are_added_listed_sorted_and_removed() {
    let f = Fixture::new();
    let d = &f.directory;
    for name in ["example.org", "a.example.com", "example.com"] {
        d.add_domain(&domain(name)).await.expect("add");
    }
    assert_eq!(d.domains().await.unwrap(), vec![domain("a.example.com"), domain("example.com"), domain("example.org")]);
    assert!(d.has_domain(&domain("example.com")).await.unwrap());
    assert!(!d.has_domain(&domain("example.net")).await.unwrap());

    d.remove_domain(&domain("example.com")).await.expect("remove");
    assert!(!d.has_domain(&domain("example.com")).await.unwrap());
    assert_eq!(d.domains().await.unwrap(), vec![domain("a.example.com"), domain("example.org")]);
}

#[tokio::test]
async fn a_duplicate_domain_is_domain_exists() {
    let f = Fixture::with_domains().await;
    let error = f.directory.add_domain(&domain("example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::DomainExists(d) if d == domain("example.com")));
}

#[tokio::test]
async fn removing_an_unknown_domain_is_unknown_domain() {
    let f = Fixture::new();
    let error = f.directory.remove_domain(&domain("example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownDomain(_)));
}

#[tokio::test]
async fn a_domain_with_accounts_cannot_be_removed() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    let error = d.remove_domain(&domain("example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::DomainNotEmpty(_)));

    d.remove_account(&name("alice@example.com")).await.unwrap();
    d.remove_domain(&domain("example.com")).await.expect("empty now");
}

#[tokio::test]
async fn a_domain_with_only_aliases_cannot_be_removed() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("alice@example.org"), &name("alice@example.com")).await.unwrap();
    let error = d.remove_domain(&domain("example.org")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::DomainNotEmpty(_)));

    d.remove_alias(&name("alice@example.org")).await.unwrap();
    d.remove_domain(&domain("example.org")).await.expect("empty now");
}

// ----- accounts -----

#[tokio::test]
async fn an_account_needs_its_domain() {
    let f = Fixture::with_domains().await;
    let error = f.directory.add_account(&name("alice@example.net"), "pw", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownDomain(d) if d == domain("example.net")));
}

#[tokio::test]
async fn a_duplicate_account_is_account_exists() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let record = d.add_account(&name("alice@example.com"), "pw", Some(1000)).await.unwrap();
    assert_eq!(record.name, name("alice@example.com"));
    assert_eq!(record.quota_bytes, Some(1000));
    assert!(record.created > 0);
    let error = d.add_account(&name("alice@example.com"), "other", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::AccountExists(_)));
    assert_eq!(d.account(&name("alice@example.com")).await.unwrap(), Some(record));
}

#[tokio::test]
async fn an_empty_password_is_refused() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let error = d.add_account(&name("alice@example.com"), "", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::EmptyPassword));
    assert_eq!(d.account(&name("alice@example.com")).await.unwrap(), None);

    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    let error = d.set_password(&name("alice@example.com"), "").await.unwrap_err();
    assert!(matches!(error, DirectoryError::EmptyPassword));
    assert_eq!(d.authenticate(&name("alice@example.com"), "").await.unwrap(), None);
    assert!(d.authenticate(&name("alice@example.com"), "pw").await.unwrap().is_some());
}

#[tokio::test]
async fn an_account_cannot_take_an_alias_name() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("postmaster@example.com"), &name("alice@example.com")).await.unwrap();
    let error = d.add_account(&name("postmaster@example.com"), "pw", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::NameTaken(n) if n == name("postmaster@example.com")));
}

#[tokio::test]
async fn removing_an_account_removes_its_aliases() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_account(&name("bob@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("a@example.com"), &name("alice@example.com")).await.unwrap();
    d.add_alias(&name("alice@example.org"), &name("alice@example.com")).await.unwrap();
    d.add_alias(&name("b@example.com"), &name("bob@example.com")).await.unwrap();

    d.remove_account(&name("alice@example.com")).await.unwrap();
    assert_eq!(d.account(&name("alice@example.com")).await.unwrap(), None);
    assert_eq!(d.resolve(&name("a@example.com")).await.unwrap(), None);
    assert_eq!(d.resolve(&name("alice@example.org")).await.unwrap(), None);
    assert_eq!(
        d.aliases(None).await.unwrap(),
        vec![AliasRecord { alias: name("b@example.com"), target: name("bob@example.com") }]
    );
    assert!(d.aliases(Some(&domain("example.org"))).await.unwrap().is_empty());
    // The indexes went with them: the other domain is empty and the name free.
    d.remove_domain(&domain("example.org")).await.expect("no aliases left in example.org");
    d.add_account(&name("a@example.com"), "pw", None).await.expect("name is free again");
}

#[tokio::test]
async fn accounts_are_listed_per_domain_in_name_order() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    // `a.b` sorts after `a` as a name but before it as `a.b@...` vs `a@...`.
    for n in ["bob@example.com", "a.b@example.com", "a@example.com", "carol@example.org"] {
        d.add_account(&name(n), "pw", None).await.unwrap();
    }
    let names: Vec<_> = d.accounts(&domain("example.com")).await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec![name("a@example.com"), name("a.b@example.com"), name("bob@example.com")]);
    let names: Vec<_> = d.accounts(&domain("example.org")).await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec![name("carol@example.org")]);
}

#[tokio::test]
async fn set_quota_changes_the_record() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    let created = d.add_account(&alice, "pw", None).await.unwrap();
    d.set_quota(&alice, Some(5_000_000)).await.unwrap();
    let record = d.account(&alice).await.unwrap().expect("exists");
    assert_eq!(record, AccountRecord { quota_bytes: Some(5_000_000), ..created.clone() });
    d.set_quota(&alice, None).await.unwrap();
    assert_eq!(d.account(&alice).await.unwrap(), Some(created));
}

// ----- aliases -----

#[tokio::test]
async fn an_alias_cannot_take_an_account_name() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_account(&name("bob@example.com"), "pw", None).await.unwrap();
    let error = d.add_alias(&name("bob@example.com"), &name("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::NameTaken(n) if n == name("bob@example.com")));
}

#[tokio::test]
async fn a_duplicate_alias_is_alias_exists() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("a@example.com"), &name("alice@example.com")).await.unwrap();
    let error = d.add_alias(&name("a@example.com"), &name("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::AliasExists(_)));
}

#[tokio::test]
async fn an_alias_target_must_be_an_account() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("a@example.com"), &name("alice@example.com")).await.unwrap();
    let error = d.add_alias(&name("x@example.com"), &name("nobody@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownAccount(n) if n == name("nobody@example.com")));
    // An alias is not an account, so aliases do not chain.
    let error = d.add_alias(&name("y@example.com"), &name("a@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownAccount(_)));
}

#[tokio::test]
async fn an_alias_needs_its_domain() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    let error = d.add_alias(&name("alice@example.net"), &name("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownDomain(_)));
}

#[tokio::test]
async fn aliases_are_listed_all_per_domain_and_per_target() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_account(&name("bob@example.com"), "pw", None).await.unwrap();
    let pairs = [
        ("postmaster@example.org", "alice@example.com"),
        ("b@example.com", "bob@example.com"),
        ("a.x@example.com", "alice@example.com"),
        ("a@example.com", "alice@example.com"),
    ];
    for (alias, target) in pairs {
        d.add_alias(&name(alias), &name(target)).await.unwrap();
    }
    let record = |alias: &str, target: &str| AliasRecord { alias: name(alias), target: name(target) };
    assert_eq!(
        d.aliases(None).await.unwrap(),
        vec![
            record("a@example.com", "alice@example.com"),
            record("a.x@example.com", "alice@example.com"),
            record("b@example.com", "bob@example.com"),
            record("postmaster@example.org", "alice@example.com"),
        ]
    );
    assert_eq!(
        d.aliases(Some(&domain("example.org"))).await.unwrap(),
        vec![record("postmaster@example.org", "alice@example.com")]
    );
    assert_eq!(
        d.aliases_of(&name("alice@example.com")).await.unwrap(),
        vec![name("a@example.com"), name("a.x@example.com"), name("postmaster@example.org")]
    );

    d.remove_alias(&name("a@example.com")).await.unwrap();
    assert_eq!(
        d.aliases_of(&name("alice@example.com")).await.unwrap(),
        vec![name("a.x@example.com"), name("postmaster@example.org")]
    );
    assert_eq!(d.aliases(Some(&domain("example.com"))).await.unwrap().len(), 2);
}

#[tokio::test]
async fn resolve_gives_the_account_the_alias_target_or_nothing() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("info@example.org"), &name("alice@example.com")).await.unwrap();
    assert_eq!(d.resolve(&name("alice@example.com")).await.unwrap(), Some(name("alice@example.com")));
    assert_eq!(d.resolve(&name("info@example.org")).await.unwrap(), Some(name("alice@example.com")));
    assert_eq!(d.resolve(&name("nobody@example.com")).await.unwrap(), None);
    assert_eq!(d.resolve(&name("alice@example.net")).await.unwrap(), None);
}

#[tokio::test]
async fn unknown_things_are_reported_as_unknown() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let nobody = name("nobody@example.com");
    assert!(matches!(d.remove_account(&nobody).await, Err(DirectoryError::UnknownAccount(_))));
    assert!(matches!(d.set_password(&nobody, "pw").await, Err(DirectoryError::UnknownAccount(_))));
    assert!(matches!(d.set_quota(&nobody, None).await, Err(DirectoryError::UnknownAccount(_))));
    assert!(matches!(d.aliases_of(&nobody).await, Err(DirectoryError::UnknownAccount(_))));
    assert!(matches!(d.remove_alias(&nobody).await, Err(DirectoryError::UnknownAlias(_))));
    assert!(matches!(d.accounts(&domain("example.net")).await, Err(DirectoryError::UnknownDomain(_))));
    assert!(matches!(d.aliases(Some(&domain("example.net"))).await, Err(DirectoryError::UnknownDomain(_))));
    assert_eq!(d.account(&nobody).await.unwrap(), None);
    assert_eq!(d.resolve(&nobody).await.unwrap(), None);
}

// ----- persistence and the file -----

#[tokio::test]
async fn everything_survives_reopening() {
    let f = Fixture::with_domains().await;
    let alice = name("alice@example.com");
    let record = f.directory.add_account(&alice, "s3cret", Some(42)).await.unwrap();
    f.directory.add_alias(&name("info@example.org"), &alice).await.unwrap();

    let f = f.reopen();
    let d = &f.directory;
    assert_eq!(d.domains().await.unwrap(), vec![domain("example.com"), domain("example.org")]);
    assert_eq!(d.account(&alice).await.unwrap(), Some(record.clone()));
    assert_eq!(d.accounts(&domain("example.com")).await.unwrap(), vec![record.clone()]);
    assert_eq!(d.resolve(&name("info@example.org")).await.unwrap(), Some(alice.clone()));
    assert_eq!(d.aliases_of(&alice).await.unwrap(), vec![name("info@example.org")]);
    assert_eq!(d.authenticate(&alice, "s3cret").await.unwrap(), Some(record));
    // Rules still hold against what was read back.
    assert!(matches!(d.add_domain(&domain("example.com")).await, Err(DirectoryError::DomainExists(_))));
    assert!(matches!(d.remove_domain(&domain("example.org")).await, Err(DirectoryError::DomainNotEmpty(_))));
}

#[tokio::test]
async fn a_record_that_does_not_decode_is_a_backend_error() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    tables::test_support::put_raw_account(d.file(), "broken@example.com", b"not json");
    let broken = name("broken@example.com");
    assert!(matches!(d.account(&broken).await, Err(DirectoryError::Backend(_))));
    assert!(matches!(d.authenticate(&broken, "pw").await, Err(DirectoryError::Backend(_))));
    assert!(matches!(d.set_quota(&broken, None).await, Err(DirectoryError::Backend(_))));
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_a_backend_error() {
    let f = Fixture::new();
    assert!(matches!(EmbeddedDirectory::open(&f.path), Err(DirectoryError::Backend(_))));
}

// ----- authentication and its cache -----

#[tokio::test]
async fn authenticate_right_wrong_and_unknown() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    let record = d.add_account(&alice, "s3cret", None).await.unwrap();
    assert_eq!(d.authenticate(&alice, "s3cret").await.unwrap(), Some(record));
    assert_eq!(d.authenticate(&alice, "S3cret").await.unwrap(), None);
    assert_eq!(d.authenticate(&name("nobody@example.com"), "s3cret").await.unwrap(), None);
    assert_eq!(d.authenticate(&name("alice@example.net"), "s3cret").await.unwrap(), None);
}

#[tokio::test]
async fn only_successful_logins_are_cached() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    d.add_account(&alice, "s3cret", None).await.unwrap();
    assert_eq!(d.authenticate(&alice, "wrong").await.unwrap(), None);
    assert_eq!(d.auth_cache.len(), 0);
    assert!(d.authenticate(&alice, "s3cret").await.unwrap().is_some());
    assert_eq!(d.auth_cache.len(), 1);
    // A cached login does not let another password in.
    assert_eq!(d.authenticate(&alice, "wrong").await.unwrap(), None);
    assert!(d.authenticate(&alice, "s3cret").await.unwrap().is_some());
    assert_eq!(d.auth_cache.len(), 1);
}

#[tokio::test]
async fn set_password_stops_the_old_password_at_once() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    d.add_account(&alice, "old", None).await.unwrap();
    assert!(d.authenticate(&alice, "old").await.unwrap().is_some());
    assert_eq!(d.auth_cache.len(), 1);

    d.set_password(&alice, "new").await.unwrap();
    assert_eq!(d.auth_cache.len(), 0);
    assert_eq!(d.authenticate(&alice, "old").await.unwrap(), None);
    assert!(d.authenticate(&alice, "new").await.unwrap().is_some());
}

#[tokio::test]
async fn remove_account_forgets_its_logins() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    d.add_account(&alice, "old", None).await.unwrap();
    assert!(d.authenticate(&alice, "old").await.unwrap().is_some());

    d.remove_account(&alice).await.unwrap();
    assert_eq!(d.auth_cache.len(), 0);
    assert_eq!(d.authenticate(&alice, "old").await.unwrap(), None);
    d.add_account(&alice, "new", None).await.unwrap();
    assert_eq!(d.authenticate(&alice, "old").await.unwrap(), None);
    assert!(d.authenticate(&alice, "new").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_each_get_their_answer() {
    let f = Fixture::with_domains().await;
    let directory = Arc::new(f.directory);
    for (n, password) in [("alice@example.com", "pa"), ("bob@example.com", "pb")] {
        directory.add_account(&name(n), password, None).await.unwrap();
    }
    let attempts = [
        ("alice@example.com", "pa", true),
        ("bob@example.com", "pb", true),
        ("alice@example.com", "pb", false),
        ("nobody@example.com", "pa", false),
    ];
    let mut tasks = Vec::new();
    for round in 0..3 {
        for (account, password, expected) in attempts {
            let directory = Arc::clone(&directory);
            tasks.push(tokio::spawn(async move {
                let answer = directory.authenticate(&name(account), password).await.expect("authenticate");
                assert_eq!(
                    answer.map(|record| record.name),
                    expected.then(|| name(account)),
                    "round {round}: {account}"
                );
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(directory.auth_cache.len(), 2);
}

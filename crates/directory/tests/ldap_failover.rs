//! Failover in the LDAP directory against a real private slapd: reassign
//! and restore one record at a time and in LDAP transactions (several in
//! flight), their rerun after an interruption, records changed behind
//! their back, and adoption of one server's name by another member with
//! its errors.
//!
//! slapd runs durable here (no `dbnosync`): Debian's slapd 2.5.13
//! segfaults with transactions on a `dbnosync` database.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use directory::{AdoptionError, CachedHosts, HostCacheLimits, HostDirectory, LdapDirectory, LdapOptions};
use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use testkit::slapd::Slapd;
use types::{AccountName, DomainName};

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid domain")
}

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

/// `batch` > 1: LDAP transactions of that many modifies.
fn options(slapd: &Slapd, batch: usize) -> LdapOptions {
    let mut options = LdapOptions::new(&slapd.url(), slapd.base_dn(), slapd.admin_dn(), slapd.admin_password());
    options.connect_timeout = Duration::from_secs(2);
    options.operation_timeout = Duration::from_secs(20);
    options.rewrite_batch = batch;
    options
}

async fn start_slapd() -> Slapd {
    tokio::task::spawn_blocking(Slapd::start_durable).await.expect("task").expect("slapd starts")
}

async fn raw(slapd: &Slapd) -> Ldap {
    let (driver, mut ldap) = LdapConnAsync::new(&slapd.url()).await.expect("raw connect");
    tokio::spawn(driver.drive());
    ldap.simple_bind(slapd.admin_dn(), slapd.admin_password()).await.expect("bind").success().expect("bound");
    ldap
}

fn account_dn(slapd: &Slapd, local: &str) -> String {
    format!("uid={local},ou=example.com,ou=domains,{}", slapd.base_dn())
}

/// `count` accounts `{prefix}0000@example.com`... on `host`, added straight
/// into slapd (argon2 for each through the directory would be slow).
async fn bulk_add(slapd: &Slapd, prefix: &str, count: usize, host: &str) {
    let ldap = raw(slapd).await;
    let mut tasks = tokio::task::JoinSet::new();
    let locals: Vec<String> = (0..count).map(|i| format!("{prefix}{i:04}")).collect();
    for chunk in locals.chunks(count.div_ceil(8).max(1)) {
        let (mut ldap, chunk, host) = (ldap.clone(), chunk.to_vec(), host.to_owned());
        let base = account_dn(slapd, "x").split_once(',').expect("dn").1.to_owned();
        tasks.spawn(async move {
            for local in chunk {
                let address = format!("{local}@example.com");
                let attributes = vec![
                    ("objectClass", HashSet::from(["inetOrgPerson", "rookeryAccount"])),
                    ("uid", HashSet::from([local.as_str()])),
                    ("cn", HashSet::from([address.as_str()])),
                    ("sn", HashSet::from([local.as_str()])),
                    ("rookeryAddress", HashSet::from([address.as_str()])),
                    ("hostServer", HashSet::from([host.as_str()])),
                ];
                ldap.add(&format!("uid={local},{base}"), attributes).await.expect("add").success().expect("added");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("bulk task");
    }
}

/// hostServer and oldHostServer of every account, by uid.
async fn hosts_of_all(slapd: &Slapd) -> Vec<(String, String, Option<String>)> {
    let mut ldap = raw(slapd).await;
    let base = format!("ou=example.com,ou=domains,{}", slapd.base_dn());
    let (entries, _) = ldap
        .search(&base, Scope::OneLevel, "(objectClass=rookeryAccount)", vec!["uid", "hostServer", "oldHostServer"])
        .await
        .expect("search")
        .success()
        .expect("found");
    let mut all: Vec<_> = entries
        .into_iter()
        .map(SearchEntry::construct)
        .map(|e| {
            let first = |a: &str| e.attrs.get(a).and_then(|v| v.first()).cloned();
            (first("uid").expect("uid"), first("hostServer").expect("hostServer"), first("oldHostServer"))
        })
        .collect();
    all.sort();
    all
}

/// Polls `member` until it answers `expected` for `account`; returns how
/// long that took.
async fn host_within(
    member: &CachedHosts<LdapDirectory>,
    account: &AccountName,
    expected: &DomainName,
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let answer = member.host_server(account).await.expect("lookup");
        if answer.as_ref() == Some(expected) {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "{account} still served by {answer:?}, not {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn directory(slapd: &Slapd, batch: usize) -> LdapDirectory {
    LdapDirectory::connect(options(slapd, batch)).await.expect("connect")
}

async fn with_domain(slapd: &Slapd) {
    let d = directory(slapd, 100).await;
    directory::Directory::add_domain(&d, &domain("example.com")).await.expect("add domain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassign_and_restore_keep_every_rule() {
    reassign_and_restore(1).await;
}

/// The same over LDAP transactions of 50 modifies, 4 in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassign_and_restore_in_transactions() {
    reassign_and_restore(50).await;
}

async fn reassign_and_restore(batch: usize) {
    let slapd = start_slapd().await;
    with_domain(&slapd).await;
    let d = directory(&slapd, batch).await;
    let (sv1, sv2, sv3) = (domain("sv1.example.com"), domain("sv2.example.com"), domain("sv3.example.com"));
    bulk_add(&slapd, "a", 620, "sv2.example.com").await;
    bulk_add(&slapd, "b", 30, "sv1.example.com").await;
    // a0007 came to sv2 from sv3 earlier; a0008 from sv1.
    let mut ldap = raw(&slapd).await;
    for (local, old) in [("a0007", "sv3.example.com"), ("a0008", "sv1.example.com")] {
        let change = vec![Mod::Replace("oldHostServer", HashSet::from([old]))];
        ldap.modify(&account_dn(&slapd, local), change).await.expect("modify").success().expect("modified");
    }

    let mut calls = Vec::new();
    let moved = d.reassign(&sv2, &sv3, &mut |done, total| calls.push((done, total))).await.expect("reassign");
    assert_eq!(moved, 620);
    // One report per record, or per transaction of `batch`.
    let reports = 1 + 620usize.div_ceil(batch);
    assert_eq!(calls.len(), reports, "{calls:?}");
    assert_eq!((calls[0], calls[reports - 1]), ((0, 620), (620, 620)));
    assert!(calls.windows(2).all(|pair| pair[0].0 < pair[1].0), "progress only grows: {calls:?}");
    let all = hosts_of_all(&slapd).await;
    for (uid, host, old) in &all {
        let expected = match uid.as_str() {
            u if u.starts_with('b') => ("sv1.example.com", None),
            // Its first home was sv3, where it is now: nothing to undo.
            "a0007" => ("sv3.example.com", None),
            "a0008" => ("sv3.example.com", Some("sv1.example.com")),
            _ => ("sv3.example.com", Some("sv2.example.com")),
        };
        assert_eq!((host.as_str(), old.as_deref()), expected, "{uid}");
    }

    let restored = d.restore(&sv2, &mut |_, _| {}).await.expect("restore");
    assert_eq!(restored, 618);
    assert_eq!(d.accounts_on(&sv2).await.expect("list").len(), 618);
    assert_eq!(d.restore(&sv1, &mut |_, _| {}).await.expect("restore sv1"), 1, "a0008 goes home to sv1");
    assert_eq!(d.accounts_on(&sv3).await.expect("list"), vec![name("a0007@example.com")]);
    assert_eq!(d.restore(&sv2, &mut |_, _| {}).await.expect("nothing left"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassign_cut_off_by_a_slapd_crash_is_finished_by_running_it_again() {
    let mut slapd = start_slapd().await;
    with_domain(&slapd).await;
    let d = directory(&slapd, 40).await;
    let (sv2, sv3) = (domain("sv2.example.com"), domain("sv3.example.com"));
    bulk_add(&slapd, "a", 600, "sv2.example.com").await;

    // After the first committed transaction, slapd dies (SIGKILL): the
    // transactions in flight are lost whole, the committed ones stay.
    let mut killed_at = None;
    let first = d
        .reassign(&sv2, &sv3, &mut |done, _| {
            if done > 0 && killed_at.is_none() {
                slapd.kill();
                killed_at = Some(done);
            }
        })
        .await;
    assert!(first.is_err(), "the interrupted reassign reports the failure: {first:?}");
    let killed_at = killed_at.expect("at least one transaction committed");
    tokio::task::block_in_place(|| slapd.restart()).expect("slapd restarts");
    let moved_before = hosts_of_all(&slapd).await.iter().filter(|(_, host, _)| host == "sv3.example.com").count();
    assert!(moved_before >= killed_at && moved_before < 600, "{moved_before} moved before the crash");
    assert!(moved_before.is_multiple_of(40), "transactions are all or nothing: {moved_before}");

    let second = d.reassign(&sv2, &sv3, &mut |_, _| {}).await.expect("the rerun completes");
    assert_eq!(second, 600 - moved_before, "the rerun picks up exactly the records left");
    let all = hosts_of_all(&slapd).await;
    assert!(
        all.iter().all(|(_, host, old)| host == "sv3.example.com" && old.as_deref() == Some("sv2.example.com")),
        "every record moved once, remembering sv2"
    );
    assert_eq!(d.reassign(&sv2, &sv3, &mut |_, _| {}).await.expect("nothing left"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_changed_during_a_reassign_are_not_overwritten() {
    records_changed_during_a_reassign(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_changed_during_a_reassign_in_transactions_are_not_overwritten() {
    records_changed_during_a_reassign(25).await;
}

async fn records_changed_during_a_reassign(batch: usize) {
    let slapd = start_slapd().await;
    with_domain(&slapd).await;
    let d = directory(&slapd, batch).await;
    let (sv2, sv3) = (domain("sv2.example.com"), domain("sv3.example.com"));
    bulk_add(&slapd, "a", 400, "sv2.example.com").await;
    bulk_add(&slapd, "b", 400, "sv1.example.com").await;
    // First another admin works on other records (sv1's) meanwhile.
    {
        let mut ldap = raw(&slapd).await;
        let slapd_ref = &slapd;
        let other = async move {
            let mut failures = 0;
            for i in 0..400 {
                let dn = account_dn(slapd_ref, &format!("b{i:04}"));
                let change = vec![Mod::Replace("hostServer", HashSet::from(["sv8.example.com"]))];
                let result = ldap.modify(&dn, change).await.expect("modify");
                if result.rc != 0 {
                    failures += 1;
                }
            }
            failures
        };
        let mut ignore = |_, _| {};
        let (moved, failures) = tokio::join!(d.reassign(&sv2, &sv3, &mut ignore), other);
        assert_eq!(moved.expect("reassign"), 400);
        assert_eq!(failures, 0, "writes to records outside the rewrite are not disturbed");
        assert_eq!(d.restore(&sv2, &mut ignore).await.expect("restore"), 400);
    }

    // Then, while the reassign runs, another admin moves every tenth account to
    // sv9 and deletes a few others. Whatever the interleaving, a record
    // moved to sv9 stays there: either it was moved after the rewrite, or
    // the rewrite's assertion (hostServer=sv2) refused to overwrite it.
    let mut ldap = raw(&slapd).await;
    let slapd_ref = &slapd;
    let meddle = async move {
        for i in (0..400).step_by(10) {
            let dn = account_dn(slapd_ref, &format!("a{i:04}"));
            let mut attempts = 0;
            loop {
                let change = vec![Mod::Replace("hostServer", HashSet::from(["sv9.example.com"]))];
                let result = ldap.modify(&dn, change).await.expect("modify");
                attempts += 1;
                if result.rc == 0 {
                    break;
                }
                // slapd 2.5 answers "internal error" (80) to a plain write
                // of a record queued in another connection's transaction,
                // until that settles: a temporary failure; try again.
                assert_eq!(result.rc, 80, "{dn}: {result:?}");
                assert!(attempts < 500, "{dn} still refused after {attempts} attempts");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        for i in [5, 155, 395] {
            ldap.delete(&account_dn(slapd_ref, &format!("a{i:04}"))).await.expect("delete").success().expect("gone");
        }
    };
    let mut ignore = |_, _| {};
    let (moved, ()) = tokio::join!(d.reassign(&sv2, &sv3, &mut ignore), meddle);
    let moved = moved.expect("reassign");
    let all: Vec<_> = hosts_of_all(&slapd).await.into_iter().filter(|(uid, _, _)| uid.starts_with('a')).collect();
    assert_eq!(all.len(), 397);
    for (uid, host, _) in &all {
        let number: usize = uid[1..].parse().expect("number");
        let expected = if number.is_multiple_of(10) { "sv9.example.com" } else { "sv3.example.com" };
        assert_eq!(host, expected, "{uid}");
    }
    assert!((357..=400).contains(&moved), "{moved} rewritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_makes_the_adopter_serve_the_name_and_release_gives_it_back() {
    let slapd = start_slapd().await;
    with_domain(&slapd).await;
    // sv2 and sv3 are backends that have connected (server entries); sv4
    // is known only by an account recorded on it.
    let mut sv2_options = options(&slapd, 100);
    sv2_options.local_server = Some(domain("sv2.example.com"));
    let _sv2_member = LdapDirectory::connect(sv2_options).await.expect("sv2 connects");
    let mut sv3_options = options(&slapd, 100);
    sv3_options.local_server = Some(domain("sv3.example.com"));
    let admin = LdapDirectory::connect(sv3_options).await.expect("sv3 connects");
    bulk_add(&slapd, "on2-", 3, "sv2.example.com").await;
    bulk_add(&slapd, "on4-", 1, "sv4.example.com").await;
    let (sv2, sv3, sv4, sv9) =
        (domain("sv2.example.com"), domain("sv3.example.com"), domain("sv4.example.com"), domain("sv9.example.com"));

    // Another member's cache: it must follow the adoption within seconds.
    let limits = HostCacheLimits { server_ttl: Duration::from_millis(500), ..HostCacheLimits::default() };
    let member = CachedHosts::new(directory(&slapd, 100).await, limits);
    let carol = name("on2-0000@example.com");
    assert_eq!(member.host_server(&carol).await.expect("lookup"), Some(sv2.clone()));

    let started = Instant::now();
    admin.adopt(&sv2, &sv3).await.expect("adopt");
    let took = started.elapsed();
    eprintln!("adopt took {took:?}");
    assert!(took < Duration::from_secs(5), "adopt is one write: {took:?}");
    assert_eq!(
        admin.adoptions().await.expect("adoptions").into_iter().collect::<Vec<_>>(),
        vec![(sv2.clone(), sv3.clone())]
    );
    // The raw record is unchanged; the effective host is the adopter.
    assert_eq!(admin.host_server(&carol).await.expect("raw"), Some(sv2.clone()));
    let seen = host_within(&member, &carol, &sv3, Duration::from_secs(10)).await;
    eprintln!("another member followed the adoption after {seen:?}");
    // Unrelated accounts are untouched; unknown ones stay unknown.
    assert_eq!(member.host_server(&name("on4-0000@example.com")).await.expect("lookup"), Some(sv4.clone()));
    assert_eq!(member.host_server(&name("nobody@example.com")).await.expect("lookup"), None);
    // Adopting again by the same member is a no-op.
    admin.adopt(&sv2, &sv3).await.expect("adopt twice");

    // Each refusal names the server concerned.
    let refusal = |result: Result<(), AdoptionError>| result.expect_err("refused");
    let error = refusal(admin.adopt(&sv9, &sv3).await);
    assert!(matches!(&error, AdoptionError::UnknownServer(s) if *s == sv9), "{error:?}");
    assert!(error.to_string().contains("sv9.example.com"), "{error}");
    let error = refusal(admin.adopt(&sv4, &sv9).await);
    assert!(matches!(&error, AdoptionError::UnknownServer(s) if *s == sv9), "{error:?}");
    let error = refusal(admin.adopt(&sv2, &sv4).await);
    assert!(matches!(&error, AdoptionError::AlreadyAdopted { server, by } if *server == sv2 && *by == sv3));
    assert!(error.to_string().contains("sv2.example.com") && error.to_string().contains("sv3.example.com"));
    let error = refusal(admin.adopt(&sv4, &sv2).await);
    assert!(
        matches!(&error, AdoptionError::AdopterIsAdopted { adopter, served_by } if *adopter == sv2 && *served_by == sv3)
    );
    assert!(error.to_string().contains("sv2.example.com is itself adopted"), "{error}");
    let error = refusal(admin.adopt(&sv3, &sv4).await);
    assert!(matches!(&error, AdoptionError::ServesOthers { server, .. } if *server == sv3), "{error:?}");
    let error = refusal(admin.adopt(&sv4, &sv4).await);
    assert!(matches!(&error, AdoptionError::OwnName(s) if *s == sv4), "{error:?}");

    // sv4 has no entry yet: adopting it makes one.
    admin.adopt(&sv4, &sv3).await.expect("adopt a server known by its accounts");
    assert_eq!(admin.adoptions().await.expect("adoptions").len(), 2);

    // Release: errors first, then the real thing.
    let error = admin.release(&sv9).await.expect_err("unknown");
    assert!(matches!(&error, AdoptionError::UnknownServer(s) if *s == sv9), "{error:?}");
    let error = admin.release(&sv3).await.expect_err("sv3 is not adopted");
    assert!(matches!(&error, AdoptionError::NotAdopted(s) if *s == sv3), "{error:?}");
    assert!(error.to_string().contains("sv3.example.com is not adopted"), "{error}");
    assert_eq!(admin.release(&sv2).await.expect("release"), sv3);
    assert_eq!(admin.release(&sv4).await.expect("release sv4"), sv3);
    assert!(admin.adoptions().await.expect("adoptions").is_empty());
    let error = admin.release(&sv2).await.expect_err("released twice");
    assert!(matches!(&error, AdoptionError::NotAdopted(s) if *s == sv2), "{error:?}");
    host_within(&member, &carol, &sv2, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_without_server_entries_has_no_adoptions_and_a_cached_member_keeps_routing() {
    let mut slapd = start_slapd().await;
    with_domain(&slapd).await;
    let d = directory(&slapd, 100).await;
    assert!(d.adoptions().await.expect("no ou=servers yet").is_empty());
    bulk_add(&slapd, "x", 1, "sv2.example.com").await;
    let limits = HostCacheLimits { server_ttl: Duration::from_millis(100), ..HostCacheLimits::default() };
    let member = CachedHosts::new(d, limits);
    let account = name("x0000@example.com");
    assert_eq!(member.host_server(&account).await.expect("lookup"), Some(domain("sv2.example.com")));
    // slapd goes away: the account's cached answer still routes (its
    // TTL is 5 s), with the last known table of adoptions.
    slapd.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(member.host_server(&account).await.expect("cached"), Some(domain("sv2.example.com")));
}

//! The LDAP directory against a real private slapd from the test kit: the
//! same behaviours the embedded directory's tests check, the documented
//! layout, host routing with paged listings and the failover rewrite, and
//! a slapd that restarts or goes away under a live directory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use directory::{
    AccountRecord, AliasRecord, CachedHosts, Directory, DirectoryError, DomainRecord, HostCacheLimits, HostDirectory,
    LdapDirectory, LdapOptions,
};
use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};
use testkit::slapd::Slapd;
use types::{AccountName, DomainName};

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid domain")
}

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

fn options(slapd: &Slapd) -> LdapOptions {
    let mut options = LdapOptions::new(&slapd.url(), slapd.base_dn(), slapd.admin_dn(), slapd.admin_password());
    options.connect_timeout = std::time::Duration::from_secs(2);
    options.operation_timeout = std::time::Duration::from_secs(10);
    options
}

struct Fixture {
    slapd: Slapd,
    directory: LdapDirectory,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut LdapOptions)) -> Self {
        let slapd = tokio::task::spawn_blocking(Slapd::start).await.expect("task").expect("slapd starts");
        let mut options = options(&slapd);
        adjust(&mut options);
        let directory = LdapDirectory::connect(options).await.expect("connect");
        Self { slapd, directory }
    }

    /// With `example.com` and `example.org` present.
    async fn with_domains() -> Self {
        let fixture = Self::new().await;
        for d in ["example.com", "example.org"] {
            fixture.directory.add_domain(&domain(d)).await.expect("add domain");
        }
        fixture
    }

    /// A plain ldap3 connection bound as the admin, to look behind the
    /// directory's back.
    async fn raw(&self) -> Ldap {
        let (driver, mut ldap) = LdapConnAsync::new(&self.slapd.url()).await.expect("raw connect");
        tokio::spawn(driver.drive());
        ldap.simple_bind(self.slapd.admin_dn(), self.slapd.admin_password())
            .await
            .expect("bind")
            .success()
            .expect("bound");
        ldap
    }

    fn account_dn(&self, account: &str) -> String {
        let (local, domain) = account.split_once('@').expect("full name");
        format!("uid={local},ou={domain},ou=domains,{}", self.slapd.base_dn())
    }

    /// The entry's attributes as the server has them.
    async fn raw_entry(&self, dn: &str) -> HashMap<String, Vec<String>> {
        let mut ldap = self.raw().await;
        let (mut entries, _) = ldap
            .search(dn, Scope::Base, "(objectClass=*)", vec!["*", "+"])
            .await
            .expect("search")
            .success()
            .expect("found");
        let entry = SearchEntry::construct(entries.pop().expect("one entry"));
        entry.attrs.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect()
    }
}

fn assert_backend_error<T: std::fmt::Debug>(result: Result<T, DirectoryError>, url: &str) {
    match result {
        Err(DirectoryError::Backend(message)) => assert!(message.contains(url), "{message} should name {url}"),
        other => panic!("expected a back-end error, got {other:?}"),
    }
}

// ----- domains -----

#[tokio::test]
async fn domains_are_added_listed_sorted_and_removed() {
    let f = Fixture::new().await;
    let d = &f.directory;
    for n in ["example.org", "a.example.com", "example.com"] {
        d.add_domain(&domain(n)).await.expect("add");
    }
    assert_eq!(d.domains().await.unwrap(), vec![domain("a.example.com"), domain("example.com"), domain("example.org")]);
    assert!(d.has_domain(&domain("example.com")).await.unwrap());
    assert!(!d.has_domain(&domain("example.net")).await.unwrap());

    d.remove_domain(&domain("example.com")).await.expect("remove");
    assert!(!d.has_domain(&domain("example.com")).await.unwrap());
    assert_eq!(d.domains().await.unwrap(), vec![domain("a.example.com"), domain("example.org")]);

    assert!(
        matches!(d.add_domain(&domain("example.org")).await, Err(DirectoryError::DomainExists(x)) if x == domain("example.org"))
    );
    assert!(matches!(d.remove_domain(&domain("example.com")).await, Err(DirectoryError::UnknownDomain(_))));
}

#[tokio::test]
async fn a_local_domain_records_its_member_and_a_shared_one_none() {
    let f = Fixture::new().await;
    let d = &f.directory;
    d.add_domain(&domain("shared.example")).await.expect("add shared");
    d.add_local_domain(&domain("sv1.example"), &domain("sv1.example")).await.expect("add local");
    assert_eq!(
        d.domain_records().await.unwrap(),
        vec![
            DomainRecord { name: domain("shared.example"), server: None },
            DomainRecord { name: domain("sv1.example"), server: Some(domain("sv1.example")) },
        ]
    );
    assert_eq!(d.domain_server(&domain("sv1.example")).await.unwrap(), Some(domain("sv1.example")));
    assert_eq!(d.domain_server(&domain("shared.example")).await.unwrap(), None);
    assert!(matches!(d.domain_server(&domain("none.example")).await, Err(DirectoryError::UnknownDomain(_))));
    let dn = format!("ou=sv1.example,ou=domains,{}", f.slapd.base_dn());
    assert_eq!(f.raw_entry(&dn).await.get("hostserver"), Some(&vec!["sv1.example".to_owned()]));
    assert!(matches!(
        d.add_local_domain(&domain("shared.example"), &domain("sv1.example")).await,
        Err(DirectoryError::DomainExists(_))
    ));
}

#[tokio::test]
async fn a_domain_with_accounts_or_aliases_is_not_empty() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("alice@example.org"), &name("alice@example.com")).await.unwrap();
    assert!(matches!(d.remove_domain(&domain("example.com")).await, Err(DirectoryError::DomainNotEmpty(_))));
    assert!(matches!(d.remove_domain(&domain("example.org")).await, Err(DirectoryError::DomainNotEmpty(_))));

    d.remove_alias(&name("alice@example.org")).await.unwrap();
    d.remove_domain(&domain("example.org")).await.expect("empty now");
    d.remove_account(&name("alice@example.com")).await.unwrap();
    d.remove_domain(&domain("example.com")).await.expect("empty now");
}

// ----- accounts -----

#[tokio::test]
async fn accounts_are_added_checked_listed_and_removed() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    let error = d.add_account(&name("alice@example.net"), "pw", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownDomain(x) if x == domain("example.net")));

    let record = d.add_account(&alice, "pw", Some(1000)).await.unwrap();
    assert_eq!(record.name, alice);
    assert_eq!(record.quota_bytes, Some(1000));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(record.created > 0 && record.created.abs_diff(now) < 120, "{}", record.created);
    assert!(matches!(d.add_account(&alice, "other", None).await, Err(DirectoryError::AccountExists(_))));
    assert_eq!(d.account(&alice).await.unwrap(), Some(record));

    assert!(matches!(d.add_account(&name("bob@example.com"), "", None).await, Err(DirectoryError::EmptyPassword)));
    assert_eq!(d.account(&name("bob@example.com")).await.unwrap(), None);

    // `a.b` sorts after `a` as a name but before it as `a.b@...` vs `a@...`.
    for n in ["bob@example.com", "a.b@example.com", "a@example.com", "carol@example.org"] {
        d.add_account(&name(n), "pw", None).await.unwrap();
    }
    let names: Vec<_> = d.accounts(&domain("example.com")).await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        vec![name("a@example.com"), name("a.b@example.com"), name("alice@example.com"), name("bob@example.com")]
    );
    let names: Vec<_> = d.accounts(&domain("example.org")).await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec![name("carol@example.org")]);

    d.remove_account(&name("bob@example.com")).await.unwrap();
    assert_eq!(d.account(&name("bob@example.com")).await.unwrap(), None);
    assert_eq!(d.accounts(&domain("example.com")).await.unwrap().len(), 3);
}

#[tokio::test]
async fn set_quota_changes_the_record() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    let created = d.add_account(&alice, "pw", None).await.unwrap();
    d.set_quota(&alice, Some(5_000_000)).await.unwrap();
    assert_eq!(
        d.account(&alice).await.unwrap(),
        Some(AccountRecord { quota_bytes: Some(5_000_000), ..created.clone() })
    );
    d.set_quota(&alice, None).await.unwrap();
    assert_eq!(d.account(&alice).await.unwrap(), Some(created));
    // Removing an absent quota is not an error either.
    d.set_quota(&alice, None).await.unwrap();
}

#[tokio::test]
async fn authenticate_right_wrong_unknown_and_after_a_password_change() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    let alice = name("alice@example.com");
    let record = d.add_account(&alice, "s3cret", None).await.unwrap();
    assert_eq!(d.authenticate(&alice, "s3cret").await.unwrap(), Some(record.clone()));
    // Again, from the login cache.
    assert_eq!(d.authenticate(&alice, "s3cret").await.unwrap(), Some(record.clone()));
    assert_eq!(d.authenticate(&alice, "S3cret").await.unwrap(), None);
    assert_eq!(d.authenticate(&alice, "").await.unwrap(), None);
    assert_eq!(d.authenticate(&name("nobody@example.com"), "s3cret").await.unwrap(), None);
    assert_eq!(d.authenticate(&name("alice@example.net"), "s3cret").await.unwrap(), None);

    assert!(matches!(d.set_password(&alice, "").await, Err(DirectoryError::EmptyPassword)));
    d.set_password(&alice, "n3w").await.unwrap();
    assert_eq!(d.authenticate(&alice, "s3cret").await.unwrap(), None);
    assert_eq!(d.authenticate(&alice, "n3w").await.unwrap(), Some(record));
}

#[tokio::test]
async fn the_server_holds_an_argon2_hash_and_the_documented_layout() {
    let f = Fixture::with(|options| options.local_server = Some(domain("sv1.example.com"))).await;
    let d = &f.directory;
    d.add_domain(&domain("example.com")).await.unwrap();
    d.add_account(&name("alice@example.com"), "s3cret", Some(42)).await.unwrap();
    d.add_alias(&name("info@example.com"), &name("alice@example.com")).await.unwrap();

    let account = f.raw_entry(&f.account_dn("alice@example.com")).await;
    let password = &account["userpassword"][0];
    assert!(password.starts_with("{ARGON2}$argon2id$"), "{password}");
    assert!(!password.contains("s3cret"));
    let classes: HashSet<_> = account["objectclass"].iter().map(|c| c.to_lowercase()).collect();
    assert!(classes.contains("inetorgperson") && classes.contains("rookeryaccount"), "{classes:?}");
    assert_eq!(account["rookeryaddress"], vec!["alice@example.com"]);
    assert_eq!(account["rookeryquotabytes"], vec!["42"]);
    assert_eq!(account["hostserver"], vec!["sv1.example.com"]);

    let alias = f.raw_entry(&f.account_dn("info@example.com")).await;
    assert_eq!(alias["rookeryaliastarget"], vec!["alice@example.com"]);
    let domain_entry = f.raw_entry(&format!("ou=example.com,ou=domains,{}", f.slapd.base_dn())).await;
    assert!(domain_entry["objectclass"].iter().any(|c| c.eq_ignore_ascii_case("rookeryDomain")));
}

#[tokio::test]
async fn names_that_need_escaping_and_utf8_names_work() {
    let f = Fixture::new().await;
    let d = &f.directory;
    let utf8_domain = domain("bücher.example");
    d.add_domain(&utf8_domain).await.unwrap();
    d.add_domain(&domain("example.com")).await.unwrap();
    let odd = ["a+b=c@example.com", "#x@example.com", "jörg@bücher.example", "o'brien*x@example.com"];
    for n in odd {
        d.add_account(&name(n), "pw", None).await.unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(d.authenticate(&name(n), "pw").await.unwrap().is_some(), "{n}");
    }
    d.add_alias(&name("{x}|y@example.com"), &name("o'brien*x@example.com")).await.unwrap();
    d.add_alias(&name("z@example.com"), &name("a+b=c@example.com")).await.unwrap();
    assert_eq!(d.resolve(&name("{x}|y@example.com")).await.unwrap(), Some(name("o'brien*x@example.com")));
    // A filter metacharacter in a name matches only itself.
    assert_eq!(d.aliases_of(&name("o'brien*x@example.com")).await.unwrap(), vec![name("{x}|y@example.com")]);
    assert_eq!(d.account(&name("o'brien*@example.com")).await.unwrap(), None);
    assert_eq!(d.domains().await.unwrap(), vec![utf8_domain.clone(), domain("example.com")]);
    assert_eq!(d.accounts(&utf8_domain).await.unwrap().len(), 1);
    for n in odd {
        d.remove_account(&name(n)).await.unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    assert!(d.aliases(None).await.unwrap().is_empty());
}

// ----- aliases -----

#[tokio::test]
async fn alias_and_account_names_do_not_collide() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_account(&name("bob@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("postmaster@example.com"), &name("alice@example.com")).await.unwrap();

    let error = d.add_account(&name("postmaster@example.com"), "pw", None).await.unwrap_err();
    assert!(matches!(error, DirectoryError::NameTaken(n) if n == name("postmaster@example.com")));
    let error = d.add_alias(&name("bob@example.com"), &name("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::NameTaken(n) if n == name("bob@example.com")));
    let error = d.add_alias(&name("postmaster@example.com"), &name("bob@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::AliasExists(_)));
    let error = d.add_alias(&name("x@example.com"), &name("nobody@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownAccount(n) if n == name("nobody@example.com")));
    // An alias is not an account, so aliases do not chain.
    let error = d.add_alias(&name("y@example.com"), &name("postmaster@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownAccount(_)));
    let error = d.add_alias(&name("alice@example.net"), &name("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownDomain(_)));
}

#[tokio::test]
async fn aliases_are_listed_resolved_and_removed_with_their_account() {
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

    assert_eq!(d.resolve(&name("alice@example.com")).await.unwrap(), Some(name("alice@example.com")));
    assert_eq!(d.resolve(&name("postmaster@example.org")).await.unwrap(), Some(name("alice@example.com")));
    assert_eq!(d.resolve(&name("nobody@example.com")).await.unwrap(), None);
    assert_eq!(d.resolve(&name("alice@example.net")).await.unwrap(), None);

    d.remove_alias(&name("a@example.com")).await.unwrap();
    assert_eq!(d.aliases(Some(&domain("example.com"))).await.unwrap().len(), 2);

    d.remove_account(&name("alice@example.com")).await.unwrap();
    assert_eq!(d.resolve(&name("a.x@example.com")).await.unwrap(), None);
    assert_eq!(d.aliases(None).await.unwrap(), vec![record("b@example.com", "bob@example.com")]);
    d.remove_domain(&domain("example.org")).await.expect("no aliases left in example.org");
    d.add_account(&name("a.x@example.com"), "pw", None).await.expect("name is free again");
}

#[tokio::test]
async fn unknown_things_are_reported_as_unknown() {
    let f = Fixture::with_domains().await;
    let d = &f.directory;
    d.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    d.add_alias(&name("info@example.com"), &name("alice@example.com")).await.unwrap();
    let nobody = name("nobody@example.com");
    let alias = name("info@example.com");
    for who in [&nobody, &alias] {
        assert!(matches!(d.remove_account(who).await, Err(DirectoryError::UnknownAccount(_))), "{who}");
        assert!(matches!(d.set_password(who, "pw").await, Err(DirectoryError::UnknownAccount(_))), "{who}");
        assert!(matches!(d.set_quota(who, None).await, Err(DirectoryError::UnknownAccount(_))), "{who}");
        assert!(matches!(d.aliases_of(who).await, Err(DirectoryError::UnknownAccount(_))), "{who}");
        assert_eq!(d.account(who).await.unwrap(), None);
    }
    assert!(matches!(d.remove_alias(&nobody).await, Err(DirectoryError::UnknownAlias(_))));
    assert!(matches!(d.remove_alias(&name("alice@example.com")).await, Err(DirectoryError::UnknownAlias(_))));
    assert!(matches!(d.accounts(&domain("example.net")).await, Err(DirectoryError::UnknownDomain(_))));
    assert!(matches!(d.aliases(Some(&domain("example.net"))).await, Err(DirectoryError::UnknownDomain(_))));
    assert_eq!(d.resolve(&nobody).await.unwrap(), None);
}

// ----- host servers -----

#[tokio::test]
async fn host_server_is_recorded_on_creation_set_and_read() {
    let f = Fixture::with(|options| options.local_server = Some(domain("sv1.example.com"))).await;
    let d = &f.directory;
    d.add_domain(&domain("example.com")).await.unwrap();
    let alice = name("alice@example.com");
    d.add_account(&alice, "pw", None).await.unwrap();
    d.add_alias(&name("info@example.com"), &alice).await.unwrap();
    assert_eq!(d.host_server(&alice).await.unwrap(), Some(domain("sv1.example.com")));

    d.set_host_server(&alice, &domain("sv2.example.com")).await.unwrap();
    assert_eq!(d.host_server(&alice).await.unwrap(), Some(domain("sv2.example.com")));
    assert_eq!(d.host_server(&name("nobody@example.com")).await.unwrap(), None);
    assert_eq!(d.host_server(&name("info@example.com")).await.unwrap(), None);
    let error = d.set_host_server(&name("nobody@example.com"), &domain("sv2.example.com")).await.unwrap_err();
    assert!(matches!(error, DirectoryError::UnknownAccount(_)));

    // A frontend's cache in front of it.
    let cached = CachedHosts::new(f.directory, HostCacheLimits::default());
    assert_eq!(cached.host_server(&alice).await.unwrap(), Some(domain("sv2.example.com")));
}

/// Adds `count` accounts on `host` straight into slapd in the documented
/// layout, in parallel: argon2 for each through the directory would take
/// most of the test's time budget.
async fn bulk_add(f: &Fixture, prefix: &str, count: usize, host: &str) {
    let ldap = f.raw().await;
    let mut tasks = tokio::task::JoinSet::new();
    let dns: Vec<String> = (0..count).map(|i| f.account_dn(&format!("{prefix}{i:04}@example.com"))).collect();
    for chunk in dns.chunks(count.div_ceil(8).max(1)) {
        let (mut ldap, chunk, host) = (ldap.clone(), chunk.to_vec(), host.to_owned());
        tasks.spawn(async move {
            for dn in chunk {
                let uid = dn.split(',').next().and_then(|rdn| rdn.strip_prefix("uid=")).expect("uid").to_owned();
                let address = format!("{uid}@example.com");
                let attributes = vec![
                    ("objectClass", HashSet::from(["inetOrgPerson", "rookeryAccount"])),
                    ("uid", HashSet::from([uid.as_str()])),
                    ("cn", HashSet::from([address.as_str()])),
                    ("sn", HashSet::from([uid.as_str()])),
                    ("rookeryAddress", HashSet::from([address.as_str()])),
                    ("hostServer", HashSet::from([host.as_str()])),
                ];
                ldap.add(&dn, attributes).await.expect("add").success().expect("added");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("bulk task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_on_reassign_and_restore_over_1200_accounts() {
    // One modify at a time: this slapd has `dbnosync`, with which slapd
    // 2.5.13 crashes on LDAP transactions (tests/ldap_failover.rs covers
    // the batched rewrite on a durable slapd).
    let f = Fixture::with(|options| options.rewrite_batch = 1).await;
    let d = &f.directory;
    d.add_domain(&domain("example.com")).await.unwrap();
    let (sv1, sv2, sv3) = (domain("sv1.example.com"), domain("sv2.example.com"), domain("sv3.example.com"));
    bulk_add(&f, "user", 1200, "sv1.example.com").await;
    bulk_add(&f, "other", 5, "sv2.example.com").await;
    // One of sv2's accounts came from sv3 in an earlier failover.
    let moved_before = name("other0000@example.com");
    let mut ldap = f.raw().await;
    let changes = vec![ldap3::Mod::Replace("oldHostServer", HashSet::from(["sv3.example.com"]))];
    ldap.modify(&f.account_dn("other0000@example.com"), changes).await.unwrap().success().unwrap();

    let on_sv1 = d.accounts_on(&sv1).await.unwrap();
    assert_eq!(on_sv1.len(), 1200, "paged listing returns every account");
    assert_eq!(on_sv1[0], name("user0000@example.com"));
    assert_eq!(on_sv1[1199], name("user1199@example.com"));
    assert_eq!(d.accounts_on(&sv2).await.unwrap().len(), 5);
    // A frontend's read-only bind (anonymous here) is held to slapd's
    // default size limit of 500 entries per search; pages get past it.
    let reader = LdapDirectory::connect(LdapOptions::new(&f.slapd.url(), f.slapd.base_dn(), "", "")).await.unwrap();
    assert_eq!(reader.accounts_on(&sv1).await.unwrap(), on_sv1);
    let (driver, mut anonymous) = LdapConnAsync::new(&f.slapd.url()).await.unwrap();
    tokio::spawn(driver.drive());
    let base = format!("ou=domains,{}", f.slapd.base_dn());
    let unpaged = anonymous.search(&base, Scope::Subtree, "(hostServer=sv1.example.com)", vec!["1.1"]).await.unwrap();
    assert_eq!(
        (unpaged.0.len(), unpaged.1.rc),
        (500, 4),
        "without pages the same search stops at 500 (sizeLimitExceeded)"
    );
    assert_eq!(d.accounts(&domain("example.com")).await.unwrap().len(), 1205);

    // sv2 fails; its accounts go to sv1.
    let mut calls = Vec::new();
    let moved = d.reassign(&sv2, &sv1, &mut |done, total| calls.push((done, total))).await.unwrap();
    assert_eq!(moved, 5);
    assert_eq!(calls, (0..=5).map(|done| (done, 5)).collect::<Vec<_>>());
    assert_eq!(d.accounts_on(&sv1).await.unwrap().len(), 1205);
    assert!(d.accounts_on(&sv2).await.unwrap().is_empty());
    let entry = f.raw_entry(&f.account_dn("other0001@example.com")).await;
    assert_eq!(
        (entry["hostserver"][0].as_str(), entry["oldhostserver"][0].as_str()),
        ("sv1.example.com", "sv2.example.com")
    );
    // Moved twice: it keeps its first home.
    let entry = f.raw_entry(&f.account_dn("other0000@example.com")).await;
    assert_eq!(
        (entry["hostserver"][0].as_str(), entry["oldhostserver"][0].as_str()),
        ("sv1.example.com", "sv3.example.com")
    );
    assert_eq!(d.host_server(&moved_before).await.unwrap(), Some(sv1.clone()));

    // Then sv1 fails too: all 1205 go to sv3.
    let (mut last, mut reports) = ((0, 0), 0);
    let moved = d
        .reassign(&sv1, &sv3, &mut |done, total| {
            last = (done, total);
            reports += 1;
        })
        .await
        .unwrap();
    assert_eq!(moved, 1205);
    assert_eq!((last, reports), ((1205, 1205), 1206));
    assert_eq!(d.accounts_on(&sv3).await.unwrap().len(), 1205);
    let entry = f.raw_entry(&f.account_dn("user0042@example.com")).await;
    assert_eq!(
        (entry["hostserver"][0].as_str(), entry["oldhostserver"][0].as_str()),
        ("sv3.example.com", "sv1.example.com")
    );
    // sv3 was other0000's first home: it is home again, with nothing to undo.
    let entry = f.raw_entry(&f.account_dn("other0000@example.com")).await;
    assert_eq!(entry["hostserver"], vec!["sv3.example.com"]);
    assert!(!entry.contains_key("oldhostserver"), "{entry:?}");

    // sv1 and sv2 come back.
    let mut calls = Vec::new();
    let restored = d.restore(&sv1, &mut |done, total| calls.push((done, total))).await.unwrap();
    assert_eq!(restored, 1200);
    assert_eq!((calls.first(), calls.last(), calls.len()), (Some(&(0, 1200)), Some(&(1200, 1200)), 1201));
    assert_eq!(d.restore(&sv2, &mut |_, _| {}).await.unwrap(), 4);
    assert_eq!(d.accounts_on(&sv1).await.unwrap().len(), 1200);
    assert_eq!(d.accounts_on(&sv2).await.unwrap().len(), 4);
    assert_eq!(d.accounts_on(&sv3).await.unwrap(), vec![moved_before]);
    let entry = f.raw_entry(&f.account_dn("user0042@example.com")).await;
    assert_eq!(entry["hostserver"], vec!["sv1.example.com"]);
    assert!(!entry.contains_key("oldhostserver"), "{entry:?}");
    // Nothing left to undo.
    assert_eq!(d.restore(&sv1, &mut |_, _| {}).await.unwrap(), 0);
    assert_eq!(d.reassign(&sv1, &sv1, &mut |_, _| {}).await.unwrap(), 0);
}

// ----- the server going away -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_directory_survives_a_slapd_restart() {
    let mut f = Fixture::with_domains().await;
    f.directory.add_account(&name("alice@example.com"), "pw", None).await.unwrap();
    tokio::task::block_in_place(|| f.slapd.restart()).expect("restart");
    // The old connection is dead; the next call reconnects by itself.
    assert!(f.directory.account(&name("alice@example.com")).await.unwrap().is_some());
    f.directory.add_account(&name("bob@example.com"), "pw", None).await.unwrap();
    tokio::task::block_in_place(|| f.slapd.stop()).expect("graceful stop");
    tokio::task::block_in_place(|| f.slapd.restart()).expect("start again");
    assert_eq!(f.directory.accounts(&domain("example.com")).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_down_is_a_temporary_backend_error_naming_the_server() {
    let mut f = Fixture::with_domains().await;
    let url = f.slapd.url();
    f.slapd.kill();
    let d = &f.directory;
    assert_backend_error(d.account(&name("alice@example.com")).await, &url);
    assert_backend_error(d.authenticate(&name("alice@example.com"), "pw").await, &url);
    assert_backend_error(d.add_domain(&domain("example.net")).await, &url);
    assert_backend_error(d.host_server(&name("alice@example.com")).await, &url);
    assert_backend_error(d.accounts_on(&domain("sv1.example.com")).await, &url);

    tokio::task::block_in_place(|| f.slapd.restart()).expect("restart");
    assert_eq!(d.domains().await.unwrap().len(), 2);
}

#[tokio::test]
async fn connecting_to_no_server_is_a_backend_error() {
    let f = Fixture::new().await;
    let mut options = options(&f.slapd);
    drop(f);
    let url = options.url.clone();
    options.connect_timeout = std::time::Duration::from_millis(500);
    assert_backend_error(LdapDirectory::connect(options).await.map(|_| ()), &url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_the_connection() {
    let f = Fixture::with_domains().await;
    let directory = Arc::new(f.directory);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let directory = Arc::clone(&directory);
        tasks.spawn(async move {
            let account = name(&format!("user{i}@example.com"));
            directory.add_account(&account, "pw", None).await.expect("add");
            assert_eq!(directory.resolve(&account).await.expect("resolve"), Some(account));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    assert_eq!(directory.accounts(&domain("example.com")).await.unwrap().len(), 8);
}

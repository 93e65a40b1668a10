//! Published service addresses (CM-4) against a real private slapd from
//! the test kit: each member writes where it is reached on its server
//! entry, any other member reads them, a restart replaces them, and a
//! server that published nothing reads as empty. The look-up cache finds
//! a server that published after a miss once the TTL has passed.

use std::time::Duration;

use directory::{
    CachedHosts, HostCacheLimits, HostDirectory, LdapDirectory, LdapOptions, ServiceAddresses, ServiceKind,
};
use ldap3::{LdapConnAsync, Mod, Scope, SearchEntry};
use testkit::slapd::Slapd;
use types::DomainName;

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid domain")
}

fn services(pairs: &[(ServiceKind, &str)]) -> ServiceAddresses {
    pairs.iter().map(|(kind, addr)| (*kind, addr.parse().expect("socket address"))).collect()
}

async fn start() -> Slapd {
    tokio::task::spawn_blocking(Slapd::start).await.expect("task").expect("slapd starts")
}

/// A directory as a member named `server` opens it (`None`: a frontend).
async fn connect(slapd: &Slapd, server: Option<&str>) -> LdapDirectory {
    let mut options = LdapOptions::new(&slapd.url(), slapd.base_dn(), slapd.admin_dn(), slapd.admin_password());
    options.connect_timeout = Duration::from_secs(2);
    options.operation_timeout = Duration::from_secs(10);
    options.local_server = server.map(domain);
    LdapDirectory::connect(options).await.expect("connect")
}

/// The `rookeryService` values of a server entry as slapd has them.
async fn raw_values(slapd: &Slapd, server: &str) -> Vec<String> {
    let (driver, mut ldap) = LdapConnAsync::new(&slapd.url()).await.expect("raw connect");
    tokio::spawn(driver.drive());
    ldap.simple_bind(slapd.admin_dn(), slapd.admin_password()).await.expect("bind").success().expect("bound");
    let dn = format!("cn={server},ou=servers,{}", slapd.base_dn());
    let (mut entries, _) = ldap
        .search(&dn, Scope::Base, "(objectClass=*)", vec!["rookeryService"])
        .await
        .expect("search")
        .success()
        .expect("found");
    let entry = SearchEntry::construct(entries.pop().expect("one entry"));
    let mut values = entry.attrs.get("rookeryService").cloned().unwrap_or_default();
    values.sort();
    values
}

#[tokio::test]
async fn a_member_publishes_its_services_and_every_member_reads_them() {
    let slapd = start().await;
    let backend = connect(&slapd, Some("sv2.example.com")).await;
    let frontend = connect(&slapd, None).await;
    let sv2 = domain("sv2.example.com");

    // Registered on connect, nothing published yet: empty, not an error.
    assert!(frontend.server_services(&sv2).await.unwrap().is_empty());
    assert!(frontend.published_services().await.unwrap().is_empty());

    let published = services(&[
        (ServiceKind::Imap, "10.0.0.11:143"),
        (ServiceKind::Pop3, "10.0.0.11:110"),
        (ServiceKind::Submission, "10.0.0.11:587"),
        (ServiceKind::Link, "[fd00::11]:4410"),
    ]);
    backend.publish_services(&sv2, &published).await.expect("publish");
    assert_eq!(frontend.server_services(&sv2).await.unwrap(), published);
    assert_eq!(frontend.published_services().await.unwrap().get(&sv2), Some(&published));
    assert_eq!(
        raw_values(&slapd, "sv2.example.com").await,
        vec!["imap 10.0.0.11:143", "link [fd00::11]:4410", "pop3 10.0.0.11:110", "submission 10.0.0.11:587"]
    );

    // A restart on other addresses replaces every value; a service no
    // longer offered is gone.
    let moved = services(&[(ServiceKind::Imap, "10.0.0.21:1143"), (ServiceKind::Link, "10.0.0.21:4410")]);
    backend.publish_services(&sv2, &moved).await.expect("publish again");
    assert_eq!(frontend.server_services(&sv2).await.unwrap(), moved);
    assert_eq!(raw_values(&slapd, "sv2.example.com").await, vec!["imap 10.0.0.21:1143", "link 10.0.0.21:4410"]);

    // Publishing nothing removes them.
    backend.publish_services(&sv2, &ServiceAddresses::new()).await.expect("publish none");
    assert!(frontend.server_services(&sv2).await.unwrap().is_empty());
    assert!(frontend.published_services().await.unwrap().is_empty());
}

#[tokio::test]
async fn absent_servers_read_as_empty_and_publishing_makes_the_entry() {
    let slapd = start().await;
    // A frontend's directory: no server entry, not even ou=servers.
    let frontend = connect(&slapd, None).await;
    let stranger = domain("sv9.example.com");
    assert!(frontend.server_services(&stranger).await.unwrap().is_empty());
    assert!(frontend.published_services().await.unwrap().is_empty());

    // A member whose entry is missing (deleted since it connected) makes
    // it again when it publishes.
    let sv3 = domain("sv3.example.com");
    let link = services(&[(ServiceKind::Link, "10.0.0.13:4410")]);
    frontend.publish_services(&sv3, &link).await.expect("publish without an entry");
    assert_eq!(frontend.server_services(&sv3).await.unwrap(), link);
    assert!(frontend.server_services(&stranger).await.unwrap().is_empty());
}

#[tokio::test]
async fn unreadable_values_are_skipped_not_fatal() {
    let slapd = start().await;
    let backend = connect(&slapd, Some("sv2.example.com")).await;
    let sv2 = domain("sv2.example.com");
    backend.publish_services(&sv2, &services(&[(ServiceKind::Imap, "10.0.0.11:143")])).await.expect("publish");
    // A newer member's service and a broken value written behind our back.
    let (driver, mut ldap) = LdapConnAsync::new(&slapd.url()).await.expect("raw connect");
    tokio::spawn(driver.drive());
    ldap.simple_bind(slapd.admin_dn(), slapd.admin_password()).await.expect("bind").success().expect("bound");
    let dn = format!("cn=sv2.example.com,ou=servers,{}", slapd.base_dn());
    let extra = ["jmap 10.0.0.11:8080", "pop3 not-an-address", "link 10.0.0.11:4410"];
    let values = extra.iter().map(|v| v.to_string()).collect();
    ldap.modify(&dn, vec![Mod::Add("rookeryService".to_owned(), values)]).await.expect("modify").success().expect("ok");
    assert_eq!(
        backend.server_services(&sv2).await.unwrap(),
        services(&[(ServiceKind::Imap, "10.0.0.11:143"), (ServiceKind::Link, "10.0.0.11:4410")])
    );
}

#[tokio::test]
async fn the_cache_finds_a_server_published_after_a_miss_within_one_ttl() {
    let slapd = start().await;
    let ttl = Duration::from_millis(500);
    let limits = HostCacheLimits { ttl, ..HostCacheLimits::default() };
    let cached = CachedHosts::new(connect(&slapd, None).await, limits);
    let sv4 = domain("sv4.example.com");
    assert!(cached.server_services(&sv4).await.unwrap().is_empty(), "nothing published yet");
    assert_eq!(cached.last_services(), Some(Default::default()));

    // Another member joins and publishes; the miss is kept at most one TTL.
    let joining = connect(&slapd, Some("sv4.example.com")).await;
    let published = services(&[(ServiceKind::Imap, "10.0.0.14:143"), (ServiceKind::Link, "10.0.0.14:4410")]);
    joining.publish_services(&sv4, &published).await.expect("publish");
    let started = std::time::Instant::now();
    loop {
        let found = cached.server_services(&sv4).await.unwrap();
        if !found.is_empty() {
            assert_eq!(found, published);
            break;
        }
        assert!(started.elapsed() < ttl * 4, "not found within a TTL of publishing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cached.last_services().and_then(|all| all.get(&sv4).cloned()), Some(published.clone()));

    // Publishing through the cache drops the table at once.
    let moved = services(&[(ServiceKind::Imap, "10.0.0.24:143")]);
    cached.publish_services(&sv4, &moved).await.expect("publish through the cache");
    assert_eq!(cached.server_services(&sv4).await.unwrap(), moved);

    // The directory going away keeps the last table rather than failing.
    drop(slapd);
    tokio::time::sleep(ttl).await;
    assert_eq!(cached.server_services(&sv4).await.unwrap(), moved);
}

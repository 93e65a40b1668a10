use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::DirectoryError;

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

fn server(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid server name")
}

/// An in-memory host table that counts look-ups and can be made to fail.
#[derive(Default)]
struct FakeHosts {
    hosts: Mutex<HashMap<AccountName, DomainName>>,
    lookups: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
    adopted: Mutex<Adoptions>,
    adoption_reads: AtomicUsize,
}

impl FakeHosts {
    fn with(pairs: &[(&str, &str)]) -> Self {
        let fake = Self::default();
        for (account, host) in pairs {
            fake.hosts.lock().insert(name(account), server(host));
        }
        fake
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl HostDirectory for FakeHosts {
    async fn host_server(&self, account: &AccountName) -> Result<Option<DomainName>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(DirectoryError::Backend("fake directory down".into()));
        }
        Ok(self.hosts.lock().get(account).cloned())
    }

    async fn set_host_server(&self, account: &AccountName, server: &DomainName) -> Result<()> {
        self.hosts.lock().insert(account.clone(), server.clone());
        Ok(())
    }

    async fn accounts_on(&self, server: &DomainName) -> Result<Vec<AccountName>> {
        let hosts = self.hosts.lock();
        let mut accounts: Vec<_> = hosts.iter().filter(|(_, host)| *host == server).map(|(a, _)| a.clone()).collect();
        accounts.sort();
        Ok(accounts)
    }

    async fn reassign(&self, from: &DomainName, to: &DomainName, progress: Progress<'_>) -> Result<usize> {
        let mut hosts = self.hosts.lock();
        let moving: Vec<_> = hosts.iter().filter(|(_, host)| *host == from).map(|(a, _)| a.clone()).collect();
        progress(0, moving.len());
        for (done, account) in moving.iter().enumerate() {
            hosts.insert(account.clone(), to.clone());
            progress(done + 1, moving.len());
        }
        Ok(moving.len())
    }

    async fn restore(&self, _server: &DomainName, progress: Progress<'_>) -> Result<usize> {
        progress(0, 0);
        Ok(0)
    }

    async fn adoptions(&self) -> Result<Adoptions> {
        self.adoption_reads.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(DirectoryError::Backend("fake directory down".into()));
        }
        Ok(self.adopted.lock().clone())
    }
}

fn limits(ttl_secs: u64, capacity: usize) -> HostCacheLimits {
    HostCacheLimits { ttl: Duration::from_secs(ttl_secs), capacity, server_ttl: Duration::from_secs(2) }
}

#[test]
fn the_default_ttl_is_five_seconds() {
    assert_eq!(HostCacheLimits::default().ttl, Duration::from_secs(5));
}

#[tokio::test]
async fn repeats_within_the_ttl_are_answered_from_memory() {
    let cache = CachedHosts::new(FakeHosts::with(&[("alice@example.com", "sv1.example.com")]), limits(5, 10));
    let alice = name("alice@example.com");
    let t0 = Instant::now();
    for offset in [0, 1, 4] {
        let host = cache.host_server_at(&alice, t0 + Duration::from_secs(offset)).await.unwrap();
        assert_eq!(host, Some(server("sv1.example.com")));
    }
    assert_eq!(cache.inner().lookups(), 1);

    // At the TTL the directory is asked again, and sees the new host.
    cache.inner().hosts.lock().insert(alice.clone(), server("sv2.example.com"));
    let host = cache.host_server_at(&alice, t0 + Duration::from_secs(5)).await.unwrap();
    assert_eq!(host, Some(server("sv2.example.com")));
    assert_eq!(cache.inner().lookups(), 2);
}

#[tokio::test]
async fn unknown_accounts_are_cached_too() {
    let cache = CachedHosts::new(FakeHosts::default(), limits(5, 10));
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(cache.host_server_at(&name("nobody@example.com"), t0).await.unwrap(), None);
    }
    assert_eq!(cache.inner().lookups(), 1);
}

#[tokio::test]
async fn invalidate_makes_the_next_look_up_ask_the_directory() {
    let cache = CachedHosts::new(FakeHosts::with(&[("alice@example.com", "sv1.example.com")]), limits(5, 10));
    let alice = name("alice@example.com");
    let t0 = Instant::now();
    cache.host_server_at(&alice, t0).await.unwrap();
    cache.inner().hosts.lock().insert(alice.clone(), server("sv2.example.com"));
    // "Not hosted here" from sv1:
    cache.invalidate(&alice);
    assert_eq!(cache.host_server_at(&alice, t0).await.unwrap(), Some(server("sv2.example.com")));
    assert_eq!(cache.inner().lookups(), 2);
}

#[tokio::test]
async fn the_oldest_answer_goes_when_the_cache_is_full() {
    let pairs = [
        ("a@example.com", "sv1.example.com"),
        ("b@example.com", "sv1.example.com"),
        ("c@example.com", "sv2.example.com"),
    ];
    let cache = CachedHosts::new(FakeHosts::with(&pairs), limits(60, 2));
    let t0 = Instant::now();
    for (account, _) in pairs {
        cache.host_server_at(&name(account), t0).await.unwrap();
    }
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.inner().lookups(), 3);
    // b and c are cached; a was pushed out.
    cache.host_server_at(&name("c@example.com"), t0).await.unwrap();
    cache.host_server_at(&name("b@example.com"), t0).await.unwrap();
    assert_eq!(cache.inner().lookups(), 3);
    cache.host_server_at(&name("a@example.com"), t0).await.unwrap();
    assert_eq!(cache.inner().lookups(), 4);
    assert_eq!(cache.len(), 2);
}

#[tokio::test]
async fn a_zero_capacity_caches_nothing() {
    let cache = CachedHosts::new(FakeHosts::with(&[("alice@example.com", "sv1.example.com")]), limits(5, 0));
    let t0 = Instant::now();
    cache.host_server_at(&name("alice@example.com"), t0).await.unwrap();
    cache.host_server_at(&name("alice@example.com"), t0).await.unwrap();
    assert_eq!(cache.inner().lookups(), 2);
    assert!(cache.is_empty());
}

#[tokio::test]
async fn errors_are_not_cached() {
    let cache = CachedHosts::new(FakeHosts::with(&[("alice@example.com", "sv1.example.com")]), limits(5, 10));
    let alice = name("alice@example.com");
    let t0 = Instant::now();
    cache.inner().down.store(true, Ordering::SeqCst);
    assert!(matches!(cache.host_server_at(&alice, t0).await, Err(DirectoryError::Backend(_))));
    cache.inner().down.store(false, Ordering::SeqCst);
    assert_eq!(cache.host_server_at(&alice, t0).await.unwrap(), Some(server("sv1.example.com")));
}

#[tokio::test]
async fn writes_through_the_cache_drop_what_they_change() {
    let pairs = [("alice@example.com", "sv1.example.com"), ("bob@example.com", "sv1.example.com")];
    let cache = CachedHosts::new(FakeHosts::with(&pairs), limits(60, 10));
    let (alice, bob) = (name("alice@example.com"), name("bob@example.com"));
    cache.host_server(&alice).await.unwrap();
    cache.host_server(&bob).await.unwrap();

    cache.set_host_server(&alice, &server("sv3.example.com")).await.unwrap();
    assert_eq!(cache.host_server(&alice).await.unwrap(), Some(server("sv3.example.com")));

    let mut calls = Vec::new();
    let moved = cache
        .reassign(&server("sv1.example.com"), &server("sv2.example.com"), &mut |done, total| calls.push((done, total)))
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(calls, vec![(0, 1), (1, 1)]);
    assert!(cache.is_empty());
    assert_eq!(cache.host_server(&bob).await.unwrap(), Some(server("sv2.example.com")));
    assert_eq!(cache.accounts_on(&server("sv2.example.com")).await.unwrap(), vec![bob]);
}

#[tokio::test]
async fn an_adopted_servers_accounts_are_answered_with_the_adopter() {
    let fake = FakeHosts::with(&[("carol@example.com", "sv2.example.com"), ("erin@example.com", "sv3.example.com")]);
    fake.adopted.lock().insert(server("sv2.example.com"), server("sv3.example.com"));
    let cache = CachedHosts::new(fake, limits(5, 10));
    let t0 = Instant::now();
    let carol = name("carol@example.com");
    assert_eq!(cache.host_server_at(&carol, t0).await.unwrap(), Some(server("sv3.example.com")));
    assert_eq!(cache.host_server_at(&name("erin@example.com"), t0).await.unwrap(), Some(server("sv3.example.com")));
    assert_eq!(cache.host_server_at(&name("nobody@example.com"), t0).await.unwrap(), None);
    assert_eq!(cache.inner().adoption_reads.load(Ordering::SeqCst), 1, "one read of the table per server TTL");

    // Released behind the cache's back: seen once the server TTL (2 s) is up.
    cache.inner().adopted.lock().clear();
    let later = t0 + Duration::from_millis(1_500);
    assert_eq!(cache.host_server_at(&carol, later).await.unwrap(), Some(server("sv3.example.com")));
    let later = t0 + Duration::from_secs(2);
    assert_eq!(cache.host_server_at(&carol, later).await.unwrap(), Some(server("sv2.example.com")));
    assert_eq!(cache.inner().lookups(), 3, "the account itself stays cached meanwhile");
}

#[tokio::test]
async fn adopting_through_the_cache_is_seen_at_once_and_a_lost_directory_keeps_the_last_table() {
    let fake = FakeHosts::with(&[("carol@example.com", "sv2.example.com")]);
    let cache = CachedHosts::new(fake, limits(60, 10));
    let t0 = Instant::now();
    let carol = name("carol@example.com");
    assert_eq!(cache.host_server_at(&carol, t0).await.unwrap(), Some(server("sv2.example.com")));
    // The fake keeps no server entries: the trait's default refuses.
    let refused = cache.adopt(&server("sv2.example.com"), &server("sv3.example.com")).await;
    assert!(matches!(refused, Err(AdoptionError::Unsupported)), "{refused:?}");
    // An adoption made elsewhere, then this member's own write drops the
    // table: the next look-up reads it again, without waiting for the TTL.
    cache.inner().adopted.lock().insert(server("sv2.example.com"), server("sv3.example.com"));
    cache.invalidate_adoptions();
    assert_eq!(cache.host_server_at(&carol, t0).await.unwrap(), Some(server("sv3.example.com")));

    // The directory goes away: the account is still cached, and the last
    // table of adoptions goes on routing it.
    cache.inner().down.store(true, Ordering::SeqCst);
    let later = t0 + Duration::from_secs(3);
    assert_eq!(cache.host_server_at(&carol, later).await.unwrap(), Some(server("sv3.example.com")));
    let reads = cache.inner().adoption_reads.load(Ordering::SeqCst);
    cache.host_server_at(&carol, later + Duration::from_millis(500)).await.unwrap();
    assert_eq!(cache.inner().adoption_reads.load(Ordering::SeqCst), reads, "not re-asked on every call");
}

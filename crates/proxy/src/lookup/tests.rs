use super::*;
use directory::{HostCacheLimits, Progress, PublishedServices};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `hostServer` in memory; counts look-ups.
#[derive(Default)]
struct Hosts {
    hosts: Mutex<HashMap<AccountName, DomainName>>,
    lookups: Arc<AtomicUsize>,
    /// What the servers published in the directory (CM-4).
    published: Arc<Mutex<PublishedServices>>,
}

use std::sync::Arc;

#[async_trait]
impl HostDirectory for Hosts {
    async fn host_server(&self, account: &AccountName) -> directory::Result<Option<DomainName>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(self.hosts.lock().unwrap().get(account).cloned())
    }
    async fn set_host_server(&self, account: &AccountName, server: &DomainName) -> directory::Result<()> {
        self.hosts.lock().unwrap().insert(account.clone(), server.clone());
        Ok(())
    }
    async fn accounts_on(&self, _server: &DomainName) -> directory::Result<Vec<AccountName>> {
        Ok(Vec::new())
    }
    async fn reassign(
        &self,
        _from: &DomainName,
        _to: &DomainName,
        _progress: Progress<'_>,
    ) -> directory::Result<usize> {
        Ok(0)
    }
    async fn restore(&self, _server: &DomainName, _progress: Progress<'_>) -> directory::Result<usize> {
        Ok(0)
    }
    async fn published_services(&self) -> directory::Result<PublishedServices> {
        Ok(self.published.lock().unwrap().clone())
    }
}

fn name(s: &str) -> AccountName {
    s.parse().unwrap()
}

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

#[tokio::test]
async fn the_host_server_names_the_service_address_and_invalidate_asks_again() {
    let hosts = Hosts::default();
    hosts.hosts.lock().unwrap().insert(name("alice@shared.example"), domain("sv1.example"));
    hosts.hosts.lock().unwrap().insert(name("carol@shared.example"), domain("sv9.example"));
    let lookups = hosts.lookups.clone();
    let sv1_imap: SocketAddr = "10.0.0.1:143".parse().unwrap();
    let servers = HashMap::from([
        ((domain("sv1.example"), Protocol::Imap), sv1_imap),
        ((domain("sv1.example"), Protocol::Pop3), "10.0.0.1:110".parse().unwrap()),
    ]);
    let lookup = DirectoryBackends::new(Arc::new(CachedHosts::new(hosts, HostCacheLimits::default())), servers);

    let sv1 = Some(Backend::There(sv1_imap));
    assert_eq!(lookup.backend(&name("alice@shared.example"), Protocol::Imap).await.unwrap(), sv1);
    assert_eq!(lookup.backend(&name("alice@shared.example"), Protocol::Imap).await.unwrap(), sv1);
    assert_eq!(lookups.load(Ordering::SeqCst), 1, "the second answer is cached");
    lookup.invalidate(&name("alice@shared.example"));
    lookup.backend(&name("alice@shared.example"), Protocol::Imap).await.unwrap();
    assert_eq!(lookups.load(Ordering::SeqCst), 2, "asked again after invalidate");

    assert_eq!(lookup.backend(&name("nobody@shared.example"), Protocol::Imap).await.unwrap(), None);
    // A host or service the configuration lacks is "try later", not
    // "no such account".
    assert!(lookup.backend(&name("alice@shared.example"), Protocol::Submission).await.is_err());
    assert!(lookup.backend(&name("carol@shared.example"), Protocol::Imap).await.is_err());
}

#[tokio::test]
async fn a_static_table_answers_per_account_and_protocol() {
    let addr: SocketAddr = "127.0.0.2:143".parse().unwrap();
    let lookup = StaticBackends::new().with(name("alice@x.example"), Protocol::Imap, addr);
    assert_eq!(lookup.backend(&name("alice@x.example"), Protocol::Imap).await.unwrap(), Some(Backend::There(addr)));
    assert_eq!(lookup.backend(&name("alice@x.example"), Protocol::Pop3).await.unwrap(), None);
}

#[tokio::test]
async fn a_symmetric_member_serves_its_own_accounts_here_and_proxies_the_others() {
    let hosts = Hosts::default();
    hosts.hosts.lock().unwrap().insert(name("alice@shared.example"), domain("sv1.example"));
    hosts.hosts.lock().unwrap().insert(name("bob@shared.example"), domain("sv2.example"));
    let sv2_pop3: SocketAddr = "10.0.0.2:110".parse().unwrap();
    let servers = HashMap::from([((domain("sv2.example"), Protocol::Pop3), sv2_pop3)]);
    let lookup = DirectoryBackends::new(Arc::new(CachedHosts::new(hosts, HostCacheLimits::default())), servers)
        .hosting(domain("sv1.example"));

    // Its own accounts need no service address: they never leave.
    assert_eq!(lookup.backend(&name("alice@shared.example"), Protocol::Pop3).await.unwrap(), Some(Backend::Here));
    assert_eq!(
        lookup.backend(&name("bob@shared.example"), Protocol::Pop3).await.unwrap(),
        Some(Backend::There(sv2_pop3))
    );
    // No host recorded: the member's locator takes it as its own, and the
    // local session answers for it (a wrong password if it is unknown).
    assert_eq!(lookup.backend(&name("old@shared.example"), Protocol::Pop3).await.unwrap(), Some(Backend::Here));
}

#[tokio::test]
async fn a_server_the_config_does_not_name_is_reached_at_the_address_it_published() {
    let hosts = Hosts::default();
    hosts.hosts.lock().unwrap().insert(name("dave@shared.example"), domain("sv4.example"));
    hosts.hosts.lock().unwrap().insert(name("alice@shared.example"), domain("sv1.example"));
    let published = hosts.published.clone();
    let configured: SocketAddr = "10.0.0.1:143".parse().unwrap();
    let servers = HashMap::from([((domain("sv1.example"), Protocol::Imap), configured)]);
    let ttl = std::time::Duration::from_millis(200);
    let limits = HostCacheLimits { ttl, ..HostCacheLimits::default() };
    let lookup = DirectoryBackends::new(Arc::new(CachedHosts::new(hosts, limits)), servers);

    // Not started yet: found nowhere is "try later", with the old text.
    let error = lookup.backend(&name("dave@shared.example"), Protocol::Imap).await.unwrap_err();
    assert!(error.to_string().contains("no imap address configured for server sv4.example"), "{error}");

    // It starts and publishes; the miss is re-read after one TTL.
    let sv4_imap: SocketAddr = "10.0.0.14:143".parse().unwrap();
    let sv4_pop3: SocketAddr = "10.0.0.14:110".parse().unwrap();
    let sv1_elsewhere: SocketAddr = "10.0.0.99:143".parse().unwrap();
    published.lock().unwrap().extend([
        (domain("sv4.example"), [(ServiceKind::Imap, sv4_imap), (ServiceKind::Pop3, sv4_pop3)].into()),
        (domain("sv1.example"), [(ServiceKind::Imap, sv1_elsewhere)].into()),
    ]);
    tokio::time::sleep(ttl).await;
    assert_eq!(
        lookup.backend(&name("dave@shared.example"), Protocol::Imap).await.unwrap(),
        Some(Backend::There(sv4_imap))
    );
    assert_eq!(
        lookup.backend(&name("dave@shared.example"), Protocol::Pop3).await.unwrap(),
        Some(Backend::There(sv4_pop3))
    );
    // A service it did not publish is still "try later".
    assert!(lookup.backend(&name("dave@shared.example"), Protocol::Submission).await.is_err());
    // The configuration wins over what a server published.
    assert_eq!(
        lookup.backend(&name("alice@shared.example"), Protocol::Imap).await.unwrap(),
        Some(Backend::There(configured))
    );
}

//! Several directory servers (CM-36) against a real replicated pair from
//! the test kit: a slapd provider (syncprov) on 127.0.0.1 and a syncrepl
//! consumer on 127.0.0.2. Replication itself, reads that move to the other
//! server when one is killed (SIGKILL) and come back when it returns,
//! writes that go to the primary only (or through a consumer's referral
//! to a server we list), and fail at once when it is down.

use std::time::{Duration, Instant};

use directory::{Directory, DirectoryError, HostDirectory, LdapDirectory, LdapOptions};
use testkit::slapd::Slapd;
use types::{AccountName, DomainName};

/// Failover must be quick: a killed server refuses connections at once.
const FAILOVER_LIMIT: Duration = Duration::from_secs(5);
/// Replication on loopback takes milliseconds; this covers a loaded machine.
const REPLICATION_LIMIT: Duration = Duration::from_secs(20);

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid domain")
}

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

struct Pair {
    provider: Slapd,
    consumer: Slapd,
}

impl Pair {
    async fn start() -> Self {
        tokio::task::spawn_blocking(|| {
            let provider = Slapd::start_provider()?;
            let consumer = Slapd::start_consumer(&provider)?;
            anyhow::Ok(Pair { provider, consumer })
        })
        .await
        .expect("task")
        .expect("replicated slapd pair starts")
    }

    fn caught_up(&self) {
        tokio::task::block_in_place(|| self.consumer.wait_caught_up(&self.provider, REPLICATION_LIMIT))
            .expect("consumer catches up");
    }

    /// A directory reading from `url` first, then `replicas`; it writes to
    /// `url`. Servers that failed are tried again after a second.
    async fn directory(&self, url: &str, replicas: &[&str], local_server: Option<&str>) -> LdapDirectory {
        let p = &self.provider;
        let mut options = LdapOptions::new(url, p.base_dn(), p.admin_dn(), p.admin_password());
        options.replicas = replicas.iter().map(|url| url.to_string()).collect();
        options.local_server = local_server.map(domain);
        options.connect_timeout = Duration::from_secs(2);
        options.operation_timeout = Duration::from_secs(10);
        options.retry_down_after = Duration::from_secs(1);
        LdapDirectory::connect(options).await.expect("connect")
    }

    /// example.com with alice@example.com (password "pw") on sv1, written
    /// on the provider and replicated.
    async fn seed(&self) {
        let writer = self.directory(&self.provider.url(), &[], Some("sv1.example.com")).await;
        writer.add_domain(&domain("example.com")).await.expect("add domain");
        writer.add_account(&name("alice@example.com"), "pw", None).await.expect("add alice");
        self.caught_up();
    }
}

fn backend_error<T: std::fmt::Debug>(result: Result<T, DirectoryError>) -> String {
    match result {
        Err(DirectoryError::Backend(message)) => message,
        other => panic!("expected a back-end error, got {other:?}"),
    }
}

/// account, authenticate and host_server all answer alice's record, within
/// [`FAILOVER_LIMIT`] together.
async fn reads_answer(directory: &LdapDirectory) {
    let alice = name("alice@example.com");
    let started = Instant::now();
    assert!(directory.account(&alice).await.expect("account").is_some());
    assert!(directory.authenticate(&alice, "pw").await.expect("authenticate").is_some());
    assert_eq!(directory.authenticate(&alice, "wrong").await.expect("authenticate"), None);
    assert_eq!(directory.host_server(&alice).await.expect("host_server"), Some(domain("sv1.example.com")));
    assert_eq!(directory.domains().await.expect("domains"), vec![domain("example.com")]);
    let took = started.elapsed();
    assert!(took < FAILOVER_LIMIT, "reads took {took:?}");
}

/// Reads until one is answered by `url`; fails after `limit`.
async fn reads_return_to(directory: &LdapDirectory, url: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        // Every read answers meanwhile, from whichever server.
        assert!(directory.account(&name("alice@example.com")).await.expect("account").is_some());
        if directory.last_read_server() == url {
            return;
        }
        assert!(started.elapsed() < limit, "reads still go to {}, not {url}", directory.last_read_server());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_added_on_the_provider_is_read_through_the_consumer() {
    let pair = Pair::start().await;
    let (provider_url, consumer_url) = (pair.provider.url(), pair.consumer.url());
    let writer = pair.directory(&provider_url, &[], Some("sv1.example.com")).await;
    writer.add_domain(&domain("example.com")).await.expect("add domain");
    // The reader needs ou=domains on the consumer; it has no way to write it.
    pair.caught_up();
    let reader = pair.directory(&consumer_url, &[], None).await;

    let alice = name("alice@example.com");
    writer.add_account(&alice, "pw", None).await.expect("add alice");
    let started = Instant::now();
    while reader.host_server(&alice).await.expect("host_server").is_none() {
        assert!(started.elapsed() < REPLICATION_LIMIT, "alice never reached the consumer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reader.host_server(&alice).await.unwrap(), Some(domain("sv1.example.com")));
    assert!(reader.authenticate(&alice, "pw").await.unwrap().is_some());
    assert_eq!(reader.last_read_server(), consumer_url);

    // A write sent to the consumer is referred to the provider; this
    // directory does not list the provider, so the referral is not followed.
    let bob = name("bob@example.com");
    let refused = backend_error(reader.add_account(&bob, "pw", None).await);
    assert!(refused.contains(&consumer_url) && refused.contains("refers writes to"), "{refused}");
    assert!(refused.contains(&pair.provider.addr().to_string()), "{refused}");
    assert_eq!(writer.account(&bob).await.unwrap(), None);

    // Listing the provider makes it one of ours: the write reaches it, and
    // this process reads its own write at once, from the provider.
    let frontend = pair.directory(&consumer_url, &[&provider_url], None).await;
    frontend.add_account(&bob, "pw", None).await.expect("add through the referral");
    assert!(frontend.account(&bob).await.unwrap().is_some());
    assert_eq!(frontend.last_read_server(), provider_url);
    assert!(writer.account(&bob).await.unwrap().is_some(), "bob is on the provider");
    // The consumer copies it; once the write is old, reads go back there.
    pair.caught_up();
    assert!(reader.account(&bob).await.unwrap().is_some(), "bob replicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_move_to_the_provider_while_the_consumer_is_down_and_come_back() {
    let mut pair = Pair::start().await;
    pair.seed().await;
    let (provider_url, consumer_url) = (pair.provider.url(), pair.consumer.url());
    let frontend = pair.directory(&consumer_url, &[&provider_url], None).await;
    reads_answer(&frontend).await;
    assert_eq!(frontend.last_read_server(), consumer_url);

    pair.consumer.kill();
    reads_answer(&frontend).await;
    assert_eq!(frontend.last_read_server(), provider_url);

    tokio::task::block_in_place(|| pair.consumer.restart()).expect("consumer restarts");
    pair.caught_up();
    reads_return_to(&frontend, &consumer_url, Duration::from_secs(10)).await;
    reads_answer(&frontend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_move_to_the_consumer_while_the_provider_is_down_and_writes_fail_at_once() {
    let mut pair = Pair::start().await;
    pair.seed().await;
    let (provider_url, consumer_url) = (pair.provider.url(), pair.consumer.url());
    let backend = pair.directory(&provider_url, &[&consumer_url], Some("sv1.example.com")).await;
    reads_answer(&backend).await;
    assert_eq!(backend.last_read_server(), provider_url);

    pair.provider.kill();
    reads_answer(&backend).await;
    assert_eq!(backend.last_read_server(), consumer_url);

    // Writes go to the primary only: refused at once, naming it, and
    // nothing is written to the consumer.
    let bob = name("bob@example.com");
    let started = Instant::now();
    let refused = backend_error(backend.add_account(&bob, "pw", None).await);
    assert!(refused.contains(&provider_url) && refused.contains("unreachable"), "{refused}");
    let refused = backend_error(backend.set_quota(&name("alice@example.com"), Some(1)).await);
    assert!(refused.contains(&provider_url), "{refused}");
    let took = started.elapsed();
    assert!(took < FAILOVER_LIMIT, "failed writes took {took:?}");
    assert_eq!(backend.account(&bob).await.unwrap(), None);
    assert_eq!(backend.account(&name("alice@example.com")).await.unwrap().map(|a| a.quota_bytes), Some(None));

    // Both down: the error names both, and comes at once too.
    pair.consumer.kill();
    let started = Instant::now();
    let down = backend_error(backend.account(&name("alice@example.com")).await);
    assert!(down.contains(&provider_url) && down.contains(&consumer_url), "{down}");
    assert!(started.elapsed() < FAILOVER_LIMIT, "took {:?}", started.elapsed());

    tokio::task::block_in_place(|| pair.provider.restart()).expect("provider restarts");
    tokio::task::block_in_place(|| pair.consumer.restart()).expect("consumer restarts");
    backend.add_account(&bob, "pw", None).await.expect("writes work again");
    reads_return_to(&backend, &provider_url, Duration::from_secs(10)).await;
    pair.caught_up();
    reads_answer(&backend).await;
}

/// A server that takes connections but never answers (a hung machine)
/// costs the requests waiting for it one connect timeout together, not one
/// each, one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_one_connect_timeout_not_one_per_request() {
    let slapd = tokio::task::spawn_blocking(Slapd::start).await.expect("task").expect("slapd starts");
    let admin = |url: &str| LdapOptions::new(url, slapd.base_dn(), slapd.admin_dn(), slapd.admin_password());
    let seed = LdapDirectory::connect(admin(&slapd.url())).await.expect("connect");
    seed.add_domain(&domain("example.com")).await.expect("add domain");

    // Never accepted: the kernel completes the handshakes, nobody answers.
    let silent = std::net::TcpListener::bind("127.0.0.3:0").expect("bind");
    let silent_url = format!("ldap://{}/", silent.local_addr().expect("addr"));
    let mut options = admin(&silent_url);
    options.replicas = vec![slapd.url()];
    options.connect_timeout = Duration::from_secs(1);
    // The worst case: every read tries the silent server first again.
    options.retry_down_after = Duration::ZERO;
    let directory = std::sync::Arc::new(LdapDirectory::connect(options).await.expect("connect through the replica"));

    let started = Instant::now();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let directory = directory.clone();
        reads.spawn(async move { directory.has_domain(&domain("example.com")).await });
    }
    while let Some(read) = reads.join_next().await {
        assert!(read.expect("task").expect("answered by the replica"));
    }
    let took = started.elapsed();
    // One timeout of 1 s (eight in a row would be 8 s).
    assert!(took < Duration::from_secs(4), "8 reads took {took:?}");
    assert_eq!(directory.last_read_server(), slapd.url());

    // A write waits for the silent primary once, then fails naming it.
    let started = Instant::now();
    let refused = backend_error(directory.add_domain(&domain("example.net")).await);
    assert!(refused.contains(&silent_url) && refused.contains("unreachable"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    assert!(!seed.has_domain(&domain("example.net")).await.unwrap());
}

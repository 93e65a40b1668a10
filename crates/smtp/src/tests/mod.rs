//! Sessions driven through the `net::Session` trait, as the driver would:
//! bytes in, replies out, against a real directory, store and queue in a
//! temporary directory.

mod auth;
mod lmtp;
mod smtp;
mod submission;

use crate::{Role, SmtpConfig, SmtpServices, SmtpSession};
use bytes::{Bytes, BytesMut};
use delivery::LocalDelivery;
use directory::{Directory, EmbeddedDirectory};
use net::{ConnInfo, Session, Step};
use queue::{Queue, QueueConfig};
use std::sync::Arc;
use std::time::Duration;
use store::{Durability, Store, StoreConfig};
use types::{AccountName, DomainName};

pub(crate) const HOSTNAME: &str = "mx.test";
pub(crate) const PASSWORD: &str = "secret";

/// A directory with the main domain `example.com` holding `alice`
/// (unlimited), `carol` (quota 2000 bytes), `postmaster` and the alias
/// `al` -> `alice`.
pub(crate) struct World {
    pub services: Arc<SmtpServices>,
    pub store: Arc<Store>,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let directory = EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
        let domain = DomainName::parse("example.com").unwrap();
        directory.add_domain(&domain).await.unwrap();
        directory.add_account(&name("alice@example.com"), PASSWORD, None).await.unwrap();
        directory.add_account(&name("carol@example.com"), PASSWORD, Some(2000)).await.unwrap();
        directory.add_account(&name("postmaster@example.com"), PASSWORD, None).await.unwrap();
        directory.add_alias(&name("al@example.com"), &name("alice@example.com")).await.unwrap();
        let store =
            Arc::new(Store::open(&dir.path().join("store"), StoreConfig { durability: Durability::Buffered }).unwrap());
        let delivery = LocalDelivery::new(Arc::new(directory), store.clone(), Arc::new(cluster::SingleServer), domain);
        let queue = Queue::open(QueueConfig {
            dir: dir.path().join("queue"),
            fsync: false,
            delivery_concurrency: 1,
            retry_schedule: vec![Duration::from_secs(60)],
            max_age: Duration::from_secs(3600),
            ..QueueConfig::new(dir.path().join("queue"))
        })
        .unwrap();
        let services = Arc::new(SmtpServices { delivery: Arc::new(delivery), queue: Arc::new(queue) });
        World { services, store, _dir: dir }
    }

    pub fn queue(&self) -> &Queue {
        &self.services.queue
    }

    /// The messages in an account's INBOX, oldest first.
    pub async fn inbox(&self, account: &str) -> Vec<Bytes> {
        let account = self.store.account(&name(account)).await.unwrap();
        let snapshot = account.snapshot("INBOX").unwrap();
        let mut bodies = Vec::new();
        for message in &snapshot.messages {
            bodies.push(account.read(snapshot.info.id, message.uid).await.unwrap());
        }
        bodies
    }
}

pub(crate) fn name(s: &str) -> AccountName {
    AccountName::parse(s, None).unwrap()
}

pub(crate) fn config(role: Role) -> SmtpConfig {
    SmtpConfig { hostname: HOSTNAME.to_owned(), role, auth_failure_delay: Duration::ZERO, ..SmtpConfig::default() }
}

pub(crate) fn loopback() -> ConnInfo {
    ConnInfo {
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:25".parse().unwrap(),
        tls: false,
        tls_available: true,
        proxied_by: None,
    }
}

pub(crate) fn remote_peer() -> ConnInfo {
    ConnInfo {
        peer: "192.0.2.10:40000".parse().unwrap(),
        local: "192.0.2.1:25".parse().unwrap(),
        tls: false,
        tls_available: true,
        proxied_by: None,
    }
}

/// One client connection to a session.
pub(crate) struct Client {
    pub session: SmtpSession,
    pub input: BytesMut,
    /// What the session asked of the driver after the last input.
    pub step: Step,
}

impl Client {
    pub async fn connect(world: &World, config: SmtpConfig, conn: ConnInfo) -> (Client, String) {
        let mut session = SmtpSession::new(Arc::new(config), world.services.clone(), conn);
        let mut out = Vec::new();
        let step = session.greeting(&mut out).await;
        let client = Client { session, input: BytesMut::new(), step };
        (client, String::from_utf8(out).unwrap())
    }

    /// A client that has connected and sent EHLO/LHLO.
    pub async fn greeted(world: &World, config: SmtpConfig, conn: ConnInfo) -> Client {
        let greeting = if config.role == Role::Lmtp { "LHLO" } else { "EHLO" };
        let (mut client, _) = Client::connect(world, config, conn).await;
        client.send(&format!("{greeting} client.example\r\n")).await;
        client
    }

    /// Feeds bytes as one read and returns the replies written.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> String {
        self.input.extend_from_slice(bytes);
        let mut out = Vec::new();
        self.step = self.session.input(&mut self.input, &mut out).await;
        String::from_utf8(out).unwrap()
    }

    pub async fn send(&mut self, text: &str) -> String {
        self.send_bytes(text.as_bytes()).await
    }

    /// Sends and returns the reply codes with their enhanced status,
    /// one per reply line (`"250 2.1.5"`).
    pub async fn codes(&mut self, text: &str) -> Vec<String> {
        codes(&self.send(text).await)
    }

    /// Authenticates with PLAIN.
    pub async fn login(&mut self, login: &str) {
        let response = sasl_plain("", login, PASSWORD);
        assert_eq!(self.codes(&format!("AUTH PLAIN {response}\r\n")).await, ["235 2.7.0"]);
    }
}

pub(crate) fn codes(replies: &str) -> Vec<String> {
    replies
        .split_terminator("\r\n")
        .map(|line| {
            let mut words = line.splitn(3, ' ');
            let code = words.next().unwrap_or_default();
            match words.next() {
                Some(status) if status.chars().next().is_some_and(|c| c.is_ascii_digit()) && status.contains('.') => {
                    format!("{code} {status}")
                }
                _ => code.to_owned(),
            }
        })
        .collect()
}

pub(crate) fn sasl_plain(authzid: &str, authcid: &str, password: &str) -> String {
    sasl::encode_challenge(format!("{authzid}\0{authcid}\0{password}").as_bytes())
}

/// A message of `size` octets with a short header.
pub(crate) fn message(size: usize) -> String {
    let mut text = String::from("Subject: test\r\nFrom: a@example.org\r\n\r\n");
    while text.len() + 80 <= size {
        text.push_str(&"x".repeat(78));
        text.push_str("\r\n");
    }
    text
}

//! The move's steps against two members served in this process (real
//! stores, real cluster link on loopback) and a directory that can be
//! made to fail: what a failure after the freeze leaves behind, and that
//! trying again then succeeds.

use super::*;
use crate::remote_mailbox::MailboxService;
use async_trait::async_trait;
use cluster::link::{
    AdminError, AdminOperation, AdminReply, DeliverRequest, LinkConfig, LinkHandler, LinkServer, MailboxReply,
};
use cluster::{LocateError, Location, Locator};
use directory::{DirectoryError, Progress};
use queue::Outcome;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use store::{Flag, Store, StoreConfig};
use tempfile::TempDir;

const SECRET: &str = "unit test cluster secret";

fn alice() -> AccountName {
    AccountName::parse("alice@example.com", None).unwrap()
}

fn name(server: &str) -> DomainName {
    DomainName::parse(server).unwrap()
}

/// `hostServer` of alice, whose switch can be made to fail.
struct Hosts {
    host: Mutex<DomainName>,
    fail_switch: AtomicBool,
}

#[async_trait]
impl HostDirectory for Hosts {
    async fn host_server(&self, _account: &AccountName) -> directory::Result<Option<DomainName>> {
        Ok(Some(self.host.lock().unwrap().clone()))
    }
    async fn set_host_server(&self, _account: &AccountName, server: &DomainName) -> directory::Result<()> {
        if self.fail_switch.load(Ordering::SeqCst) {
            return Err(DirectoryError::Backend("ldap://directory: connection refused".into()));
        }
        *self.host.lock().unwrap() = server.clone();
        Ok(())
    }
    async fn accounts_on(&self, _server: &DomainName) -> directory::Result<Vec<AccountName>> {
        Ok(vec![alice()])
    }
    async fn reassign(&self, _from: &DomainName, _to: &DomainName, _p: Progress<'_>) -> directory::Result<usize> {
        Ok(0)
    }
    async fn restore(&self, _server: &DomainName, _p: Progress<'_>) -> directory::Result<usize> {
        Ok(0)
    }
}

/// A member's locator over [`Hosts`].
struct HostsLocator {
    hosts: Arc<Hosts>,
    me: DomainName,
}

#[async_trait]
impl Locator for HostsLocator {
    async fn locate(&self, _account: &AccountName) -> Result<Location, LocateError> {
        let host = self.hosts.host.lock().unwrap().clone();
        Ok(if host == self.me { Location::Here } else { Location::Elsewhere { server: host.to_string() } })
    }
}

/// A member that serves mailbox operations only.
struct MailboxOnly(Arc<MailboxService>);

#[async_trait]
impl LinkHandler for MailboxOnly {
    async fn deliver(&self, _peer: SocketAddr, r: DeliverRequest) -> Vec<Outcome> {
        vec![Outcome::Deferred("not here".into()); r.envelope.recipients.len()]
    }
    async fn submit(&self, _peer: SocketAddr, r: DeliverRequest) -> Vec<Outcome> {
        vec![Outcome::Deferred("not here".into()); r.envelope.recipients.len()]
    }
    async fn admin(&self, _peer: SocketAddr, _o: AdminOperation) -> Result<AdminReply, AdminError> {
        Err(AdminError::Refused("not here".into()))
    }
    async fn mailbox(
        &self,
        _peer: SocketAddr,
        op: MailboxOp,
        body: Bytes,
    ) -> (Result<MailboxReply, MailboxError>, Bytes) {
        self.0.serve(op, body).await
    }
}

struct Member {
    dir: TempDir,
    store: Arc<Store>,
    link: LinkServer,
}

async fn member(server: &str, hosts: &Arc<Hosts>) -> Member {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("accounts"), StoreConfig::default()).unwrap());
    let directory = directory::EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
    let locator = Arc::new(HostsLocator { hosts: hosts.clone(), me: name(server) });
    let delivery =
        Arc::new(delivery::LocalDelivery::new(Arc::new(directory), store.clone(), locator, name("example.com")));
    let handler = Arc::new(MailboxOnly(MailboxService::new(delivery, None)));
    let mut config = LinkConfig::new("127.0.0.1:0".parse().unwrap(), SECRET);
    config.allow = vec!["127.0.0.1".parse().unwrap()];
    let link = LinkServer::bind(&config, ClusterSecret::new(SECRET.as_bytes()), handler).await.unwrap();
    Member { dir, store, link }
}

fn mover(old: &Member, new: &Member) -> Mover {
    let config = LinkConfig::new("127.0.0.1:0".parse().unwrap(), SECRET);
    Mover {
        client: LinkClient::new(&config, ClusterSecret::new(SECRET.as_bytes())),
        account: alice(),
        source: Host { name: name("sv1.test"), address: old.link.local_addr() },
        target: Host { name: name("sv2.test"), address: new.link.local_addr() },
        token: random_token(),
        mailboxes: BTreeMap::new(),
        totals: Totals::default(),
        upload_ids: 0,
    }
}

/// The names in the account's domain directory.
fn entries(member: &Member) -> Vec<String> {
    let dir = member.dir.path().join("accounts/example.com");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_directory_failure_after_the_freeze_leaves_the_account_served_where_it_was() {
    let hosts = Arc::new(Hosts { host: Mutex::new(name("sv1.test")), fail_switch: AtomicBool::new(true) });
    let old = member("sv1.test", &hosts).await;
    let new = member("sv2.test", &hosts).await;
    let account = old.store.account(&alice()).await.unwrap();
    account.create_mailbox("Work").await.unwrap();
    for i in 0..20 {
        let body = Bytes::from(format!("Message-ID: <{i}@x>\r\n\r\nbody\r\n"));
        let (mailbox, flags) = if i % 2 == 0 { ("INBOX", vec![Flag::Seen]) } else { ("Work", vec![]) };
        account.append(mailbox, body, flags, 1_600_000_000 + i, None).await.unwrap();
    }
    drop(account);

    let error = mover(&old, &new).run(hosts.as_ref()).await.unwrap_err();
    assert!(format!("{error:#}").contains("switching hostServer"), "{error:#}");
    // Served where it was, not frozen, everything there; the copy on the
    // new host set aside.
    assert_eq!(*hosts.host.lock().unwrap(), name("sv1.test"));
    let account = old.store.account(&alice()).await.expect("unfrozen");
    assert_eq!(account.status("INBOX").unwrap().messages, 10);
    assert_eq!(account.status("Work").unwrap().messages, 10);
    account.create_mailbox("Writable").await.expect("writes are taken again");
    assert_eq!(entries(&old), vec!["alice".to_owned()]);
    let abandoned = entries(&new);
    assert!(abandoned.len() == 1 && abandoned[0].starts_with("alice~abandoned-"), "{abandoned:?}");
    drop(account);

    // With the directory back, the same move goes through.
    hosts.fail_switch.store(false, Ordering::SeqCst);
    mover(&old, &new).run(hosts.as_ref()).await.unwrap();
    assert_eq!(*hosts.host.lock().unwrap(), name("sv2.test"));
    let moved = new.store.account(&alice()).await.unwrap();
    let inbox = moved.snapshot("INBOX").unwrap();
    assert_eq!(inbox.messages.len(), 10);
    assert!(inbox.messages.iter().all(|m| m.flags == vec![Flag::Seen] && m.internal_date >= 1_600_000_000));
    assert_eq!(moved.status("Work").unwrap().messages, 10);
    assert!(moved.status("Writable").is_ok());
    let parked = entries(&old);
    assert!(parked.len() == 1 && parked[0].starts_with("alice~moved-to-sv2.test-"), "{parked:?}");
    // The old host will not start an empty alice again.
    assert!(old.store.account(&alice()).await.is_err());
}

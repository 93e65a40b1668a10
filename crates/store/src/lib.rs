//! Account storage: mailboxes, messages, UIDs, flags, modification
//! sequences and quota, durable and crash-safe.
//!
//! Each account lives in one self-contained directory (so that it can be
//! copied to another server or opened from shared storage by another
//! cluster member). This crate knows nothing of protocols, the directory
//! or the network; callers pass in what policy needs (the quota limit).
//! It must not read configuration files or the environment.
//!
//! On disk (see `layout.rs`): per account a metadata journal of
//! CRC32-framed transactions over a snapshot, and message bytes in
//! append-only segment files. In memory: the committed metadata behind a
//! lock that readers hold only briefly; writers are serialised per account
//! and group-committed (`commit.rs`).
#![forbid(unsafe_code)]

mod account;
mod blobs;
mod cache;
mod codec;
mod commit;
mod expunged;
mod fence;
mod flags;
mod freeze;
mod ids;
mod journal;
mod layout;
mod meta;
mod names;
mod ops;
mod plan;
mod snapshot;

use account::Inner;
use bytes::Bytes;
pub use fence::Fence;
use plan::{Reply, Request};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;
use types::{AccountName, MailboxId, ModSeq, Uid, UidValidity};

/// How hard the store tries to reach the disk before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync before a write is acknowledged (the default; DESIGN §8).
    #[default]
    Fsync,
    /// Leave flushing to the kernel. Only for tests that do not kill.
    Buffered,
}

#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    pub durability: Durability,
}

/// Sizes and thresholds of the storage format; the defaults suit
/// production, tests shrink them to exercise snapshots and compaction.
#[derive(Debug, Clone)]
pub struct StoreLimits {
    /// A segment file takes new message bytes until it would grow past
    /// this; then a new segment starts.
    pub segment_bytes: u64,
    /// The journal is folded into a new snapshot once it is larger than
    /// this and than `journal_snapshot_ratio` times the last snapshot.
    pub journal_min_bytes: u64,
    pub journal_snapshot_ratio: u64,
    /// How many delivery ids are remembered after their messages are gone
    /// (ids of messages still present are always remembered).
    pub recent_delivery_ids: usize,
    /// Open accounts kept when no one uses them; beyond it unused ones are
    /// closed.
    pub open_accounts: usize,
    /// Bytes of live messages compaction moves in one step between group
    /// commits.
    pub compaction_step_bytes: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            segment_bytes: 64 << 20,
            journal_min_bytes: 4 << 20,
            journal_snapshot_ratio: 4,
            recent_delivery_ids: 100_000,
            open_accounts: 1000,
            compaction_step_bytes: 8 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("quota exceeded: {usage} of {limit} bytes used")]
    QuotaExceeded { usage: u64, limit: u64 },
    #[error("no mailbox {0}")]
    NoSuchMailbox(String),
    #[error("mailbox {0} already exists")]
    MailboxExists(String),
    #[error("invalid mailbox name {0:?}")]
    BadMailboxName(String),
    #[error("mailbox {0} cannot be removed or renamed")]
    MailboxProtected(String),
    #[error("no message with uid {0}")]
    NoSuchMessage(Uid),
    #[error("account data is damaged: {0}")]
    Corrupt(String),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The account is frozen while it moves to another server; try again
    /// later (it will then be served by its new host).
    #[error("account {0} is being moved; try again later")]
    Frozen(String),
    /// Another member of a dynamic cluster owns the account (or this one
    /// no longer may write it, see [`Fence`]); try again later, when the
    /// session or delivery reaches its owner.
    #[error("account {0} is not open on this server")]
    NotOwned(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How much of a message [`Account::read_many`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Every byte, checked against the message's checksum.
    Whole,
    /// The header: every line up to and including the first empty line,
    /// or the whole message if it has none (see [`header_length`]). Only
    /// the start of a large message is read, and its checksum, which
    /// covers every byte, is then not checked (`blobs.rs`).
    Header,
}

/// The length of a message's header block: every line up to and
/// including the first empty one (RFC 5322 §2.1), or the whole message if
/// it has none. [`Extent::Header`] reads exactly these bytes.
pub fn header_length(message: &[u8]) -> usize {
    blobs::header_end(message, 0).unwrap_or(message.len())
}

/// A system or keyword flag (RFC 9051 §2.3.2). `\Recent` is not stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Keyword(String),
}

/// How STORE combines the given flags with those present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// Identifies one delivery attempt so that a retried delivery (after a
/// crash between the store's commit and the queue's record of it) is
/// recognised and not stored twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryId(pub u128);

/// A message to deliver into a mailbox.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: DeliveryId,
    /// Usually `INBOX`; created if missing.
    pub mailbox: String,
    pub body: Bytes,
    pub flags: Vec<Flag>,
    /// Unix seconds.
    pub internal_date: i64,
    /// The account's limit in bytes, from the directory; `None`: unlimited.
    pub quota_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        uid: Uid,
    },
    /// This delivery id was stored before; nothing was written.
    Duplicate {
        uid: Uid,
    },
}

/// Bytes and messages used by an account, over all its mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub bytes: u64,
    pub messages: u64,
}

/// A mailbox as LIST/STATUS see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    pub id: MailboxId,
    pub name: String,
    pub uid_validity: UidValidity,
    pub uid_next: Uid,
    pub highest_modseq: ModSeq,
    pub messages: u32,
    pub unseen: u32,
    pub size: u64,
    pub subscribed: bool,
}

/// One message's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: Uid,
    pub flags: Vec<Flag>,
    /// Unix seconds.
    pub internal_date: i64,
    pub size: u64,
    pub modseq: ModSeq,
}

/// A consistent view of one mailbox at one moment.
#[derive(Debug, Clone)]
pub struct MailboxSnapshot {
    pub info: MailboxInfo,
    /// Ascending by UID.
    pub messages: Vec<MessageMeta>,
}

/// The account storage of one server: a root directory holding one
/// directory per account.
pub struct Store {
    root: PathBuf,
    config: StoreConfig,
    limits: StoreLimits,
    cache: cache::Cache,
    /// Mailboxes a new account gets besides INBOX.
    initial_mailboxes: Vec<String>,
    /// Accounts moved away from this server: never opened (so never made
    /// anew) here again until accepted back (`freeze.rs`).
    moved_away: parking_lot::Mutex<std::collections::HashSet<AccountName>>,
    /// Which accounts this process may open and write (`fence.rs`);
    /// `None`: all of them.
    fence: Option<Arc<dyn Fence>>,
}

impl Store {
    /// Opens the store rooted at `root`, creating the directory if needed.
    pub fn open(root: &Path, config: StoreConfig) -> Result<Store> {
        Self::open_with_limits(root, config, StoreLimits::default())
    }

    /// [`Store::open`] with other format thresholds.
    pub fn open_with_limits(root: &Path, config: StoreConfig, limits: StoreLimits) -> Result<Store> {
        std::fs::create_dir_all(root)?;
        let cache = cache::Cache::new(limits.open_accounts.max(1));
        let moved_away = parking_lot::Mutex::default();
        Ok(Store {
            root: root.to_owned(),
            config,
            limits,
            cache,
            initial_mailboxes: Vec::new(),
            moved_away,
            fence: None,
        })
    }

    /// Mailboxes (subscribed) that a new account gets besides INBOX, such
    /// as the special-use ones IMAP clients look for (Drafts, Sent, Trash).
    /// Only accounts created afterwards get them: an account whose
    /// mailboxes were deleted does not get them back.
    pub fn with_initial_mailboxes(mut self, names: &[&str]) -> Store {
        self.initial_mailboxes = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The account's directory, whether or not it exists yet.
    pub fn account_dir(&self, name: &AccountName) -> PathBuf {
        layout::account_dir(&self.root, name)
    }

    /// Opens the account, creating its directory (with an INBOX) on first
    /// use, recovering it after a crash if needed. Handles are cached and
    /// shared: every caller gets the same `Arc` while any holds it.
    /// With a [`Fence`], an account this member does not own is refused
    /// ([`StoreError::NotOwned`]) before anything is opened or created.
    pub async fn account(&self, name: &AccountName) -> Result<Arc<Account>> {
        if self.moved_away.lock().contains(name) {
            return Err(StoreError::Frozen(name.to_string()));
        }
        if self.fence.as_ref().is_some_and(|fence| !fence.may_open(name)) {
            return Err(StoreError::NotOwned(name.to_string()));
        }
        let account = self.cache.get_or_open(name, || self.open_account(name)).await?;
        // A frozen account takes no new sessions or deliveries (`freeze.rs`).
        if account.is_frozen() {
            return Err(StoreError::Frozen(name.to_string()));
        }
        // Released or fenced off, its last writes still finishing: the
        // cache opens it afresh once they have (`fence.rs`).
        if account.inner.refuses_writes() {
            return Err(StoreError::NotOwned(name.to_string()));
        }
        account.inner.touch();
        Ok(account)
    }

    async fn open_account(&self, name: &AccountName) -> Result<Arc<Account>> {
        // Opening writes too (recovery cuts a torn tail, a new account gets
        // its directory), so it needs the right to write.
        if self.fence.as_ref().is_some_and(|fence| !fence.may_write(name)) {
            return Err(StoreError::NotOwned(name.to_string()));
        }
        let (dir, name, config, limits, fence) =
            (self.account_dir(name), name.clone(), self.config.clone(), self.limits.clone(), self.fence.clone());
        let inner = blocking(move || Inner::open(dir, name, &config, &limits, fence)).await?;
        let has_inbox = inner.meta.read().by_name.contains_key(names::INBOX);
        let inner = Arc::new(inner);
        if !has_inbox {
            inner.submit(Request::EnsureInbox(self.initial_mailboxes.clone())).await?;
        }
        Ok(Arc::new(Account { inner }))
    }

    /// Waits until no open account has a commit or a maintenance step
    /// (snapshot, compaction) running: for an orderly shutdown, and for
    /// tests that reopen the same files.
    pub async fn wait_idle(&self) {
        for account in self.cache.open_accounts() {
            account.wait_idle().await;
        }
    }

    /// Deletes the account's directory and everything in it.
    pub async fn remove_account(&self, name: &AccountName) -> Result<()> {
        if let Some(account) = self.cache.take(name) {
            let inner = account.inner.clone();
            blocking(move || {
                inner.close_for_removal();
                Ok(())
            })
            .await?;
        }
        let dir = self.account_dir(name);
        let sync = self.config.durability == Durability::Fsync;
        blocking(move || {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            if let Some(parent) = dir.parent().filter(|_| sync) {
                layout::sync_dir(parent)?;
            }
            Ok(())
        })
        .await
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}

/// One open account. All methods are safe to call concurrently; writes
/// are serialised per account and committed in groups.
pub struct Account {
    inner: Arc<Inner>,
}

/// Held while a POP3 session has the account's mailbox open; a second
/// attempt gets `None` from [`Account::try_lock_exclusive`] ([IN-USE]).
pub struct ExclusiveGuard {
    inner: Arc<Inner>,
}

impl Drop for ExclusiveGuard {
    fn drop(&mut self) {
        self.inner.exclusive.store(false, Ordering::Release);
    }
}

fn unexpected(reply: Reply) -> StoreError {
    StoreError::Corrupt(format!("unexpected commit reply {reply:?}"))
}

impl Account {
    pub fn name(&self) -> &AccountName {
        &self.inner.name
    }

    /// No commit is running and no exclusive guard is held, so closing the
    /// account loses nothing. (The committer thread may still hold its
    /// reference for a moment after it stopped; it writes nothing more.)
    fn is_idle(&self) -> bool {
        !self.inner.queue.lock().running && !self.inner.exclusive.load(Ordering::Acquire)
    }

    /// Stores a delivered message durably (fsync) before returning.
    /// Fails with [`StoreError::QuotaExceeded`] when it would not fit.
    pub async fn deliver(&self, delivery: Delivery) -> Result<DeliveryOutcome> {
        let crc = crc32fast::hash(&delivery.body);
        match self.inner.submit(Request::Deliver { delivery, crc }).await? {
            Reply::Delivered(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// IMAP APPEND: stores `body` in an existing mailbox, durably.
    pub async fn append(
        &self,
        mailbox: &str,
        body: Bytes,
        flags: Vec<Flag>,
        internal_date: i64,
        quota_bytes: Option<u64>,
    ) -> Result<(UidValidity, Uid)> {
        let crc = crc32fast::hash(&body);
        let request = Request::Append { mailbox: mailbox.to_owned(), body, crc, flags, internal_date, quota_bytes };
        match self.inner.submit(request).await? {
            Reply::Appended(uid_validity, uid) => Ok((uid_validity, uid)),
            other => Err(unexpected(other)),
        }
    }

    /// Waits until no commit or maintenance step of this account runs.
    pub async fn wait_idle(&self) {
        self.inner.wait_idle().await;
    }

    pub fn usage(&self) -> Usage {
        self.inner.meta.read().usage
    }

    /// Every mailbox, by name.
    pub fn mailboxes(&self) -> Vec<MailboxInfo> {
        self.inner.meta.read().infos()
    }

    /// Every subscribed name, whether or not the mailbox exists (LSUB and
    /// LIST-EXTENDED's `\NonExistent`).
    pub fn subscriptions(&self) -> Vec<String> {
        self.inner.meta.read().subscriptions.iter().cloned().collect()
    }

    /// One mailbox's counters (STATUS) without its message list.
    pub fn status(&self, mailbox: &str) -> Result<MailboxInfo> {
        let name = names::normalize(mailbox)?;
        let meta = self.inner.meta.read();
        let mb = meta.mailbox_by_name(&name).ok_or(StoreError::NoSuchMailbox(name))?;
        Ok(meta.info(mb))
    }

    pub fn snapshot(&self, mailbox: &str) -> Result<MailboxSnapshot> {
        let name = names::normalize(mailbox)?;
        let meta = self.inner.meta.read();
        let mb = meta.mailbox_by_name(&name).ok_or(StoreError::NoSuchMailbox(name))?;
        Ok(meta.snapshot(mb))
    }

    /// UID ranges (first, last) of `mailbox` expunged after modseq `since`,
    /// ascending, for QRESYNC's VANISHED (EARLIER). When the mailbox's
    /// bounded history does not reach back that far, every UID below
    /// uid_next that is not in the mailbox: a superset RFC 7162 §3.2.5.2
    /// allows.
    pub fn expunged_since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Vec<(Uid, Uid)>> {
        let meta = self.inner.meta.read();
        let mb = meta.mailboxes.get(&mailbox.0).ok_or_else(|| StoreError::NoSuchMailbox(format!("#{}", mailbox.0)))?;
        let ranges =
            mb.expunged.since(since.0).unwrap_or_else(|| expunged::missing(mb.messages.keys().copied(), mb.uid_next));
        Ok(ranges.into_iter().map(|(a, b)| (Uid(a), Uid(b))).collect())
    }

    /// A counter that moves after every committed change to the account,
    /// for IMAP IDLE and NOTIFY: wait on `changed()`, then look again.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The message's bytes exactly as stored.
    pub async fn read(&self, mailbox: MailboxId, uid: Uid) -> Result<Bytes> {
        let mut read = self.inner.read_many(mailbox, vec![uid], Extent::Whole).await?;
        read.pop().flatten().ok_or(StoreError::NoSuchMessage(uid))
    }

    /// Several messages of one mailbox, each whole or only its header
    /// (see [`Extent`]), in the order of `uids`; `None` for a message that
    /// is not (or no longer) there. One trip to a blocking thread for all
    /// of them: a hop per message costs far more than reading it, and
    /// under load each hop waits behind every other session's work.
    pub async fn read_many(&self, mailbox: MailboxId, uids: &[Uid], extent: Extent) -> Result<Vec<Option<Bytes>>> {
        self.inner.read_many(mailbox, uids.to_vec(), extent).await
    }

    /// Creates the mailbox and any missing superiors (RFC 9051 §6.3.4).
    pub async fn create_mailbox(&self, name: &str) -> Result<MailboxId> {
        match self.inner.submit(Request::CreateMailbox(name.to_owned())).await? {
            Reply::Mailbox(id) => Ok(id),
            other => Err(unexpected(other)),
        }
    }

    /// INBOX cannot be deleted. Inferiors are kept (RFC 9051 §6.3.5);
    /// subscriptions are kept too (§6.3.9).
    pub async fn delete_mailbox(&self, name: &str) -> Result<()> {
        self.done(Request::DeleteMailbox(name.to_owned())).await
    }

    /// Renames the mailbox and its inferiors, creating missing superiors of
    /// the new name; subscriptions follow. Renaming INBOX moves its
    /// messages into a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
    pub async fn rename_mailbox(&self, from: &str, to: &str) -> Result<()> {
        self.done(Request::Rename { from: from.to_owned(), to: to.to_owned() }).await
    }

    /// Subscribing needs an existing mailbox; unsubscribing any name works.
    pub async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<()> {
        self.done(Request::Subscribe { name: name.to_owned(), subscribed }).await
    }

    async fn done(&self, request: Request) -> Result<()> {
        match self.inner.submit(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Changes flags; with `unchanged_since` (CONDSTORE) messages modified
    /// after it are left alone and returned in the second list.
    ///
    /// The first list has every other given message that exists, with its
    /// flags and modseq after the change; messages whose flags did not
    /// change keep their modseq (RFC 7162 §3.2). UIDs that do not exist
    /// are ignored.
    pub async fn set_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<ModSeq>,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>)> {
        let request = Request::SetFlags { mailbox, uids: uids.to_vec(), op, flags: flags.to_vec(), unchanged_since };
        match self.inner.submit(request).await? {
            Reply::Flags(changed, failed) => Ok((changed, failed)),
            other => Err(unexpected(other)),
        }
    }

    /// Removes messages durably; returns the UIDs actually removed.
    pub async fn expunge(&self, mailbox: MailboxId, uids: &[Uid]) -> Result<Vec<Uid>> {
        match self.inner.submit(Request::Expunge { mailbox, uids: uids.to_vec() }).await? {
            Reply::Expunged(uids) => Ok(uids),
            other => Err(unexpected(other)),
        }
    }

    /// Copies messages without copying their bytes; returns (old, new)
    /// UID pairs for COPYUID. The quota is not checked: a copy takes no
    /// new space on disk.
    pub async fn copy(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> Result<Vec<(Uid, Uid)>> {
        self.copy_or_move(from, uids, to, false).await
    }

    /// Copy and expunge in one durable step (RFC 6851).
    pub async fn move_messages(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> Result<Vec<(Uid, Uid)>> {
        self.copy_or_move(from, uids, to, true).await
    }

    async fn copy_or_move(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        expunge: bool,
    ) -> Result<Vec<(Uid, Uid)>> {
        match self.inner.submit(Request::Copy { from, uids: uids.to_vec(), to, expunge }).await? {
            Reply::Copied(pairs) => Ok(pairs),
            other => Err(unexpected(other)),
        }
    }

    pub fn try_lock_exclusive(&self) -> Option<ExclusiveGuard> {
        self.inner
            .exclusive
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| ExclusiveGuard { inner: self.inner.clone() })
    }
}

#[cfg(test)]
mod tests;

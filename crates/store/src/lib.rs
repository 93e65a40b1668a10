//! Account storage: mailboxes, messages, UIDs, flags, modification
//! sequences and quota, durable and crash-safe.
//!
//! Each account lives in one self-contained directory (so that it can be
//! copied to another server or opened from shared storage by another
//! cluster member). This crate knows nothing of protocols, the directory
//! or the network; callers pass in what policy needs (the quota limit).
#![forbid(unsafe_code)]

use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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
pub struct Store {}

impl Store {
    /// Opens the store rooted at `root`, creating the directory if needed.
    pub fn open(_root: &Path, _config: StoreConfig) -> Result<Store> {
        todo!()
    }

    /// The account's directory, whether or not it exists yet.
    pub fn account_dir(&self, _name: &AccountName) -> PathBuf {
        todo!()
    }

    /// Opens the account, creating its directory (with an INBOX) on first
    /// use, recovering it after a crash if needed. Handles are cached and
    /// shared: every caller gets the same `Arc` while any holds it.
    pub async fn account(&self, _name: &AccountName) -> Result<Arc<Account>> {
        todo!()
    }

    /// Deletes the account's directory and everything in it.
    pub async fn remove_account(&self, _name: &AccountName) -> Result<()> {
        todo!()
    }
}

/// One open account. All methods are safe to call concurrently; writes
/// are serialised per account and committed in groups.
pub struct Account {}

/// Held while a POP3 session has the account's mailbox open; a second
/// attempt gets `None` from [`Account::try_lock_exclusive`] ([IN-USE]).
pub struct ExclusiveGuard {}

impl Account {
    pub fn name(&self) -> &AccountName {
        todo!()
    }

    /// Stores a delivered message durably (fsync) before returning.
    /// Fails with [`StoreError::QuotaExceeded`] when it would not fit.
    pub async fn deliver(&self, _delivery: Delivery) -> Result<DeliveryOutcome> {
        todo!()
    }

    /// IMAP APPEND: stores `body` in an existing mailbox, durably.
    pub async fn append(
        &self,
        _mailbox: &str,
        _body: Bytes,
        _flags: Vec<Flag>,
        _internal_date: i64,
        _quota_bytes: Option<u64>,
    ) -> Result<(UidValidity, Uid)> {
        todo!()
    }

    pub fn usage(&self) -> Usage {
        todo!()
    }

    pub fn mailboxes(&self) -> Vec<MailboxInfo> {
        todo!()
    }

    pub fn snapshot(&self, _mailbox: &str) -> Result<MailboxSnapshot> {
        todo!()
    }

    /// The message's bytes exactly as stored.
    pub async fn read(&self, _mailbox: MailboxId, _uid: Uid) -> Result<Bytes> {
        todo!()
    }

    pub async fn create_mailbox(&self, _name: &str) -> Result<MailboxId> {
        todo!()
    }

    /// INBOX cannot be deleted.
    pub async fn delete_mailbox(&self, _name: &str) -> Result<()> {
        todo!()
    }

    pub async fn rename_mailbox(&self, _from: &str, _to: &str) -> Result<()> {
        todo!()
    }

    pub async fn set_subscribed(&self, _name: &str, _subscribed: bool) -> Result<()> {
        todo!()
    }

    /// Changes flags; with `unchanged_since` (CONDSTORE) messages modified
    /// after it are left alone and returned in the second list.
    pub async fn set_flags(
        &self,
        _mailbox: MailboxId,
        _uids: &[Uid],
        _op: FlagOp,
        _flags: &[Flag],
        _unchanged_since: Option<ModSeq>,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>)> {
        todo!()
    }

    /// Removes messages durably; returns the UIDs actually removed.
    pub async fn expunge(&self, _mailbox: MailboxId, _uids: &[Uid]) -> Result<Vec<Uid>> {
        todo!()
    }

    /// Copies messages without copying their bytes; returns (old, new)
    /// UID pairs for COPYUID.
    pub async fn copy(&self, _from: MailboxId, _uids: &[Uid], _to: MailboxId) -> Result<Vec<(Uid, Uid)>> {
        todo!()
    }

    /// Copy and expunge in one durable step (RFC 6851).
    pub async fn move_messages(&self, _from: MailboxId, _uids: &[Uid], _to: MailboxId) -> Result<Vec<(Uid, Uid)>> {
        todo!()
    }

    pub fn try_lock_exclusive(&self) -> Option<ExclusiveGuard> {
        todo!()
    }
}

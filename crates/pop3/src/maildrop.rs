//! The maildrop of the TRANSACTION state: the INBOX as it was at login,
//! numbered 1..n, with the deletion marks of this session.

use std::fmt;
use std::sync::Arc;
use store::{Account, ExclusiveGuard, MailboxSnapshot};
use types::{MailboxId, Uid, UidValidity};

/// One message of the maildrop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message {
    pub uid: Uid,
    pub size: u64,
    /// Marked by DELE; removed from the store only at QUIT.
    pub deleted: bool,
}

/// Why a message number names no message the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoMessage {
    OutOfRange { msg: u32, count: usize },
    Deleted { msg: u32 },
}

impl fmt::Display for NoMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoMessage::OutOfRange { msg, count } => {
                write!(f, "no such message {msg}, only {count} messages in maildrop")
            }
            NoMessage::Deleted { msg } => write!(f, "message {msg} already deleted"),
        }
    }
}

pub(crate) struct Maildrop {
    pub account: Arc<Account>,
    /// The account's POP3 lock; dropping the maildrop releases it.
    _guard: ExclusiveGuard,
    pub mailbox: MailboxId,
    pub uid_validity: UidValidity,
    /// Message number `n` is `messages[n - 1]`.
    pub messages: Vec<Message>,
    /// Set when the account's sessions must close (it is moving to
    /// another server).
    pub closing: tokio::sync::watch::Receiver<Option<Arc<str>>>,
}

impl Maildrop {
    pub fn new(account: Arc<Account>, guard: ExclusiveGuard, snapshot: MailboxSnapshot) -> Self {
        let messages =
            snapshot.messages.iter().map(|meta| Message { uid: meta.uid, size: meta.size, deleted: false }).collect();
        let closing = account.closing();
        let (mailbox, uid_validity) = (snapshot.info.id, snapshot.info.uid_validity);
        Self { account, _guard: guard, mailbox, uid_validity, messages, closing }
    }

    /// The message numbered `msg`, unless it is out of range or deleted.
    pub fn get(&self, msg: u32) -> Result<&Message, NoMessage> {
        let count = self.messages.len();
        let message = index(msg).and_then(|i| self.messages.get(i)).ok_or(NoMessage::OutOfRange { msg, count })?;
        if message.deleted {
            return Err(NoMessage::Deleted { msg });
        }
        Ok(message)
    }

    /// Like [`Maildrop::get`], for marking.
    pub fn get_mut(&mut self, msg: u32) -> Result<&mut Message, NoMessage> {
        let count = self.messages.len();
        let message = index(msg).and_then(|i| self.messages.get_mut(i)).ok_or(NoMessage::OutOfRange { msg, count })?;
        if message.deleted {
            return Err(NoMessage::Deleted { msg });
        }
        Ok(message)
    }

    /// The messages not marked deleted, with their numbers.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Message)> {
        (1..).zip(&self.messages).filter(|(_, message)| !message.deleted)
    }

    /// Count and total size of the messages not marked deleted (STAT).
    pub fn stat(&self) -> (usize, u64) {
        self.live().fold((0, 0), |(count, size), (_, message)| (count + 1, size + message.size))
    }

    /// The UIDL unique id (RFC 1939 §7): `<uidvalidity>.<uid>`, stable
    /// across sessions for as long as the mailbox keeps its UIDVALIDITY.
    pub fn unique_id(&self, message: &Message) -> impl fmt::Display {
        UniqueId { uid_validity: self.uid_validity, uid: message.uid }
    }

    pub fn deleted_uids(&self) -> Vec<Uid> {
        self.messages.iter().filter(|message| message.deleted).map(|message| message.uid).collect()
    }
}

/// Message numbers start at 1 (RFC 1939 §3).
fn index(msg: u32) -> Option<usize> {
    usize::try_from(msg).ok()?.checked_sub(1)
}

struct UniqueId {
    uid_validity: UidValidity,
    uid: Uid,
}

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.uid_validity.0, self.uid.0)
    }
}

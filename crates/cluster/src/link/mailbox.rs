//! Remote mailbox access (CM-26), protocol version 2: operations on an
//! account that another member hosts, and the steps of moving an account
//! between members (`rookery account move`). Logged under
//! `cluster::mailbox`.
//!
//! Mailboxes are named by the host's [`MailboxId`](types::MailboxId)
//! number once listed, so a rename between two requests cannot make one
//! mailbox's messages land in another. Flags travel as IMAP text
//! (`\Seen`, keywords). Message bytes travel raw as the frame's body:
//! [`MailboxOp::Import`] sends one, [`MailboxReply::Messages`] and
//! [`MailboxReply::Part`] answer with them.
//!
//! Sizes: a fetch answers at most [`MAX_FETCH_BYTES`] of message bytes
//! and a meta under [`super::MAX_META`] (at most [`MAX_FETCH_MESSAGES`]
//! messages, [`MAX_CHANGES`] flag changes). A message larger than a batch
//! comes alone and cut short; the rest is read with
//! [`MailboxOp::FetchPart`]. An import larger than a request frame is sent
//! as an upload in parts ([`Upload`]), which the receiving member
//! assembles (bounded in total) and stores when the last part arrives.

use serde::{Deserialize, Serialize};
use types::AccountName;

/// The most message bytes one fetch answer carries.
pub const MAX_FETCH_BYTES: u32 = 16 << 20;
/// The most messages one fetch answer lists.
pub const MAX_FETCH_MESSAGES: u32 = 4096;
/// The most flag changes one [`MailboxOp::Changes`] answer lists.
pub const MAX_CHANGES: u32 = 8192;

/// One part of a message sent in pieces: `id` is chosen by the sender and
/// names the upload on the receiver; parts come in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub id: u64,
    /// Where this part starts in the message.
    pub offset: u64,
    /// The whole message's size.
    pub total: u64,
}

/// An operation on a mailbox or an account of the receiving member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailboxOp {
    /// Every mailbox with its counters, and the subscribed names.
    ListMailboxes {
        account: AccountName,
    },
    /// Messages with a UID above `after_uid`, ascending, with flags,
    /// internal date and bytes; at most `max_messages` and about
    /// `max_bytes` (capped at [`MAX_FETCH_MESSAGES`], [`MAX_FETCH_BYTES`]).
    Fetch {
        account: AccountName,
        mailbox: u32,
        after_uid: u32,
        max_messages: u32,
        max_bytes: u32,
    },
    /// The bytes of one message from `offset` on, at most `max_bytes`.
    FetchPart {
        account: AccountName,
        mailbox: u32,
        uid: u32,
        offset: u64,
        max_bytes: u32,
    },
    /// Messages with a UID above `after_uid` whose flags changed after
    /// `since_modseq`, and (in the first batch, `after_uid` 0) the UIDs
    /// expunged since then.
    Changes {
        account: AccountName,
        mailbox: u32,
        since_modseq: u64,
        after_uid: u32,
    },
    /// Creates the mailbox (and missing superiors).
    CreateMailbox {
        account: AccountName,
        name: String,
    },
    DeleteMailbox {
        account: AccountName,
        name: String,
    },
    RenameMailbox {
        account: AccountName,
        from: String,
        to: String,
    },
    SetSubscribed {
        account: AccountName,
        name: String,
        subscribed: bool,
    },
    /// Stores the request's body in `mailbox` with these flags and
    /// internal date (unix seconds); an APPEND, durable before the answer.
    Import {
        account: AccountName,
        mailbox: String,
        flags: Vec<String>,
        internal_date: i64,
        upload: Option<Upload>,
    },
    /// Replaces the flags of these messages.
    SetFlags {
        account: AccountName,
        mailbox: u32,
        uids: Vec<u32>,
        flags: Vec<String>,
    },
    Expunge {
        account: AccountName,
        mailbox: u32,
        uids: Vec<u32>,
    },
    /// Move, on the receiving (new) host: set aside any copy of the account
    /// left here by an earlier attempt, then open it empty, with mailbox
    /// UIDVALIDITYs above `uid_validity_above` (the old host's highest), so
    /// clients that knew the old UIDs resynchronise. Refused when this
    /// member hosts the account already.
    PrepareMoveIn {
        account: AccountName,
        uid_validity_above: u32,
    },
    /// Move failed, on the new host: set the partial copy aside.
    AbandonMoveIn {
        account: AccountName,
    },
    /// Move, on the old host: refuse writes, deliveries (deferred) and
    /// logins (temporary failure) and close live sessions, until
    /// `lease_secs` from now; the same `token` renews. A lease that runs
    /// out unfreezes, so an orchestrator that died leaves the account
    /// served here.
    Freeze {
        account: AccountName,
        token: u64,
        lease_secs: u32,
    },
    /// Move failed, on the old host: serve the account again.
    Unfreeze {
        account: AccountName,
        token: u64,
    },
    /// Move done, on the old host, once the directory names `to` as the
    /// host: forget the cached host, set the old copy aside (parked, not
    /// deleted), end the freeze.
    CompleteMoveOut {
        account: AccountName,
        token: u64,
        to: String,
    },
    /// Move done, on the new host, once the directory names it: forget the
    /// cached host, so sessions and deliveries are served here at once.
    CompleteMoveIn {
        account: AccountName,
    },
}

impl MailboxOp {
    pub fn account(&self) -> &AccountName {
        match self {
            MailboxOp::ListMailboxes { account }
            | MailboxOp::Fetch { account, .. }
            | MailboxOp::FetchPart { account, .. }
            | MailboxOp::Changes { account, .. }
            | MailboxOp::CreateMailbox { account, .. }
            | MailboxOp::DeleteMailbox { account, .. }
            | MailboxOp::RenameMailbox { account, .. }
            | MailboxOp::SetSubscribed { account, .. }
            | MailboxOp::Import { account, .. }
            | MailboxOp::SetFlags { account, .. }
            | MailboxOp::Expunge { account, .. }
            | MailboxOp::PrepareMoveIn { account, .. }
            | MailboxOp::AbandonMoveIn { account }
            | MailboxOp::CompleteMoveIn { account }
            | MailboxOp::Freeze { account, .. }
            | MailboxOp::Unfreeze { account, .. }
            | MailboxOp::CompleteMoveOut { account, .. } => account,
        }
    }

    /// Safe to send again after a broken connection: reads, and writes
    /// whose repetition changes nothing.
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self,
            MailboxOp::ListMailboxes { .. }
                | MailboxOp::Fetch { .. }
                | MailboxOp::FetchPart { .. }
                | MailboxOp::Changes { .. }
                | MailboxOp::SetSubscribed { .. }
                | MailboxOp::SetFlags { .. }
                | MailboxOp::Expunge { .. }
                | MailboxOp::Freeze { .. }
                | MailboxOp::Unfreeze { .. }
                | MailboxOp::CompleteMoveIn { .. }
        )
    }

    /// The operation's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            MailboxOp::ListMailboxes { .. } => "list-mailboxes",
            MailboxOp::Fetch { .. } => "fetch",
            MailboxOp::FetchPart { .. } => "fetch-part",
            MailboxOp::Changes { .. } => "changes",
            MailboxOp::CreateMailbox { .. } => "create-mailbox",
            MailboxOp::DeleteMailbox { .. } => "delete-mailbox",
            MailboxOp::RenameMailbox { .. } => "rename-mailbox",
            MailboxOp::SetSubscribed { .. } => "set-subscribed",
            MailboxOp::Import { .. } => "import",
            MailboxOp::SetFlags { .. } => "set-flags",
            MailboxOp::Expunge { .. } => "expunge",
            MailboxOp::PrepareMoveIn { .. } => "prepare-move-in",
            MailboxOp::AbandonMoveIn { .. } => "abandon-move-in",
            MailboxOp::Freeze { .. } => "freeze",
            MailboxOp::Unfreeze { .. } => "unfreeze",
            MailboxOp::CompleteMoveOut { .. } => "complete-move-out",
            MailboxOp::CompleteMoveIn { .. } => "complete-move-in",
        }
    }

    /// Whether the op may carry a body (only imports do).
    pub(crate) fn takes_body(&self) -> bool {
        matches!(self, MailboxOp::Import { .. })
    }
}

/// A mailbox as its host lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxState {
    pub id: u32,
    pub name: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    pub messages: u32,
    pub size: u64,
    pub subscribed: bool,
}

/// One message of a fetch answer; its bytes are the next `len` bytes of
/// the answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedMessage {
    pub uid: u32,
    pub flags: Vec<String>,
    pub internal_date: i64,
    pub modseq: u64,
    /// The whole message's size.
    pub size: u64,
    /// Bytes of it in this answer: less than `size` only for a message
    /// larger than the batch, which then comes alone (the rest by
    /// [`MailboxOp::FetchPart`]).
    pub len: u64,
}

/// A message whose flags changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagChange {
    pub uid: u32,
    pub flags: Vec<String>,
    /// The message's modseq: a copy made at this modseq or later has
    /// these flags already.
    pub modseq: u64,
}

/// A successful [`MailboxOp`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailboxReply {
    Done,
    Mailboxes {
        mailboxes: Vec<MailboxState>,
        subscriptions: Vec<String>,
    },
    /// `more`: messages above the last one listed remain.
    Messages {
        uid_validity: u32,
        messages: Vec<FetchedMessage>,
        more: bool,
    },
    /// A piece of one message (the body), whose whole size is `size`.
    Part {
        size: u64,
    },
    /// `vanished`: UID ranges (first, last) expunged since the modseq.
    Changes {
        changed: Vec<FlagChange>,
        vanished: Vec<(u32, u32)>,
        more: bool,
    },
    Created {
        mailbox: u32,
        uid_validity: u32,
    },
    /// `uid` is `None` while an upload waits for more parts.
    Imported {
        uid_validity: u32,
        uid: Option<u32>,
    },
    /// The receiving member's mailboxes after a prepare.
    Prepared {
        mailboxes: Vec<MailboxState>,
    },
    /// Where the old copy was set aside, if there was one.
    Parked {
        path: Option<String>,
    },
}

/// A failed [`MailboxOp`], as the receiving member reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MailboxError {
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(String),
    /// The account is not served by the receiving member.
    #[error("account {account} is not hosted here but on {host}")]
    NotHere { account: String, host: String },
    /// Frozen for a move (by someone else's token, for a freeze).
    #[error("account {0} is frozen for a move")]
    Frozen(String),
    #[error("refused: {0}")]
    Refused(String),
    /// Storage or directory trouble; a retry may succeed.
    #[error("failed: {0}")]
    Failed(String),
}

#[cfg(test)]
mod tests;

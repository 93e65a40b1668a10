//! The in-memory metadata of one account: mailboxes, messages, the blob
//! table with reference counts, remembered delivery ids and usage
//! counters. It changes only by [`Meta::apply`], the same code for
//! recovery (replaying the journal) and for live commits, so both always
//! agree.

use crate::codec::corrupt;
use crate::expunged::Expunged;
use crate::flags::FlagSet;
use crate::ids::DeliveryIds;
use crate::ops::{BlobLoc, Op};
use crate::{MailboxInfo, MailboxSnapshot, MessageMeta, StoreError, Usage};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use types::{MailboxId, ModSeq, Uid, UidValidity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub blob: u64,
    pub flags: FlagSet,
    pub internal_date: i64,
    pub size: u64,
    pub modseq: u64,
    pub delivery: Option<u128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub id: u32,
    pub name: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    pub messages: BTreeMap<u32, Message>,
    pub unseen: u32,
    pub size: u64,
    /// Recent expunges, for QRESYNC.
    pub expunged: Expunged,
}

impl Mailbox {
    pub(crate) fn new(id: u32, name: String, uid_validity: u32) -> Self {
        Mailbox {
            id,
            name,
            uid_validity,
            uid_next: 1,
            highest_modseq: 1,
            messages: BTreeMap::new(),
            unseen: 0,
            size: 0,
            expunged: Expunged::default(),
        }
    }
}

/// One stored message body and how many messages use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    pub loc: BlobLoc,
    pub refs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub mailboxes: HashMap<u32, Mailbox>,
    pub by_name: BTreeMap<String, u32>,
    pub subscriptions: BTreeSet<String>,
    pub blobs: HashMap<u64, Blob>,
    /// Live (referenced) bytes per segment; absent means none.
    pub segment_live: BTreeMap<u32, u64>,
    pub ids: DeliveryIds,
    pub usage: Usage,
    pub next_mailbox_id: u32,
    pub last_uid_validity: u32,
    pub next_blob_id: u64,
}

impl Meta {
    pub(crate) fn new(recent_ids: usize) -> Self {
        Meta {
            mailboxes: HashMap::new(),
            by_name: BTreeMap::new(),
            subscriptions: BTreeSet::new(),
            blobs: HashMap::new(),
            segment_live: BTreeMap::new(),
            ids: DeliveryIds::new(recent_ids),
            usage: Usage::default(),
            next_mailbox_id: 1,
            last_uid_validity: 0,
            next_blob_id: 1,
        }
    }

    pub(crate) fn mailbox_by_name(&self, name: &str) -> Option<&Mailbox> {
        self.by_name.get(name).and_then(|id| self.mailboxes.get(id))
    }

    pub(crate) fn info(&self, mailbox: &Mailbox) -> MailboxInfo {
        MailboxInfo {
            id: MailboxId(mailbox.id),
            name: mailbox.name.clone(),
            uid_validity: UidValidity(mailbox.uid_validity),
            uid_next: Uid(mailbox.uid_next),
            highest_modseq: ModSeq(mailbox.highest_modseq),
            messages: u32::try_from(mailbox.messages.len()).unwrap_or(u32::MAX),
            unseen: mailbox.unseen,
            size: mailbox.size,
            subscribed: self.subscriptions.contains(&mailbox.name),
        }
    }

    pub(crate) fn infos(&self) -> Vec<MailboxInfo> {
        self.by_name.values().filter_map(|id| self.mailboxes.get(id)).map(|m| self.info(m)).collect()
    }

    pub(crate) fn snapshot(&self, mailbox: &Mailbox) -> MailboxSnapshot {
        let messages = mailbox.messages.iter().map(|(uid, m)| message_meta(*uid, m)).collect();
        MailboxSnapshot { info: self.info(mailbox), messages }
    }

    /// Applies one op. An op that does not fit the state (only possible
    /// with damaged files or a bug) is refused as corrupt.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), StoreError> {
        match op {
            Op::CreateMailbox { id, name, uid_validity } => {
                if self.mailboxes.contains_key(id) || self.by_name.contains_key(name) {
                    return Err(corrupt(format!("mailbox {name} created twice")));
                }
                self.mailboxes.insert(*id, Mailbox::new(*id, name.clone(), *uid_validity));
                self.by_name.insert(name.clone(), *id);
                self.next_mailbox_id = self.next_mailbox_id.max(id.saturating_add(1));
                self.last_uid_validity = self.last_uid_validity.max(*uid_validity);
            }
            Op::RenameMailbox { id, name } => {
                if self.by_name.contains_key(name) {
                    return Err(corrupt(format!("rename onto existing mailbox {name}")));
                }
                let mailbox = self.mailboxes.get_mut(id).ok_or_else(|| no_mailbox(*id))?;
                self.by_name.remove(&mailbox.name);
                mailbox.name.clone_from(name);
                self.by_name.insert(name.clone(), *id);
            }
            Op::DeleteMailbox { id } => {
                let mailbox = self.mailboxes.remove(id).ok_or_else(|| no_mailbox(*id))?;
                self.by_name.remove(&mailbox.name);
                for message in mailbox.messages.values() {
                    self.forget(message)?;
                }
            }
            Op::Subscribe { name, subscribed } => {
                if *subscribed {
                    self.subscriptions.insert(name.clone());
                } else {
                    self.subscriptions.remove(name);
                }
            }
            Op::Append { mailbox, uid, modseq, blob, new_blob, flags, internal_date, delivery } => {
                if let Some(loc) = new_blob {
                    if self.blobs.contains_key(blob) {
                        return Err(corrupt(format!("blob {blob} written twice")));
                    }
                    self.blobs.insert(*blob, Blob { loc: *loc, refs: 0 });
                    add_live(&mut self.segment_live, loc.segment, loc.len);
                    self.next_blob_id = self.next_blob_id.max(blob.saturating_add(1));
                }
                let message = Message {
                    blob: *blob,
                    flags: flags.clone(),
                    internal_date: *internal_date,
                    size: 0,
                    modseq: *modseq,
                    delivery: *delivery,
                };
                self.insert_message(*mailbox, *uid, message)?;
                if let Some(id) = delivery {
                    self.ids.insert(*id, *uid);
                }
            }
            Op::SetFlags { mailbox, modseq, op, flags, uids } => {
                let mb = self.mailboxes.get_mut(mailbox).ok_or_else(|| no_mailbox(*mailbox))?;
                for uid in uids {
                    let message = mb.messages.get_mut(uid).ok_or_else(|| no_message(*mailbox, *uid))?;
                    let was_seen = message.flags.seen();
                    message.flags = message.flags.combine(*op, flags);
                    message.modseq = *modseq;
                    match (was_seen, message.flags.seen()) {
                        (true, false) => mb.unseen += 1,
                        (false, true) => mb.unseen = mb.unseen.saturating_sub(1),
                        _ => {}
                    }
                }
                mb.highest_modseq = mb.highest_modseq.max(*modseq);
            }
            Op::Expunge { mailbox, modseq, uids } => {
                let mb = self.mailboxes.get_mut(mailbox).ok_or_else(|| no_mailbox(*mailbox))?;
                let mut removed = Vec::with_capacity(uids.len());
                for uid in uids {
                    let message = mb.messages.remove(uid).ok_or_else(|| no_message(*mailbox, *uid))?;
                    mb.size = mb.size.saturating_sub(message.size);
                    if !message.flags.seen() {
                        mb.unseen = mb.unseen.saturating_sub(1);
                    }
                    removed.push(message);
                }
                mb.highest_modseq = mb.highest_modseq.max(*modseq);
                mb.expunged.record(*modseq, uids);
                for message in &removed {
                    self.forget(message)?;
                }
            }
            Op::Copy { from, to, modseq, pairs } => {
                let source = self.mailboxes.get(from).ok_or_else(|| no_mailbox(*from))?;
                let copies = pairs
                    .iter()
                    .map(|(old, new)| {
                        let m = source.messages.get(old).ok_or_else(|| no_message(*from, *old))?;
                        let copy = Message { modseq: *modseq, delivery: None, ..m.clone() };
                        Ok((*new, copy))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                for (uid, message) in copies {
                    self.insert_message(*to, uid, message)?;
                }
            }
            Op::Relocate { blob, loc } => {
                let entry =
                    self.blobs.get_mut(blob).ok_or_else(|| corrupt(format!("relocating unknown blob {blob}")))?;
                if entry.loc.len != loc.len {
                    return Err(corrupt(format!("blob {blob} relocated with another length")));
                }
                let old = std::mem::replace(&mut entry.loc, *loc);
                sub_live(&mut self.segment_live, old.segment, old.len);
                add_live(&mut self.segment_live, loc.segment, loc.len);
            }
        }
        Ok(())
    }

    /// Adds a message whose blob exists, taking a reference to it.
    fn insert_message(&mut self, mailbox: u32, uid: u32, mut message: Message) -> Result<(), StoreError> {
        let blob =
            self.blobs.get_mut(&message.blob).ok_or_else(|| corrupt(format!("unknown blob {}", message.blob)))?;
        let mb = self.mailboxes.get_mut(&mailbox).ok_or_else(|| no_mailbox(mailbox))?;
        if uid == 0 || uid < mb.uid_next {
            return Err(corrupt(format!("uid {uid} not above uid_next {} in mailbox {mailbox}", mb.uid_next)));
        }
        blob.refs += 1;
        message.size = blob.loc.len;
        mb.uid_next = uid.saturating_add(1);
        mb.highest_modseq = mb.highest_modseq.max(message.modseq);
        mb.size += message.size;
        if !message.flags.seen() {
            mb.unseen += 1;
        }
        self.usage.bytes += message.size;
        self.usage.messages += 1;
        mb.messages.insert(uid, message);
        Ok(())
    }

    /// Drops a removed message's blob reference, counters and delivery id.
    fn forget(&mut self, message: &Message) -> Result<(), StoreError> {
        self.usage.bytes = self.usage.bytes.saturating_sub(message.size);
        self.usage.messages = self.usage.messages.saturating_sub(1);
        if let Some(id) = message.delivery {
            self.ids.expunged(id);
        }
        let blob =
            self.blobs.get_mut(&message.blob).ok_or_else(|| corrupt(format!("unknown blob {}", message.blob)))?;
        blob.refs = blob.refs.saturating_sub(1);
        if blob.refs == 0 {
            let loc = blob.loc;
            self.blobs.remove(&message.blob);
            sub_live(&mut self.segment_live, loc.segment, loc.len);
        }
        Ok(())
    }

    /// Recomputes every derived field (counters, reference counts, live
    /// bytes) from mailboxes and blob locations, as after loading a
    /// snapshot; blobs no message uses are dropped.
    pub(crate) fn rebuild_derived(&mut self) -> Result<(), StoreError> {
        self.usage = Usage::default();
        self.segment_live.clear();
        for blob in self.blobs.values_mut() {
            blob.refs = 0;
        }
        self.by_name.clear();
        for mb in self.mailboxes.values_mut() {
            if self.by_name.insert(mb.name.clone(), mb.id).is_some() {
                return Err(corrupt(format!("two mailboxes named {}", mb.name)));
            }
            mb.size = 0;
            mb.unseen = 0;
            for (uid, message) in mb.messages.iter_mut() {
                let blob =
                    self.blobs.get_mut(&message.blob).ok_or_else(|| corrupt(format!("uid {uid} has no blob")))?;
                blob.refs += 1;
                message.size = blob.loc.len;
                mb.size += message.size;
                if !message.flags.seen() {
                    mb.unseen += 1;
                }
                self.usage.bytes += message.size;
                self.usage.messages += 1;
            }
        }
        self.blobs.retain(|_, b| b.refs > 0);
        for blob in self.blobs.values() {
            add_live(&mut self.segment_live, blob.loc.segment, blob.loc.len);
        }
        Ok(())
    }
}

pub(crate) fn message_meta(uid: u32, m: &Message) -> MessageMeta {
    MessageMeta {
        uid: Uid(uid),
        flags: m.flags.to_flags(),
        internal_date: m.internal_date,
        size: m.size,
        modseq: ModSeq(m.modseq),
    }
}

fn add_live(live: &mut BTreeMap<u32, u64>, segment: u32, len: u64) {
    if len > 0 {
        *live.entry(segment).or_default() += len;
    }
}

fn sub_live(live: &mut BTreeMap<u32, u64>, segment: u32, len: u64) {
    if let Some(bytes) = live.get_mut(&segment) {
        *bytes = bytes.saturating_sub(len);
        if *bytes == 0 {
            live.remove(&segment);
        }
    }
}

fn no_mailbox(id: u32) -> StoreError {
    corrupt(format!("record names missing mailbox {id}"))
}

fn no_message(mailbox: u32, uid: u32) -> StoreError {
    corrupt(format!("record names missing message {uid} in mailbox {mailbox}"))
}

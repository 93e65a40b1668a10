//! Turns a write request into journal ops and a reply, checking it
//! against the committed state plus what earlier requests of the same
//! group commit will add (the overlay). Planning changes nothing: the ops
//! are applied to the state only once they are durable.

use crate::codec::corrupt;
use crate::flags::FlagSet;
use crate::meta::{Meta, message_meta};
use crate::names::{self, INBOX};
use crate::ops::{BlobLoc, Op};
use crate::{Delivery, DeliveryOutcome, Flag, FlagOp, MessageMeta, StoreError};
use bytes::Bytes;
use std::collections::HashMap;
use types::{MailboxId, ModSeq, Uid, UidValidity};

pub(crate) enum Request {
    Deliver { delivery: Delivery, crc: u32 },
    Append { mailbox: String, body: Bytes, crc: u32, flags: Vec<Flag>, internal_date: i64, quota_bytes: Option<u64> },
    EnsureInbox(Vec<String>),
    CreateMailbox(String),
    DeleteMailbox(String),
    Rename { from: String, to: String },
    Subscribe { name: String, subscribed: bool },
    SetFlags { mailbox: MailboxId, uids: Vec<Uid>, op: FlagOp, flags: Vec<Flag>, unchanged_since: Option<ModSeq> },
    Expunge { mailbox: MailboxId, uids: Vec<Uid> },
    Copy { from: MailboxId, uids: Vec<Uid>, to: MailboxId, expunge: bool },
}

impl Request {
    /// Deliveries and appends may share a group commit; every other request
    /// is planned alone against the committed state.
    pub(crate) fn groupable(&self) -> bool {
        matches!(self, Request::Deliver { .. } | Request::Append { .. })
    }

    pub(crate) fn body_len(&self) -> u64 {
        match self {
            Request::Deliver { delivery, .. } => delivery.body.len() as u64,
            Request::Append { body, .. } => body.len() as u64,
            _ => 0,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Reply {
    Delivered(DeliveryOutcome),
    Appended(UidValidity, Uid),
    Mailbox(MailboxId),
    Done,
    Flags(Vec<MessageMeta>, Vec<Uid>),
    Expunged(Vec<Uid>),
    Copied(Vec<(Uid, Uid)>),
}

pub(crate) struct Planned {
    pub ops: Vec<Op>,
    pub reply: Reply,
    /// Bytes to append to the active segment, at the offset the ops say.
    pub body: Option<Bytes>,
}

impl Planned {
    fn ops(ops: Vec<Op>, reply: Reply) -> Self {
        Planned { ops, reply, body: None }
    }
}

/// Plans the requests of one group commit in order.
pub(crate) struct Planner<'a> {
    meta: &'a Meta,
    /// (uid_next, highest_modseq) of mailboxes this batch changes.
    counters: HashMap<u32, (u32, u64)>,
    /// Mailboxes this batch creates: name -> (id, uid_validity).
    created: HashMap<String, (u32, u32)>,
    next_mailbox_id: u32,
    last_uid_validity: u32,
    next_blob_id: u64,
    added_bytes: u64,
    ids: HashMap<u128, u32>,
    segment: u32,
    offset: u64,
    now: u32,
}

impl<'a> Planner<'a> {
    /// New blobs go to `segment` from `offset` on, in planning order.
    pub(crate) fn new(meta: &'a Meta, segment: u32, offset: u64, now: u32) -> Self {
        Planner {
            meta,
            counters: HashMap::new(),
            created: HashMap::new(),
            next_mailbox_id: meta.next_mailbox_id,
            last_uid_validity: meta.last_uid_validity,
            next_blob_id: meta.next_blob_id,
            added_bytes: 0,
            ids: HashMap::new(),
            segment,
            offset,
            now,
        }
    }

    /// Where the segment ends once this batch's blobs are written.
    pub(crate) fn segment_end(&self) -> u64 {
        self.offset
    }

    pub(crate) fn plan(&mut self, request: Request) -> Result<Planned, StoreError> {
        match request {
            Request::Deliver { delivery, crc } => self.deliver(delivery, crc),
            Request::Append { mailbox, body, crc, flags, internal_date, quota_bytes } => {
                let name = names::normalize(&mailbox)?;
                let (id, uid_validity) = self.find(&name).ok_or(StoreError::NoSuchMailbox(name))?;
                self.check_quota(body.len() as u64, quota_bytes)?;
                let (uid, op) =
                    self.append_op(id, body.len() as u64, crc, FlagSet::from_flags(&flags), internal_date, None)?;
                Ok(Planned {
                    ops: vec![op],
                    reply: Reply::Appended(UidValidity(uid_validity), Uid(uid)),
                    body: Some(body),
                })
            }
            Request::EnsureInbox(initial) => {
                // Only a brand-new account lacks INBOX: it gets the
                // initial mailboxes with it, and never again.
                let mut ops = Vec::new();
                if self.find(INBOX).is_none() {
                    for name in std::iter::once(INBOX.to_owned()).chain(initial) {
                        let name = names::normalize(&name)?;
                        if self.find(&name).is_none() {
                            self.create_superiors(&name, &mut ops);
                            ops.push(self.create_op(&name).1);
                            ops.push(Op::Subscribe { name, subscribed: true });
                        }
                    }
                }
                Ok(Planned::ops(ops, Reply::Done))
            }
            Request::CreateMailbox(name) => self.create_mailbox(&name),
            Request::DeleteMailbox(name) => {
                let name = names::normalize(&name)?;
                if name == INBOX {
                    return Err(StoreError::MailboxProtected(name));
                }
                let (id, _) = self.find(&name).ok_or(StoreError::NoSuchMailbox(name))?;
                Ok(Planned::ops(vec![Op::DeleteMailbox { id }], Reply::Done))
            }
            Request::Rename { from, to } => self.rename(&from, &to),
            Request::Subscribe { name, subscribed } => {
                let name = names::normalize(&name)?;
                if subscribed && self.find(&name).is_none() {
                    return Err(StoreError::NoSuchMailbox(name));
                }
                let ops = if self.meta.subscriptions.contains(&name) == subscribed {
                    Vec::new()
                } else {
                    vec![Op::Subscribe { name, subscribed }]
                };
                Ok(Planned::ops(ops, Reply::Done))
            }
            Request::SetFlags { mailbox, uids, op, flags, unchanged_since } => {
                self.set_flags(mailbox, uids, op, &flags, unchanged_since)
            }
            Request::Expunge { mailbox, uids } => {
                let uids = self.existing(mailbox, uids)?;
                if uids.is_empty() {
                    return Ok(Planned::ops(Vec::new(), Reply::Expunged(Vec::new())));
                }
                let modseq = self.bump_modseq(mailbox.0);
                let reply = Reply::Expunged(uids.iter().map(|u| Uid(*u)).collect());
                Ok(Planned::ops(vec![Op::Expunge { mailbox: mailbox.0, modseq, uids }], reply))
            }
            Request::Copy { from, uids, to, expunge } => self.copy(from, uids, to, expunge),
        }
    }

    fn deliver(&mut self, delivery: Delivery, crc: u32) -> Result<Planned, StoreError> {
        let name = names::normalize(&delivery.mailbox)?;
        let id = delivery.id.0;
        if let Some(uid) = self.meta.ids.get(id).or_else(|| self.ids.get(&id).copied()) {
            return Ok(Planned::ops(Vec::new(), Reply::Delivered(DeliveryOutcome::Duplicate { uid: Uid(uid) })));
        }
        let size = delivery.body.len() as u64;
        self.check_quota(size, delivery.quota_bytes)?;
        let mut ops = Vec::with_capacity(2);
        let mailbox = match self.find(&name) {
            Some((mailbox, _)) => mailbox,
            None => {
                let (id, op) = self.create_op(&name);
                ops.push(op);
                id
            }
        };
        let flags = FlagSet::from_flags(&delivery.flags);
        let (uid, op) = self.append_op(mailbox, size, crc, flags, delivery.internal_date, Some(id))?;
        ops.push(op);
        self.ids.insert(id, uid);
        let reply = Reply::Delivered(DeliveryOutcome::Delivered { uid: Uid(uid) });
        Ok(Planned { ops, reply, body: Some(delivery.body) })
    }

    fn check_quota(&self, size: u64, quota_bytes: Option<u64>) -> Result<(), StoreError> {
        let usage = self.meta.usage.bytes + self.added_bytes;
        match quota_bytes {
            Some(limit) if usage.saturating_add(size) > limit => Err(StoreError::QuotaExceeded { usage, limit }),
            _ => Ok(()),
        }
    }

    /// An Append of a new blob of `size` bytes at the segment's end.
    fn append_op(
        &mut self,
        mailbox: u32,
        size: u64,
        crc: u32,
        flags: FlagSet,
        internal_date: i64,
        delivery: Option<u128>,
    ) -> Result<(u32, Op), StoreError> {
        let (uid, modseq) = self.alloc_uids(mailbox, 1)?;
        let blob = self.next_blob_id;
        self.next_blob_id += 1;
        let loc = BlobLoc { segment: self.segment, offset: self.offset, len: size, crc };
        self.offset += size;
        self.added_bytes += size;
        let op = Op::Append { mailbox, uid, modseq, blob, new_blob: Some(loc), flags, internal_date, delivery };
        Ok((uid, op))
    }

    fn find(&self, name: &str) -> Option<(u32, u32)> {
        match self.meta.mailbox_by_name(name) {
            Some(mb) => Some((mb.id, mb.uid_validity)),
            None => self.created.get(name).copied(),
        }
    }

    /// A new mailbox's id and the op creating it.
    fn create_op(&mut self, name: &str) -> (u32, Op) {
        let id = self.next_mailbox_id;
        self.next_mailbox_id += 1;
        // Unique per mailbox incarnation: the time, but always above any
        // value this account handed out before.
        let uid_validity = self.now.max(self.last_uid_validity.saturating_add(1));
        self.last_uid_validity = uid_validity;
        self.created.insert(name.to_owned(), (id, uid_validity));
        (id, Op::CreateMailbox { id, name: name.to_owned(), uid_validity })
    }

    /// Creates the missing superiors of `name` (RFC 9051 §6.3.4).
    fn create_superiors(&mut self, name: &str, ops: &mut Vec<Op>) {
        for superior in names::superiors(name) {
            if self.find(superior).is_none() {
                ops.push(self.create_op(superior).1);
            }
        }
    }

    fn counters(&self, mailbox: u32) -> (u32, u64) {
        self.counters
            .get(&mailbox)
            .copied()
            .or_else(|| self.meta.mailboxes.get(&mailbox).map(|m| (m.uid_next, m.highest_modseq)))
            .unwrap_or((1, 1))
    }

    /// `n` consecutive new UIDs and one new modseq in `mailbox`.
    fn alloc_uids(&mut self, mailbox: u32, n: usize) -> Result<(u32, u64), StoreError> {
        let (uid_next, modseq) = self.counters(mailbox);
        let end = u32::try_from(n)
            .ok()
            .and_then(|n| uid_next.checked_add(n))
            .filter(|end| *end < u32::MAX)
            .ok_or_else(|| corrupt(format!("uid space of mailbox {mailbox} exhausted")))?;
        self.counters.insert(mailbox, (end, modseq + 1));
        Ok((uid_next, modseq + 1))
    }

    fn bump_modseq(&mut self, mailbox: u32) -> u64 {
        let (uid_next, modseq) = self.counters(mailbox);
        self.counters.insert(mailbox, (uid_next, modseq + 1));
        modseq + 1
    }

    fn create_mailbox(&mut self, name: &str) -> Result<Planned, StoreError> {
        let name = names::normalize(name)?;
        if self.find(&name).is_some() {
            return Err(StoreError::MailboxExists(name));
        }
        let mut ops = Vec::new();
        self.create_superiors(&name, &mut ops);
        let (id, op) = self.create_op(&name);
        ops.push(op);
        Ok(Planned::ops(ops, Reply::Mailbox(MailboxId(id))))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<Planned, StoreError> {
        let from = names::normalize(from)?;
        let to = names::normalize(to)?;
        let (from_id, _) = self.find(&from).ok_or_else(|| StoreError::NoSuchMailbox(from.clone()))?;
        if self.find(&to).is_some() {
            return Err(StoreError::MailboxExists(to));
        }
        let mut ops = Vec::new();
        if from == INBOX {
            // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new
            // mailbox and leaves INBOX (and its inferiors) in place.
            self.create_superiors(&to, &mut ops);
            let (to_id, op) = self.create_op(&to);
            ops.push(op);
            let uids = self.meta.mailboxes.get(&from_id).map(|m| m.messages.keys().map(|u| Uid(*u)).collect());
            let planned = self.copy(MailboxId(from_id), uids.unwrap_or_default(), MailboxId(to_id), true)?;
            ops.extend(planned.ops);
            return Ok(Planned::ops(ops, Reply::Done));
        }
        if names::is_self_or_inferior(&to, &from) {
            return Err(StoreError::BadMailboxName(to));
        }
        let mut renames = Vec::new();
        for (name, id) in self.meta.by_name.range(from.clone()..).take_while(|(name, _)| name.starts_with(&from)) {
            if !names::is_self_or_inferior(name, &from) {
                continue;
            }
            let new_name = format!("{to}{}", &name[from.len()..]);
            let new_name = names::normalize(&new_name)?;
            if self.find(&new_name).is_some() {
                return Err(StoreError::MailboxExists(new_name));
            }
            renames.push((*id, name.clone(), new_name));
        }
        self.create_superiors(&to, &mut ops);
        for (id, old_name, new_name) in renames {
            if self.meta.subscriptions.contains(&old_name) {
                ops.push(Op::Subscribe { name: old_name, subscribed: false });
                ops.push(Op::Subscribe { name: new_name.clone(), subscribed: true });
            }
            ops.push(Op::RenameMailbox { id, name: new_name });
        }
        Ok(Planned::ops(ops, Reply::Done))
    }

    /// The given UIDs that exist in `mailbox`, ascending, without repeats.
    fn existing(&self, mailbox: MailboxId, uids: Vec<Uid>) -> Result<Vec<u32>, StoreError> {
        let mb = self.meta.mailboxes.get(&mailbox.0).ok_or_else(|| no_such_mailbox(mailbox))?;
        let mut uids: Vec<u32> = uids.into_iter().map(|u| u.0).filter(|u| mb.messages.contains_key(u)).collect();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    fn set_flags(
        &mut self,
        mailbox: MailboxId,
        uids: Vec<Uid>,
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<ModSeq>,
    ) -> Result<Planned, StoreError> {
        let uids = self.existing(mailbox, uids)?;
        let Some(mb) = self.meta.mailboxes.get(&mailbox.0) else { return Err(no_such_mailbox(mailbox)) };
        let given = FlagSet::from_flags(flags);
        let modseq = mb.highest_modseq + 1;
        let (mut metas, mut failed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for uid in uids {
            let Some(message) = mb.messages.get(&uid) else { continue };
            if unchanged_since.is_some_and(|since| message.modseq > since.0) {
                failed.push(Uid(uid));
                continue;
            }
            let new_flags = message.flags.combine(op, &given);
            if new_flags == message.flags {
                metas.push(message_meta(uid, message));
            } else {
                changed.push(uid);
                metas.push(MessageMeta {
                    flags: new_flags.to_flags(),
                    modseq: ModSeq(modseq),
                    ..message_meta(uid, message)
                });
            }
        }
        let mut ops = Vec::new();
        if !changed.is_empty() {
            self.bump_modseq(mailbox.0);
            ops.push(Op::SetFlags { mailbox: mailbox.0, modseq, op, flags: given, uids: changed });
        }
        Ok(Planned::ops(ops, Reply::Flags(metas, failed)))
    }

    fn copy(&mut self, from: MailboxId, uids: Vec<Uid>, to: MailboxId, expunge: bool) -> Result<Planned, StoreError> {
        if !self.meta.mailboxes.contains_key(&to.0) && !self.created.values().any(|(id, _)| *id == to.0) {
            return Err(no_such_mailbox(to));
        }
        let uids = self.existing(from, uids)?;
        if uids.is_empty() {
            return Ok(Planned::ops(Vec::new(), Reply::Copied(Vec::new())));
        }
        let (first, modseq) = self.alloc_uids(to.0, uids.len())?;
        let pairs: Vec<(u32, u32)> = uids.iter().zip(first..).map(|(old, new)| (*old, new)).collect();
        let reply = Reply::Copied(pairs.iter().map(|(old, new)| (Uid(*old), Uid(*new))).collect());
        let mut ops = vec![Op::Copy { from: from.0, to: to.0, modseq, pairs }];
        if expunge {
            let modseq = self.bump_modseq(from.0);
            ops.push(Op::Expunge { mailbox: from.0, modseq, uids });
        }
        Ok(Planned::ops(ops, reply))
    }
}

fn no_such_mailbox(id: MailboxId) -> StoreError {
    StoreError::NoSuchMailbox(format!("#{}", id.0))
}

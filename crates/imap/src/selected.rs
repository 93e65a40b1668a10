//! The selected mailbox as this session's client knows it: the message
//! list that gives sequence numbers their meaning, kept in step with the
//! store by diffing snapshots (untagged EXISTS, EXPUNGE and FETCH FLAGS).

use crate::session::Enabled;
use crate::write;
use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use store::{MailboxSnapshot, MessageMeta};
use types::{MailboxId, Uid};

pub(crate) struct Selected {
    pub id: MailboxId,
    pub name: String,
    /// EXAMINE: no flag changes, no expunge.
    pub read_only: bool,
    /// Sequence number `i + 1` is `messages[i]`; ascending by UID.
    pub messages: Vec<MessageMeta>,
    /// Messages expunged by others are still in `messages`, waiting for a
    /// command after which EXPUNGE may be sent.
    pub expunge_pending: bool,
}

/// The set names a message number the client does not know.
#[derive(Debug)]
pub(crate) struct BadSequence;

impl Selected {
    pub(crate) fn new(snapshot: MailboxSnapshot, read_only: bool) -> Self {
        Selected {
            id: snapshot.info.id,
            name: snapshot.info.name,
            read_only,
            messages: snapshot.messages,
            expunge_pending: false,
        }
    }

    /// Indices into `messages` named by a sequence set of message numbers
    /// (`uid == false`) or UIDs, ascending and without duplicates. A
    /// message number past the end is an error; UIDs that do not exist
    /// are skipped (RFC 9051 §6.4.9).
    pub(crate) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, BadSequence> {
        let mut indices = Vec::new();
        if uid {
            let Some(largest) = self.messages.last().map(|m| m.uid.0) else { return Ok(indices) };
            for sequence in set.0.as_ref() {
                let (low, high) = bounds(sequence, largest);
                let start = self.messages.partition_point(|m| m.uid.0 < low);
                let end = self.messages.partition_point(|m| m.uid.0 <= high);
                indices.extend(start..end);
            }
        } else {
            let largest = u32::try_from(self.messages.len()).unwrap_or(u32::MAX);
            for sequence in set.0.as_ref() {
                let (low, high) = bounds(sequence, largest);
                if largest == 0 || high > largest {
                    return Err(BadSequence);
                }
                indices.extend(low as usize - 1..high as usize);
            }
        }
        indices.sort_unstable();
        indices.dedup();
        Ok(indices)
    }

    /// Brings the client's view up to date with `snapshot`, writing the
    /// untagged responses. Without `allow_expunge` (during FETCH, STORE
    /// and SEARCH, RFC 3501 §7.4.1) expunged messages stay in the view.
    /// With CONDSTORE flag changes carry MODSEQ; with QRESYNC expunges are
    /// reported as one VANISHED (RFC 7162 §3.2.10).
    pub(crate) fn update(
        &mut self,
        snapshot: MailboxSnapshot,
        allow_expunge: bool,
        enabled: Enabled,
        out: &mut Vec<u8>,
    ) {
        let current = snapshot.messages;
        let gone = |m: &MessageMeta| current.binary_search_by_key(&m.uid, |c| c.uid).is_err();
        self.expunge_pending = !allow_expunge && self.messages.iter().any(gone);
        if allow_expunge {
            let expunged: Vec<Uid> = self.messages.iter().filter(|m| gone(m)).map(|m| m.uid).collect();
            self.remove(&expunged, enabled, out);
        }
        for (index, known) in self.messages.iter_mut().enumerate() {
            if let Ok(at) = current.binary_search_by_key(&known.uid, |m| m.uid) {
                let now = &current[at];
                if now.flags != known.flags || now.modseq != known.modseq {
                    known.flags = now.flags.clone();
                    known.modseq = now.modseq;
                    let modseq =
                        if enabled.condstore { format!(" MODSEQ ({})", known.modseq.0) } else { String::new() };
                    write::line(
                        out,
                        format_args!(
                            "* {} FETCH (UID {} FLAGS {}{modseq})",
                            index + 1,
                            known.uid,
                            write::flag_list(&known.flags)
                        ),
                    );
                }
            }
        }
        let last = self.messages.last().map_or(0, |m| m.uid.0);
        let before = self.messages.len();
        self.messages.extend(current.into_iter().filter(|m| m.uid.0 > last));
        if self.messages.len() != before {
            write::line(out, format_args!("* {} EXISTS", self.messages.len()));
        }
    }

    /// Records flags this session changed, so they are not reported back.
    pub(crate) fn record(&mut self, changed: &[MessageMeta]) {
        for meta in changed {
            if let Ok(at) = self.messages.binary_search_by_key(&meta.uid, |m| m.uid) {
                self.messages[at] = meta.clone();
            }
        }
    }

    /// Forgets expunged messages, writing `* n EXPUNGE` for each in
    /// descending order (so that each number is still valid when sent),
    /// or one `* VANISHED` under QRESYNC.
    pub(crate) fn remove(&mut self, uids: &[Uid], enabled: Enabled, out: &mut Vec<u8>) {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        let mut vanished = Vec::new();
        for index in (0..self.messages.len()).rev() {
            let uid = self.messages[index].uid;
            if uids.binary_search(&uid).is_ok() {
                self.messages.remove(index);
                if enabled.qresync {
                    vanished.push(uid);
                } else {
                    write::line(out, format_args!("* {} EXPUNGE", index + 1));
                }
            }
        }
        if !vanished.is_empty() {
            vanished.reverse();
            write::line(out, format_args!("* VANISHED {}", write::uid_set(&vanished)));
        }
    }
}

/// Whether `value` is in the set, `*` standing for `largest` (SEARCH).
pub(crate) fn contains(set: &SequenceSet, value: u32, largest: u32) -> bool {
    set.0.as_ref().iter().any(|sequence| {
        let (low, high) = bounds(sequence, largest);
        low <= value && value <= high
    })
}

/// The set as ascending, disjoint ranges, `*` standing for `largest`.
pub(crate) fn set_ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = set.0.as_ref().iter().map(|s| bounds(s, largest)).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (low, high) in ranges {
        match merged.last_mut() {
            Some((_, end)) if low <= end.saturating_add(1) => *end = (*end).max(high),
            _ => merged.push((low, high)),
        }
    }
    merged
}

/// The UID ranges in both lists (each ascending and disjoint).
pub(crate) fn intersect(a: &[(Uid, Uid)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (low, high) = (a[i].0.0.max(b[j].0), a[i].1.0.min(b[j].1));
        if low <= high {
            out.push((low, high));
        }
        if a[i].1.0 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn bounds(sequence: &Sequence, largest: u32) -> (u32, u32) {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    match sequence {
        Sequence::Single(v) => (value(v), value(v)),
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b), a.max(b))
        }
    }
}

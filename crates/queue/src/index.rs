//! The in-memory index of the spool: per message its envelope, recipient
//! states and where its record lies (never the body), and per segment its
//! size and how much of it is still live. It is rebuilt at open by applying
//! every record in log order, and kept up to date by the writer (new and
//! relocated messages) and the runner (outcomes and removals).

use crate::record::{MessageRecord, Record, State};
use crate::{Envelope, QueueEntry, QueueId};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::sync::Arc;

/// Where a message's Message frame lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub segment: u64,
    /// Offset of the frame in the segment file.
    pub offset: u64,
    /// Length of the whole frame.
    pub len: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub envelope: Envelope,
    pub queued_at_ms: i64,
    pub states: Vec<State>,
    pub body_len: u64,
    pub location: Location,
}

impl Entry {
    pub(crate) fn from_record(record: MessageRecord, location: Location) -> (QueueId, Entry) {
        let body_len = record.body.len() as u64;
        let entry = Entry {
            envelope: record.envelope,
            queued_at_ms: record.queued_at_ms,
            states: record.states,
            body_len,
            location,
        };
        (record.id, entry)
    }

    /// True once no recipient will ever be tried again nor is held.
    pub(crate) fn is_done(&self) -> bool {
        self.states.iter().all(State::is_final)
    }

    fn to_public(&self, id: QueueId) -> QueueEntry {
        QueueEntry {
            id,
            envelope: self.envelope.clone(),
            size: self.body_len,
            states: self.states.iter().map(State::to_public).collect(),
        }
    }
}

/// A segment file and the accounting garbage collection needs.
#[derive(Debug)]
pub(crate) struct Segment {
    pub file: Arc<File>,
    /// Bytes written to it (header included).
    pub size: u64,
    /// Messages whose current record is in this segment.
    pub live_count: u64,
    /// Bytes of those records.
    pub live_bytes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    messages: HashMap<QueueId, Entry>,
    segments: BTreeMap<u64, Segment>,
}

impl Index {
    pub(crate) fn add_segment(&mut self, number: u64, file: Arc<File>, size: u64) {
        self.segments.insert(number, Segment { file, size, live_count: 0, live_bytes: 0 });
    }

    pub(crate) fn segments(&self) -> &BTreeMap<u64, Segment> {
        &self.segments
    }

    pub(crate) fn set_segment_size(&mut self, number: u64, size: u64) {
        if let Some(segment) = self.segments.get_mut(&number) {
            segment.size = size;
        }
    }

    /// Forgets a segment; the caller deletes the file.
    pub(crate) fn remove_segment(&mut self, number: u64) -> Option<Segment> {
        self.segments.remove(&number)
    }

    pub(crate) fn segment_file(&self, number: u64) -> Option<Arc<File>> {
        self.segments.get(&number).map(|segment| segment.file.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn get(&self, id: QueueId) -> Option<&Entry> {
        self.messages.get(&id)
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &QueueId> {
        self.messages.keys()
    }

    /// Adds a message, replacing an earlier record of the same id: the
    /// later record wins (a message relocated by garbage collection may be
    /// found twice after a crash).
    pub(crate) fn insert(&mut self, id: QueueId, entry: Entry) {
        self.add_live(&entry.location);
        if let Some(old) = self.messages.insert(id, entry) {
            self.remove_live(&old.location);
        }
    }

    pub(crate) fn remove(&mut self, id: QueueId) -> Option<Entry> {
        let entry = self.messages.remove(&id)?;
        self.remove_live(&entry.location);
        Some(entry)
    }

    /// Sets one recipient's state; false if the message or recipient is unknown.
    pub(crate) fn set_state(&mut self, id: QueueId, index: usize, state: State) -> bool {
        match self.messages.get_mut(&id).and_then(|entry| entry.states.get_mut(index)) {
            Some(slot) => {
                *slot = state;
                true
            }
            None => false,
        }
    }

    pub(crate) fn states_mut(&mut self, id: QueueId) -> Option<&mut Vec<State>> {
        self.messages.get_mut(&id).map(|entry| &mut entry.states)
    }

    /// Points a message at its new copy if it still lies at `from`.
    pub(crate) fn relocate(&mut self, id: QueueId, from: Location, to: Location) -> bool {
        let Some(entry) = self.messages.get_mut(&id) else { return false };
        if entry.location != from {
            return false;
        }
        entry.location = to;
        self.remove_live(&from);
        self.add_live(&to);
        true
    }

    /// The ids of the messages whose current record is in `segment`.
    pub(crate) fn ids_in_segment(&self, segment: u64) -> Vec<QueueId> {
        let mut ids: Vec<QueueId> =
            self.messages.iter().filter(|(_, entry)| entry.location.segment == segment).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids
    }

    /// Applies one record read back from the spool, as recovery does.
    pub(crate) fn apply(&mut self, record: Record, location: Location) {
        match record {
            Record::Message(message) => {
                let (id, entry) = Entry::from_record(message, location);
                self.insert(id, entry);
            }
            // An outcome or removal of a message that is gone with its
            // segment refers to nothing any more.
            Record::Outcome { id, index, state } => {
                self.set_state(id, index as usize, state);
            }
            Record::Removed { id } => {
                self.remove(id);
            }
        }
    }

    pub(crate) fn entry(&self, id: QueueId) -> Option<QueueEntry> {
        self.messages.get(&id).map(|entry| entry.to_public(id))
    }

    /// Every message, by id.
    pub(crate) fn list(&self) -> Vec<QueueEntry> {
        let mut entries: Vec<QueueEntry> = self.messages.iter().map(|(id, entry)| entry.to_public(*id)).collect();
        entries.sort_unstable_by_key(|entry| entry.id);
        entries
    }

    fn add_live(&mut self, location: &Location) {
        if let Some(segment) = self.segments.get_mut(&location.segment) {
            segment.live_count += 1;
            segment.live_bytes += location.len;
        }
    }

    fn remove_live(&mut self, location: &Location) {
        if let Some(segment) = self.segments.get_mut(&location.segment) {
            segment.live_count = segment.live_count.saturating_sub(1);
            segment.live_bytes = segment.live_bytes.saturating_sub(location.len);
        }
    }
}

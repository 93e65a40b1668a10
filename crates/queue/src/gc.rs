//! Garbage collection of segments, run by the writer between commits.
//!
//! Segments are deleted oldest first, and only once they hold no live
//! message. Deleting in that order is what keeps the log correct: an
//! Outcome or Removed frame only ever refers to a message whose frame
//! lies in the same or an older segment (or is superseded by a newer copy),
//! so deleting a prefix of the log can never bring back a removed message
//! nor lose the state of a live one.
//!
//! A drained segment stuck behind an older one that still holds live
//! messages (held remote mail may wait for days) waits until that one is
//! compacted: its live messages are copied, with their current recipient
//! states, into the active segment, and once the copies are durable the old
//! segment is drained and deleted. A copy is a whole Message frame, so a
//! crash at any point leaves either the old frame or both; on recovery the
//! later frame wins. The oldest segment is compacted when some run of
//! closed segments starting with it is mostly dead, so that the spool
//! stays within a few times its live data and no message is copied more
//! than the space its copying frees.

use crate::QueueId;
use crate::index::{Index, Location};
use crate::record::{self, Record};
use crate::spool::{self, ReadError};
use crate::writer::{Batch, Writer};
use bytes::Bytes;

/// Compact when live bytes are at most this share (numerator,
/// denominator) of a run of closed segments starting with the oldest.
const COMPACT_LIVE_SHARE: (u64, u64) = (1, 3);

/// Bytes of live messages copied per commit, so that enqueues are not held
/// up long behind a compaction.
const RELOCATE_BYTES_PER_COMMIT: u64 = 4 << 20;

/// What garbage collection does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Delete(u64),
    Compact(u64),
    Idle,
}

/// Decides the next step from the segments' accounting.
pub(crate) fn plan(index: &Index, active: u64) -> Step {
    let mut closed = index.segments().iter().filter(|(number, _)| **number != active);
    let Some((&oldest, first)) = closed.next() else { return Step::Idle };
    if first.live_count == 0 {
        return Step::Delete(oldest);
    }
    let (numerator, denominator) = COMPACT_LIVE_SHARE;
    let (mut live, mut size) = (0, 0);
    for (_, segment) in std::iter::once((&oldest, first)).chain(closed) {
        live += segment.live_bytes;
        size += segment.size;
        if live * denominator <= size * numerator {
            return Step::Compact(oldest);
        }
    }
    Step::Idle
}

/// Progress of garbage collection, kept by the writer.
#[derive(Debug, Default)]
pub(crate) struct Gc {
    /// The segment being compacted and the ids still to copy.
    compaction: Option<(u64, Vec<QueueId>)>,
    /// Set after an I/O error: nothing is tried until the next request.
    paused: bool,
}

impl Gc {
    /// Whether copies are waiting to be made (the writer then does not
    /// block on its channel).
    pub(crate) fn has_work(&self) -> bool {
        !self.paused && self.compaction.as_ref().is_some_and(|(_, ids)| !ids.is_empty())
    }

    pub(crate) fn resume(&mut self) {
        self.paused = false;
    }

    fn pause(&mut self) {
        self.paused = true;
        self.compaction = None;
    }
}

impl Writer {
    /// Deletes drained segments and decides on compaction; runs after each
    /// commit, so copies made so far are durable.
    pub(crate) fn collect_garbage(&mut self) {
        while !self.gc.paused {
            let step = plan(&self.shared.index.lock(), self.active);
            match step {
                Step::Idle => {
                    self.gc.compaction = None;
                    return;
                }
                Step::Delete(number) => self.delete_segment(number),
                Step::Compact(number) => {
                    let listed = self.gc.compaction.as_ref().is_some_and(|(n, _)| *n == number);
                    if listed && self.gc.has_work() {
                        return;
                    }
                    // A new target, or every listed copy is made and some
                    // messages were skipped: list what is live there now.
                    let ids = self.shared.index.lock().ids_in_segment(number);
                    tracing::debug!(target: "queue::gc", segment = number, live = ids.len(), "compacting segment");
                    self.gc.compaction = Some((number, ids));
                    return;
                }
            }
        }
    }

    fn delete_segment(&mut self, number: u64) {
        let Some(segment) = self.shared.index.lock().remove_segment(number) else { return };
        if self.gc.compaction.as_ref().is_some_and(|(n, _)| *n == number) {
            self.gc.compaction = None;
        }
        let path = spool::segment_path(&self.dir, number);
        let result =
            std::fs::remove_file(&path).and_then(|()| if self.sync { spool::sync_dir(&self.dir) } else { Ok(()) });
        match result {
            Ok(()) => tracing::debug!(target: "queue::gc", segment = number, "drained segment deleted"),
            Err(error) => {
                tracing::error!(target: "queue::gc", segment = number, %error, "cannot delete a drained segment");
                // Keep it in the index: a newer segment must not go first.
                self.shared.index.lock().add_segment(number, segment.file, segment.size);
                self.gc.pause();
            }
        }
    }

    /// Copies some live messages of the segment being compacted into the
    /// active one, as part of `batch`.
    pub(crate) fn relocate_some(&mut self, batch: &mut Batch) {
        let mut budget = RELOCATE_BYTES_PER_COMMIT;
        while budget > 0 && self.gc.has_work() && !batch.failed() {
            let Some((segment, ids)) = self.gc.compaction.as_mut() else { return };
            let segment = *segment;
            let Some(id) = ids.pop() else { return };
            let (location, file) = {
                let index = self.shared.index.lock();
                let Some(entry) = index.get(id).filter(|entry| entry.location.segment == segment) else { continue };
                let Some(file) = index.segment_file(segment) else { continue };
                (entry.location, file)
            };
            let body = match read_body(&file, location) {
                Ok(body) => body,
                Err(ReadError::Damaged(damage)) => {
                    self.drop_damaged(id, &damage, batch);
                    continue;
                }
                Err(ReadError::Io(error)) => {
                    tracing::error!(target: "queue::gc", %id, %error, "cannot read a message to compact");
                    self.gc.pause();
                    return;
                }
            };
            // The snapshot and the append happen with no request taken in
            // between: an outcome recorded after this snapshot is appended
            // after this copy, so the log order stays the order of changes.
            let encoded = {
                let index = self.shared.index.lock();
                let Some(entry) = index.get(id).filter(|entry| entry.location == location) else { continue };
                record::encode_message(id, entry.queued_at_ms, &entry.envelope, &entry.states, body)
            };
            let Some(encoded) = encoded else {
                tracing::error!(target: "queue::gc", %id, "message too large to copy; compaction paused");
                self.gc.pause();
                return;
            };
            match self.append_message(&encoded) {
                Ok(to) => {
                    budget = budget.saturating_sub(to.len);
                    batch.relocations.push((id, location, to));
                }
                Err(failure) => batch.fail(failure),
            }
        }
    }

    /// A message whose frame no longer reads back cannot be delivered nor
    /// copied; it is dropped so that it does not pin its segment for ever.
    fn drop_damaged(&mut self, id: QueueId, damage: &str, batch: &mut Batch) {
        tracing::error!(target: "queue::gc", %id, %damage, "queued message is damaged and dropped");
        self.shared.index.lock().remove(id);
        if let Err(failure) = self.append_log(&record::encode_removed(id)) {
            batch.fail(failure);
        }
    }
}

/// Reads a Message frame back and returns its body.
pub(crate) fn read_body(file: &std::fs::File, location: Location) -> Result<Bytes, ReadError> {
    let payload = spool::read_frame(file, location.offset, location.len)?;
    match record::decode(&payload) {
        Ok(Record::Message(message)) => Ok(Bytes::from(payload).slice(message.body)),
        Ok(_) => Err(ReadError::Damaged(format!("frame at offset {} is not a message", location.offset))),
        Err(e) => Err(ReadError::Damaged(format!("frame at offset {}: {e}", location.offset))),
    }
}

#[cfg(test)]
mod tests;

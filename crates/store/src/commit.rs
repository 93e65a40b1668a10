//! Group commit: writers queue their requests and one committer per
//! account (on a blocking thread, so that fsyncs of different accounts run
//! in parallel) takes everything queued, plans it, writes all new message
//! bytes with one write and one fdatasync of the segment, then all journal
//! frames with one write and one fdatasync of the journal, then applies
//! the ops to memory and answers. A durable record therefore never names
//! bytes that are not durable, and nobody sees a write before it is
//! durable.
//!
//! Between batches the committer does maintenance, a bounded step at a
//! time: a snapshot when the journal has grown, and compaction of a closed
//! segment that is mostly dead.

use crate::account::Inner;
use crate::codec::corrupt;
use crate::ops::{BlobLoc, Op};
use crate::plan::{Planner, Reply, Request};
use crate::{StoreError, blobs, journal, layout, snapshot};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The journal grows by zero-filled chunks written ahead of use: a commit
/// then overwrites blocks that exist, so its fdatasync flushes data only,
/// with no file-system journal commit for a new size or new blocks. A
/// chunk is a quarter of the journal within these bounds, so that small
/// accounts stay small.
const JOURNAL_CHUNK_MIN: u64 = 16 << 10;
const JOURNAL_CHUNK_MAX: u64 = 1 << 20;

/// A group commit takes at most this many requests...
const MAX_BATCH: usize = 1024;
/// ...and this many bytes of message bodies (plus one more request).
const MAX_BATCH_BYTES: u64 = 16 << 20;

struct Pending {
    request: Request,
    reply: oneshot::Sender<Result<Reply, StoreError>>,
}

#[derive(Default)]
pub(crate) struct Queue {
    pending: VecDeque<Pending>,
    /// A committer is running and will see what is queued.
    pub(crate) running: bool,
}

/// The files the committer writes.
pub(crate) struct Io {
    pub journal: File,
    pub journal_len: u64,
    /// The journal file's length: zeros from `journal_len` on.
    pub journal_allocated: u64,
    pub generation: u64,
    pub snapshot_len: u64,
    pub active: Option<(u32, Arc<File>)>,
    pub active_len: u64,
    /// Closed segments and their file lengths.
    pub closed: BTreeMap<u32, u64>,
    /// Above every segment id on disk or named by a record, so a new
    /// segment never takes the name of one that went missing.
    pub next_segment: u32,
    /// Set after a failed snapshot, until reopened.
    pub snapshot_failed: bool,
    /// Set after a failed compaction, until reopened.
    pub compaction_failed: bool,
}

fn unavailable() -> StoreError {
    StoreError::Io(std::io::Error::other("account closed after a storage error or removal; reopen it"))
}

/// The same error again, for each waiter of a failed batch.
fn duplicate_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io(io) => StoreError::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => corrupt(other.to_string()),
    }
}

fn unix_now() -> u32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Clears the running flag if the committer panics, so that later writers
/// get an error instead of waiting forever.
struct PanicGuard<'a>(&'a Inner);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison(&corrupt("committer panicked"));
            let mut queue = self.0.queue.lock();
            queue.running = false;
            queue.pending.clear();
            drop(queue);
            self.0.idle.notify_waiters();
        }
    }
}

impl Inner {
    /// Queues `request`, starting a committer if none runs, and waits for
    /// its durable outcome.
    pub(crate) async fn submit(self: &Arc<Self>, request: Request) -> Result<Reply, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock();
            // Checked under the queue lock: `freeze` and `release` set the
            // flags under it too, so no write slips in after either has
            // drained the queue.
            if self.refuses_writes() {
                return Err(self.not_owned());
            }
            if self.frozen.load(std::sync::atomic::Ordering::Acquire) {
                return Err(StoreError::Frozen(self.name.to_string()));
            }
            queue.pending.push_back(Pending { request, reply });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let inner = self.clone();
            tokio::task::spawn_blocking(move || inner.run_committer());
        }
        outcome.await.map_err(|_| unavailable())?
    }

    fn run_committer(&self) {
        let _guard = PanicGuard(self);
        loop {
            let batch = self.take_batch();
            let idle = batch.is_empty();
            if !idle {
                self.commit_batch(batch);
            }
            let maintained = self.maintain();
            if idle && !maintained {
                let mut queue = self.queue.lock();
                if queue.pending.is_empty() {
                    queue.running = false;
                    drop(queue);
                    self.idle.notify_waiters();
                    return;
                }
            }
        }
    }

    /// Everything queued that can share one commit: a run of deliveries
    /// and appends, or one other request.
    fn take_batch(&self) -> Vec<Pending> {
        let mut queue = self.queue.lock();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = queue.pending.front() {
            let fits = next.request.groupable() && batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES;
            if !batch.is_empty() && !fits {
                break;
            }
            bytes += next.request.body_len();
            let groupable = next.request.groupable();
            batch.extend(queue.pending.pop_front());
            if !groupable {
                break;
            }
        }
        batch
    }

    fn commit_batch(&self, batch: Vec<Pending>) {
        if self.is_broken() {
            for pending in batch {
                let _ = pending.reply.send(Err(unavailable()));
            }
            return;
        }
        let mut io = self.io.lock();
        // Asked before any file is touched for this batch (a new segment
        // included); a refusal fails the whole batch and every later one.
        if !self.may_write() {
            for pending in batch {
                let _ = pending.reply.send(Err(self.not_owned()));
            }
            return;
        }
        let body_bytes: u64 = batch.iter().map(|p| p.request.body_len()).sum();
        if body_bytes > 0
            && let Err(e) = self.ensure_segment(&mut io, body_bytes)
        {
            self.poison(&e);
            for pending in batch {
                let _ = pending.reply.send(Err(duplicate_error(&e)));
            }
            return;
        }
        let segment = io.active.as_ref().map_or(0, |(id, _)| *id);
        let mut replies = Vec::with_capacity(batch.len());
        let mut txns = Vec::new();
        let mut frames = Vec::new();
        let mut bodies = Vec::with_capacity(usize::try_from(body_bytes).unwrap_or(0));
        {
            let meta = self.meta.read();
            let mut planner = Planner::new(&meta, segment, io.active_len, unix_now());
            for pending in batch {
                let outcome = planner.plan(pending.request).map(|planned| {
                    if let Some(body) = &planned.body {
                        bodies.extend_from_slice(body);
                    }
                    if !planned.ops.is_empty() {
                        journal::encode_frame(&planned.ops, &mut frames);
                        txns.push(planned.ops);
                    }
                    planned.reply
                });
                replies.push((pending.reply, outcome));
            }
            debug_assert_eq!(planner.segment_end(), io.active_len + bodies.len() as u64);
        }
        if !txns.is_empty() {
            if let Err(e) = self.write_durably(&mut io, &bodies, &frames) {
                self.poison(&e);
                for (reply, outcome) in replies {
                    let _ = reply.send(outcome.and_then(|_| Err(duplicate_error(&e))));
                }
                return;
            }
            self.apply(&txns);
            self.touch();
        }
        drop(io);
        for (reply, outcome) in replies {
            let _ = reply.send(outcome);
        }
    }

    fn apply(&self, txns: &[Vec<Op>]) {
        let mut meta = self.meta.write();
        for op in txns.iter().flatten() {
            if let Err(e) = meta.apply(op) {
                // Planned against this very state, so only a bug gets here;
                // the journal is right and a reopen rebuilds from it.
                self.poison(&e);
            }
        }
        drop(meta);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Makes sure the active segment can take `incoming` more bytes,
    /// starting a new one when it would grow past the limit.
    fn ensure_segment(&self, io: &mut Io, incoming: u64) -> Result<(), StoreError> {
        if io.active.is_some() && (io.active_len == 0 || io.active_len + incoming <= self.limits.segment_bytes) {
            return Ok(());
        }
        let id = io.next_segment;
        let file = Arc::new(blobs::open_for_append(&self.dir, id, self.sync)?);
        let len = file.metadata()?.len();
        if let Some((old, _)) = io.active.take() {
            io.closed.insert(old, io.active_len);
        }
        self.readers.insert(id, file.clone());
        io.next_segment = id + 1;
        io.active = Some((id, file));
        io.active_len = len;
        Ok(())
    }

    /// Segment bytes first, synced; then the journal frames, synced.
    fn write_durably(&self, io: &mut Io, bodies: &[u8], frames: &[u8]) -> Result<(), StoreError> {
        if !bodies.is_empty() {
            let (_, segment) = io.active.as_ref().ok_or_else(|| corrupt("no active segment"))?;
            segment.write_all_at(bodies, io.active_len)?;
            if self.sync {
                segment.sync_data()?;
            }
            io.active_len += bodies.len() as u64;
        }
        let end = io.journal_len + frames.len() as u64;
        let allocated = if end > io.journal_allocated {
            (end + (end / 4).clamp(JOURNAL_CHUNK_MIN, JOURNAL_CHUNK_MAX)).next_multiple_of(4096)
        } else {
            io.journal_allocated
        };
        let written = (|| {
            if allocated > io.journal_allocated {
                let zeros = vec![0; usize::try_from(allocated - io.journal_allocated).unwrap_or(0)];
                io.journal.write_all_at(&zeros, io.journal_allocated)?;
            }
            io.journal.write_all_at(frames, io.journal_len)?;
            if self.sync { io.journal.sync_data() } else { Ok(()) }
        })();
        if let Err(e) = written {
            // Best effort: do not leave whole frames of a failed commit
            // for recovery to find.
            let _ = io.journal.set_len(io.journal_len);
            io.journal_allocated = io.journal_len;
            return Err(e.into());
        }
        io.journal_len = end;
        io.journal_allocated = allocated;
        Ok(())
    }

    /// One step of maintenance if any is due; true if it did something.
    fn maintain(&self) -> bool {
        // A released account is on its way to another member, which can
        // do this itself: `release` waits for nothing but accepted writes.
        if self.is_broken() || self.refuses_writes() {
            return false;
        }
        let mut io = self.io.lock();
        // Each step (a snapshot, or one compaction step) asks the fence
        // first: a member that lost the account must not rewrite its files.
        if !self.may_write() {
            return false;
        }
        let journal_bytes = io.journal_len - journal::HEADER_LEN;
        let threshold =
            self.limits.journal_min_bytes.max(io.snapshot_len.saturating_mul(self.limits.journal_snapshot_ratio));
        if journal_bytes > threshold && !io.snapshot_failed {
            if let Err(e) = self.write_snapshot(&mut io) {
                tracing::error!(target: "store::maintenance", account = %self.name, error = %e, "snapshot failed");
                io.snapshot_failed = true;
            }
            return true;
        }
        if io.compaction_failed {
            return false;
        }
        let Some(segment) = blobs::compaction_candidate(&io.closed, &self.meta.read().segment_live) else {
            return false;
        };
        if let Err(e) = self.compact(&mut io, segment) {
            tracing::error!(target: "store::maintenance", account = %self.name, segment, error = %e, "compaction failed");
            io.compaction_failed = true;
        }
        true
    }

    /// Writes a snapshot of the committed state and starts the next
    /// journal generation. A crash before the rename leaves the old
    /// snapshot and journal (the new journal is empty and removed at open);
    /// after it, the new ones (the old journal is removed at open).
    fn write_snapshot(&self, io: &mut Io) -> Result<(), StoreError> {
        let generation = io.generation + 1;
        // The committer is the only writer and holds `io`, so the state
        // cannot change under this read lock, and readers are not blocked.
        let bytes = snapshot::encode(&self.meta.read(), generation);
        snapshot::write_temp(&self.dir, &bytes, self.sync)?;
        let journal = journal::create(&self.dir, generation, self.sync)?;
        if let Err(e) = snapshot::install(&self.dir, self.sync) {
            self.poison(&e);
            return Err(e);
        }
        let old = std::mem::replace(&mut io.journal, journal);
        drop(old);
        let _ = std::fs::remove_file(self.dir.join(layout::journal_name(io.generation)));
        io.generation = generation;
        io.journal_len = journal::HEADER_LEN;
        io.journal_allocated = journal::HEADER_LEN;
        io.snapshot_len = bytes.len() as u64;
        tracing::debug!(target: "store::maintenance", account = %self.name, generation, bytes = bytes.len(), "snapshot written");
        Ok(())
    }

    /// Moves up to one step's worth of live blobs out of `segment` into
    /// the active segment (bytes synced before the records that re-point
    /// them), or removes the segment once nothing points into it.
    fn compact(&self, io: &mut Io, segment: u32) -> Result<(), StoreError> {
        let mut live: Vec<(u64, BlobLoc)> = {
            let meta = self.meta.read();
            meta.blobs.iter().filter(|(_, b)| b.loc.segment == segment).map(|(id, b)| (*id, b.loc)).collect()
        };
        if live.is_empty() {
            io.closed.remove(&segment);
            self.readers.remove(segment);
            match std::fs::remove_file(self.dir.join(layout::segment_name(segment))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            tracing::debug!(target: "store::maintenance", account = %self.name, segment, "segment removed");
            return Ok(());
        }
        live.sort_by_key(|(_, loc)| loc.offset);
        let mut total = 0;
        let step: Vec<(u64, BlobLoc)> = live
            .into_iter()
            .take_while(|(_, loc)| {
                let take = total == 0 || total + loc.len <= self.limits.compaction_step_bytes;
                total += loc.len;
                take
            })
            .collect();
        let total = step.iter().map(|(_, loc)| loc.len).sum();
        let source = self.readers.get(segment)?;
        self.ensure_segment(io, total)?;
        let target = io.active.as_ref().map_or(0, |(id, _)| *id);
        let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        let mut ops = Vec::with_capacity(step.len());
        let mut offset = io.active_len;
        for (blob, loc) in step {
            let start = bytes.len();
            bytes.resize(start + usize::try_from(loc.len).map_err(|_| corrupt("blob too large"))?, 0);
            // Copied as they are: a blob already damaged stays detectably so.
            source.read_exact_at(&mut bytes[start..], loc.offset)?;
            ops.push(Op::Relocate { blob, loc: BlobLoc { segment: target, offset, ..loc } });
            offset += loc.len;
        }
        let mut frames = Vec::new();
        journal::encode_frame(&ops, &mut frames);
        if let Err(e) = self.write_durably(io, &bytes, &frames) {
            self.poison(&e);
            return Err(e);
        }
        self.apply(&[ops]);
        tracing::debug!(target: "store::maintenance", account = %self.name, segment, moved = total, "compaction step");
        Ok(())
    }
}

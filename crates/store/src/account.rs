//! One open account: its in-memory state and files, opening with crash
//! recovery, and the read path. Writes go through the committer
//! (`commit.rs`); reads only take the metadata lock for a moment.

use crate::blobs::{self, SegmentReaders};
use crate::codec::corrupt;
use crate::commit::{Io, Queue};
use crate::meta::Meta;
use crate::{Durability, Extent, Fence, StoreConfig, StoreError, StoreLimits, fence, journal, layout, snapshot};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Notify, watch};
use types::{AccountName, MailboxId, Uid};

pub(crate) struct Inner {
    pub name: AccountName,
    pub dir: PathBuf,
    /// fsync before acknowledging (`Durability::Fsync`).
    pub sync: bool,
    pub limits: StoreLimits,
    /// The committed (durable) metadata; what readers see.
    pub meta: RwLock<Meta>,
    pub readers: SegmentReaders,
    /// Write requests waiting for the committer.
    pub queue: Mutex<Queue>,
    /// The files the committer writes; held by the committer for a batch.
    pub io: Mutex<Io>,
    pub exclusive: AtomicBool,
    /// Set after a failed write (the files may not match memory any more)
    /// or once the account was removed: every later write fails.
    pub broken: AtomicBool,
    /// Moves after every committed change (IMAP IDLE waits on it).
    pub changes: watch::Sender<u64>,
    /// Woken when the committer stops for lack of work.
    pub idle: Notify,
    /// Set while the account is frozen for a move (`freeze.rs`): writes
    /// and new opens fail with [`StoreError::Frozen`].
    pub frozen: AtomicBool,
    /// Why live sessions must close (`freeze.rs`); `None` while they may
    /// stay.
    pub closing: watch::Sender<Option<Arc<str>>>,
    /// Asked before every write (`fence.rs`); `None`: always allowed.
    pub fence: Option<Arc<dyn Fence>>,
    /// Set (under the queue lock) by `Store::release` or once the fence
    /// refused a write: later writes fail with [`StoreError::NotOwned`].
    pub released: AtomicBool,
    /// Set once the fence refused a write: this instance never writes its
    /// files again, not even what was queued before.
    pub fenced: AtomicBool,
    /// When the account was last handed out or committed to, in
    /// [`fence::clock_ms`]; for `Store::idle_accounts`.
    pub last_used: AtomicU64,
}

impl Inner {
    /// Opens the account in `dir`, creating it if needed and recovering
    /// from a crash: replays the journal on the snapshot, cuts a torn
    /// tail, drops leftovers of an interrupted snapshot or compaction.
    pub(crate) fn open(
        dir: PathBuf,
        name: AccountName,
        config: &StoreConfig,
        limits: &StoreLimits,
        fence: Option<Arc<dyn Fence>>,
    ) -> Result<Inner, StoreError> {
        let sync = config.durability == Durability::Fsync;
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            if sync {
                // The account directory and its domain directory must
                // survive a crash before anything in them is acknowledged.
                for d in dir.ancestors().skip(1).take(2) {
                    layout::sync_dir(d)?;
                }
            }
        }
        let _ = std::fs::remove_file(dir.join(layout::SNAPSHOT_TMP));
        let (mut meta, generation, snapshot_len) = match snapshot::read(&dir, limits.recent_delivery_ids)? {
            Some(loaded) => (loaded.meta, loaded.generation, loaded.file_len),
            None => (Meta::new(limits.recent_delivery_ids), 0, 0),
        };
        let journal = journal::recover(&dir, generation, &mut meta, sync)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let stale =
                entry.file_name().to_str().and_then(layout::parse_journal_name).is_some_and(|g| g != generation);
            if stale {
                // Left by a snapshot interrupted before or after its rename.
                std::fs::remove_file(entry.path())?;
            }
        }

        let mut segments = blobs::scan(&dir)?;
        let mut referenced_end: BTreeMap<u32, u64> = BTreeMap::new();
        // Empty messages need no bytes, and no segment.
        for blob in meta.blobs.values().filter(|b| b.loc.len > 0) {
            let end = referenced_end.entry(blob.loc.segment).or_default();
            *end = (*end).max(blob.loc.end());
        }
        for segment in referenced_end.keys().filter(|s| !segments.contains_key(s)) {
            tracing::error!(target: "store::recovery", account = %name, segment, "segment with messages is missing");
        }
        let next_segment = segments.keys().chain(referenced_end.keys()).max().map_or(1, |id| id + 1);
        let active = segments.pop_last();
        // Segments nothing points at any more (compaction finished but
        // the crash came before the file was removed).
        let mut closed = BTreeMap::new();
        for (id, len) in segments {
            if referenced_end.contains_key(&id) {
                closed.insert(id, len);
            } else {
                std::fs::remove_file(dir.join(layout::segment_name(id)))?;
            }
        }
        let readers = SegmentReaders::new(dir.clone());
        let (active, active_len) = match active {
            Some((id, len)) => {
                let file = Arc::new(blobs::open_for_append(&dir, id, sync)?);
                readers.insert(id, file.clone());
                // Append after whatever is there, and never over a blob a
                // record names, even if the file came back shorter.
                (Some((id, file)), len.max(referenced_end.get(&id).copied().unwrap_or(0)))
            }
            None => (None, 0),
        };
        if sync {
            layout::sync_dir(&dir)?;
        }
        let io = Io {
            journal: journal.file,
            journal_len: journal.len,
            journal_allocated: journal.allocated,
            generation,
            snapshot_len,
            active,
            active_len,
            closed,
            next_segment,
            snapshot_failed: false,
            compaction_failed: false,
        };
        Ok(Inner {
            name,
            dir,
            sync,
            limits: limits.clone(),
            meta: RwLock::new(meta),
            readers,
            queue: Mutex::new(Queue::default()),
            io: Mutex::new(io),
            exclusive: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            changes: watch::channel(0).0,
            idle: Notify::new(),
            frozen: AtomicBool::new(false),
            closing: watch::channel(None).0,
            fence,
            released: AtomicBool::new(false),
            fenced: AtomicBool::new(false),
            last_used: AtomicU64::new(fence::clock_ms()),
        })
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Stops all further writes after an error that may have left the
    /// files out of step with memory; reopening recovers from the files.
    pub(crate) fn poison(&self, why: &StoreError) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            tracing::error!(target: "store::commit", account = %self.name, error = %why, "account write failed; refusing writes until reopened");
        }
    }

    /// Closes the account for good before its directory is removed,
    /// waiting for a commit in progress.
    pub(crate) fn close_for_removal(&self) {
        let _io = self.io.lock();
        self.broken.store(true, Ordering::Release);
    }

    /// Waits until no commit or maintenance step is running.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.queue.lock().running {
                return;
            }
            notified.await;
        }
    }

    /// Reads messages of one mailbox in one trip to a blocking thread:
    /// for each UID its bytes (or only its header, per `extent`), `None`
    /// for a message that is gone.
    pub(crate) async fn read_many(
        self: &Arc<Self>,
        mailbox: MailboxId,
        uids: Vec<Uid>,
        extent: Extent,
    ) -> Result<Vec<Option<Bytes>>, StoreError> {
        let inner = self.clone();
        tokio::task::spawn_blocking(move || {
            uids.iter()
                .map(|uid| match inner.read_blocking(mailbox, *uid, extent) {
                    Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                    Err(StoreError::NoSuchMessage(_)) => Ok(None),
                    Err(e) => Err(e),
                })
                .collect()
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    /// Reads one message; blocks on the file.
    fn read_blocking(&self, mailbox: MailboxId, uid: Uid, extent: Extent) -> Result<Vec<u8>, StoreError> {
        // Compaction may move a blob and remove its old segment between
        // our lookup and our open; looking again then finds the new place.
        for _ in 0..3 {
            let loc = {
                let meta = self.meta.read();
                let mb = meta
                    .mailboxes
                    .get(&mailbox.0)
                    .ok_or_else(|| StoreError::NoSuchMailbox(format!("#{}", mailbox.0)))?;
                let message = mb.messages.get(&uid.0).ok_or(StoreError::NoSuchMessage(uid))?;
                meta.blobs.get(&message.blob).map(|b| b.loc).ok_or_else(|| corrupt("message without bytes"))?
            };
            if loc.len == 0 {
                return Ok(Vec::new());
            }
            let file = match self.readers.get(loc.segment) {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            return match extent {
                Extent::Whole => blobs::read(&file, &loc),
                Extent::Header => blobs::read_header(&file, &loc),
            };
        }
        Err(corrupt(format!("segment of message {uid} is missing")))
    }
}

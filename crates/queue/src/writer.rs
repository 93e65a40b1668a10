//! The one writer of the spool, on its own thread: group commit.
//!
//! Requests arrive on a bounded channel. The writer takes one, drains every
//! other request already waiting, appends all their frames in one write,
//! makes them durable with ONE `fdatasync`, publishes the new messages to
//! the index and the schedule, and only then completes the enqueuers'
//! oneshots. Outcome and removal frames ride along in the same commits
//! without anyone waiting for them. Garbage collection (see `gc.rs`) runs
//! between commits, on this thread, so that the log order is the only
//! order there is.

use crate::gc::Gc;
use crate::index::{Entry, Location};
use crate::record::{EncodedMessage, State};
use crate::recovery::ActiveSegment;
use crate::spool::{self, SEGMENT_HEADER_LEN};
use crate::{Envelope, QueueError, QueueId, Shared};
use bytes::Bytes;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the writer; enqueuers wait when it is full.
const CHANNEL_CAPACITY: usize = 1024;

/// A commit stops draining the channel past this many bytes.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// The longest a commit waits for more enqueues (see `wait_for_more`).
const MAX_GATHER_WAIT: Duration = Duration::from_millis(1);

/// Bodies this large are written straight from their buffer, not copied.
const DIRECT_WRITE_LEN: usize = 256 << 10;

pub(crate) enum Request {
    /// A new message; `done` is completed once it is durable.
    Message {
        id: QueueId,
        queued_at_ms: i64,
        envelope: Envelope,
        record: EncodedMessage,
        done: oneshot::Sender<Result<(), WriteFailed>>,
    },
    /// Outcome or Removed frames, durable at the next commit.
    Log(Vec<u8>),
    /// The same, with word back once they are durable (administration,
    /// foreign queue import).
    LogDurable(Vec<u8>, oneshot::Sender<Result<(), WriteFailed>>),
}

/// Why an enqueue was not made durable.
#[derive(Debug, Clone)]
pub(crate) struct WriteFailed(Arc<io::Error>);

impl From<WriteFailed> for QueueError {
    fn from(failed: WriteFailed) -> QueueError {
        QueueError::Io(io::Error::new(failed.0.kind(), failed.0.to_string()))
    }
}

/// A failure while committing. After a failed write the unwritten tail is
/// cut off and the writer goes on; after a failed fsync the state of the
/// file is unknown, and the writer refuses all further work.
pub(crate) enum Failure {
    Write(io::Error),
    Sync(io::Error),
}

/// The sending side, owned by the queue; dropping it stops the writer and
/// waits until its last commit is done.
pub(crate) struct WriterHandle {
    sender: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterHandle {
    pub(crate) fn start(writer: Writer) -> io::Result<WriterHandle> {
        let (sender, requests) = mpsc::channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new().name("queue-writer".into()).spawn(move || writer.run(requests))?;
        Ok(WriterHandle { sender: Some(sender), thread: Some(thread) })
    }

    pub(crate) async fn send(&self, request: Request) -> Result<(), QueueError> {
        let sender = self.sender.as_ref().ok_or(QueueError::ShuttingDown)?;
        sender.send(request).await.map_err(|_| QueueError::ShuttingDown)
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            // The writer finishes its last commit: a queue reopened on the
            // same directory right after must not race with it.
            let _ = thread.join();
        }
    }
}

/// A message appended in this batch, published once the batch is durable.
struct NewMessage {
    id: QueueId,
    entry: Entry,
    body: Bytes,
    done: oneshot::Sender<Result<(), WriteFailed>>,
}

/// What one commit carries, and what it publishes once durable.
#[derive(Default)]
pub(crate) struct Batch {
    messages: Vec<NewMessage>,
    /// Enqueuers refused because the batch failed before their turn.
    refused: Vec<oneshot::Sender<Result<(), WriteFailed>>>,
    /// Waiting for their `LogDurable` frames.
    logged: Vec<oneshot::Sender<Result<(), WriteFailed>>>,
    /// Messages copied by garbage collection: id, old and new location.
    pub relocations: Vec<(QueueId, Location, Location)>,
    bytes: usize,
    failure: Option<Failure>,
}

impl Batch {
    pub(crate) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    pub(crate) fn fail(&mut self, failure: Failure) {
        self.failure.get_or_insert(failure);
    }

    fn n_messages(&self) -> usize {
        self.messages.len() + self.refused.len()
    }
}

pub(crate) struct Writer {
    pub dir: PathBuf,
    pub sync: bool,
    pub segment_size: u64,
    pub shared: Arc<Shared>,
    /// Number of the segment appended to.
    pub active: u64,
    file: Arc<File>,
    /// Bytes of the active segment written to the file.
    written: u64,
    /// Bytes of the active segment known durable.
    durable: u64,
    /// Frames appended but not yet written; they go at `written`.
    buffer: Vec<u8>,
    /// Set after a failed fsync: every later request fails.
    poisoned: Option<Arc<io::Error>>,
    /// Messages of the last commit: as many enqueuers are likely to be
    /// back with their next message in a moment.
    last_batch_messages: usize,
    /// A moving average of how long an fsync takes.
    sync_time: Duration,
    pub gc: Gc,
    /// The spool's lock, released when the writer stops.
    _lock: File,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, segment_size: u64, active: ActiveSegment, lock: File) -> Writer {
        Writer {
            dir: shared.config.dir.clone(),
            sync: shared.config.fsync,
            segment_size,
            shared,
            active: active.number,
            file: active.file,
            written: active.len,
            durable: active.len,
            buffer: Vec::new(),
            poisoned: None,
            last_batch_messages: 0,
            sync_time: Duration::ZERO,
            gc: Gc::default(),
            _lock: lock,
        }
    }

    fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        loop {
            let first = if self.gc.has_work() {
                match requests.try_recv() {
                    Ok(request) => Some(request),
                    Err(mpsc::error::TryRecvError::Empty) => None,
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            } else {
                match requests.blocking_recv() {
                    Some(request) => {
                        self.gc.resume();
                        Some(request)
                    }
                    None => break,
                }
            };
            let mut batch = Batch::default();
            if let Some(first) = first {
                self.take(first, &mut batch);
                while batch.bytes < MAX_BATCH_BYTES {
                    let Ok(request) = requests.try_recv() else { break };
                    self.take(request, &mut batch);
                }
                self.wait_for_more(&mut requests, &mut batch);
            }
            if self.poisoned.is_none() {
                self.relocate_some(&mut batch);
                self.commit(batch);
                self.collect_garbage();
                if requests.is_empty() {
                    self.scrub_drained_spool();
                }
            }
        }
        tracing::debug!(target: "queue::writer", "queue writer stopped");
    }

    /// Waits a little for enqueuers that are about to come back.
    ///
    /// The enqueuers acknowledged by one commit send their next message a
    /// moment later, while the writer has already started the next commit
    /// with whoever came first; the others then wait a whole fsync, and
    /// commits alternate between small batches. Waiting up to a quarter of
    /// an fsync (at most `MAX_GATHER_WAIT`) for as many messages as the
    /// last commit had keeps the batches whole.
    fn wait_for_more(&mut self, requests: &mut mpsc::Receiver<Request>, batch: &mut Batch) {
        if !self.sync || batch.n_messages() >= self.last_batch_messages {
            return;
        }
        let deadline = Instant::now() + (self.sync_time / 4).min(MAX_GATHER_WAIT);
        while batch.n_messages() < self.last_batch_messages && batch.bytes < MAX_BATCH_BYTES {
            match requests.try_recv() {
                Ok(request) => self.take(request, batch),
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() >= deadline => return,
                Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_micros(20)),
            }
        }
    }

    /// Appends one request's frames to the batch.
    fn take(&mut self, request: Request, batch: &mut Batch) {
        if let Some(error) = &self.poisoned {
            if let Request::Message { done, .. } | Request::LogDurable(_, done) = request {
                let _ = done.send(Err(WriteFailed(error.clone())));
            }
            return;
        }
        match request {
            Request::Message { id, queued_at_ms, envelope, record, done } => {
                if batch.failed() {
                    batch.refused.push(done);
                    return;
                }
                batch.bytes += record.len() as usize;
                match self.append_message(&record) {
                    Ok(location) => {
                        let states = vec![State::Pending; envelope.recipients.len()];
                        let body_len = record.body.len() as u64;
                        let entry = Entry { envelope, queued_at_ms, states, body_len, location };
                        batch.messages.push(NewMessage { id, entry, body: record.body, done });
                    }
                    Err(failure) => {
                        batch.fail(failure);
                        batch.refused.push(done);
                    }
                }
            }
            Request::Log(frames) => {
                if batch.failed() {
                    return;
                }
                batch.bytes += frames.len();
                if let Err(failure) = self.append_log(&frames) {
                    batch.fail(failure);
                }
            }
            Request::LogDurable(frames, done) => {
                batch.logged.push(done);
                if batch.failed() {
                    return;
                }
                batch.bytes += frames.len();
                if let Err(failure) = self.append_log(&frames) {
                    batch.fail(failure);
                }
            }
        }
    }

    /// Empties the spool once every message has left it and the writer is
    /// idle, so that delivered mail does not linger on disk until the
    /// active segment fills (a frontend keeps no account data, CM-15).
    ///
    /// Only when the active segment is the only one: a newer segment's
    /// frames may record the fate of messages in older ones, which would
    /// come back if those frames went first. The header is rewritten before
    /// the frames are cut off, with the id floor of now, so a crash in
    /// between leaves dead frames behind a valid header (replayed as dead),
    /// never a segment that forgets which ids were issued.
    fn scrub_drained_spool(&mut self) {
        let drained = {
            let index = self.shared.index.lock();
            index.len() == 0 && index.segments().keys().eq(std::iter::once(&self.active))
        };
        if !drained || self.end() <= SEGMENT_HEADER_LEN {
            return;
        }
        let result = (|| {
            self.flush()?;
            self.sync_active()?;
            let header = spool::encode_header(self.shared.ids.floor());
            self.file.write_all_at(&header, 0).map_err(Failure::Write)?;
            if self.sync {
                self.file.sync_data().map_err(Failure::Sync)?;
            }
            self.file.set_len(SEGMENT_HEADER_LEN).map_err(Failure::Write)?;
            if self.sync {
                self.file.sync_data().map_err(Failure::Sync)?;
            }
            Ok::<(), Failure>(())
        })();
        match result {
            Ok(()) => {
                self.written = SEGMENT_HEADER_LEN;
                self.durable = SEGMENT_HEADER_LEN;
                self.shared.index.lock().set_segment_size(self.active, SEGMENT_HEADER_LEN);
                tracing::debug!(target: "queue::gc", segment = self.active, "drained spool scrubbed");
            }
            // The header may be half written: stop, as after a failed
            // fsync, rather than risk issuing an id twice.
            Err(Failure::Write(error) | Failure::Sync(error)) => {
                tracing::error!(target: "queue::gc", %error, "cannot scrub the drained spool; queue stopped until restart");
                self.poisoned = Some(Arc::new(error));
            }
        }
    }

    /// Where the next appended frame goes.
    fn end(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    /// Appends a Message frame and says where it lies.
    pub(crate) fn append_message(&mut self, record: &EncodedMessage) -> Result<Location, Failure> {
        let len = record.len();
        self.make_room(len)?;
        let offset = self.end();
        self.buffer.extend_from_slice(&record.head);
        if record.body.len() >= DIRECT_WRITE_LEN {
            self.flush()?;
            self.file.write_all_at(&record.body, self.written).map_err(Failure::Write)?;
            self.written += record.body.len() as u64;
        } else {
            self.buffer.extend_from_slice(&record.body);
        }
        Ok(Location { segment: self.active, offset, len })
    }

    pub(crate) fn append_log(&mut self, frames: &[u8]) -> Result<(), Failure> {
        self.make_room(frames.len() as u64)?;
        self.buffer.extend_from_slice(frames);
        Ok(())
    }

    /// Rolls to a new segment if `len` more bytes would overfill this one.
    fn make_room(&mut self, len: u64) -> Result<(), Failure> {
        let end = self.end();
        if end > SEGMENT_HEADER_LEN && end + len > self.segment_size {
            self.roll()?;
        }
        Ok(())
    }

    /// Closes the active segment (durably) and starts the next one.
    fn roll(&mut self) -> Result<(), Failure> {
        self.flush()?;
        self.sync_active()?;
        let number = self.active + 1;
        let file =
            spool::create_segment(&self.dir, number, self.shared.ids.floor(), self.sync).map_err(Failure::Write)?;
        let file = Arc::new(file);
        {
            let mut index = self.shared.index.lock();
            index.set_segment_size(self.active, self.written);
            index.add_segment(number, file.clone(), SEGMENT_HEADER_LEN);
        }
        tracing::debug!(target: "queue::writer", closed = self.active, opened = number, "segment rolled");
        self.active = number;
        self.file = file;
        self.written = SEGMENT_HEADER_LEN;
        self.durable = SEGMENT_HEADER_LEN;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        if !self.buffer.is_empty() {
            self.file.write_all_at(&self.buffer, self.written).map_err(Failure::Write)?;
            self.written += self.buffer.len() as u64;
            self.buffer.clear();
        }
        if self.buffer.capacity() > MAX_BATCH_BYTES * 2 {
            self.buffer = Vec::new();
        }
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), Failure> {
        if self.sync && self.durable < self.written {
            let started = Instant::now();
            self.file.sync_data().map_err(Failure::Sync)?;
            self.sync_time = (self.sync_time * 7 + started.elapsed()) / 8;
        }
        self.durable = self.written;
        Ok(())
    }

    /// Writes and syncs the batch, then publishes it.
    fn commit(&mut self, mut batch: Batch) {
        self.last_batch_messages = batch.n_messages();
        if batch.failure.is_none()
            && let Err(failure) = self.flush().and_then(|()| self.sync_active())
        {
            batch.fail(failure);
        }
        if let Some(failure) = batch.failure.take() {
            let error = self.recover_from(failure);
            let dones = batch.messages.into_iter().map(|message| message.done).chain(batch.refused).chain(batch.logged);
            for done in dones {
                let _ = done.send(Err(WriteFailed(error.clone())));
            }
            return;
        }
        for done in batch.logged.drain(..) {
            let _ = done.send(Ok(()));
        }
        let mut fresh = Vec::with_capacity(batch.messages.len());
        {
            let mut index = self.shared.index.lock();
            index.set_segment_size(self.active, self.written);
            for message in batch.messages {
                index.insert(message.id, message.entry);
                fresh.push((message.id, message.body, message.done));
            }
            for (id, from, to) in batch.relocations {
                index.relocate(id, from, to);
            }
        }
        if fresh.is_empty() {
            return;
        }
        {
            // The runner takes new bodies from here, not from disk.
            let mut schedule = self.shared.schedule.lock();
            for (id, body, _) in &fresh {
                schedule.push_ready(*id, Some(body.clone()));
            }
        }
        self.shared.wake.notify_one();
        for (_, _, done) in fresh {
            // An enqueuer that went away leaves its message queued.
            let _ = done.send(Ok(()));
        }
    }

    /// Cuts off what a failed commit may have left half written.
    fn recover_from(&mut self, failure: Failure) -> Arc<io::Error> {
        self.buffer.clear();
        match failure {
            Failure::Write(error) => {
                tracing::error!(target: "queue::writer", %error, "queue write failed; the batch is refused");
                let error = Arc::new(error);
                if let Err(cut) = self.file.set_len(self.durable) {
                    tracing::error!(target: "queue::writer", error = %cut, "cannot cut the failed write off; queue stopped");
                    self.poisoned = Some(error.clone());
                }
                self.written = self.durable;
                error
            }
            Failure::Sync(error) => {
                tracing::error!(target: "queue::writer", %error, "queue fsync failed; queue stopped until restart");
                let error = Arc::new(error);
                self.poisoned = Some(error.clone());
                error
            }
        }
    }
}

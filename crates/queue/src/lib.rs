//! The durable SMTP queue. A message is acknowledged (`250`) only after
//! [`Queue::enqueue`] returns, which is after its bytes and envelope are
//! fsynced; concurrent enqueues share one fsync (group commit). The queue
//! hands messages to delivery and records per-recipient outcomes; it
//! removes a message once every recipient has a final outcome. It knows
//! nothing of mailboxes: delivery is the caller's [`Transport`]. It reads
//! no configuration of its own (the binary passes [`QueueConfig`]) and
//! keeps no message body in memory beyond a bounded hand-over to the
//! runner.
//!
//! On disk (`QueueConfig::dir`): append-only segments `seg-NNNNNN.q` of
//! CRC-framed records (Message with envelope, recipient states and body;
//! Outcome; Removed), rolled at 64 MiB; the in-memory index is rebuilt by
//! replaying them at open. See `record.rs`, `spool.rs` and `gc.rs`. A
//! `lock` file keeps a second queue off the same directory.
//!
//! Code map: `record` (frames and payloads, pure), `spool` (segment files),
//! `recovery` (open: scan and rebuild), `index` (what is queued, in
//! memory), `writer` (the group-commit thread), `gc` (deleting and
//! compacting segments), `schedule` (retry policy and due times), `runner`
//! (the delivery loop), `id` (queue ids).
#![forbid(unsafe_code)]

mod admin;
mod bounce;
mod gc;
mod id;
mod index;
mod origin;
mod record;
mod recovery;
mod runner;
mod schedule;
mod spool;
pub use spool::may_hold_messages;
mod writer;

pub use admin::{HELD_BY_ADMIN, Imported};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// How the queue of one server works; `QueueConfig::new` gives the
/// defaults of the embedded single server.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The spool directory; created if missing.
    pub dir: PathBuf,
    /// fsync before acknowledging; off only in tests that never kill.
    pub fsync: bool,
    /// How many deliveries run at once.
    pub delivery_concurrency: usize,
    /// Delays between attempts for deferred recipients.
    pub retry_schedule: Vec<Duration>,
    /// After this long in the queue a deferred recipient fails for good.
    pub max_age: Duration,
    /// This server's host name in delivery status notifications.
    pub reporting_mta: String,
    /// The `From:` of delivery status notifications.
    pub bounce_from: String,
    /// A sender whose message is still deferred this long after it was
    /// queued is told so, once (`Action: delayed`); `None`: never.
    pub delay_warning_after: Option<Duration>,
}

impl QueueConfig {
    /// The defaults: fsync on, 16 deliveries at once, retries after 5,
    /// 15, 30 minutes then hourly, for up to 5 days; a delay warning after
    /// 4 hours.
    pub fn new(dir: impl Into<PathBuf>) -> QueueConfig {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        QueueConfig {
            dir: dir.into(),
            fsync: true,
            delivery_concurrency: 16,
            retry_schedule: vec![minutes(5), minutes(15), minutes(30), minutes(60)],
            max_age: Duration::from_secs(5 * 24 * 3600),
            reporting_mta: "localhost".into(),
            bounce_from: "MAILER-DAEMON@localhost".into(),
            delay_warning_after: Some(minutes(4 * 60)),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.delivery_concurrency == 0 {
            return Err(QueueError::Config("delivery_concurrency must be at least 1".into()));
        }
        if self.retry_schedule.is_empty() {
            return Err(QueueError::Config("retry_schedule must name at least one delay".into()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("queue data is damaged: {0}")]
    Corrupt(String),
    #[error("the queue is shutting down")]
    ShuttingDown,
    #[error("no queued message {0}")]
    NotFound(QueueId),
    /// A setting of [`QueueConfig`] is unusable; the text names it.
    #[error("queue config: {0}")]
    Config(String),
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// Unique among all messages this queue ever held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueueId(pub u64);

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for QueueId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(QueueId)
    }
}

/// The SMTP envelope and what the receiver learnt about the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The reverse-path without angle brackets; empty for `<>`.
    pub mail_from: String,
    /// Forward-paths, in RCPT order.
    pub recipients: Vec<String>,
    /// Unix seconds.
    pub received_at: i64,
    /// The authenticated account that submitted it, if any.
    pub authenticated_as: Option<String>,
    pub smtputf8: bool,
}

/// What happened to one recipient on one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Delivered,
    /// Permanent failure; the text is the reason for the bounce.
    Failed(String),
    /// Try again later.
    Deferred(String),
    /// Not deliverable by any transport this server has yet (remote
    /// recipients until outbound delivery exists); kept, not retried.
    Held(String),
}

/// A recipient's state as listed by `rookery queue show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    Pending,
    /// `warned`: the sender has been told of the delay.
    Deferred {
        attempts: u32,
        next_attempt: i64,
        last_error: String,
        warned: bool,
    },
    Held {
        reason: String,
    },
    Delivered,
    Failed {
        reason: String,
    },
}

/// One message waiting in the queue, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: QueueId,
    pub envelope: Envelope,
    pub size: u64,
    pub states: Vec<RecipientState>,
}

/// A message handed to a [`Transport`] with the recipients to try.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: QueueId,
    /// The queue's tag (see [`Job::delivery_id`]).
    pub origin: u32,
    pub envelope: Envelope,
    pub body: Bytes,
    /// Indexes into `envelope.recipients`.
    pub recipients: Vec<usize>,
}

impl Job {
    /// Unique per (queue, queued message, recipient at `position`): the
    /// store recognises a delivery repeated after a crash by it, also when
    /// another member runs this queue (a foreign queue, CM-17), and never
    /// mistakes two queues' messages for one.
    pub fn delivery_id(&self, position: usize) -> u128 {
        ((self.origin as u128) << 96) | ((self.id.0 as u128) << 32) | position as u128
    }
}

/// Delivers queued messages; the wiring supplies local (store) and later
/// remote transports.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// One outcome per entry of `job.recipients`, in the same order.
    async fn deliver(&self, job: &Job) -> Vec<Outcome>;
}

/// Knobs that only tests turn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// A segment is closed once it would grow past this.
    pub segment_size: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning { segment_size: 64 << 20 }
    }
}

/// The state the writer thread shares with the queue's users.
pub(crate) struct Shared {
    pub config: QueueConfig,
    pub index: Mutex<index::Index>,
    pub schedule: Mutex<schedule::Schedule>,
    /// Wakes the runner: a new message, or a retry time changed.
    pub wake: Notify,
    pub ids: id::IdGenerator,
    /// This queue directory's tag (`origin.rs`), part of every job's
    /// delivery ids.
    pub origin: u32,
}

/// What the runner's jobs keep alive; the writer stops when the last
/// reference goes.
pub(crate) struct Inner {
    pub shared: Arc<Shared>,
    pub writer: writer::WriterHandle,
}

impl Inner {
    /// Stores a message durably (for clients, and for the runner's own
    /// delivery status notifications).
    pub(crate) async fn enqueue(&self, envelope: Envelope, body: Bytes) -> Result<QueueId> {
        let id = self.shared.ids.next();
        let queued_at_ms = now_ms();
        let states = vec![record::State::Pending; envelope.recipients.len()];
        let record = record::encode_message(id, queued_at_ms, &envelope, &states, body).ok_or_else(|| {
            QueueError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too large for the queue"))
        })?;
        let (done, durable) = oneshot::channel();
        self.writer.send(writer::Request::Message { id, queued_at_ms, envelope, record, done }).await?;
        durable.await.map_err(|_| QueueError::ShuttingDown)??;
        Ok(id)
    }
}

/// The queue of one server. Dropping it (and stopping `run`) waits for the
/// writer's last commit, so the directory can be reopened at once.
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    /// Opens the spool, recovering what a crash left: every message whose
    /// enqueue returned is there again with its recipient states.
    pub fn open(config: QueueConfig) -> Result<Queue> {
        Queue::open_tuned(config, Tuning::default())
    }

    pub(crate) fn open_tuned(config: QueueConfig, tuning: Tuning) -> Result<Queue> {
        config.validate()?;
        let lock = spool::lock_dir(&config.dir)?;
        let origin = origin::load_or_create(&config.dir, config.fsync)?;
        let ids = id::IdGenerator::default();
        let recovered = recovery::recover(&config.dir, config.fsync, &ids)?;
        let schedule = schedule::Schedule::from_index(&recovered.index);
        let shared = Arc::new(Shared {
            config: config.clone(),
            index: Mutex::new(recovered.index),
            schedule: Mutex::new(schedule),
            wake: Notify::new(),
            ids,
            origin,
        });
        let writer = writer::Writer::new(shared.clone(), tuning.segment_size, recovered.active, lock);
        let writer = writer::WriterHandle::start(writer)?;
        Ok(Queue { inner: Arc::new(Inner { shared, writer }) })
    }

    /// Stores the message durably; returns once it is on disk.
    pub async fn enqueue(&self, envelope: Envelope, body: Bytes) -> Result<QueueId> {
        self.inner.enqueue(envelope, body).await
    }

    /// Runs deliveries through `transport` until shutdown: new messages at
    /// once, deferred ones on their retry schedule. Returns once shutdown
    /// is asked for (or its sender is dropped) and in-flight jobs are done.
    /// One runner per queue.
    pub async fn run(&self, transport: std::sync::Arc<dyn Transport>, shutdown: tokio::sync::watch::Receiver<bool>) {
        runner::run(self.inner.clone(), transport, shutdown).await
    }

    /// How many messages the queue holds.
    pub fn len(&self) -> usize {
        self.inner.shared.index.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every message in the queue, by id.
    pub fn list(&self) -> Vec<QueueEntry> {
        self.inner.shared.index.lock().list()
    }

    pub fn get(&self, id: QueueId) -> Option<QueueEntry> {
        self.inner.shared.index.lock().entry(id)
    }

    /// Reads a queued message's body back from the spool.
    pub(crate) fn read_body(&self, id: QueueId) -> Result<Bytes> {
        let (file, location) = {
            let index = self.inner.shared.index.lock();
            let entry = index.get(id).ok_or(QueueError::NotFound(id))?;
            (index.segment_file(entry.location.segment).ok_or(QueueError::NotFound(id))?, entry.location)
        };
        gc::read_body(&file, location).map_err(|e| match e {
            spool::ReadError::Io(e) => QueueError::Io(e),
            spool::ReadError::Damaged(damage) => QueueError::Corrupt(damage),
        })
    }
}

/// Wall-clock unix milliseconds: retry times survive restarts.
pub(crate) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

//! The durable SMTP queue. A message is acknowledged (`250`) only after
//! [`Queue::enqueue`] returns, which is after its bytes and envelope are
//! fsynced; concurrent enqueues share one fsync (group commit). The queue
//! hands messages to delivery and records per-recipient outcomes; it
//! removes a message once every recipient has a final outcome. It knows
//! nothing of mailboxes: delivery is the caller's [`Transport`].
#![forbid(unsafe_code)]

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub dir: PathBuf,
    /// fsync before acknowledging; off only in tests that never kill.
    pub fsync: bool,
    /// How many deliveries run at once.
    pub delivery_concurrency: usize,
    /// Delays between attempts for deferred recipients.
    pub retry_schedule: Vec<Duration>,
    /// After this long in the queue a deferred recipient fails for good.
    pub max_age: Duration,
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
    Deferred { attempts: u32, next_attempt: i64, last_error: String },
    Held { reason: String },
    Delivered,
    Failed { reason: String },
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
    pub envelope: Envelope,
    pub body: Bytes,
    /// Indexes into `envelope.recipients`.
    pub recipients: Vec<usize>,
}

/// Delivers queued messages; the wiring supplies local (store) and later
/// remote transports.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// One outcome per entry of `job.recipients`, in the same order.
    async fn deliver(&self, job: &Job) -> Vec<Outcome>;
}

/// The queue of one server.
pub struct Queue {}

impl Queue {
    /// Opens the spool, recovering what a crash left: every message whose
    /// enqueue returned is there again with its recipient states.
    pub fn open(_config: QueueConfig) -> Result<Queue> {
        todo!()
    }

    /// Stores the message durably; returns once it is on disk.
    pub async fn enqueue(&self, _envelope: Envelope, _body: Bytes) -> Result<QueueId> {
        todo!()
    }

    /// Runs deliveries through `transport` until shutdown: new messages at
    /// once, deferred ones on their retry schedule.
    pub async fn run(&self, _transport: std::sync::Arc<dyn Transport>, _shutdown: tokio::sync::watch::Receiver<bool>) {
        todo!()
    }

    pub fn list(&self) -> Vec<QueueEntry> {
        todo!()
    }

    pub fn get(&self, _id: QueueId) -> Option<QueueEntry> {
        todo!()
    }
}

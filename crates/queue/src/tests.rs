//! Tests of the whole queue through its API, with helpers they share.

mod admin;
mod bounces;
mod compaction;
mod kill;
mod recovery;
mod runner;

use super::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::watch;

/// A queue for tests that never kill: no fsync, quick retries.
pub(crate) fn config(dir: &Path) -> QueueConfig {
    QueueConfig {
        dir: dir.to_owned(),
        fsync: false,
        delivery_concurrency: 4,
        retry_schedule: vec![Duration::from_millis(50)],
        max_age: Duration::from_secs(600),
        ..QueueConfig::new(dir)
    }
}

pub(crate) fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        mail_from: "sender@example.test".into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        received_at: 1_700_000_000,
        authenticated_as: Some("sender@example.test".into()),
        smtputf8: false,
    }
}

/// A body derived from `n` alone, of a size between 100 B and ~12 KB.
pub(crate) fn body_for(n: u64) -> Bytes {
    let len = 100 + (n.wrapping_mul(2_654_435_761) % 12_000) as usize;
    let mut body = format!("Message-Id: <{n}@example.test>\r\n\r\n").into_bytes();
    body.extend((0..len).map(|i| b'a' + ((n as usize + i * 7) % 26) as u8));
    Bytes::from(body)
}

/// Polls `condition` until it holds; fails the test after 20 s.
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) fn segment_numbers(dir: &Path) -> Vec<u64> {
    spool::list_segments(dir).unwrap()
}

/// One call of a [`Scripted`] transport.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub id: QueueId,
    pub envelope: Envelope,
    pub recipients: Vec<usize>,
    pub body: Bytes,
    pub at: Instant,
}

type Decide = dyn Fn(&str, u32) -> Outcome + Send + Sync;

/// A transport whose outcome per recipient a function decides from the
/// address and the attempt number (1 for the first), and which records
/// every call.
pub(crate) struct Scripted {
    decide: Box<Decide>,
    attempts: parking_lot::Mutex<HashMap<(QueueId, usize), u32>>,
    pub calls: parking_lot::Mutex<Vec<Call>>,
    /// Held by each call while it runs, if set: lets a test block calls.
    pub gate: Option<Arc<tokio::sync::Semaphore>>,
    pub running: AtomicUsize,
    pub max_running: AtomicUsize,
}

impl Scripted {
    pub(crate) fn new(decide: impl Fn(&str, u32) -> Outcome + Send + Sync + 'static) -> Arc<Scripted> {
        Arc::new(Scripted::unshared(decide))
    }

    pub(crate) fn unshared(decide: impl Fn(&str, u32) -> Outcome + Send + Sync + 'static) -> Scripted {
        Scripted {
            decide: Box::new(decide),
            attempts: Default::default(),
            calls: Default::default(),
            gate: None,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        }
    }

    pub(crate) fn calls_for(&self, id: QueueId) -> Vec<Call> {
        self.calls.lock().iter().filter(|call| call.id == id).cloned().collect()
    }
}

#[async_trait::async_trait]
impl Transport for Scripted {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(running, Ordering::SeqCst);
        self.calls.lock().push(Call {
            id: job.id,
            envelope: job.envelope.clone(),
            recipients: job.recipients.clone(),
            body: job.body.clone(),
            at: Instant::now(),
        });
        if let Some(gate) = &self.gate {
            let _pass = gate.acquire().await.unwrap();
        }
        let outcomes = job
            .recipients
            .iter()
            .map(|&position| {
                let attempt = {
                    let mut attempts = self.attempts.lock();
                    let attempt = attempts.entry((job.id, position)).or_default();
                    *attempt += 1;
                    *attempt
                };
                (self.decide)(&job.envelope.recipients[position], attempt)
            })
            .collect();
        self.running.fetch_sub(1, Ordering::SeqCst);
        outcomes
    }
}

/// A queue's `run` on a task, stopped through its watch channel.
pub(crate) struct Runner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Runner {
    pub(crate) fn start(queue: &Arc<Queue>, transport: Arc<dyn Transport>) -> Runner {
        let (stop, stopped) = watch::channel(false);
        let queue = queue.clone();
        let task = tokio::spawn(async move { queue.run(transport, stopped).await });
        Runner { stop, task }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    pub(crate) fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    pub(crate) async fn stop(self) {
        self.request_stop();
        self.task.await.unwrap();
    }
}

/// The recipient states of a message; empty once it has left the queue.
pub(crate) fn state_of(queue: &Queue, id: QueueId) -> Vec<RecipientState> {
    queue.get(id).map(|entry| entry.states).unwrap_or_default()
}

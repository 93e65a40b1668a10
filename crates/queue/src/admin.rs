//! What an administrator does to queued mail (`rookery queue
//! retry|hold|release|delete|import`). Each change is durable before it
//! returns, and applies to the index first, then to the spool, in the
//! order garbage collection relies on (`gc.rs`).

use crate::record::{self, State};
use crate::writer::Request;
use crate::{Inner, Queue, QueueConfig, QueueError, QueueId, RecipientState, Result};
use std::path::Path;
use tokio::sync::oneshot;

/// The reason shown for recipients an administrator held.
pub const HELD_BY_ADMIN: &str = "held by the administrator";

/// What `import` moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Imported {
    pub messages: usize,
    /// Recipients still to be delivered, now in this queue.
    pub recipients: usize,
    /// Recipients the failed server had already delivered or bounced,
    /// left out.
    pub done_before: usize,
}

impl Queue {
    /// Tries the message's deferred and held recipients now.
    pub async fn retry(&self, id: QueueId) -> Result<()> {
        self.change(id, |state| match state {
            State::Deferred { .. } | State::Held { .. } => Some(State::Pending),
            _ => None,
        })
        .await?;
        self.schedule_now(id);
        Ok(())
    }

    /// Keeps the message's undelivered recipients from being tried until
    /// [`Queue::release`].
    pub async fn hold(&self, id: QueueId) -> Result<()> {
        self.change(id, |state| match state {
            State::Pending | State::Deferred { .. } => Some(State::Held { reason: HELD_BY_ADMIN.to_owned() }),
            _ => None,
        })
        .await
    }

    /// Tries held recipients again (held by an administrator, or for want
    /// of a transport).
    pub async fn release(&self, id: QueueId) -> Result<()> {
        self.change(id, |state| matches!(state, State::Held { .. }).then_some(State::Pending)).await?;
        self.schedule_now(id);
        Ok(())
    }

    /// Removes the message without delivering it or telling the sender.
    pub async fn delete(&self, id: QueueId) -> Result<()> {
        if self.inner.shared.index.lock().remove(id).is_none() {
            return Err(QueueError::NotFound(id));
        }
        self.inner.log_durably(record::encode_removed(id)).await
    }

    /// Takes over the queue of another, failed server (CM-17): every
    /// message of the spool in `dir` with recipients not yet done is
    /// queued here with just those recipients, then removed there, one
    /// message at a time. The foreign spool's lock keeps a server that is
    /// still running (or a second import) out. A crash between the two
    /// steps leaves the message in both queues: a second import then
    /// delivers it again (at least once, never lost).
    pub async fn import(&self, dir: &Path) -> Result<Imported> {
        let mut config = QueueConfig::new(dir);
        config.fsync = self.inner.shared.config.fsync;
        if !dir.is_dir() {
            return Err(QueueError::Config(format!("{} is not a directory", dir.display())));
        }
        let foreign = Queue::open(config)?;
        let mut imported = Imported::default();
        for entry in foreign.list() {
            let body = foreign.read_body(entry.id)?;
            let mut envelope = entry.envelope.clone();
            let open: Vec<String> = entry
                .states
                .iter()
                .zip(&entry.envelope.recipients)
                .filter(|(state, _)| !matches!(state, RecipientState::Delivered | RecipientState::Failed { .. }))
                .map(|(_, recipient)| recipient.clone())
                .collect();
            imported.done_before += entry.states.len() - open.len();
            if !open.is_empty() {
                imported.recipients += open.len();
                envelope.recipients = open;
                let id = self.enqueue(envelope, body).await?;
                tracing::info!(target: "queue::admin", foreign = %entry.id, %id, dir = %dir.display(), "imported");
                imported.messages += 1;
            }
            foreign.delete(entry.id).await?;
        }
        Ok(imported)
    }

    /// Applies `change` to each recipient state it returns a new one for,
    /// durably; `NotFound` if the message is not queued.
    async fn change(&self, id: QueueId, change: impl Fn(&State) -> Option<State>) -> Result<()> {
        let frames = {
            let mut index = self.inner.shared.index.lock();
            let states = index.states_mut(id).ok_or(QueueError::NotFound(id))?;
            let mut frames = Vec::new();
            for (position, state) in states.iter_mut().enumerate() {
                if let Some(new) = change(state) {
                    *state = new;
                    frames.extend_from_slice(&record::encode_outcome(id, position as u32, state));
                }
            }
            frames
        };
        if frames.is_empty() {
            return Ok(());
        }
        self.inner.log_durably(frames).await
    }

    /// Puts the message on the runner's ready list.
    fn schedule_now(&self, id: QueueId) {
        self.inner.shared.schedule.lock().push_ready(id, None);
        self.inner.shared.wake.notify_one();
    }
}

impl Inner {
    /// Appends Outcome or Removed frames and waits until they are durable.
    pub(crate) async fn log_durably(&self, frames: Vec<u8>) -> Result<()> {
        let (done, durable) = oneshot::channel();
        self.writer.send(Request::LogDurable(frames, done)).await?;
        durable.await.map_err(|_| QueueError::ShuttingDown)??;
        Ok(())
    }
}

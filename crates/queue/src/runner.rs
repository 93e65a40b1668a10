//! The delivery loop: takes messages as they come due, runs at most
//! `delivery_concurrency` jobs at once, and records each recipient's
//! outcome. It sleeps until the next retry is due or a new message is
//! enqueued; it never polls.

use crate::bounce::{self, Action, RecipientReport, Report};
use crate::gc::read_body;
use crate::index::Location;
use crate::record::{self, State};
use crate::schedule::{self, Ready};
use crate::spool::ReadError;
use crate::writer::Request;
use crate::{Inner, Job, Outcome, QueueId, Transport, now_ms};
use bytes::Bytes;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Where a job's body comes from.
enum Body {
    Fresh(Bytes),
    Stored(Arc<File>, Location),
}

/// What to do with a message that came due.
enum Prepared {
    Job(Job, Body),
    /// Every recipient is final: only the removal is left to record.
    Remove(QueueId),
    Nothing,
}

pub(crate) async fn run(inner: Arc<Inner>, transport: Arc<dyn Transport>, mut shutdown: watch::Receiver<bool>) {
    let concurrency = inner.shared.config.delivery_concurrency.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let limit = Arc::new(Semaphore::new(concurrency));
    tracing::debug!(target: "queue::runner", concurrency, "delivery runner started");
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let Some((job, body)) = next_job(&inner, &mut shutdown).await else { break };
        tokio::spawn(deliver(inner.clone(), transport.clone(), job, body, permit));
    }
    // In-flight jobs hold the other permits; they finish before we return.
    let _ = limit.acquire_many(concurrency as u32).await;
    tracing::debug!(target: "queue::runner", "delivery runner stopped");
}

/// Resolves once shutdown is asked for (or its sender is gone).
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Waits for the next message due, without polling: a new message wakes
/// us through the notify, a retry through a sleep until its time.
async fn next_job(inner: &Arc<Inner>, shutdown: &mut watch::Receiver<bool>) -> Option<(Job, Body)> {
    loop {
        let now = now_ms();
        let (ready, deadline) = {
            let mut schedule = inner.shared.schedule.lock();
            (schedule.pop_due(now), schedule.next_deadline())
        };
        if let Some(ready) = ready {
            match prepare(inner, ready, now) {
                Prepared::Job(job, body) => return Some((job, body)),
                Prepared::Remove(id) => record_removal(inner, id).await,
                Prepared::Nothing => {}
            }
            continue;
        }
        let sleep = deadline.map(|deadline| Duration::from_millis(deadline.saturating_sub(now).max(0) as u64));
        tokio::select! {
            biased;
            () = shutdown_requested(shutdown) => return None,
            () = inner.shared.wake.notified() => {}
            () = sleep_for(sleep) => {}
        }
    }
}

async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Builds the job for a message that came due, with the recipients that
/// are due now.
fn prepare(inner: &Inner, ready: Ready, now: i64) -> Prepared {
    let shared = &inner.shared;
    let id = ready.id;
    if !shared.schedule.lock().start(id) {
        // Being delivered; the end of that job schedules what is left.
        return Prepared::Nothing;
    }
    let prepared = {
        let index = shared.index.lock();
        match index.get(id) {
            None => Err(None),
            Some(entry) if entry.is_done() => Ok(Prepared::Remove(id)),
            Some(entry) => {
                let recipients: Vec<usize> = (0..entry.states.len())
                    .filter(|&position| schedule::is_due(&entry.states[position], now))
                    .collect();
                if recipients.is_empty() {
                    // Stale timer: keep the real retry time.
                    Err(schedule::next_retry(&entry.states))
                } else {
                    let body = match ready.body {
                        Some(body) => Some(Body::Fresh(body)),
                        None => {
                            index.segment_file(entry.location.segment).map(|file| Body::Stored(file, entry.location))
                        }
                    };
                    let origin = shared.origin;
                    let job = Job { id, origin, envelope: entry.envelope.clone(), body: Bytes::new(), recipients };
                    body.map(|body| Prepared::Job(job, body)).ok_or(None)
                }
            }
        }
    };
    match prepared {
        Ok(Prepared::Job(job, body)) => Prepared::Job(job, body),
        Ok(other) => {
            shared.schedule.lock().finish(id);
            other
        }
        Err(retry_at) => {
            let mut schedule = shared.schedule.lock();
            schedule.finish(id);
            if let Some(retry_at) = retry_at {
                schedule.push_timer(retry_at, id);
            }
            Prepared::Nothing
        }
    }
}

/// Ends a job's stay in flight however the job ends (a transport that
/// panics included) and schedules what is left of the message.
struct InFlight {
    inner: Arc<Inner>,
    id: QueueId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let shared = &self.inner.shared;
        shared.schedule.lock().finish(self.id);
        let next = shared.index.lock().get(self.id).map(|entry| {
            let pending = entry.states.contains(&State::Pending);
            (pending, schedule::next_retry(&entry.states))
        });
        let Some((pending, retry_at)) = next else { return };
        let mut schedule = shared.schedule.lock();
        if pending && std::thread::panicking() {
            // The transport panicked: try again later, not in a hot loop.
            let delay = shared.config.retry_schedule.first().copied().unwrap_or(Duration::from_secs(60));
            schedule.push_timer(now_ms().saturating_add(delay.as_millis() as i64), self.id);
        } else if pending {
            schedule.push_ready(self.id, None);
        } else if let Some(retry_at) = retry_at {
            schedule.push_timer(retry_at, self.id);
        }
        drop(schedule);
        shared.wake.notify_one();
    }
}

async fn deliver(
    inner: Arc<Inner>,
    transport: Arc<dyn Transport>,
    mut job: Job,
    body: Body,
    _permit: OwnedSemaphorePermit,
) {
    let _in_flight = InFlight { inner: inner.clone(), id: job.id };
    tracing::debug!(target: "queue::runner", id = %job.id, recipients = job.recipients.len(), "delivering");
    let outcomes = match load(body).await {
        Ok(body) => {
            job.body = body;
            let mut outcomes = transport.deliver(&job).await;
            if outcomes.len() != job.recipients.len() {
                tracing::warn!(
                    target: "queue::runner",
                    id = %job.id,
                    expected = job.recipients.len(),
                    got = outcomes.len(),
                    "transport returned a wrong number of outcomes"
                );
                outcomes.resize(job.recipients.len(), Outcome::Deferred("transport gave no outcome".into()));
            }
            outcomes
        }
        Err(ReadError::Damaged(damage)) => {
            tracing::error!(target: "queue::runner", id = %job.id, %damage, "queued message is damaged");
            vec![Outcome::Failed("message damaged in the queue".into()); job.recipients.len()]
        }
        Err(ReadError::Io(error)) => {
            tracing::error!(target: "queue::runner", id = %job.id, %error, "cannot read a queued message");
            vec![Outcome::Deferred(format!("queue read error: {error}")); job.recipients.len()]
        }
    };
    record_outcomes(&inner, &job, outcomes).await;
}

/// The `result` of `rookery_deliveries_total` for a recipient's state after
/// an attempt (an expired deferral has become a failure by then).
fn result_label(state: &State) -> &'static str {
    match state {
        State::Delivered => "delivered",
        State::Failed { .. } => "failed",
        State::Held { .. } => "held",
        State::Pending | State::Deferred { .. } => "deferred",
    }
}

async fn load(body: Body) -> Result<Bytes, ReadError> {
    match body {
        Body::Fresh(body) => Ok(body),
        Body::Stored(file, location) => tokio::task::spawn_blocking(move || read_body(&file, location))
            .await
            .unwrap_or_else(|join| Err(ReadError::Io(std::io::Error::other(join.to_string())))),
    }
}

/// Updates the index first, then hands the frames to the writer: the order
/// garbage collection relies on (see `gc.rs`). Delivery status
/// notifications owed to the sender are queued (durably) before the
/// frames go out, so that a message is never removed while its bounce is
/// not yet safe; a crash in between makes the attempt repeat, and at
/// worst the notification with it.
async fn record_outcomes(inner: &Inner, job: &Job, outcomes: Vec<Outcome>) {
    let now = now_ms();
    let config = &inner.shared.config;
    let mut failed = Vec::new();
    let mut delayed = Vec::new();
    let (frames, queued_at_ms) = {
        let mut index = inner.shared.index.lock();
        let Some(queued_at_ms) = index.get(job.id).map(|entry| entry.queued_at_ms) else { return };
        let Some(states) = index.states_mut(job.id) else { return };
        let mut changed = Vec::with_capacity(job.recipients.len());
        for (&position, outcome) in job.recipients.iter().zip(outcomes) {
            let Some(state) = states.get_mut(position) else { continue };
            // Held by an administrator while the attempt ran: only a final
            // outcome overrides that.
            if matches!(state, State::Held { .. }) && !matches!(outcome, Outcome::Delivered | Outcome::Failed(_)) {
                continue;
            }
            *state = schedule::next_state(state, outcome, now, queued_at_ms, config);
            metrics::counter!("rookery_deliveries_total", "result" => result_label(state)).increment(1);
            if let State::Failed { reason } = state {
                failed.push(report(job, position, reason));
            }
            changed.push(position);
        }
        let warn_at = config.delay_warning_after.map(|after| queued_at_ms.saturating_add(after.as_millis() as i64));
        if warn_at.is_some_and(|warn_at| now >= warn_at) {
            for &position in &changed {
                if let State::Deferred { warned: warned @ false, last_error, .. } = &mut states[position] {
                    *warned = true;
                    delayed.push(report(job, position, last_error));
                }
            }
        }
        let frames = if states.iter().all(State::is_final) {
            index.remove(job.id);
            record::encode_removed(job.id)
        } else {
            let mut frames = Vec::new();
            for position in changed {
                frames.extend_from_slice(&record::encode_outcome(job.id, position as u32, &states[position]));
            }
            frames
        };
        (frames, queued_at_ms)
    };
    for recipient in &failed {
        tracing::info!(
            target: "queue::runner",
            id = %job.id,
            recipient = %recipient.address,
            reason = %recipient.reason,
            "delivery failed for good"
        );
    }
    if job.envelope.mail_from.is_empty() {
        if !failed.is_empty() {
            // RFC 5321 §4.5.5: nothing is ever sent to the null path.
            tracing::info!(target: "queue::runner", id = %job.id, "no notification: the sender is <>");
        }
    } else {
        let retry_until = queued_at_ms.saturating_add(config.max_age.as_millis() as i64).div_euclid(1000);
        notify(inner, job, Action::Failed, failed, None, now).await;
        notify(inner, job, Action::Delayed, delayed, Some(retry_until), now).await;
    }
    // The job (and its runner slot) ends only once its outcomes are
    // durable: a crash can then repeat at most the deliveries of the jobs
    // in flight, `delivery_concurrency` of them (ARCHITECTURE.md).
    if let Err(error) = inner.log_durably(frames).await {
        tracing::warn!(target: "queue::runner", id = %job.id, %error, "outcome not recorded");
    }
}

fn report(job: &Job, position: usize, reason: &str) -> RecipientReport {
    RecipientReport { address: job.envelope.recipients[position].clone(), reason: reason.to_owned() }
}

/// Queues one delivery status notification to the sender of `job`.
async fn notify(
    inner: &Inner,
    job: &Job,
    action: Action,
    recipients: Vec<RecipientReport>,
    retry_until: Option<i64>,
    now_ms: i64,
) {
    if recipients.is_empty() {
        return;
    }
    let config = &inner.shared.config;
    let report = Report {
        reporting_mta: &config.reporting_mta,
        from: &config.bounce_from,
        id: job.id,
        envelope: &job.envelope,
        action,
        recipients,
        retry_until,
        original: &job.body,
        now: now_ms.div_euclid(1000),
    };
    let (envelope, bytes) = bounce::build(&report);
    match inner.enqueue(envelope, Bytes::from(bytes)).await {
        Ok(bounce) => tracing::info!(
            target: "queue::runner",
            id = %job.id,
            %bounce,
            ?action,
            to = %job.envelope.mail_from,
            "delivery status notification queued"
        ),
        Err(error) => tracing::error!(
            target: "queue::runner",
            id = %job.id,
            %error,
            "delivery status notification could not be queued"
        ),
    }
}

async fn record_removal(inner: &Inner, id: QueueId) {
    if inner.shared.index.lock().remove(id).is_none() {
        return;
    }
    if let Err(error) = inner.writer.send(Request::Log(record::encode_removed(id))).await {
        tracing::warn!(target: "queue::runner", %id, %error, "removal not recorded");
    }
}

//! When each message is tried next: the ready list (new messages, at once)
//! and a heap of retry times, plus the retry policy itself. No I/O, no
//! clock of its own: times are passed in as unix milliseconds.

use crate::QueueId;
use crate::index::Index;
use crate::record::{self, State};
use crate::{Outcome, QueueConfig};
use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};

/// Bodies of new messages kept in memory for the runner, so that it need
/// not read them back; past this many bytes the runner reads from disk.
const FRESH_BODY_BUDGET: usize = 32 << 20;

/// A message to try now; `body` is set when it came straight from enqueue.
#[derive(Debug)]
pub(crate) struct Ready {
    pub id: QueueId,
    pub body: Option<Bytes>,
}

#[derive(Debug, Default)]
pub(crate) struct Schedule {
    ready: VecDeque<Ready>,
    /// Retry times; an entry may be stale (the message was tried or
    /// removed since), which is checked when it comes due.
    timers: BinaryHeap<Reverse<(i64, QueueId)>>,
    in_flight: HashSet<QueueId>,
    fresh_bytes: usize,
}

impl Schedule {
    pub(crate) fn push_ready(&mut self, id: QueueId, body: Option<Bytes>) {
        let body = body.filter(|body| self.fresh_bytes + body.len() <= FRESH_BODY_BUDGET);
        self.fresh_bytes += body.as_ref().map_or(0, Bytes::len);
        self.ready.push_back(Ready { id, body });
    }

    pub(crate) fn push_timer(&mut self, at_ms: i64, id: QueueId) {
        self.timers.push(Reverse((at_ms, id)));
    }

    /// The next message to try at `now_ms`: ready ones first in arrival
    /// order, then retries that came due.
    pub(crate) fn pop_due(&mut self, now_ms: i64) -> Option<Ready> {
        while let Some(&Reverse((at_ms, id))) = self.timers.peek() {
            if at_ms > now_ms {
                break;
            }
            self.timers.pop();
            self.ready.push_back(Ready { id, body: None });
        }
        let ready = self.ready.pop_front()?;
        self.fresh_bytes -= ready.body.as_ref().map_or(0, Bytes::len);
        Some(ready)
    }

    /// When the earliest retry is due, if any.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((at_ms, _))| *at_ms)
    }

    /// Marks a message as being delivered; false if it already is.
    pub(crate) fn start(&mut self, id: QueueId) -> bool {
        self.in_flight.insert(id)
    }

    pub(crate) fn finish(&mut self, id: QueueId) {
        self.in_flight.remove(&id);
    }

    /// What a queue just opened must try: messages with pending
    /// recipients at once (oldest first), deferred ones at their time.
    pub(crate) fn from_index(index: &Index) -> Schedule {
        let mut schedule = Schedule::default();
        let mut ids: Vec<QueueId> = index.ids().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(entry) = index.get(id) else { continue };
            // A message with only final recipients is removed by the runner.
            if entry.states.contains(&State::Pending) || entry.is_done() {
                schedule.push_ready(id, None);
            } else if let Some(retry_at) = next_retry(&entry.states) {
                schedule.push_timer(retry_at, id);
            }
        }
        schedule
    }

    #[cfg(test)]
    pub(crate) fn n_timers(&self) -> usize {
        self.timers.len()
    }
}

/// Whether a recipient is to be tried at `now_ms`.
pub(crate) fn is_due(state: &State, now_ms: i64) -> bool {
    match state {
        State::Pending => true,
        State::Deferred { next_attempt_ms, .. } => *next_attempt_ms <= now_ms,
        State::Held { .. } | State::Delivered | State::Failed { .. } => false,
    }
}

/// The earliest retry time among deferred recipients.
pub(crate) fn next_retry(states: &[State]) -> Option<i64> {
    states
        .iter()
        .filter_map(|state| match state {
            State::Deferred { next_attempt_ms, .. } => Some(*next_attempt_ms),
            _ => None,
        })
        .min()
}

/// A recipient's state after an attempt ended in `outcome`. A deferral
/// waits `retry_schedule[min(n, len - 1)]` after the n-th retry (n from
/// 0), but never past the message's `max_age`: the attempt at that moment
/// is the last one, and a deferral then (or later) is a failure.
pub(crate) fn next_state(
    current: &State,
    outcome: Outcome,
    now_ms: i64,
    queued_at_ms: i64,
    config: &QueueConfig,
) -> State {
    match outcome {
        Outcome::Delivered => State::Delivered,
        Outcome::Failed(reason) => State::Failed { reason: record::clip(&reason).to_owned() },
        Outcome::Held(reason) => State::Held { reason: record::clip(&reason).to_owned() },
        Outcome::Deferred(error) => {
            let error = record::clip(&error);
            let expires_ms = queued_at_ms.saturating_add(duration_ms(config.max_age));
            if now_ms >= expires_ms {
                let reason = format!("{error} (still failing after {} s in the queue)", config.max_age.as_secs());
                return State::Failed { reason };
            }
            let (attempts, warned) = match current {
                State::Deferred { attempts, warned, .. } => (attempts.saturating_add(1), *warned),
                _ => (1, false),
            };
            let step = (attempts as usize - 1).min(config.retry_schedule.len().saturating_sub(1));
            let delay_ms = config.retry_schedule.get(step).map_or(0, |delay| duration_ms(*delay));
            let next_attempt_ms = now_ms.saturating_add(delay_ms).min(expires_ms);
            State::Deferred { attempts, next_attempt_ms, last_error: error.to_owned(), warned }
        }
    }
}

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

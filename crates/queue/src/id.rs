//! Issues [`QueueId`]s that are unique for ever: `(unix-ms << 20) |
//! counter`, and never at or below an id seen before, so a clock that steps
//! back cannot repeat one. The floor survives restarts through the ids in
//! the records and the id floor in each segment header.

use crate::QueueId;
use std::sync::atomic::{AtomicU64, Ordering};

const COUNTER_BITS: u32 = 20;

#[derive(Debug, Default)]
pub(crate) struct IdGenerator {
    last: AtomicU64,
}

impl IdGenerator {
    /// Records that `id` exists or existed, so it is never issued.
    pub(crate) fn observe(&self, id: u64) {
        self.last.fetch_max(id, Ordering::Relaxed);
    }

    pub(crate) fn next(&self) -> QueueId {
        let from_clock = (crate::now_ms().max(0) as u64) << COUNTER_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = from_clock.max(last + 1);
            match self.last.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return QueueId(next),
                Err(current) => last = current,
            }
        }
    }

    /// Above every id issued so far: what a new segment header records.
    pub(crate) fn floor(&self) -> u64 {
        self.last.load(Ordering::Relaxed) + 1
    }
}

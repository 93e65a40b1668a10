//! What a mailbox expunged, and at which modseq, so that a QRESYNC client
//! (RFC 7162 §3.2) that was away learns which of its messages vanished.
//!
//! The history is bounded: only the newest [`MAX_RANGES`] UID ranges are
//! kept, and what falls off raises `floor`. For a modseq below the floor
//! the answer is "every UID below uid_next that is not in the mailbox",
//! which RFC 7162 §3.2.5.2 allows (the client ignores UIDs it never had);
//! it costs bytes on the wire, never correctness.

use crate::StoreError;
use crate::codec::{Dec, Put};
use std::collections::VecDeque;

/// Ranges kept per mailbox: 16 bytes each, so at most 64 KiB.
pub(crate) const MAX_RANGES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Expunged {
    /// Expunges with a modseq at or below this one are forgotten.
    floor: u64,
    /// `(modseq, first uid, last uid)`, ascending by modseq.
    ranges: VecDeque<(u64, u32, u32)>,
}

impl Expunged {
    /// A history that knows nothing before `modseq` (a mailbox loaded from
    /// an older snapshot format).
    pub(crate) fn forgotten_until(modseq: u64) -> Self {
        Expunged { floor: modseq, ranges: VecDeque::new() }
    }

    /// Records the UIDs one expunge removed at `modseq`.
    pub(crate) fn record(&mut self, modseq: u64, uids: &[u32]) {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        for uid in uids {
            match self.ranges.back_mut() {
                Some((m, _, last)) if *m == modseq && last.checked_add(1) == Some(uid) => *last = uid,
                _ => self.ranges.push_back((modseq, uid, uid)),
            }
        }
        while self.ranges.len() > MAX_RANGES {
            if let Some((modseq, _, _)) = self.ranges.pop_front() {
                self.floor = self.floor.max(modseq);
            }
        }
    }

    /// UID ranges expunged after `since`, ascending and merged; `None`
    /// when the history no longer reaches back that far.
    pub(crate) fn since(&self, since: u64) -> Option<Vec<(u32, u32)>> {
        if since < self.floor {
            return None;
        }
        let start = self.ranges.partition_point(|(modseq, _, _)| *modseq <= since);
        let mut ranges: Vec<(u32, u32)> = self.ranges.range(start..).map(|(_, a, b)| (*a, *b)).collect();
        Some(merge(&mut ranges))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.floor);
        out.put_len(self.ranges.len());
        for (modseq, first, last) in &self.ranges {
            out.put_u64(*modseq);
            out.put_u32(*first);
            out.put_u32(*last);
        }
    }

    pub(crate) fn decode(dec: &mut Dec<'_>) -> Result<Self, StoreError> {
        let floor = dec.u64()?;
        let ranges =
            (0..dec.len(16)?).map(|_| Ok((dec.u64()?, dec.u32()?, dec.u32()?))).collect::<Result<_, StoreError>>()?;
        Ok(Expunged { floor, ranges })
    }
}

/// Every UID below `uid_next` that is not in `present` (ascending): the
/// answer when the history does not reach back far enough.
pub(crate) fn missing(present: impl Iterator<Item = u32>, uid_next: u32) -> Vec<(u32, u32)> {
    let mut gaps = Vec::new();
    let mut next = 1;
    for uid in present.chain([uid_next]) {
        if uid > next {
            gaps.push((next, uid - 1));
        }
        next = uid.saturating_add(1);
    }
    gaps
}

/// Sorts and merges overlapping or adjacent ranges.
pub(crate) fn merge(ranges: &mut [(u32, u32)]) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(first, last) in ranges.iter() {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_after_a_modseq_come_back_merged_by_uid() {
        let mut history = Expunged::default();
        history.record(5, &[3, 1, 2]);
        history.record(7, &[9]);
        history.record(8, &[4, 10]);
        assert_eq!(history.since(0), Some(vec![(1, 4), (9, 10)]));
        assert_eq!(history.since(5), Some(vec![(4, 4), (9, 10)]));
        assert_eq!(history.since(8), Some(vec![]));
    }

    #[test]
    fn old_history_falls_off_and_raises_the_floor() {
        let mut history = Expunged::default();
        for n in 0..(MAX_RANGES as u32 + 10) {
            // Every other UID, so no two merge.
            history.record(u64::from(n) + 2, &[n * 2 + 1]);
        }
        assert_eq!(history.ranges.len(), MAX_RANGES);
        assert_eq!(history.floor, 11);
        assert_eq!(history.since(10), None);
        assert_eq!(history.since(11).map(|r| r.len()), Some(MAX_RANGES));
    }

    #[test]
    fn encodes_and_decodes() {
        let mut history = Expunged::forgotten_until(3);
        history.record(4, &[1, 2, 3, 7]);
        let mut bytes = Vec::new();
        history.encode(&mut bytes);
        let mut dec = Dec::new(&bytes);
        assert_eq!(Expunged::decode(&mut dec).ok(), Some(history));
    }
}

//! The delivery ids an account remembers, so a retried delivery is
//! recognised: ids of messages still present, plus the most recent ones
//! (up to a bound) even after their messages are gone.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    uid: u32,
    /// The delivered message is still in its mailbox.
    live: bool,
    /// The id is among the `recent` ones.
    in_recent: bool,
}

/// A recent id as a snapshot stores it: (id, uid, live).
pub(crate) type RecentId = (u128, u32, bool);
/// An older id of a message still present: (id, uid).
pub(crate) type LiveId = (u128, u32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeliveryIds {
    map: HashMap<u128, Entry>,
    recent: VecDeque<u128>,
    recent_bound: usize,
}

impl DeliveryIds {
    pub(crate) fn new(recent_bound: usize) -> Self {
        Self { map: HashMap::new(), recent: VecDeque::new(), recent_bound }
    }

    pub(crate) fn get(&self, id: u128) -> Option<u32> {
        self.map.get(&id).map(|e| e.uid)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Records a delivered message that is present now.
    pub(crate) fn insert(&mut self, id: u128, uid: u32) {
        self.insert_entry(id, uid, true, true);
    }

    fn insert_entry(&mut self, id: u128, uid: u32, live: bool, in_recent: bool) {
        let entry = self.map.entry(id).or_insert(Entry { uid, live, in_recent: false });
        entry.uid = uid;
        entry.live |= live;
        if in_recent && !entry.in_recent {
            entry.in_recent = true;
            self.recent.push_back(id);
        }
        while self.recent.len() > self.recent_bound {
            let Some(old) = self.recent.pop_front() else { break };
            if let Some(e) = self.map.get_mut(&old) {
                e.in_recent = false;
                if !e.live {
                    self.map.remove(&old);
                }
            }
        }
    }

    /// The message delivered with `id` was removed.
    pub(crate) fn expunged(&mut self, id: u128) {
        if let Some(e) = self.map.get_mut(&id) {
            e.live = false;
            if !e.in_recent {
                self.map.remove(&id);
            }
        }
    }

    /// (id, uid, live) for the recent ids, oldest first, then (id, uid)
    /// of the live ones that are no longer recent.
    pub(crate) fn parts(&self) -> (Vec<RecentId>, Vec<LiveId>) {
        let recent = self.recent.iter().filter_map(|id| self.map.get(id).map(|e| (*id, e.uid, e.live))).collect();
        let older = self.map.iter().filter(|(_, e)| !e.in_recent).map(|(id, e)| (*id, e.uid)).collect();
        (recent, older)
    }

    pub(crate) fn from_parts(recent_bound: usize, recent: Vec<RecentId>, older: Vec<LiveId>) -> Self {
        let mut ids = Self::new(recent_bound);
        for (id, uid) in older {
            ids.insert_entry(id, uid, true, false);
        }
        for (id, uid, live) in recent {
            ids.insert_entry(id, uid, live, true);
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_but_keeps_live_ids() {
        let mut ids = DeliveryIds::new(2);
        ids.insert(1, 10);
        ids.insert(2, 20);
        ids.expunged(2);
        ids.insert(3, 30);
        ids.insert(4, 40);
        // 1 fell out of the recent window but is live; 2 fell out and is gone.
        assert_eq!(ids.get(1), Some(10));
        assert_eq!(ids.get(2), None);
        assert_eq!(ids.len(), 3);
        ids.expunged(1);
        assert_eq!(ids.get(1), None);
        ids.expunged(4);
        assert_eq!(ids.get(4), Some(40), "recent ids are remembered after expunge");
        let (recent, older) = ids.parts();
        assert_eq!(DeliveryIds::from_parts(2, recent, older), ids);
    }
}

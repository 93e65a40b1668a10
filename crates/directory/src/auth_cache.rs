//! Remembers recent successful logins so that a client that logs in again
//! and again (a POP3 client polling, a benchmark) does not pay argon2 each
//! time.
//!
//! An entry holds a keyed BLAKE2b digest, never the password: the key is
//! random per cache (so per process) and never leaves memory, so a memory
//! dump does not allow offline guessing. The digest covers the account
//! name, the stored PHC hash and the password, so an entry can only match
//! while the account still has the hash it was verified against: a changed
//! password misses even if an invalidation raced with the login.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{Key, KeyInit, Mac};
use parking_lot::Mutex;
use types::AccountName;

type Digest = [u8; 32];

/// How long a login is remembered and how many are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthCacheLimits {
    pub ttl: Duration,
    /// Zero disables the cache.
    pub capacity: usize,
}

pub(crate) struct AuthCache {
    /// BLAKE2b's full key size.
    key: [u8; 64],
    limits: AuthCacheLimits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// One entry per account: only the current password can verify.
    entries: HashMap<AccountName, Entry>,
    /// Insertion sequence -> account, oldest first, for eviction.
    order: BTreeMap<u64, AccountName>,
    next_sequence: u64,
}

struct Entry {
    digest: Digest,
    verified_at: Instant,
    sequence: u64,
}

impl State {
    fn remove(&mut self, name: &AccountName) {
        if let Some(entry) = self.entries.remove(name) {
            self.order.remove(&entry.sequence);
        }
    }
}

impl AuthCache {
    pub fn new(limits: AuthCacheLimits) -> Self {
        Self { key: rand::random(), limits, state: Mutex::new(State::default()) }
    }

    /// Whether `password` was verified for `name` against `phc_hash` less
    /// than the time-to-live before `now`.
    pub fn contains(&self, name: &AccountName, phc_hash: &str, password: &str, now: Instant) -> bool {
        if self.limits.capacity == 0 {
            return false;
        }
        let digest = self.digest(name, phc_hash, password);
        let mut state = self.state.lock();
        let Some(entry) = state.entries.get(name) else {
            return false;
        };
        if now.saturating_duration_since(entry.verified_at) >= self.limits.ttl {
            state.remove(name);
            return false;
        }
        digests_equal(&entry.digest, &digest)
    }

    /// Remembers a successful verify; call only after one.
    pub fn insert(&self, name: &AccountName, phc_hash: &str, password: &str, now: Instant) {
        if self.limits.capacity == 0 {
            return;
        }
        let digest = self.digest(name, phc_hash, password);
        let mut state = self.state.lock();
        state.remove(name);
        while state.entries.len() >= self.limits.capacity {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            state.entries.remove(&oldest);
        }
        let sequence = state.next_sequence;
        state.next_sequence += 1;
        state.order.insert(sequence, name.clone());
        state.entries.insert(name.clone(), Entry { digest, verified_at: now, sequence });
    }

    /// Forgets the account's login, after its password changed or it was
    /// removed.
    pub fn invalidate(&self, name: &AccountName) {
        self.state.lock().remove(name);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state.lock().entries.len()
    }

    fn digest(&self, name: &AccountName, phc_hash: &str, password: &str) -> Digest {
        let mut mac = Blake2bMac::<U32>::new(&Key::<Blake2bMac<U32>>::from(self.key));
        // Length prefixes keep the three fields from running into each other.
        let name = name.to_string();
        for field in [name.as_bytes(), phc_hash.as_bytes()] {
            mac.update(&(field.len() as u64).to_le_bytes());
            mac.update(field);
        }
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Compares without an early exit. The digests are keyed, so timing would
/// tell an attacker little anyway; this keeps it from telling anything.
fn digests_equal(a: &Digest, b: &Digest) -> bool {
    a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;

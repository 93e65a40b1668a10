//! The server-side session table: id → account, CSRF token, times. Bounded
//! in all and per account (the least recently used go first), ended after
//! `session_idle` unused or `session_max` after login, and written through
//! to a small redb file so a restart keeps users logged in. A logged-out or
//! expired id is gone from memory and disk alike: replaying its cookie gets
//! the login page.

mod disk;

use crate::cookie::SessionCookie;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
pub use disk::SessionStoreError;
use disk::{Record, SessionDisk};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use types::AccountName;

/// How often last-use times reach the disk: often enough that a restart
/// does not end sessions in use, rarely enough not to write per request.
const PERSIST_LAST_USE_EVERY: u64 = 60;
/// Expired sessions are swept at most this often (each sweep is O(n)).
const SWEEP_EVERY: u64 = 60;

#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub idle: Duration,
    pub max_age: Duration,
    pub max_sessions: usize,
    pub max_per_account: usize,
}

/// A live session, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub id: String,
    pub account: AccountName,
    /// The token every form of this session carries.
    pub csrf: String,
}

struct Entry {
    account: AccountName,
    csrf: String,
    created: u64,
    last_used: u64,
    /// The last-use time the disk has.
    persisted_used: u64,
}

impl Entry {
    fn record(&self) -> Record {
        Record {
            account: self.account.to_string(),
            csrf: self.csrf.clone(),
            created: self.created,
            last_used: self.last_used,
        }
    }
}

enum Found {
    /// With the record to write when its last use should reach the disk.
    Live(ActiveSession, Option<Record>),
    Expired,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Entry>,
    last_sweep: u64,
}

pub struct SessionTable {
    limits: SessionLimits,
    inner: Mutex<Inner>,
    disk: Option<SessionDisk>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// 256 random bits, URL-safe: session ids and CSRF tokens.
pub(crate) fn random_token() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// Sets `rookery_sessions_logged_in{protocol="webmail"}` to the table's size,
/// after every change under the table's lock, so the gauge never lags a
/// change for long (a no-op unless `rookery serve` installed a recorder).
/// Sessions that expired unnoticed count until the next sweep or lookup.
fn publish(inner: &Inner) {
    metrics::gauge!("rookery_sessions_logged_in", "protocol" => "webmail").set(inner.by_id.len() as f64);
}

impl SessionTable {
    /// Opens the table, from `path` if given, dropping what expired while
    /// the server was down.
    pub fn open(path: Option<&Path>, limits: SessionLimits) -> Result<SessionTable, SessionStoreError> {
        let mut inner = Inner::default();
        let disk = match path {
            Some(path) => {
                let (disk, records) = SessionDisk::open(path)?;
                let now = unix_now();
                for (id, record) in records {
                    let Ok(account) = AccountName::parse(&record.account, None) else { continue };
                    let entry = Entry {
                        account,
                        csrf: record.csrf,
                        created: record.created,
                        last_used: record.last_used,
                        persisted_used: record.last_used,
                    };
                    inner.by_id.insert(id, entry);
                }
                let table = SessionTable { limits: limits.clone(), inner: Mutex::new(Inner::default()), disk: None };
                let mut gone = table.expired(&inner, now);
                for id in &gone {
                    inner.by_id.remove(id);
                }
                gone.extend(table.evict_for(&mut inner, None));
                disk.remove_blocking(&gone)?;
                Some(disk)
            }
            None => None,
        };
        publish(&inner);
        Ok(SessionTable { limits, inner: Mutex::new(inner), disk })
    }

    fn remove_in_memory(&self, id: &str) {
        let mut inner = self.inner.lock();
        inner.by_id.remove(id);
        publish(&inner);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts a session for `account` (after its password was checked),
    /// on disk before it is used.
    pub async fn create(&self, account: &AccountName) -> Result<ActiveSession, SessionStoreError> {
        self.create_at(account, unix_now()).await
    }

    pub(crate) async fn create_at(&self, account: &AccountName, now: u64) -> Result<ActiveSession, SessionStoreError> {
        let session = ActiveSession { id: random_token(), account: account.clone(), csrf: random_token() };
        let entry = Entry {
            account: account.clone(),
            csrf: session.csrf.clone(),
            created: now,
            last_used: now,
            persisted_used: now,
        };
        let record = entry.record();
        let gone = {
            let mut inner = self.inner.lock();
            let mut gone = Vec::new();
            if now.saturating_sub(inner.last_sweep) >= SWEEP_EVERY {
                gone = self.expired(&inner, now);
                for id in &gone {
                    inner.by_id.remove(id);
                }
                inner.last_sweep = now;
            }
            gone.extend(self.evict_for(&mut inner, Some(account)));
            inner.by_id.insert(session.id.clone(), entry);
            publish(&inner);
            gone
        };
        if let Some(disk) = &self.disk
            && let Err(error) = disk.write(session.id.clone(), record, gone).await
        {
            self.remove_in_memory(&session.id);
            return Err(error);
        }
        Ok(session)
    }

    /// The live session a cookie names, marked used now; `None` when it is
    /// unknown (logged out, evicted), expired, or of another account.
    pub async fn lookup(&self, cookie: &SessionCookie) -> Option<ActiveSession> {
        self.lookup_at(cookie, unix_now()).await
    }

    pub(crate) async fn lookup_at(&self, cookie: &SessionCookie, now: u64) -> Option<ActiveSession> {
        match self.find(cookie, now)? {
            Found::Expired => {
                self.remove_from_disk(&cookie.id).await;
                None
            }
            Found::Live(session, persist) => {
                if let (Some(record), Some(disk)) = (persist, &self.disk)
                    && let Err(error) = disk.touch(session.id.clone(), record).await
                {
                    // The session goes on; after a restart it may end earlier.
                    tracing::warn!(target: "webmail::sessions", %error, "cannot record a session's last use");
                }
                Some(session)
            }
        }
    }

    fn find(&self, cookie: &SessionCookie, now: u64) -> Option<Found> {
        let mut inner = self.inner.lock();
        let entry = inner.by_id.get_mut(&cookie.id)?;
        if entry.account != cookie.account {
            return None;
        }
        if self.is_expired(entry, now) {
            inner.by_id.remove(&cookie.id);
            publish(&inner);
            return Some(Found::Expired);
        }
        entry.last_used = entry.last_used.max(now);
        let persist = (now.saturating_sub(entry.persisted_used) >= PERSIST_LAST_USE_EVERY).then(|| {
            entry.persisted_used = now;
            entry.record()
        });
        let session = ActiveSession { id: cookie.id.clone(), account: entry.account.clone(), csrf: entry.csrf.clone() };
        Some(Found::Live(session, persist))
    }

    /// Ends a session (logout).
    pub async fn remove(&self, id: &str) {
        self.remove_in_memory(id);
        self.remove_from_disk(id).await;
    }

    /// Ends every session of `account` but `keep` (after a password
    /// change: whoever knew the old one is logged out).
    pub async fn remove_others(&self, account: &AccountName, keep: &str) {
        let gone: Vec<String> = {
            let mut inner = self.inner.lock();
            let gone: Vec<String> = inner
                .by_id
                .iter()
                .filter(|(id, entry)| entry.account == *account && id.as_str() != keep)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &gone {
                inner.by_id.remove(id);
            }
            publish(&inner);
            gone
        };
        if let Some(disk) = &self.disk
            && !gone.is_empty()
            && let Err(error) = disk.remove(gone).await
        {
            tracing::error!(target: "webmail::sessions", %error, "cannot remove ended sessions from disk");
        }
    }

    async fn remove_from_disk(&self, id: &str) {
        if let Some(disk) = &self.disk
            && let Err(error) = disk.remove(vec![id.to_owned()]).await
        {
            tracing::error!(target: "webmail::sessions", %error, "cannot remove an ended session from disk");
        }
    }

    fn is_expired(&self, entry: &Entry, now: u64) -> bool {
        now.saturating_sub(entry.last_used) >= self.limits.idle.as_secs()
            || now.saturating_sub(entry.created) >= self.limits.max_age.as_secs()
    }

    fn expired(&self, inner: &Inner, now: u64) -> Vec<String> {
        inner.by_id.iter().filter(|(_, entry)| self.is_expired(entry, now)).map(|(id, _)| id.clone()).collect()
    }

    /// Makes room for one more session of `account` (or, with `None`,
    /// brings the table within its bounds), least recently used first.
    fn evict_for(&self, inner: &mut Inner, account: Option<&AccountName>) -> Vec<String> {
        let mut gone = Vec::new();
        if let Some(account) = account {
            loop {
                let mine = inner.by_id.iter().filter(|(_, entry)| entry.account == *account);
                if mine.clone().count() < self.limits.max_per_account {
                    break;
                }
                let Some(oldest) = mine.min_by_key(|(_, entry)| entry.last_used).map(|(id, _)| id.clone()) else {
                    break;
                };
                inner.by_id.remove(&oldest);
                gone.push(oldest);
            }
        }
        let room = usize::from(account.is_some());
        while inner.by_id.len() + room > self.limits.max_sessions {
            let Some(oldest) = inner.by_id.iter().min_by_key(|(_, entry)| entry.last_used).map(|(id, _)| id.clone())
            else {
                break;
            };
            inner.by_id.remove(&oldest);
            gone.push(oldest);
        }
        gone
    }
}

#[cfg(test)]
mod tests;

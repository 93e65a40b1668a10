//! Admin page sessions: held in memory on this member only (an
//! administrator logs in again after a restart, which is rare and cheap),
//! named by a random id in the `rookery_admin` cookie. The cookie is also
//! signed with a per-process key so a forged or tampered value is refused
//! before the table is even looked at.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::hmac;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use types::AccountName;

pub const COOKIE_NAME: &str = "rookery_admin";
/// The double-submit token of the login form, before there is a session.
pub const LOGIN_CSRF_COOKIE: &str = "rookery_admin_csrf";

/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Admins are few; the bound only stops a flood of logins from growing memory.
const MAX_SESSIONS: usize = 1024;

#[derive(Clone, Debug)]
pub struct Session {
    pub admin: AccountName,
    /// Required in every POST form of this session.
    pub csrf: String,
    last_used: Instant,
}

/// The sessions of this member's admin pages, and the key their cookies are signed with.
pub struct AdminSessions {
    key: hmac::Key,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Default for AdminSessions {
    fn default() -> Self {
        AdminSessions { key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes()), sessions: Mutex::default() }
    }
}

impl AdminSessions {
    /// Starts a session for `admin`; returns the cookie value.
    pub fn create(&self, admin: AccountName) -> String {
        let id = random_token();
        let session = Session { admin, csrf: random_token(), last_used: Instant::now() };
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_used) < IDLE);
        if sessions.len() >= MAX_SESSIONS {
            // Full of live sessions: the one unused longest makes room.
            let oldest = sessions.iter().min_by_key(|(_, s)| s.last_used).map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), session);
        self.sign(&id)
    }

    /// The live session a cookie value names, touched; `None` when forged,
    /// unknown, logged out or idle too long.
    pub fn get(&self, cookie: &str) -> Option<Session> {
        let id = self.verify(cookie)?;
        let mut sessions = self.lock();
        let session = sessions.get_mut(&id)?;
        let now = Instant::now();
        if now.duration_since(session.last_used) >= IDLE {
            sessions.remove(&id);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    pub fn remove(&self, cookie: &str) {
        if let Some(id) = self.verify(cookie) {
            self.lock().remove(&id);
        }
    }

    /// A CSRF token for an administrator a frontend vouches for, who has
    /// no session here: derived, so any request of theirs can be checked.
    pub fn forwarded_csrf(&self, admin: &AccountName) -> String {
        let tag = hmac::sign(&self.key, format!("csrf;{admin}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    fn sign(&self, id: &str) -> String {
        let tag = hmac::sign(&self.key, id.as_bytes());
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn verify(&self, cookie: &str) -> Option<String> {
        let (id, tag) = cookie.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, id.as_bytes(), &tag).ok()?;
        Some(id.to_owned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a consistent map (every
        // update is a single insert or remove), so the poison is ignored.
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Makes every session look unused for `idle` longer.
    #[cfg(test)]
    fn age(&self, idle: Duration) {
        for session in self.lock().values_mut() {
            session.last_used = session.last_used.checked_sub(idle).unwrap();
        }
    }
}

/// 256 random bits, base64url: unguessable session ids and CSRF tokens.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Constant-time comparison of two CSRF tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> AccountName {
        AccountName::parse("postmaster@sv1.test", None).unwrap()
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_at_logout() {
        let sessions = AdminSessions::default();
        let cookie = sessions.create(admin());
        assert_eq!(sessions.get(&cookie).map(|s| s.admin), Some(admin()));
        sessions.remove(&cookie);
        assert!(sessions.get(&cookie).is_none());
    }

    #[test]
    fn forged_cookies_are_refused() {
        let sessions = AdminSessions::default();
        let cookie = sessions.create(admin());
        let (id, _) = cookie.split_once('.').unwrap();
        assert!(sessions.get(id).is_none());
        assert!(sessions.get(&format!("{id}.AAAA")).is_none());
        // Another process's key signs differently.
        assert!(AdminSessions::default().get(&cookie).is_none());
        for garbage in ["", ".", "..", "a.b.c", "\u{1F600}.\u{1F600}"] {
            assert!(sessions.get(garbage).is_none());
        }
    }

    #[test]
    fn a_session_unused_too_long_ends_and_use_keeps_one_alive() {
        let sessions = AdminSessions::default();
        let cookie = sessions.create(admin());
        sessions.age(IDLE - Duration::from_secs(5));
        assert!(sessions.get(&cookie).is_some(), "used just in time: it lives on");
        sessions.age(IDLE - Duration::from_secs(5));
        assert!(sessions.get(&cookie).is_some(), "the last use counts, not the login");
        sessions.age(IDLE);
        assert!(sessions.get(&cookie).is_none());
        assert_eq!(sessions.len(), 0, "an expired session is dropped when seen");
    }

    #[test]
    fn the_table_stays_bounded() {
        let sessions = AdminSessions::default();
        let first = sessions.create(admin());
        for _ in 0..MAX_SESSIONS + 10 {
            sessions.create(admin());
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.get(&first).is_none(), "the longest unused session made room");
    }

    #[test]
    fn tokens_compare_by_content() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}

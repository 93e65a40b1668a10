//! Failed-login limits per client address and per account. Each table is a
//! fixed window per key, bounded in size: when full, expired windows go
//! first, then the oldest, so a flood of addresses or names cannot grow
//! memory (it can only make the limiter forget early).

use crate::config::LoginLimits;
use crate::error::WebError;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use types::AccountName;

struct Window {
    failures: u32,
    started: Instant,
}

struct Table<K> {
    windows: HashMap<K, Window>,
    limit: u32,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(limit: u32) -> Self {
        Table { windows: HashMap::new(), limit }
    }

    /// How long `key` must wait, if it has used up its failures.
    fn wait(&self, key: &K, now: Instant, window: Duration) -> Option<Duration> {
        let entry = self.windows.get(key)?;
        let left = window.checked_sub(now.duration_since(entry.started))?;
        (entry.failures >= self.limit && !left.is_zero()).then_some(left)
    }

    fn fail(&mut self, key: &K, now: Instant, window: Duration, max_tracked: usize) {
        if let Some(entry) = self.windows.get_mut(key) {
            if now.duration_since(entry.started) >= window {
                *entry = Window { failures: 0, started: now };
            }
            entry.failures = entry.failures.saturating_add(1);
            return;
        }
        if self.windows.len() >= max_tracked {
            self.windows.retain(|_, entry| now.duration_since(entry.started) < window);
        }
        while self.windows.len() >= max_tracked.max(1) {
            let Some(oldest) = self.windows.iter().min_by_key(|(_, entry)| entry.started).map(|(k, _)| k.clone())
            else {
                break;
            };
            self.windows.remove(&oldest);
        }
        self.windows.insert(key.clone(), Window { failures: 1, started: now });
    }
}

pub struct LoginLimiter {
    limits: LoginLimits,
    ips: Mutex<Table<IpAddr>>,
    accounts: Mutex<Table<AccountName>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        let (ips, accounts) = (Table::new(limits.per_ip), Table::new(limits.per_account));
        LoginLimiter { limits, ips: Mutex::new(ips), accounts: Mutex::new(accounts) }
    }

    /// Refuses an attempt (429) while the address or the account is over
    /// its limit; checked before the password, so guessing stops too.
    pub fn check(&self, ip: IpAddr, account: Option<&AccountName>) -> Result<(), WebError> {
        let (now, window) = (Instant::now(), self.limits.window);
        let by_ip = self.ips.lock().wait(&ip, now, window);
        let by_account = account.and_then(|account| self.accounts.lock().wait(account, now, window));
        match by_ip.max(by_account) {
            Some(wait) => Err(WebError::TooManyAttempts { retry_after_secs: wait.as_secs_f64().ceil() as u64 }),
            None => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr, account: Option<&AccountName>) {
        let (now, window, max) = (Instant::now(), self.limits.window, self.limits.max_tracked);
        self.ips.lock().fail(&ip, now, window, max);
        if let Some(account) = account {
            self.accounts.lock().fail(account, now, window, max);
        }
    }

    /// A right password clears the account's count (its owner is back);
    /// the address keeps its count, so one good login among many guesses
    /// does not reset a guesser.
    pub fn succeeded(&self, account: &AccountName) {
        self.accounts.lock().windows.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_ip: u32, per_account: u32, max_tracked: usize) -> LoginLimiter {
        LoginLimiter::new(LoginLimits { per_ip, per_account, window: Duration::from_secs(60), max_tracked })
    }

    #[test]
    fn limits_per_ip_and_per_account() {
        let limiter = limiter(3, 2, 100);
        let (ip, other_ip) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let alice = AccountName::parse("alice@example.com", None).unwrap();
        limiter.failed(ip, Some(&alice));
        assert!(limiter.check(ip, Some(&alice)).is_ok());
        limiter.failed(other_ip, Some(&alice));
        // Two failures for alice from two addresses: alice is limited everywhere.
        let Err(WebError::TooManyAttempts { retry_after_secs }) = limiter.check(ip, Some(&alice)) else { panic!() };
        assert!((1..=60).contains(&retry_after_secs));
        assert!(limiter.check(ip, None).is_ok());
        limiter.failed(ip, None);
        limiter.failed(ip, None);
        assert!(limiter.check(ip, None).is_err());
        assert!(limiter.check(other_ip, None).is_ok());
        limiter.succeeded(&alice);
        assert!(limiter.check(other_ip, Some(&alice)).is_ok());
    }

    #[test]
    fn tables_stay_bounded() {
        let limiter = limiter(1, 1, 50);
        for n in 0..10_000u32 {
            limiter.failed(IpAddr::from(n.to_be_bytes()), None);
        }
        assert!(limiter.ips.lock().windows.len() <= 50);
        // The newest is still limited.
        assert!(limiter.check(IpAddr::from(9_999u32.to_be_bytes()), None).is_err());
    }
}

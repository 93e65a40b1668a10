//! Failed admin logins per client address: after a few wrong passwords an
//! address waits, so the postmaster's password cannot be guessed at speed.
//! The table is bounded so that many addresses cannot grow memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address within [`WINDOW`].
const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(5 * 60);
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl LoginLimiter {
    /// `Some(wait)` when `ip` has failed too often and must wait that long.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let failures = self.lock();
        let (count, since) = failures.get(&ip)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| WINDOW - elapsed)
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut failures = self.lock();
        let now = Instant::now();
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&ip) {
            failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if failures.len() >= MAX_ADDRESSES {
                // Still full of recent failures: the oldest entry goes,
                // which at worst gives that address a fresh count.
                let oldest = failures.iter().min_by_key(|(_, (_, since))| *since).map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        // Every update leaves the map consistent, so a poisoned lock is still usable.
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_repeated_failures_only() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.0.10".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed(ip);
        }
        assert!(limiter.blocked(ip).is_none());
        limiter.failed(ip);
        assert!(limiter.blocked(ip).is_some_and(|wait| wait <= WINDOW));
        assert!(limiter.blocked(other).is_none());
        limiter.succeeded(ip);
        assert!(limiter.blocked(ip).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = LoginLimiter::default();
        for n in 0..(MAX_ADDRESSES as u32 + 100) {
            limiter.failed(IpAddr::from(n.to_be_bytes()));
        }
        assert!(limiter.lock().len() <= MAX_ADDRESSES);
    }
}

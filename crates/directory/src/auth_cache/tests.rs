use super::*;

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

fn cache(capacity: usize) -> AuthCache {
    AuthCache::new(AuthCacheLimits { ttl: Duration::from_secs(300), capacity })
}

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA";

#[test]
fn remembers_the_verified_password_only() {
    let cache = cache(10);
    let now = Instant::now();
    let alice = name("alice@example.com");
    assert!(!cache.contains(&alice, HASH, "secret", now));
    cache.insert(&alice, HASH, "secret", now);
    assert!(cache.contains(&alice, HASH, "secret", now));
    assert!(!cache.contains(&alice, HASH, "Secret", now));
    assert!(!cache.contains(&alice, HASH, "", now));
    assert!(!cache.contains(&name("bob@example.com"), HASH, "secret", now));
}

#[test]
fn a_changed_stored_hash_misses() {
    let cache = cache(10);
    let now = Instant::now();
    let alice = name("alice@example.com");
    cache.insert(&alice, HASH, "secret", now);
    assert!(!cache.contains(&alice, "$argon2id$v=19$other", "secret", now));
}

#[test]
fn entries_expire_after_the_ttl() {
    let cache = cache(10);
    let start = Instant::now();
    let alice = name("alice@example.com");
    cache.insert(&alice, HASH, "secret", start);
    assert!(cache.contains(&alice, HASH, "secret", start + Duration::from_secs(299)));
    assert!(!cache.contains(&alice, HASH, "secret", start + Duration::from_secs(300)));
    assert_eq!(cache.len(), 0, "an expired entry is dropped when met");
}

#[test]
fn the_oldest_entry_is_evicted_at_capacity() {
    let cache = cache(2);
    let now = Instant::now();
    let (a, b, c) = (name("a@example.com"), name("b@example.com"), name("c@example.com"));
    cache.insert(&a, HASH, "pa", now);
    cache.insert(&b, HASH, "pb", now);
    // Logging in again refreshes a's place: b is now the oldest.
    cache.insert(&a, HASH, "pa", now);
    cache.insert(&c, HASH, "pc", now);
    assert_eq!(cache.len(), 2);
    assert!(cache.contains(&a, HASH, "pa", now));
    assert!(!cache.contains(&b, HASH, "pb", now));
    assert!(cache.contains(&c, HASH, "pc", now));
}

#[test]
fn invalidate_forgets_the_account() {
    let cache = cache(10);
    let now = Instant::now();
    let (a, b) = (name("a@example.com"), name("b@example.com"));
    cache.insert(&a, HASH, "pa", now);
    cache.insert(&b, HASH, "pb", now);
    cache.invalidate(&a);
    assert!(!cache.contains(&a, HASH, "pa", now));
    assert!(cache.contains(&b, HASH, "pb", now));
    cache.invalidate(&name("nobody@example.com"));
    assert_eq!(cache.len(), 1);
}

#[test]
fn zero_capacity_disables_the_cache() {
    let cache = cache(0);
    let now = Instant::now();
    let alice = name("alice@example.com");
    cache.insert(&alice, HASH, "secret", now);
    assert!(!cache.contains(&alice, HASH, "secret", now));
    assert_eq!(cache.len(), 0);
}

#[test]
fn two_caches_use_different_keys() {
    let alice = name("alice@example.com");
    let (one, two) = (cache(1), cache(1));
    assert_ne!(one.digest(&alice, HASH, "secret"), two.digest(&alice, HASH, "secret"));
    assert_eq!(one.digest(&alice, HASH, "secret"), one.digest(&alice, HASH, "secret"));
}

//! The header a frontend adds when it forwards `/Cluster/<addr>/...` to a
//! backend's admin pages for an administrator it has already authenticated
//! (CM-19). The frontend keeps no passwords (CM-15) and the backend must
//! not ask again, so the frontend vouches for the login with an HMAC under
//! the cluster's shared secret. The timestamp bounds a replay to 60 s.
//!
//! Value: `account;unix_secs;b64url(HMAC-SHA256(secret, "account;unix_secs"))`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::time::{SystemTime, UNIX_EPOCH};
use types::AccountName;

/// Header a frontend adds when it forwards /Cluster/<addr>/... for an administrator it has authenticated.
pub const HEADER: &str = "x-rookery-admin";

/// What the cluster secret is derived with (`ClusterSecret::derive`) to
/// give [`crate::AdminServices::link_secret`]: the link's own key is not reused.
pub const PURPOSE: &str = "rookery admin forwarding v1";

/// How far the signing time may be from the checker's clock, either way:
/// members' clocks differ a little, and a captured header stays useful no longer.
const WINDOW_SECS: u64 = 60;

/// Longest value worth parsing: an account name (at most a few hundred
/// bytes) plus a timestamp and a MAC. Longer input is refused unread.
const MAX_VALUE_LEN: usize = 1024;

/// Signs `admin` at `now`: `"account;unix_secs;b64url(hmac)"`.
pub fn sign(secret: &[u8], admin: &AccountName, now: SystemTime) -> String {
    let signed = format!("{admin};{}", unix_secs(now));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), signed.as_bytes());
    format!("{signed};{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Some(admin) when the MAC is right and the time within 60 s of now.
pub fn verify(value: &str, secret: &[u8], now: SystemTime) -> Option<AccountName> {
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    // The MAC and the time are the last two fields; splitting from the
    // right keeps the account whatever it contains.
    let (signed, tag) = value.rsplit_once(';')?;
    let (account, secs) = signed.rsplit_once(';')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    // ring compares in constant time, so the MAC cannot be guessed byte by byte.
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret), signed.as_bytes(), &tag).ok()?;
    let secs: u64 = secs.parse().ok()?;
    if secs.abs_diff(unix_secs(now)) > WINDOW_SECS {
        return None;
    }
    AccountName::parse(account, None).ok()
}

fn unix_secs(time: SystemTime) -> u64 {
    // A clock before 1970 is broken; 0 makes every header stale rather than panicking.
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &[u8] = b"the cluster secret, long enough";

    fn admin() -> AccountName {
        AccountName::parse("postmaster@sv1.test", None).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_fresh_header_verifies_as_its_administrator() {
        let value = sign(SECRET, &admin(), at(1_000_000));
        assert!(value.starts_with("postmaster@sv1.test;1000000;"), "{value}");
        assert_eq!(verify(&value, SECRET, at(1_000_000)), Some(admin()));
        assert_eq!(verify(&value, SECRET, at(1_000_060)), Some(admin()));
        assert_eq!(verify(&value, SECRET, at(999_940)), Some(admin()));
    }

    #[test]
    fn a_tampered_account_time_or_mac_is_refused() {
        let value = sign(SECRET, &admin(), at(1_000_000));
        let other = value.replacen("postmaster@sv1.test", "postmaster@sv2.test", 1);
        assert_eq!(verify(&other, SECRET, at(1_000_000)), None);
        let later = value.replacen(";1000000;", ";1000001;", 1);
        assert_eq!(verify(&later, SECRET, at(1_000_000)), None);
        let mut mac = value.clone();
        let last = mac.pop().unwrap();
        mac.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verify(&mac, SECRET, at(1_000_000)), None);
    }

    #[test]
    fn an_expired_header_is_refused() {
        let value = sign(SECRET, &admin(), at(1_000_000));
        assert_eq!(verify(&value, SECRET, at(1_000_061)), None);
    }

    #[test]
    fn a_header_from_the_future_is_refused() {
        let value = sign(SECRET, &admin(), at(1_000_000));
        assert_eq!(verify(&value, SECRET, at(999_939)), None);
    }

    #[test]
    fn a_header_signed_with_another_secret_is_refused() {
        let value = sign(b"another cluster's secret!!", &admin(), at(1_000_000));
        assert_eq!(verify(&value, SECRET, at(1_000_000)), None);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let now = at(1_000_000);
        let long = "a".repeat(10_000);
        for value in [
            "",
            ";",
            ";;",
            "postmaster@sv1.test",
            "postmaster@sv1.test;1000000",
            "postmaster@sv1.test;1000000;",
            "postmaster@sv1.test;notanumber;AAAA",
            "postmaster@sv1.test;99999999999999999999999;AAAA",
            ";;;;;;;;",
            "\u{1F600};\u{1F600};\u{1F600}",
            &long,
        ] {
            assert_eq!(verify(value, SECRET, now), None, "{value:?}");
        }
        // A valid MAC over a name that does not parse is still refused.
        let signed = "not an account;1000000";
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), signed.as_bytes());
        let value = format!("{signed};{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(verify(&value, SECRET, now), None);
        // The far past does not overflow the window check.
        assert_eq!(verify(&sign(SECRET, &admin(), at(0)), SECRET, at(u64::MAX / 2)), None);
    }
}

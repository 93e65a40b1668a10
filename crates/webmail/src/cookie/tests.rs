use super::*;
use axum::http::{HeaderMap, HeaderValue, header};

fn cookie() -> SessionCookie {
    SessionCookie { account: AccountName::parse("alice@example.com", None).unwrap(), id: "abc123".into() }
}

#[test]
fn round_trip() {
    let key = CookieKey::derive(b"secret");
    let value = cookie().encode(&key);
    assert_eq!(SessionCookie::decode(&value, &key), Some(cookie()));
}

#[test]
fn another_key_is_refused() {
    let value = cookie().encode(&CookieKey::derive(b"secret"));
    assert_eq!(SessionCookie::decode(&value, &CookieKey::derive(b"other")), None);
}

#[test]
fn tampered_parts_are_refused() {
    let key = CookieKey::derive(b"secret");
    let value = cookie().encode(&key);
    let parts: Vec<&str> = value.split('.').collect();
    let mallory = B64.encode("mallory@example.com");
    let forged_account = format!("{mallory}.{}.{}", parts[1], parts[2]);
    assert_eq!(SessionCookie::decode(&forged_account, &key), None);
    let forged_id = format!("{}.{}.{}", parts[0], B64.encode("other"), parts[2]);
    assert_eq!(SessionCookie::decode(&forged_id, &key), None);
    let mut mac = B64.decode(parts[2]).unwrap();
    mac[0] ^= 1;
    let forged_mac = format!("{}.{}.{}", parts[0], parts[1], B64.encode(&mac));
    assert_eq!(SessionCookie::decode(&forged_mac, &key), None);
    assert_eq!(SessionCookie::decode(&format!("{value}.x"), &key), None);
}

#[test]
fn garbage_is_refused_without_panic() {
    let key = CookieKey::derive(b"secret");
    for value in ["", ".", "..", "...", "a.b.c", "%%%.***.!!!", "\u{1F600}.\u{0}.x", &"A".repeat(10_000)] {
        assert_eq!(SessionCookie::decode(value, &key), None, "{value:?}");
    }
    // A correctly signed value whose account is not a name.
    let account = B64.encode("not an account");
    let body = format!("{account}.{}", B64.encode("id"));
    let tag = key.sign(format!("v1.{body}").as_bytes());
    assert_eq!(SessionCookie::decode(&format!("{body}.{}", B64.encode(tag.as_ref())), &key), None);
}

#[test]
fn derive_is_the_same_on_every_member() {
    let value = cookie().encode(&CookieKey::derive(b"cluster secret"));
    assert_eq!(SessionCookie::decode(&value, &CookieKey::derive(b"cluster secret")), Some(cookie()));
}

#[test]
fn load_or_create_keeps_the_key_and_writes_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web/cookie.key");
    let first = CookieKey::load_or_create(&path).unwrap();
    let value = cookie().encode(&first);
    let again = CookieKey::load_or_create(&path).unwrap();
    assert_eq!(SessionCookie::decode(&value, &again), Some(cookie()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    std::fs::write(&path, b"short").unwrap();
    assert!(CookieKey::load_or_create(&path).is_err());
}

#[test]
fn from_headers_finds_the_cookie_among_others() {
    let key = CookieKey::derive(b"secret");
    let mut headers = HeaderMap::new();
    headers.append(header::COOKIE, HeaderValue::from_static("a=1; other=2"));
    let line = format!("x=y; {COOKIE_NAME}={}", cookie().encode(&key));
    headers.append(header::COOKIE, HeaderValue::from_str(&line).unwrap());
    assert_eq!(from_headers(&headers, &key), Some(cookie()));
    assert_eq!(from_headers(&HeaderMap::new(), &key), None);
}

#[test]
fn a_stale_cookie_of_the_same_name_does_not_hide_a_good_one() {
    let key = CookieKey::derive(b"secret");
    let mut headers = HeaderMap::new();
    let line = format!("{COOKIE_NAME}=stale.x.y; {COOKIE_NAME}={}", cookie().encode(&key));
    headers.append(header::COOKIE, HeaderValue::from_str(&line).unwrap());
    assert_eq!(from_headers(&headers, &key), Some(cookie()));
}

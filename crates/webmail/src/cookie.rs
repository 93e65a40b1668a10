//! The signed session cookie. It names the account and the session id and
//! nothing else: the session itself (CSRF token, expiry) lives on the member
//! that hosts the account. The MAC lets any member, frontends included,
//! trust the account name in it for routing without a look-up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use std::io::Write;
use std::path::Path;
use types::AccountName;

pub const COOKIE_NAME: &str = "rookery_session";

/// What the key derivation is bound to, so the cluster secret used for the
/// link cannot be replayed as a cookie key for anything else.
const DERIVATION_LABEL: &[u8] = b"rookery web session v1";
/// Bytes of a stored single-server key.
const KEY_LEN: usize = 32;

/// The HMAC-SHA256 key that signs session cookies.
pub struct CookieKey(hmac::Key);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl CookieKey {
    /// Every member of a cluster derives the same key from the cluster
    /// link's secret, so a cookie made on one backend is checked anywhere.
    pub fn derive(secret: &[u8]) -> CookieKey {
        let outer = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = hmac::sign(&outer, DERIVATION_LABEL);
        CookieKey(hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref()))
    }

    /// A single server keeps its own random key in the data dir (mode
    /// 0600), so that a restart keeps its users logged in.
    pub fn load_or_create(path: &Path) -> std::io::Result<CookieKey> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == KEY_LEN => return Ok(CookieKey::from_bytes(&bytes)),
            Ok(bytes) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} holds {} bytes, expected a {KEY_LEN}-byte key", path.display(), bytes.len()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let key: [u8; KEY_LEN] = rand::random();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Written under a temporary name and renamed, so a crash never
        // leaves a short key that would refuse every later start.
        let tmp = path.with_extension("tmp");
        let mut file = open_private(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(CookieKey::from_bytes(&key))
    }

    fn from_bytes(bytes: &[u8]) -> CookieKey {
        CookieKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    fn sign(&self, data: &[u8]) -> hmac::Tag {
        hmac::sign(&self.0, data)
    }

    fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        // ring compares in constant time.
        hmac::verify(&self.0, data, tag).is_ok()
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// The contents of a session cookie: which account, which session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCookie {
    pub account: AccountName,
    pub id: String,
}

impl SessionCookie {
    /// `b64url(account) "." b64url(id) "." b64url(HMAC(key, "v1." b64url(account) "." b64url(id)))`.
    pub fn encode(&self, key: &CookieKey) -> String {
        let body = format!("{}.{}", B64.encode(self.account.to_string()), B64.encode(&self.id));
        let tag = key.sign(format!("v1.{body}").as_bytes());
        format!("{body}.{}", B64.encode(tag.as_ref()))
    }

    /// None unless the MAC is right (constant-time check) and the parts parse.
    pub fn decode(value: &str, key: &CookieKey) -> Option<SessionCookie> {
        let mut parts = value.trim().split('.');
        let (account, id, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let mac = B64.decode(mac).ok()?;
        if !key.verify(format!("v1.{account}.{id}").as_bytes(), &mac) {
            return None;
        }
        let account = String::from_utf8(B64.decode(account).ok()?).ok()?;
        let id = String::from_utf8(B64.decode(id).ok()?).ok()?;
        Some(SessionCookie { account: AccountName::parse(&account, None).ok()?, id })
    }
}

/// The values of the cookies called `name` in the request's `Cookie`
/// headers, in order (a browser may send two with the same name, set for
/// different paths).
pub fn cookie_values<'a>(headers: &'a axum::http::HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// The value of the first cookie called `name`.
pub fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &'a str) -> Option<&'a str> {
    cookie_values(headers, name).next()
}

/// The session cookie of a request, checked; what a frontend routes by.
/// The first correctly signed one counts.
pub fn from_headers(headers: &axum::http::HeaderMap, key: &CookieKey) -> Option<SessionCookie> {
    cookie_values(headers, COOKIE_NAME).find_map(|value| SessionCookie::decode(value, key))
}

#[cfg(test)]
mod tests;

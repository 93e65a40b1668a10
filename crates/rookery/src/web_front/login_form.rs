//! The login form a frontend must read to route `POST /login`: at most
//! [`MAX_LOGIN_FORM`] bytes, buffered whole (the only request body the
//! frontend buffers), and the account it names.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use types::{AccountName, DomainName};

/// A login form is a user name, a password and a token: far below this.
pub const MAX_LOGIN_FORM: usize = 16 * 1024;

/// Why a login form could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum FormError {
    /// Over [`MAX_LOGIN_FORM`] (declared or sent).
    TooLarge,
    /// The client stopped sending or the connection broke.
    Broken,
}

/// Reads the whole form, refusing a declared length over the limit before
/// reading a byte and stopping as soon as more than the limit has come.
pub async fn read(headers: &HeaderMap, body: Body) -> Result<Bytes, FormError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_LOGIN_FORM as u64) {
        return Err(FormError::TooLarge);
    }
    let limited = http_body_util::Limited::new(body, MAX_LOGIN_FORM);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(FormError::TooLarge),
        Err(_) => Err(FormError::Broken),
    }
}

/// The account a form-urlencoded login names in `username`, a bare name
/// qualified with `main_domain` as the IMAP proxy does; `None` when the
/// field is missing or is no account name.
pub fn account(form: &[u8], main_domain: &DomainName) -> Option<AccountName> {
    let username = field(form, "username")?;
    AccountName::parse(username.trim(), Some(main_domain)).ok()
}

/// The first value of `name` in a form-urlencoded body.
fn field(form: &[u8], name: &str) -> Option<String> {
    form.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (decode(key)? == name).then(|| decode(value)).flatten()
    })
}

/// application/x-www-form-urlencoded: `+` is a space, then %XX escapes.
fn decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).ok()
}

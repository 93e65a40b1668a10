//! SASL PLAIN (RFC 4616) and LOGIN, the mechanisms mail clients use, as
//! pure decoding: the protocol sessions (SMTP AUTH, POP3 AUTH, IMAP
//! AUTHENTICATE) own the exchange, this crate turns base64 responses into
//! credentials. No I/O, no directory access.
#![forbid(unsafe_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The mechanisms offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    /// Case-insensitive, as SASL mechanism names are.
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }
}

/// What the client proved it knows.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, when it differs from `authcid`.
    pub authzid: Option<String>,
    pub authcid: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Never print a password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("authzid", &self.authzid).field("authcid", &self.authcid).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("invalid base64")]
    Base64,
    #[error("invalid UTF-8")]
    Utf8,
    #[error("malformed response")]
    Malformed,
    /// The client sent `*` (RFC 4954 §4).
    #[error("authentication cancelled")]
    Cancelled,
}

/// Client responses longer than this are refused before decoding.
pub const MAX_RESPONSE: usize = 4096;

/// Decodes one base64 client response; `*` cancels, `=` is empty.
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    let line = trim_crlf(line);
    if line == b"*" {
        return Err(SaslError::Cancelled);
    }
    if line == b"=" || line.is_empty() {
        return Ok(Vec::new());
    }
    if line.len() > MAX_RESPONSE {
        return Err(SaslError::Malformed);
    }
    STANDARD.decode(line).map_err(|_| SaslError::Base64)
}

/// Encodes a server challenge for the wire.
pub fn encode_challenge(challenge: &[u8]) -> String {
    STANDARD.encode(challenge)
}

/// Parses a decoded PLAIN message: `authzid NUL authcid NUL passwd`.
pub fn parse_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Utf8);
    let authcid = text(authcid)?;
    if authcid.is_empty() {
        return Err(SaslError::Malformed);
    }
    let authzid = text(authzid)?;
    Ok(Credentials { authzid: (!authzid.is_empty()).then_some(authzid), authcid, password: text(password)? })
}

/// The LOGIN exchange: the server asks `Username:` then `Password:`.
#[derive(Debug, Default)]
pub struct LoginExchange {
    username: Option<String>,
}

/// The first challenge of LOGIN, already base64 (`VXNlcm5hbWU6`).
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// The second challenge of LOGIN (`UGFzc3dvcmQ6`).
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

impl LoginExchange {
    /// Feeds one decoded client response. Returns `Ok(None)` when the
    /// password is still to come, `Ok(Some(..))` when complete.
    pub fn step(&mut self, response: Vec<u8>) -> Result<Option<Credentials>, SaslError> {
        let text = String::from_utf8(response).map_err(|_| SaslError::Utf8)?;
        match self.username.take() {
            None => {
                if text.is_empty() {
                    return Err(SaslError::Malformed);
                }
                self.username = Some(text);
                Ok(None)
            }
            Some(authcid) => Ok(Some(Credentials { authzid: None, authcid, password: text })),
        }
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests;

//! The service extensions a server announces in its EHLO reply, read by
//! smtp-proto's `EhloResponse` parser.

use crate::reply::Reply;
use smtp_proto::{
    AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_AUTH, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE,
    EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse,
};

/// What the server offers; all off after HELO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// EHLO was accepted (ESMTP); false after the fallback to HELO.
    pub esmtp: bool,
    /// RFC 2920.
    pub pipelining: bool,
    /// RFC 1870: `Some(limit)`, where 0 means "SIZE without a limit".
    pub size: Option<u64>,
    /// RFC 6152.
    pub eight_bit_mime: bool,
    /// RFC 6531.
    pub smtputf8: bool,
    /// RFC 3207.
    pub starttls: bool,
    /// RFC 2034.
    pub enhanced_status_codes: bool,
    /// RFC 4954 AUTH with the PLAIN mechanism.
    pub auth_plain: bool,
    /// AUTH with the (non-standard, widespread) LOGIN mechanism.
    pub auth_login: bool,
}

impl Extensions {
    /// Reads the keywords of a positive EHLO reply. A reply smtp-proto
    /// cannot read counts as announcing nothing: plain SMTP still works,
    /// where guessing at extensions might not.
    pub(crate) fn from_ehlo(reply: &Reply) -> Extensions {
        let Ok(ehlo) = EhloResponse::parse(&mut rebuild(reply).iter()) else {
            return Extensions { esmtp: true, ..Extensions::default() };
        };
        Extensions {
            esmtp: true,
            pipelining: ehlo.has_capability(EXT_PIPELINING),
            size: ehlo.has_capability(EXT_SIZE).then_some(ehlo.size as u64),
            eight_bit_mime: ehlo.has_capability(EXT_8BIT_MIME),
            smtputf8: ehlo.has_capability(EXT_SMTP_UTF8),
            starttls: ehlo.has_capability(EXT_START_TLS),
            enhanced_status_codes: ehlo.has_capability(EXT_ENHANCED_STATUS_CODES),
            auth_plain: ehlo.has_capability(EXT_AUTH) && ehlo.auth_mechanisms & AUTH_PLAIN != 0,
            auth_login: ehlo.has_capability(EXT_AUTH) && ehlo.auth_mechanisms & AUTH_LOGIN != 0,
        }
    }
}

/// The reply as the server sent it (the parser wants the wire form),
/// from lines that are already checked and bounded.
fn rebuild(reply: &Reply) -> Vec<u8> {
    let mut wire = Vec::new();
    let last = reply.lines.len().saturating_sub(1);
    for (n, line) in reply.lines.iter().enumerate() {
        let separator = if n == last { ' ' } else { '-' };
        wire.extend_from_slice(format!("{}{separator}{line}\r\n", reply.code).as_bytes());
    }
    wire
}

#[cfg(test)]
mod tests;

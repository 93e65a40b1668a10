//! SMTP replies: a code, an enhanced status code (RFC 3463, sent on every
//! reply as RFC 2034 allows) and a text.

use std::borrow::Cow;
use std::io::Write;

/// One single-line reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub status: &'static str,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        Self { code, status, text: text.into() }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        write_reply(out, self.code, self.status, &self.text);
    }
}

/// Appends `code status text CRLF`.
pub(crate) fn write_reply(out: &mut Vec<u8>, code: u16, status: &str, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{code} {status} {text}\r\n");
}

/// Appends a multi-line reply (`250-first`, ..., `250 last`) without
/// enhanced status codes, as EHLO replies are written.
pub(crate) fn write_multiline<'a>(out: &mut Vec<u8>, code: u16, lines: impl ExactSizeIterator<Item = &'a str>) {
    let n_lines = lines.len();
    for (index, line) in lines.enumerate() {
        let separator = if index + 1 == n_lines { ' ' } else { '-' };
        let _ = write!(out, "{code}{separator}{line}\r\n");
    }
}

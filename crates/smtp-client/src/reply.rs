//! Server replies: framing of the byte stream into whole replies, with
//! bounds, and the reading of each line's code, enhanced status code and
//! text through smtp-proto's `ResponseReceiver`.
//!
//! The framing is ours because the receiver takes a reply's code from its
//! first line only (a reply whose lines disagree would pass unnoticed) and
//! caps a whole reply at 4 KiB, less than some EHLO replies need. So the
//! stream is cut into lines here, each line is checked and then handed to
//! the receiver alone.

use bytes::{Buf, BytesMut};
use smtp_proto::response::parser::{MAX_RESPONSE_LENGTH, ResponseReceiver};
use std::fmt;

/// At most this many bytes in one reply, all lines together.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// At most this many lines in one reply.
pub const MAX_REPLY_LINES: usize = 1000;
/// At most this many bytes in one reply line (RFC 5321 allows 512; the
/// receiver we parse lines with allows 4096).
pub const MAX_LINE_BYTES: usize = MAX_RESPONSE_LENGTH;

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    pub class: u8,
    pub subject: u8,
    pub detail: u8,
}

impl EnhancedStatus {
    pub const fn new(class: u8, subject: u8, detail: u8) -> EnhancedStatus {
        EnhancedStatus { class, subject, detail }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code, 200 to 599.
    pub code: u16,
    /// The first line's enhanced status code, when it has one whose class
    /// agrees with the code.
    pub enhanced: Option<EnhancedStatus>,
    /// Each line's text without code, separator and enhanced code.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: do not try again.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The lines joined by spaces, as a diagnostic shows them.
    pub fn text(&self) -> String {
        self.lines.iter().map(|line| line.trim()).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// Why bytes from the server are not a reply. The texts quote the
/// offending line escaped and cut short, so they are safe in logs and DSNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line that does not start with three digits and a separator.
    NoCode(String),
    /// A code outside 200..=599.
    BadCode(u16),
    /// A continuation line whose code differs from the first line's.
    InconsistentCode { first: u16, then: u16 },
    /// A line longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A reply longer than [`MAX_REPLY_BYTES`] or [`MAX_REPLY_LINES`].
    ReplyTooLong,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::NoCode(line) => write!(f, "reply line without a code: \"{line}\""),
            ReplyError::BadCode(code) => write!(f, "reply code {code} is not an SMTP reply code"),
            ReplyError::InconsistentCode { first, then } => {
                write!(f, "reply code changed from {first} to {then} within one reply")
            }
            ReplyError::LineTooLong => write!(f, "reply line longer than {MAX_LINE_BYTES} bytes"),
            ReplyError::ReplyTooLong => {
                write!(f, "reply longer than {MAX_REPLY_BYTES} bytes or {MAX_REPLY_LINES} lines")
            }
        }
    }
}

/// Cuts whole replies off the front of a buffer; keeps the lines of a
/// reply that is not complete yet.
#[derive(Debug, Default)]
pub(crate) struct ReplyParser {
    code: Option<u16>,
    enhanced: Option<EnhancedStatus>,
    lines: Vec<String>,
    bytes: usize,
}

impl ReplyParser {
    /// Consumes complete lines from `buf`. `Ok(None)`: the reply is not
    /// complete yet, read more. After an error the parser and the buffer
    /// are no longer in step with the server: the connection is done.
    pub(crate) fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, ReplyError> {
        while let Some(end) = memchr::memchr(b'\n', buf) {
            let line = buf.split_to(end + 1);
            self.bytes += line.len();
            if line.len() > MAX_LINE_BYTES + 2 {
                return Err(ReplyError::LineTooLong);
            }
            if self.bytes > MAX_REPLY_BYTES || self.lines.len() >= MAX_REPLY_LINES {
                return Err(ReplyError::ReplyTooLong);
            }
            if let Some(reply) = self.line(&line)? {
                return Ok(Some(reply));
            }
        }
        if buf.len() > MAX_LINE_BYTES {
            // Drop what cannot become a line, so the buffer stays bounded
            // even if the caller reads on.
            buf.advance(buf.len());
            return Err(ReplyError::LineTooLong);
        }
        Ok(None)
    }

    /// One line, CRLF (or a bare LF, which some servers send) included.
    fn line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let content = raw.strip_suffix(b"\n").unwrap_or(raw);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let (code, last) = match content {
            [d0, d1, d2, rest @ ..] if d0.is_ascii_digit() && d1.is_ascii_digit() && d2.is_ascii_digit() => {
                let code = u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0');
                match rest.first() {
                    None | Some(b' ') => (code, true),
                    Some(b'-') => (code, false),
                    Some(_) => return Err(ReplyError::NoCode(quote(content))),
                }
            }
            _ => return Err(ReplyError::NoCode(quote(content))),
        };
        if !(200..600).contains(&code) {
            return Err(ReplyError::BadCode(code));
        }
        match self.code {
            Some(first) if first != code => return Err(ReplyError::InconsistentCode { first, then: code }),
            Some(_) => {}
            None => self.code = Some(code),
        }
        let (text, enhanced) = parse_line(content);
        if self.lines.is_empty() {
            self.enhanced = enhanced.filter(|status| u16::from(status.class) == code / 100);
        }
        self.lines.push(text);
        if !last {
            return Ok(None);
        }
        let reply = Reply { code, enhanced: self.enhanced.take(), lines: std::mem::take(&mut self.lines) };
        self.code = None;
        self.bytes = 0;
        Ok(Some(reply))
    }
}

/// Text and enhanced code of one line whose code was already checked:
/// the line is handed to smtp-proto as a one-line reply (its separator
/// made a space so that the receiver sees the reply end).
fn parse_line(content: &[u8]) -> (String, Option<EnhancedStatus>) {
    let mut single = Vec::with_capacity(content.len() + 3);
    single.extend_from_slice(content.get(..3).unwrap_or_default());
    single.push(b' ');
    single.extend_from_slice(content.get(4..).unwrap_or_default());
    single.extend_from_slice(b"\r\n");
    match ResponseReceiver::default().parse(&mut single.iter()) {
        Ok(response) => {
            let [class, subject, detail] = response.esc;
            let enhanced = (class != 0).then_some(EnhancedStatus { class, subject, detail });
            // The receiver keeps the CR of an empty text ("250 " CRLF).
            let text = response.message.trim_end_matches(['\r', '\n']).to_owned();
            (text, enhanced)
        }
        // Not expected for a line whose code is valid; keep its text.
        Err(_) => (String::from_utf8_lossy(content.get(4..).unwrap_or_default()).into_owned(), None),
    }
}

/// A line as a diagnostic may quote it: escaped, at most 60 bytes.
fn quote(line: &[u8]) -> String {
    let cut = &line[..line.len().min(60)];
    let mut quoted = cut.escape_ascii().to_string();
    if cut.len() < line.len() {
        quoted.push_str("...");
    }
    quoted
}

#[cfg(test)]
mod tests;

//! Message content after `354`: moved out of the input buffer in whole
//! runs of lines, dot-unstuffed (RFC 5321 §4.5.2), ended only by
//! `CRLF . CRLF` (a bare LF never ends a line here, which is what keeps
//! SMTP smuggling out), measured against the size limit, and checked for
//! header lines longer than RFC 5322 §2.1.1 allows.

use bytes::{Buf, BytesMut};
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// RFC 5322 §2.1.1: a line is at most 998 octets, CRLF excluded.
pub(crate) const MAX_HEADER_LINE: usize = 998;

/// Where a line that starts with a dot may begin.
static LINE_THEN_DOT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\r\n."));

/// Why a complete message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentError {
    /// More than the size limit arrived; it was dropped as it came.
    TooBig,
    /// A header line is longer than [`MAX_HEADER_LINE`].
    HeaderLineTooLong,
}

/// Receives one message's content.
#[derive(Debug)]
pub(crate) struct DataReceiver {
    /// What is kept: the prefix given at the start, then the content.
    body: Vec<u8>,
    /// Content octets received, after unstuffing, kept or not.
    size: u64,
    max_size: u64,
    /// The next octet starts a line (the first one does).
    at_line_start: bool,
    in_header: bool,
    header_line_len: usize,
    /// The last octet seen in the header was CR.
    header_last_cr: bool,
    header_line_too_long: bool,
}

impl DataReceiver {
    /// `prefix` (the `Received:` header) starts the body; `expected` is
    /// the size the client declared, if any, to reserve once.
    pub fn new(prefix: &[u8], expected: u64, max_size: u64) -> Self {
        const DEFAULT_RESERVE: u64 = 32 * 1024;
        let reserve = expected.max(DEFAULT_RESERVE).min(max_size) as usize + prefix.len();
        let mut body = Vec::with_capacity(reserve);
        body.extend_from_slice(prefix);
        Self {
            body,
            size: 0,
            max_size,
            at_line_start: true,
            in_header: true,
            header_line_len: 0,
            header_last_cr: false,
            header_line_too_long: false,
        }
    }

    /// Consumes content from the front of `input`. Returns true once the
    /// end-of-data line has been consumed; what follows it stays in
    /// `input`. Anything not consumed is at most the start of an
    /// end-of-data line (`.` or `.\r`) or a CR that may start a CRLF.
    pub fn ingest(&mut self, input: &mut BytesMut) -> bool {
        loop {
            if self.at_line_start {
                let Some(&first) = input.first() else { return false };
                if first == b'.' {
                    match &input[..] {
                        [b'.', b'\r', b'\n', ..] => {
                            input.advance(3);
                            return true;
                        }
                        // Too short to tell a terminator from a stuffed dot.
                        [b'.'] | [b'.', b'\r'] => return false,
                        // Dot-stuffing: the first dot of a line is dropped.
                        _ => input.advance(1),
                    }
                }
                self.at_line_start = false;
            }
            let (take, line_start) = match LINE_THEN_DOT.find(input) {
                Some(pos) => (pos + 2, true),
                None if input.ends_with(b"\r\n") => (input.len(), true),
                // The CR may begin the CRLF of a `CRLF . CRLF`; keep it.
                None if input.ends_with(b"\r") => (input.len() - 1, false),
                None => (input.len(), false),
            };
            self.push(&input[..take]);
            input.advance(take);
            self.at_line_start = line_start;
            if !line_start {
                return false;
            }
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        if self.in_header {
            self.scan_header(chunk);
        }
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size <= self.max_size {
            self.body.extend_from_slice(chunk);
        } else if self.body.capacity() != 0 {
            // Over the limit: the rest is only counted.
            self.body = Vec::new();
        }
    }

    /// Follows header lines until the empty line that ends the header
    /// section, or until one is too long.
    fn scan_header(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while self.in_header {
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.header_line_len += rest.len();
                self.header_last_cr = rest.last() == Some(&b'\r');
                // One octet of slack for the CR of the line's CRLF.
                if self.header_line_len > MAX_HEADER_LINE + 1 {
                    self.too_long_header_line();
                }
                return;
            };
            let ends_with_cr = if lf > 0 { rest[lf - 1] == b'\r' } else { self.header_last_cr };
            let len = self.header_line_len + lf - usize::from(ends_with_cr);
            if len > MAX_HEADER_LINE {
                self.too_long_header_line();
            } else if len == 0 {
                self.in_header = false;
            }
            self.header_line_len = 0;
            self.header_last_cr = false;
            rest = &rest[lf + 1..];
        }
    }

    fn too_long_header_line(&mut self) {
        self.header_line_too_long = true;
        self.in_header = false;
    }

    /// Content octets received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The body (prefix and content) once the end of data has been seen.
    pub fn finish(self) -> Result<Vec<u8>, ContentError> {
        if self.size > self.max_size {
            Err(ContentError::TooBig)
        } else if self.header_line_too_long {
            Err(ContentError::HeaderLineTooLong)
        } else {
            Ok(self.body)
        }
    }
}

#[cfg(test)]
mod tests;

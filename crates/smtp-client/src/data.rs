//! Message content as DATA sends it (RFC 5321 §4.5.2): every line ending
//! made CRLF, a dot doubled at the start of a line, a CRLF added after an
//! unterminated last line, then `.` CRLF.
//!
//! A bare CR is made a line ending as well as a bare LF: receivers differ
//! in how they treat either, and `<CR>.<CR><LF>` or `<LF>.<LF>` read as
//! the end of data by one receiver is how SMTP smuggling hides a second
//! message in the first. After this encoding the only `.` line is ours.

/// Encodes content in pieces, so a large body is never copied whole.
#[derive(Debug)]
pub(crate) struct DotStuffer {
    /// The next byte starts a line.
    line_start: bool,
    /// The last byte was a CR, already sent as CRLF: a following LF is
    /// part of that line ending.
    after_cr: bool,
    /// Dots added by stuffing, which SIZE does not count (RFC 1870).
    dots_added: u64,
}

impl DotStuffer {
    pub(crate) fn new() -> DotStuffer {
        DotStuffer { line_start: true, after_cr: false, dots_added: 0 }
    }

    /// Appends the encoding of `input` to `out`.
    pub(crate) fn encode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while let [first, ..] = input {
            if self.after_cr {
                self.after_cr = false;
                if *first == b'\n' {
                    input = &input[1..];
                    continue;
                }
            }
            if self.line_start {
                self.line_start = false;
                if *first == b'.' {
                    out.push(b'.');
                    self.dots_added += 1;
                }
            }
            match memchr::memchr2(b'\r', b'\n', input) {
                None => {
                    out.extend_from_slice(input);
                    return;
                }
                Some(end) => {
                    out.extend_from_slice(&input[..end]);
                    out.extend_from_slice(b"\r\n");
                    self.after_cr = input[end] == b'\r';
                    self.line_start = true;
                    input = &input[end + 1..];
                }
            }
        }
    }

    /// Ends the content: the last line's CRLF if it had none, then the
    /// terminating `.` line.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line_start {
            out.extend_from_slice(b"\r\n");
            self.line_start = true;
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// The size of `body` as RFC 1870 counts it: line endings made CRLF,
/// without stuffed dots and without the final `.` line.
pub(crate) fn message_size(body: &[u8]) -> u64 {
    let mut stuffer = DotStuffer::new();
    let mut total = 0u64;
    let mut scratch = Vec::with_capacity(CHUNK + CHUNK / 2);
    for chunk in body.chunks(CHUNK) {
        scratch.clear();
        stuffer.encode(chunk, &mut scratch);
        total += scratch.len() as u64;
    }
    scratch.clear();
    stuffer.finish(&mut scratch);
    total + scratch.len() as u64 - 3 - stuffer.dots_added
}

/// Whether the body has bytes outside 7-bit ASCII (BODY=8BITMIME).
pub(crate) fn has_8bit(body: &[u8]) -> bool {
    !body.is_ascii()
}

/// How much content is encoded and written at a time: each such block
/// must be written within the data block timeout (RFC 5321 §4.5.3.2.5).
pub(crate) const CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod tests;

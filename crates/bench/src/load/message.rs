//! The test message, built once: a valid RFC 5322 message of an exact
//! size, lines well under 998 octets, CRLF line ends, already dot-stuffed
//! for DATA. Only its Message-ID changes from one message to the next,
//! patched in place in the sender's write buffer.

use std::ops::Range;

const HEADERS: &str = "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n\
From: Bench Sender <sender@bench.example>\r\n\
To: Bench Recipient <recipient@bench.example>\r\n\
Subject: Rookery benchmark message\r\n\
Message-ID: <0000000000000000@bench.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n";

/// Where the 16 hex digits of the Message-ID sit in [`HEADERS`].
const ID_PLACEHOLDER: &str = "<0000000000000000@";

const WORDS: &[&str] = &[
    "the",
    "queue",
    "runner",
    "delivers",
    "each",
    "message",
    "into",
    "its",
    "mailbox",
    "after",
    "a",
    "durable",
    "write",
    "and",
    "replies",
    "only",
    "then",
    "so",
    "that",
    "nothing",
    "acknowledged",
    "is",
    "ever",
    "lost",
];
/// Body line length without CRLF; well under the 998 limit, like real text.
const LINE_WIDTH: usize = 72;
/// Every this many lines a body line starts with a dot, to exercise
/// dot-stuffing on both sides.
const DOT_LINE_EVERY: usize = 16;

pub struct Message {
    /// The dot-stuffed message, ending in CRLF, without the final `.` line.
    wire: Vec<u8>,
    /// The same message as stored (not dot-stuffed), for IMAP APPEND.
    text: Vec<u8>,
    id_digits: Range<usize>,
}

impl Message {
    /// A message of exactly `size` octets (before dot-stuffing).
    pub fn new(size: usize) -> anyhow::Result<Message> {
        let minimum = HEADERS.len() + 2;
        anyhow::ensure!(size >= minimum, "--message-size must be at least {minimum} bytes");
        let mut text = String::with_capacity(size);
        text.push_str(HEADERS);
        let mut words = WORDS.iter().cycle();
        let mut line_number = 0;
        while text.len() < size {
            let remaining = size - text.len();
            // A line is at least CRLF; never leave a single byte over.
            let mut width = (LINE_WIDTH + 2).min(remaining);
            if remaining - width == 1 {
                width -= 1;
            }
            let content = width - 2;
            let mut line = String::with_capacity(content);
            if line_number % DOT_LINE_EVERY == DOT_LINE_EVERY - 1 {
                line.push('.');
            }
            while line.len() < content {
                if !line.is_empty() && !line.ends_with('.') {
                    line.push(' ');
                }
                line.push_str(words.next().expect("cycle never ends"));
            }
            line.truncate(content);
            text.push_str(&line);
            text.push_str("\r\n");
            line_number += 1;
        }
        debug_assert_eq!(text.len(), size);
        let mut wire = Vec::with_capacity(size + size / 64);
        for line in text.split_inclusive("\r\n") {
            if line.starts_with('.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(line.as_bytes());
        }
        let start = HEADERS.find(ID_PLACEHOLDER).expect("the headers hold the placeholder") + 1;
        Ok(Message { wire, text: text.into_bytes(), id_digits: start..start + 16 })
    }

    /// Appends the message, dot-stuffed and with Message-ID `serial`, and
    /// the end-of-data line to `out`.
    pub fn append_data(&self, out: &mut Vec<u8>, serial: u64) {
        let start = out.len();
        out.extend_from_slice(&self.wire);
        patch_id(&mut out[start + self.id_digits.start..start + self.id_digits.end], serial);
        out.extend_from_slice(b".\r\n");
    }

    /// The message as stored (no dot-stuffing), exactly `size` octets.
    pub fn size(&self) -> usize {
        self.text.len()
    }

    /// Appends the message as stored (no dot-stuffing, no end-of-data
    /// line) with Message-ID `serial` to `out`: an IMAP APPEND literal.
    pub fn append_text(&self, out: &mut Vec<u8>, serial: u64) {
        let start = out.len();
        out.extend_from_slice(&self.text);
        patch_id(&mut out[start + self.id_digits.start..start + self.id_digits.end], serial);
    }
}

/// Writes `serial` as 16 hex digits.
fn patch_id(digits: &mut [u8], serial: u64) {
    let mut value = serial;
    for digit in digits.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests;

//! Splits the input into whole commands: a command is a line, or lines
//! joined by literals (`{n}` at the end of a line, then n bytes).
//!
//! For a synchronising literal the `+` continuation is written only once
//! the announced size is known to be within the limit; an over-limit
//! literal is refused before any of it is read. Literal bytes move from
//! the driver's buffer into the command being built, so the driver's
//! buffer never holds more than a line.

use bytes::{Buf, BytesMut};

/// What [`Framer::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// No whole command yet.
    NeedMore,
    /// A whole command, its last line ending in LF.
    Command(Vec<u8>),
    /// A line longer than the limit; the rest of it is dropped as it comes.
    LineTooLong { tag: String },
    /// A literal over the limit; `sync` literals were not sent by the
    /// client, a non-synchronising one is on its way.
    LiteralTooLarge { tag: String, sync: bool },
}

/// Limits the framer enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameLimits {
    pub max_line: usize,
    pub max_literal: u32,
}

#[derive(Default)]
pub(crate) struct Framer {
    /// The command so far: whole lines and the literals after them.
    command: Vec<u8>,
    /// Literal bytes still to move into `command`.
    literal_left: usize,
    /// Dropping the rest of an over-long line.
    discarding: bool,
}

impl Framer {
    /// The next whole command; writes `+` continuations to `out`.
    pub(crate) fn next(&mut self, input: &mut BytesMut, out: &mut Vec<u8>, limits: FrameLimits) -> Frame {
        self.next_capped(input, out, limits, limits.max_literal)
    }

    /// [`Framer::next`] with non-synchronising literals capped lower than
    /// synchronising ones (LITERAL-, RFC 7888: 4096 bytes).
    pub(crate) fn next_capped(
        &mut self,
        input: &mut BytesMut,
        out: &mut Vec<u8>,
        limits: FrameLimits,
        max_non_sync_literal: u32,
    ) -> Frame {
        loop {
            if self.literal_left > 0 {
                let n = self.literal_left.min(input.len());
                self.command.extend_from_slice(&input[..n]);
                input.advance(n);
                self.literal_left -= n;
                if self.literal_left > 0 {
                    return Frame::NeedMore;
                }
            }
            if self.discarding {
                match memchr::memchr(b'\n', input) {
                    None => {
                        input.clear();
                        return Frame::NeedMore;
                    }
                    Some(end) => {
                        input.advance(end + 1);
                        self.discarding = false;
                    }
                }
            }
            let Some(end) = memchr::memchr(b'\n', input) else {
                if input.len() > limits.max_line {
                    let tag = self.tag_or(input);
                    self.command.clear();
                    input.clear();
                    self.discarding = true;
                    return Frame::LineTooLong { tag };
                }
                return Frame::NeedMore;
            };
            if end + 1 > limits.max_line {
                let tag = self.tag_or(input);
                self.command.clear();
                input.advance(end + 1);
                return Frame::LineTooLong { tag };
            }
            self.command.extend_from_slice(&input[..=end]);
            let line_start = self.command.len() - (end + 1);
            input.advance(end + 1);
            let Some((length, sync)) = literal_at_end(&self.command[line_start..]) else {
                return Frame::Command(std::mem::take(&mut self.command));
            };
            let total = self.command.len() as u64 + length;
            let too_large_non_sync = !sync && length > u64::from(max_non_sync_literal);
            if too_large_non_sync
                || length > u64::from(limits.max_literal)
                || total > u64::from(limits.max_literal) + limits.max_line as u64
            {
                let tag = tag_of(&self.command);
                self.command.clear();
                return Frame::LiteralTooLarge { tag, sync };
            }
            if sync {
                out.extend_from_slice(b"+ Ready for literal data\r\n");
            }
            // Bounded by the limits just checked.
            self.literal_left = length as usize;
        }
    }

    /// One line of a SASL exchange: `None` while incomplete, `Err` (and
    /// the line is dropped) when too long.
    pub(crate) fn line(&mut self, input: &mut BytesMut, max_line: usize) -> Option<Result<Vec<u8>, ()>> {
        match memchr::memchr(b'\n', input) {
            None if input.len() > max_line => {
                input.clear();
                self.discarding = true;
                Some(Err(()))
            }
            None => None,
            Some(end) => {
                let line = input.split_to(end + 1);
                if line.len() > max_line {
                    return Some(Err(()));
                }
                Some(Ok(line.to_vec()))
            }
        }
    }

    fn tag_or(&self, input: &[u8]) -> String {
        if self.command.is_empty() { tag_of(input) } else { tag_of(&self.command) }
    }
}

/// The tag a command starts with, or `*` when it has none usable.
pub(crate) fn tag_of(command: &[u8]) -> String {
    let end = command.iter().position(|b| *b == b' ' || *b == b'\r' || *b == b'\n').unwrap_or(command.len());
    let tag = &command[..end];
    let valid =
        !tag.is_empty() && tag.len() <= 64 && tag.iter().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+]".contains(b));
    match std::str::from_utf8(tag) {
        Ok(tag) if valid => tag.to_owned(),
        _ => "*".to_owned(),
    }
}

/// `{n}` or `{n+}` (or `~{n}`) ending a line: the literal's length and
/// whether it is synchronising.
fn literal_at_end(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let (digits, sync) = match inner[open + 1..].strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (&inner[open + 1..], true),
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((length, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits { max_line: 64, max_literal: 10 };

    /// Feeds `chunks` one read at a time; returns every frame and all the
    /// continuations written.
    fn check(chunks: &[&[u8]], expected: &[Frame], continuations: &str) {
        let mut framer = Framer::default();
        let mut input = BytesMut::new();
        let mut out = Vec::new();
        let mut frames = Vec::new();
        for chunk in chunks {
            input.extend_from_slice(chunk);
            loop {
                match framer.next(&mut input, &mut out, LIMITS) {
                    Frame::NeedMore => break,
                    frame => frames.push(frame),
                }
            }
        }
        assert_eq!(frames, expected, "{chunks:?}");
        assert_eq!(String::from_utf8(out).unwrap(), continuations, "{chunks:?}");
    }

    fn command(bytes: &[u8]) -> Frame {
        Frame::Command(bytes.to_vec())
    }

    #[test]
    fn frames() {
        check(&[b"a NOOP\r\nb NOOP\r\n"], &[command(b"a NOOP\r\n"), command(b"b NOOP\r\n")], "");
        check(&[b"a NO", b"OP\r", b"\n"], &[command(b"a NOOP\r\n")], "");
        check(
            &[b"a LOGIN {1}\r\n", b"x {2}\r\nyy\r\n"],
            &[command(b"a LOGIN {1}\r\nx {2}\r\nyy\r\n")],
            "+ Ready for literal data\r\n+ Ready for literal data\r\n",
        );
        check(&[b"a APPEND b {3+}\r\nabc\r\n"], &[command(b"a APPEND b {3+}\r\nabc\r\n")], "");
        // The literal's bytes may hold CRLF and braces.
        check(
            &[b"a X {4}\r\n", b"\r\n{}", b"\r\n"],
            &[command(b"a X {4}\r\n\r\n{}\r\n")],
            "+ Ready for literal data\r\n",
        );
        check(&[b"a APPEND b {11}\r\n"], &[Frame::LiteralTooLarge { tag: "a".into(), sync: true }], "");
        check(&[b"a APPEND b {99999999999}\r\n"], &[command(b"a APPEND b {99999999999}\r\n")], "");
        check(&[b"a APPEND b {11+}\r\n"], &[Frame::LiteralTooLarge { tag: "a".into(), sync: false }], "");
        let long = [b"t1 NOOP ".as_slice(), &[b'x'; 100], b"\r\nt2 NOOP\r\n"].concat();
        check(&[&long], &[Frame::LineTooLong { tag: "t1".into() }, command(b"t2 NOOP\r\n")], "");
        // Over-long without a newline yet: dropped as it arrives.
        check(
            &[&[b'y'; 70], &[b'y'; 70], b"\r\nt3 NOOP\r\n"],
            &[Frame::LineTooLong { tag: "*".into() }, command(b"t3 NOOP\r\n")],
            "",
        );
    }

    #[test]
    fn tags() {
        for (command, tag) in [
            (b"a1 NOOP".as_slice(), "a1"),
            (b"A.b-c NOOP", "A.b-c"),
            (b"+ NOOP", "*"),
            (b"* NOOP", "*"),
            (b"", "*"),
            (b"\xff NOOP", "*"),
            (b"a{1} NOOP", "*"),
        ] {
            assert_eq!(tag_of(command), tag, "{command:?}");
        }
    }

    #[test]
    fn literal_markers() {
        for (line, expected) in [
            (b"a {5}\r\n".as_slice(), Some((5, true))),
            (b"a {5+}\r\n", Some((5, false))),
            (b"a ~{5}\r\n", Some((5, true))),
            (b"a {}\r\n", None),
            (b"a {x}\r\n", None),
            (b"a {5} b\r\n", None),
            (b"a \"{5}\"\r\n", None),
            (b"a {12345678901}\r\n", None),
        ] {
            assert_eq!(literal_at_end(line), expected, "{line:?}");
        }
    }
}

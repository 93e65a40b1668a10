//! Cutting client input into lines with a bound: a line longer than the
//! limit is reported once its end arrives, and its bytes are dropped as
//! they come, so a client can never make the frontend buffer more.

use bytes::BytesMut;

/// One line taken from the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Without its CRLF (or bare LF).
    Complete(BytesMut),
    /// Longer than the limit; its bytes are gone.
    TooLong,
}

#[derive(Debug)]
pub(crate) struct LineReader {
    max: usize,
    /// Inside an over-long line: drop bytes up to its LF.
    discarding: bool,
}

impl LineReader {
    pub(crate) fn new(max: usize) -> Self {
        Self { max, discarding: false }
    }

    /// The next line in `buf`, or `None` when more input is needed.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Option<Line> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let mut line = buf.split_to(end + 1);
                if std::mem::take(&mut self.discarding) {
                    return Some(Line::TooLong);
                }
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if line.len() > self.max {
                    return Some(Line::TooLong);
                }
                Some(Line::Complete(line))
            }
            None => {
                if self.discarding || buf.len() > self.max + 1 {
                    buf.clear();
                    self.discarding = true;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;

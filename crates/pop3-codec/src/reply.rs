//! Replies: status lines, SASL continuations and multi-line responses.
//!
//! Every function appends to the caller's buffer, so that a pipelined
//! batch of replies goes out in one write.

use std::fmt;
use std::io::Write as _;

/// Extended response codes (RFC 2449 §8, RFC 3206), written in brackets
/// after `-ERR` so that clients can tell why a command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCode {
    /// The maildrop is locked by another session (RFC 2449 §8.1.2).
    InUse,
    /// The user logged in too recently (RFC 2449 §8.1.1).
    LoginDelay,
    /// A temporary failure of the server (RFC 3206 §4): try again later.
    SysTemp,
    /// A permanent failure of the server (RFC 3206 §4).
    SysPerm,
    /// Bad credentials or an authentication policy refused the login
    /// (RFC 3206 §5).
    Auth,
}

impl ResponseCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `+OK text`; an empty text gives a bare `+OK`.
pub fn write_ok(out: &mut Vec<u8>, text: impl fmt::Display) {
    write_status(out, "+OK", None, text);
}

/// `-ERR [CODE] text`.
pub fn write_err(out: &mut Vec<u8>, code: Option<ResponseCode>, text: impl fmt::Display) {
    write_status(out, "-ERR", code, text);
}

/// A SASL server challenge, already base64 (RFC 5034 §4): `+ challenge`.
/// An empty challenge is written as `+ ` followed by CRLF.
pub fn write_continuation(out: &mut Vec<u8>, challenge: &str) {
    out.extend_from_slice(b"+ ");
    out.extend_from_slice(challenge.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One line of a multi-line response (a CAPA, LIST or UIDL entry), with
/// the byte-stuffing of RFC 1939 §3 applied.
pub fn write_line(out: &mut Vec<u8>, line: impl fmt::Display) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{line}");
    if out.get(start) == Some(&b'.') {
        out.insert(start, b'.');
    }
    out.extend_from_slice(b"\r\n");
}

/// The terminator of a multi-line response.
pub fn write_end(out: &mut Vec<u8>) {
    out.extend_from_slice(b".\r\n");
}

/// A message (or part of one) as the body of a multi-line response, in a
/// single pass: a line that starts with `.` gets another `.` in front, a
/// bare LF becomes CRLF, the last line is ended with CRLF if it was not,
/// and the terminator follows (RFC 1939 §3).
///
/// Runs of lines that need no change are copied with one `extend`; the
/// only allocation is the one `reserve` for the whole body.
pub fn write_dot_stuffed(out: &mut Vec<u8>, body: &[u8]) {
    // Room for the body, the terminator and a few stuffed dots; more
    // stuffing than that grows the buffer as usual.
    out.reserve(body.len() + 16);
    if body.first() == Some(&b'.') {
        out.push(b'.');
    }
    // `copied`: how much of `body` has been written to `out` so far.
    let mut copied = 0;
    for lf in memchr::memchr_iter(b'\n', body) {
        if lf == 0 || body[lf - 1] != b'\r' {
            out.extend_from_slice(&body[copied..lf]);
            out.extend_from_slice(b"\r\n");
            copied = lf + 1;
        }
        if body.get(lf + 1) == Some(&b'.') {
            out.extend_from_slice(&body[copied..=lf]);
            out.push(b'.');
            copied = lf + 1;
        }
    }
    out.extend_from_slice(&body[copied..]);
    if !body.is_empty() && body.last() != Some(&b'\n') {
        out.extend_from_slice(b"\r\n");
    }
    write_end(out);
}

fn write_status(out: &mut Vec<u8>, status: &str, code: Option<ResponseCode>, text: impl fmt::Display) {
    out.extend_from_slice(status.as_bytes());
    if let Some(code) = code {
        out.extend_from_slice(b" [");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b']');
    }
    out.push(b' ');
    let text_start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{text}");
    if out.len() == text_start {
        out.pop();
    } else if out[text_start..].iter().any(|&b| b == b'\r' || b == b'\n') {
        // A reply text never spans lines: a stray CR or LF would let
        // whatever follows pass for another reply.
        let text = out.split_off(text_start);
        out.extend(text.into_iter().filter(|&b| b != b'\r' && b != b'\n'));
    }
    out.extend_from_slice(b"\r\n");
}

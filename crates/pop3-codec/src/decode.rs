//! Framing and parsing of command lines.

use crate::command::{Command, Secret};
use bytes::{Buf, Bytes, BytesMut};

/// The longest line accepted, CRLF included.
///
/// RFC 2449 §4 caps a command at 255 octets, but that is too tight for
/// what clients really send: `PASS` takes the password verbatim, and a SASL
/// PLAIN response carries authorization id, user name and password in
/// base64 (4/3 longer), either as the AUTH initial response or on a line of
/// its own. One limit for every line keeps the framing simple; 1024 octets
/// fits long names and passwords while keeping what a client can make the
/// server buffer small.
pub const MAX_LINE: usize = 1024;

/// Why a line is not a command. The line is consumed either way, so the
/// session answers `-ERR` and carries on with the next one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Longer than [`MAX_LINE`]; the rest of it is discarded as it arrives.
    #[error("line too long")]
    LineTooLong,
    /// A well-formed keyword that is not a POP3 command.
    #[error("unknown command")]
    UnknownCommand,
    /// Bad bytes (invalid UTF-8, control characters) or bad arguments.
    #[error("syntax error: {0}")]
    Syntax(&'static str),
}

/// Cuts lines off the front of the input buffer and parses them.
///
/// The decoder carries one bit of state: whether it is discarding the rest
/// of a too-long line, which may arrive over many reads. It never keeps
/// more than [`MAX_LINE`] octets of an incomplete line in the buffer.
#[derive(Debug, Default)]
pub struct Decoder {
    discarding: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the first command in `buf`; `Ok(None)` means that no whole
    /// line is buffered yet.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, DecodeError> {
        let Some((len, consumed)) = self.frame(buf)? else {
            return Ok(None);
        };
        let command = parse_command(&buf[..len]);
        buf.advance(consumed);
        command.map(Some)
    }

    /// Takes the first whole line in `buf` as it is, without its line end:
    /// the client's answer to a SASL challenge (RFC 5034 §4), which is not
    /// a command.
    pub fn decode_line(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        let Some((len, consumed)) = self.frame(buf)? else {
            return Ok(None);
        };
        let mut line = buf.split_to(consumed);
        line.truncate(len);
        Ok(Some(line.freeze()))
    }

    /// Finds the first line: its length without the line end, and the
    /// octets to consume with it. A bare LF ends a line too, as clients
    /// that send one mean it as CRLF.
    fn frame(&mut self, buf: &mut BytesMut) -> Result<Option<(usize, usize)>, DecodeError> {
        if self.discarding {
            match memchr::memchr(b'\n', buf) {
                Some(end) => {
                    buf.advance(end + 1);
                    self.discarding = false;
                }
                None => {
                    buf.clear();
                    return Ok(None);
                }
            }
        }
        let window = &buf[..buf.len().min(MAX_LINE)];
        match memchr::memchr(b'\n', window) {
            Some(end) => {
                let len = if end > 0 && buf[end - 1] == b'\r' { end - 1 } else { end };
                Ok(Some((len, end + 1)))
            }
            None if buf.len() >= MAX_LINE => {
                match memchr::memchr(b'\n', &buf[MAX_LINE..]) {
                    Some(end) => buf.advance(MAX_LINE + end + 1),
                    None => {
                        buf.clear();
                        self.discarding = true;
                    }
                }
                Err(DecodeError::LineTooLong)
            }
            None => Ok(None),
        }
    }
}

fn parse_command(line: &[u8]) -> Result<Command, DecodeError> {
    let line = std::str::from_utf8(line).map_err(|_| DecodeError::Syntax("invalid UTF-8"))?;
    if line.chars().any(char::is_control) {
        return Err(DecodeError::Syntax("control character in command"));
    }
    let (keyword, rest) = match line.split_once(' ') {
        Some((keyword, rest)) => (keyword, rest),
        None => (line, ""),
    };
    if keyword.is_empty() {
        return Err(DecodeError::Syntax("empty command"));
    }
    // Arguments are separated by single spaces (RFC 1939 §3); runs of
    // spaces and trailing spaces are forgiven. PASS alone reads its raw
    // rest, see below.
    let mut args = Args(rest.split(' ').filter(|arg| !arg.is_empty()));
    // Every keyword has 3 or 4 letters: upper-case them on the stack.
    if keyword.len() > 4 {
        return Err(DecodeError::UnknownCommand);
    }
    let mut upper = [0u8; 4];
    for (to, from) in upper.iter_mut().zip(keyword.bytes()) {
        *to = from.to_ascii_uppercase();
    }
    let command = match &upper[..keyword.len()] {
        b"USER" => Command::User { name: args.required("USER needs a name")?.to_owned() },
        // The password is the rest of the line, spaces included.
        b"PASS" if rest.is_empty() => return Err(DecodeError::Syntax("PASS needs a password")),
        b"PASS" => return Ok(Command::Pass { password: Secret::new(rest) }),
        b"APOP" => {
            let name = args.required("APOP needs a name and a digest")?.to_owned();
            let digest = args.required("APOP needs a name and a digest")?;
            if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DecodeError::Syntax("APOP digest must be 32 hex digits"));
            }
            Command::Apop { name, digest: digest.to_owned() }
        }
        b"AUTH" => {
            let mechanism = args.next();
            if let Some(mechanism) = mechanism
                && !is_mechanism_name(mechanism)
            {
                return Err(DecodeError::Syntax("invalid SASL mechanism name"));
            }
            let initial_response = args.next().map(Secret::new);
            Command::Auth { mechanism: mechanism.map(str::to_owned), initial_response }
        }
        b"STAT" => Command::Stat,
        b"LIST" => Command::List { msg: args.next().map(message_number).transpose()? },
        b"UIDL" => Command::Uidl { msg: args.next().map(message_number).transpose()? },
        b"RETR" => Command::Retr { msg: message_number(args.required("RETR needs a message number")?)? },
        b"TOP" => {
            let msg = message_number(args.required("TOP needs a message number and a line count")?)?;
            let lines = number(args.required("TOP needs a message number and a line count")?)?;
            Command::Top { msg, lines }
        }
        b"DELE" => Command::Dele { msg: message_number(args.required("DELE needs a message number")?)? },
        b"RSET" => Command::Rset,
        b"NOOP" => Command::Noop,
        b"QUIT" => Command::Quit,
        b"CAPA" => Command::Capa,
        b"STLS" => Command::Stls,
        _ => return Err(DecodeError::UnknownCommand),
    };
    args.end()?;
    Ok(command)
}

struct Args<'a, I: Iterator<Item = &'a str>>(I);

impl<'a, I: Iterator<Item = &'a str>> Args<'a, I> {
    fn next(&mut self) -> Option<&'a str> {
        self.0.next()
    }

    fn required(&mut self, missing: &'static str) -> Result<&'a str, DecodeError> {
        self.0.next().ok_or(DecodeError::Syntax(missing))
    }

    fn end(mut self) -> Result<(), DecodeError> {
        match self.0.next() {
            None => Ok(()),
            Some(_) => Err(DecodeError::Syntax("too many arguments")),
        }
    }
}

/// A number without sign or other decoration that fits in 32 bits.
fn number(arg: &str) -> Result<u32, DecodeError> {
    if !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Syntax("argument must be a number"));
    }
    arg.parse().map_err(|_| DecodeError::Syntax("number out of range"))
}

/// Message numbers start at 1 (RFC 1939 §3).
fn message_number(arg: &str) -> Result<u32, DecodeError> {
    match number(arg)? {
        0 => Err(DecodeError::Syntax("message numbers start at 1")),
        msg => Ok(msg),
    }
}

/// RFC 4422 §3.1: 1 to 20 of upper-case letters, digits, `-` and `_`
/// (compared case-insensitively).
fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

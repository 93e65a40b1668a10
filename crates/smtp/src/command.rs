//! One command line to one request. smtp-proto parses the commands and
//! their ESMTP parameters; this module adds what it leaves to its caller:
//! invalid UTF-8 is refused (smtp-proto would replace it), the
//! `<postmaster>` forward-path is kept apart from `<>`, and every syntax
//! error becomes its reply.

use crate::reply::Reply;
use smtp_proto::{Error, Request};
use std::borrow::Cow;

/// A parsed command borrowing from its line.
pub(crate) type Command<'a> = Request<Cow<'a, str>>;

/// Parses one complete line, its LF included.
pub(crate) fn parse(line: &[u8]) -> Result<Command<'_>, Reply> {
    if std::str::from_utf8(line).is_err() {
        return Err(invalid_utf8(line));
    }
    match Request::parse(&mut line.iter()) {
        // smtp-proto answers "" for both `<>` and `<postmaster>`.
        Ok(Request::Rcpt { mut to }) if to.address.is_empty() => {
            if !names_postmaster(line) {
                return Err(Reply::new(501, "5.1.3", "a null forward-path is not a recipient"));
            }
            to.address = Cow::Borrowed("postmaster");
            Ok(Request::Rcpt { to })
        }
        Ok(Request::Mail { from }) if from.address.is_empty() && names_postmaster(line) => {
            Err(Reply::new(501, "5.1.7", "invalid sender address"))
        }
        Ok(request) => Ok(request),
        Err(error) => Err(error_reply(error)),
    }
}

/// Whether the path in angle brackets is `postmaster` (any case).
fn names_postmaster(line: &[u8]) -> bool {
    let Some(open) = memchr::memchr(b'<', line) else { return false };
    line[open + 1..].get(..11).is_some_and(|path| path.eq_ignore_ascii_case(b"postmaster>"))
}

fn invalid_utf8(line: &[u8]) -> Reply {
    let verb = line.trim_ascii_start().get(..4).unwrap_or_default();
    if verb.eq_ignore_ascii_case(b"MAIL") {
        Reply::new(501, "5.1.7", "invalid UTF-8 in sender address")
    } else if verb.eq_ignore_ascii_case(b"RCPT") {
        Reply::new(501, "5.1.3", "invalid UTF-8 in recipient address")
    } else {
        Reply::new(500, "5.5.2", "invalid UTF-8 in command")
    }
}

fn error_reply(error: Error) -> Reply {
    match error {
        Error::UnknownCommand => Reply::new(500, "5.5.1", "command not recognized"),
        Error::InvalidSenderAddress => Reply::new(501, "5.1.7", "invalid sender address"),
        Error::InvalidRecipientAddress => Reply::new(501, "5.1.3", "invalid recipient address"),
        Error::SyntaxError { syntax } => Reply::new(501, "5.5.4", format!("syntax: {syntax}")),
        Error::InvalidParameter { param } => Reply::new(501, "5.5.4", format!("invalid {param} parameter")),
        Error::UnsupportedParameter { param } => {
            // The name comes from the client: keep it short in the reply.
            let param: String = param.chars().take(32).collect();
            Reply::new(555, "5.5.4", format!("unsupported parameter {param}"))
        }
        Error::NeedsMoreData { .. } | Error::ResponseTooLong | Error::InvalidResponse { .. } => {
            Reply::new(500, "5.5.2", "syntax error")
        }
    }
}

#[cfg(test)]
mod tests;

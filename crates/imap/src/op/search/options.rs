//! SEARCH RETURN (RFC 4731 ESEARCH, RFC 9051 §6.4.4): imap-codec does not
//! parse the result options, so they are taken off the command here and
//! the rest is parsed as a plain SEARCH.

use crate::tokens::{Kind, tokens};

/// The result options of `SEARCH RETURN (...)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReturnOptions {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    /// SEARCHRES (RFC 5182): keep the result for `$`.
    pub save: bool,
}

impl ReturnOptions {
    /// What a plain SEARCH returns as ESEARCH under IMAP4rev2.
    pub(crate) const ALL: ReturnOptions =
        ReturnOptions { min: false, max: false, all: true, count: false, save: false };

    /// Whether an ESEARCH response is written at all: SAVE alone asks
    /// for none (RFC 5182 §2.4).
    pub(crate) fn answers(&self) -> bool {
        self.min || self.max || self.all || self.count
    }
}

/// `tag [UID] SEARCH RETURN (options) criteria`: the options and the
/// command with `RETURN (options)` taken out. `None` when the command
/// is not a SEARCH with RETURN; `Err` when the options are not known.
pub(crate) fn strip_return(command: &[u8]) -> Option<Result<(ReturnOptions, Vec<u8>), &'static str>> {
    let tokens = tokens(command)?;
    let mut at = 1;
    if tokens.get(at)?.is(command, "UID") {
        at += 1;
    }
    if !tokens.get(at)?.is(command, "SEARCH") || !tokens.get(at + 1)?.is(command, "RETURN") {
        return None;
    }
    let return_start = tokens[at + 1].range.start;
    if tokens.get(at + 2).map(|t| t.kind) != Some(Kind::Open) {
        return Some(Err("RETURN needs a list of result options"));
    }
    let mut options = ReturnOptions::default();
    let mut close = None;
    for (index, token) in tokens.iter().enumerate().skip(at + 3) {
        let word = &command[token.range.clone()];
        let option = match token.kind {
            Kind::Close => {
                close = Some(index);
                break;
            }
            Kind::Atom => word.to_ascii_uppercase(),
            Kind::Open | Kind::String => return Some(Err("unknown SEARCH result option")),
        };
        let flag = match option.as_slice() {
            b"MIN" => &mut options.min,
            b"MAX" => &mut options.max,
            b"ALL" => &mut options.all,
            b"COUNT" => &mut options.count,
            b"SAVE" => &mut options.save,
            _ => return Some(Err("unknown SEARCH result option")),
        };
        *flag = true;
    }
    let Some(close) = close else { return Some(Err("unbalanced parentheses in RETURN")) };
    // RETURN () means ALL (RFC 4731 §3.1).
    if options == ReturnOptions::default() {
        options.all = true;
    }
    let mut rest_start = tokens[close].range.end;
    if command.get(rest_start) == Some(&b' ') {
        rest_start += 1;
    }
    let mut rewritten = command[..return_start].to_vec();
    rewritten.extend_from_slice(&command[rest_start..]);
    Some(Ok((options, rewritten)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str, expected: Option<Result<(ReturnOptions, &str), &str>>) {
        let found = strip_return(command.as_bytes());
        let found = found.map(|r| r.map(|(options, rest)| (options, String::from_utf8(rest).unwrap())));
        let expected = expected.map(|r| r.map(|(options, rest)| (options, rest.to_owned())));
        assert_eq!(found, expected, "{command}");
    }

    #[test]
    fn result_options() {
        let all = ReturnOptions::ALL;
        let min_count = ReturnOptions { min: true, count: true, ..ReturnOptions::default() };
        let save = ReturnOptions { save: true, ..ReturnOptions::default() };
        check("a SEARCH RETURN () ALL\r\n", Some(Ok((all, "a SEARCH ALL\r\n"))));
        check("a UID search return (min COUNT) SEEN\r\n", Some(Ok((min_count, "a UID search SEEN\r\n"))));
        check(
            "a SEARCH RETURN (SAVE) CHARSET UTF-8 TEXT {3}\r\nabc\r\n",
            Some(Ok((save, "a SEARCH CHARSET UTF-8 TEXT {3}\r\nabc\r\n"))),
        );
        check("a SEARCH ALL\r\n", None);
        check("a FETCH 1 (RETURN)\r\n", None);
        check("a SEARCH RETURN (PARTIAL 1:5) ALL\r\n", Some(Err("unknown SEARCH result option")));
        check("a SEARCH RETURN (MIN ALL\r\n", Some(Err("unbalanced parentheses in RETURN")));
        check("a SEARCH RETURN ALL\r\n", Some(Err("RETURN needs a list of result options")));
    }

    /// Every prefix of a command (as the fuzzer might cut it) is answered
    /// without a panic.
    #[test]
    fn truncated_commands() {
        let command = b"a UID SEARCH RETURN (MIN SAVE) CHARSET UTF-8 TEXT ~{3+}\r\n$\"x OR (\"a\\\"\" $) UID $\r\n";
        for end in 0..=command.len() {
            let _ = strip_return(&command[..end]);
            let _ = crate::tokens::tokens(&command[..end]);
        }
    }
}

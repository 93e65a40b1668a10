//! A lexer for the few command rewrites done before imap-codec sees a
//! command (SEARCH RETURN, `$`, 8-bit quoted strings): it knows atoms,
//! parentheses, quoted strings and literals, so that a `$` or `RETURN`
//! inside a string or a literal is never taken for a token.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Atom,
    /// A quoted string or a literal: an argument, never a keyword.
    String,
    Open,
    Close,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Where the token is in the command, quotes and literal marker
    /// included.
    pub range: Range<usize>,
}

impl Token {
    /// Whether this is the atom `word` (ASCII case-insensitive).
    pub fn is(&self, command: &[u8], word: &str) -> bool {
        self.kind == Kind::Atom && command[self.range.clone()].eq_ignore_ascii_case(word.as_bytes())
    }
}

/// The command's tokens; `None` when it is malformed (an unterminated
/// string, a literal longer than what follows), which imap-codec then
/// refuses with its own answer.
pub(crate) fn tokens(command: &[u8]) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < command.len() {
        let start = at;
        let kind = match command[at] {
            b' ' | b'\r' | b'\n' => {
                at += 1;
                continue;
            }
            b'(' => {
                at += 1;
                Kind::Open
            }
            b')' => {
                at += 1;
                Kind::Close
            }
            b'"' => {
                at = quoted_end(command, at)?;
                Kind::String
            }
            b'{' => {
                at = literal_end(command, at)?;
                Kind::String
            }
            b'~' if command.get(at + 1) == Some(&b'{') => {
                at = literal_end(command, at + 1)?;
                Kind::String
            }
            _ => {
                while at < command.len() && !b" \r\n()\"".contains(&command[at]) {
                    at += 1;
                }
                Kind::Atom
            }
        };
        tokens.push(Token { kind, range: start..at });
    }
    Some(tokens)
}

/// Just past the closing quote of the string opening at `at`.
fn quoted_end(command: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    while at < command.len() {
        match command[at] {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// Just past the data of the literal whose `{n}` (or `{n+}`) opens at
/// `at`; the framer put a line break after the marker.
fn literal_end(command: &[u8], at: usize) -> Option<usize> {
    let close = at + memchr::memchr(b'}', &command[at..])?;
    let digits = &command[at + 1..close];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let rest = &command[close + 1..];
    let line_break = if rest.starts_with(b"\r\n") {
        2
    } else if rest.starts_with(b"\n") {
        1
    } else {
        return None;
    };
    let end = close + 1 + line_break + length;
    (end <= command.len()).then_some(end)
}

/// The command with every quoted string that holds 8-bit bytes turned
/// into a literal (`{n+}`); `None` when there is none. imap-codec's
/// quoted strings are 7-bit only, but RFC 9051 §4.3 allows UTF-8 in them,
/// and rev1 clients send UTF-8 mailbox names and passwords that way too.
pub(crate) fn quoted_8bit_as_literals(command: &[u8]) -> Option<Vec<u8>> {
    let tokens = tokens(command)?;
    let quoted_8bit = |t: &&Token| command[t.range.start] == b'"' && !command[t.range.clone()].is_ascii();
    if !tokens.iter().any(|t| quoted_8bit(&t)) {
        return None;
    }
    let mut out = Vec::with_capacity(command.len() + 16);
    let mut copied = 0;
    for token in tokens.iter().filter(quoted_8bit) {
        out.extend_from_slice(&command[copied..token.range.start]);
        let inner = &command[token.range.start + 1..token.range.end - 1];
        let mut value = Vec::with_capacity(inner.len());
        let mut bytes = inner.iter();
        while let Some(&b) = bytes.next() {
            value.push(if b == b'\\' { bytes.next().copied().unwrap_or(b) } else { b });
        }
        out.extend_from_slice(format!("{{{}+}}\r\n", value.len()).as_bytes());
        out.extend_from_slice(&value);
        copied = token.range.end;
    }
    out.extend_from_slice(&command[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str, expected: &[&str]) {
        let found = tokens(command.as_bytes())
            .map(|tokens| tokens.iter().map(|t| command[t.range.clone()].to_owned()).collect::<Vec<_>>());
        assert_eq!(found, Some(expected.iter().map(|s| (*s).to_owned()).collect()), "{command}");
    }

    #[test]
    fn splits_commands() {
        check("a FETCH $ (FLAGS)\r\n", &["a", "FETCH", "$", "(", "FLAGS", ")"]);
        check("a SEARCH SUBJECT \"a $ \\\" b\" $\r\n", &["a", "SEARCH", "SUBJECT", "\"a $ \\\" b\"", "$"]);
        check("a SEARCH TEXT {3}\r\n$ )\r\n", &["a", "SEARCH", "TEXT", "{3}\r\n$ )"]);
        check("a SEARCH TEXT ~{2+}\r\n$$ ALL\r\n", &["a", "SEARCH", "TEXT", "~{2+}\r\n$$", "ALL"]);
        assert!(tokens(b"a SEARCH \"open\r\n").is_none());
        assert!(tokens(b"a SEARCH {9}\r\nab\r\n").is_none());
    }

    #[test]
    fn quoted_8bit_strings_become_literals() {
        let command = "a CREATE \"R\u{e9}p \\\"x\\\\\" \"ascii\" {2}\r\n\u{e9}\r\n";
        let rewritten = quoted_8bit_as_literals(command.as_bytes()).unwrap();
        assert_eq!(rewritten, "a CREATE {8+}\r\nR\u{e9}p \"x\\ \"ascii\" {2}\r\n\u{e9}\r\n".as_bytes());
        assert_eq!(quoted_8bit_as_literals(b"a CREATE \"plain\"\r\n"), None);
        assert_eq!(quoted_8bit_as_literals(b"a CREATE \"open\xe9\r\n"), None);
    }
}

//! Writing responses: status lines, strings, flag lists and dates.

use std::fmt::{self, Write as _};
use store::Flag;
use types::Uid;

/// `tag OK|NO|BAD [code] text`.
pub(crate) fn tagged(out: &mut Vec<u8>, tag: &str, status: &str, text: impl fmt::Display) {
    line(out, format_args!("{tag} {status} {text}"));
}

/// One response line, CRLF added.
pub(crate) fn line(out: &mut Vec<u8>, text: fmt::Arguments<'_>) {
    let mut s = String::new();
    let _ = s.write_fmt(text);
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A string as a quoted string when it can be one, else as a literal.
pub(crate) fn string(out: &mut Vec<u8>, value: &[u8]) {
    let quotable = value.len() < 1024 && value.iter().all(|b| b.is_ascii() && *b != b'\r' && *b != b'\n' && *b != 0);
    if quotable {
        out.push(b'"');
        for b in value {
            if *b == b'"' || *b == b'\\' {
                out.push(b'\\');
            }
            out.push(*b);
        }
        out.push(b'"');
    } else {
        literal(out, value);
    }
}

pub(crate) fn literal(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", value.len()).as_bytes());
    out.extend_from_slice(value);
}

pub(crate) fn flag_name(flag: &Flag) -> &str {
    match flag {
        Flag::Seen => "\\Seen",
        Flag::Answered => "\\Answered",
        Flag::Flagged => "\\Flagged",
        Flag::Deleted => "\\Deleted",
        Flag::Draft => "\\Draft",
        Flag::Keyword(k) => k,
    }
}

/// `(\Seen \Flagged $Label)`.
pub(crate) fn flag_list(flags: &[Flag]) -> String {
    let names: Vec<&str> = flags.iter().map(flag_name).collect();
    format!("({})", names.join(" "))
}

/// INTERNALDATE's `"17-Jul-1996 02:44:25 +0000"`.
pub(crate) fn internal_date(unix_seconds: i64) -> String {
    let date = chrono::DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default();
    format!("\"{}\"", date.format("%d-%b-%Y %H:%M:%S +0000"))
}

/// `1:3,7` for UIDs in the order given, runs of consecutive ones joined.
pub(crate) fn uid_set(uids: &[Uid]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for uid in uids {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid.0) => *end = uid.0,
            _ => runs.push((uid.0, uid.0)),
        }
    }
    ranges(&runs)
}

/// `1:3,7` for UID ranges, in the order given.
pub(crate) fn ranges(ranges: &[(u32, u32)]) -> String {
    let parts: Vec<String> =
        ranges.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") }).collect();
    parts.join(",")
}

//! SEARCHRES (RFC 5182): `$` names the result saved by the last
//! `SEARCH RETURN (SAVE)`. imap-codec does not parse `$`, so it is
//! replaced in the command's bytes before decoding, only where a sequence
//! set may stand: right after FETCH, STORE, COPY, MOVE and UID EXPUNGE,
//! and as a search key (or after the UID key) in SEARCH.
//!
//! The result is kept as UIDs, so that it survives expunges; message
//! numbers are worked out from the selected mailbox when `$` is used in a
//! command by number.

use crate::session::ImapSession;
use crate::tokens::{Kind, Token, tokens};
use imap_types::command::{Command, CommandBody};
use net::Step;

/// A command with `$` replaced.
pub(crate) struct Substituted {
    pub bytes: Vec<u8>,
    /// The saved result named no message: a FETCH, STORE, COPY, MOVE or
    /// UID EXPUNGE with it does nothing and succeeds (RFC 5182 §2.1). A
    /// placeholder set stands in for `$` so the rest of the command is
    /// still checked by the parser.
    pub empty: bool,
}

/// Search keys followed by this many arguments, which are never keys.
fn arguments(key: &[u8]) -> usize {
    const ONE: [&str; 19] = [
        "BCC",
        "BEFORE",
        "BODY",
        "CC",
        "CHARSET",
        "FROM",
        "KEYWORD",
        "LARGER",
        "ON",
        "SENTBEFORE",
        "SENTON",
        "SENTSINCE",
        "SINCE",
        "SMALLER",
        "SUBJECT",
        "TEXT",
        "TO",
        "UNKEYWORD",
        "UID",
    ];
    if key.eq_ignore_ascii_case(b"HEADER") {
        2
    } else if ONE.iter().any(|k| key.eq_ignore_ascii_case(k.as_bytes())) {
        1
    } else {
        0
    }
}

impl ImapSession {
    /// The command with every `$` replaced by the saved result; `None`
    /// when it has no `$`, `Err` when there is no saved result to use.
    pub(crate) fn substitute_saved_result(&self, command: &[u8]) -> Result<Option<Substituted>, &'static str> {
        let Some(tokens) = tokens(command) else { return Ok(None) };
        let mut at = 1;
        let uid = tokens.get(at).is_some_and(|t| t.is(command, "UID"));
        if uid {
            at += 1;
        }
        let Some(verb) = tokens.get(at) else { return Ok(None) };
        let is_dollar = |t: &Token| t.is(command, "$");
        // Each replacement: the bytes it replaces, and whether it is a
        // search key (true) or a sequence set (false).
        let mut places = Vec::new();
        let verb_takes_set = ["FETCH", "STORE", "COPY", "MOVE"].iter().any(|v| verb.is(command, v))
            || (uid && verb.is(command, "EXPUNGE"));
        if verb_takes_set {
            if tokens.get(at + 1).is_some_and(is_dollar) {
                places.push((tokens[at + 1].range.clone(), false));
            }
        } else if verb.is(command, "SEARCH") {
            at += 1;
            if tokens.get(at).is_some_and(|t| t.is(command, "RETURN")) {
                at = after_list(&tokens, at + 1);
            }
            while let Some(token) = tokens.get(at) {
                if is_dollar(token) {
                    places.push((token.range.clone(), true));
                    at += 1;
                } else if token.is(command, "UID") && tokens.get(at + 1).is_some_and(is_dollar) {
                    places.push((token.range.start..tokens[at + 1].range.end, true));
                    at += 2;
                } else if token.is(command, "MODSEQ") {
                    // An entry name and type may come before the value.
                    let entry = tokens.get(at + 1).is_some_and(|t| t.kind == Kind::String);
                    at += if entry { 4 } else { 2 };
                } else if token.kind == Kind::Atom {
                    at += 1 + arguments(&command[token.range.clone()]);
                } else {
                    at += 1;
                }
            }
        }
        if places.is_empty() {
            return Ok(None);
        }
        let (Some(saved), Some(selected)) = (&self.saved_result, &self.selected) else {
            return Err("no saved search result: $ needs SEARCH RETURN (SAVE) first");
        };
        let numbers: Vec<u32> = if uid || !verb_takes_set {
            saved.iter().map(|u| u.0).collect()
        } else {
            saved
                .iter()
                .filter_map(|u| selected.messages.binary_search_by_key(u, |m| m.uid).ok())
                .map(|index| u32::try_from(index + 1).unwrap_or(u32::MAX))
                .collect()
        };
        let empty = numbers.is_empty();
        let set = if empty { "1".to_owned() } else { sequence_set(&numbers) };
        let key = if empty { "NOT ALL".to_owned() } else { format!("UID {set}") };
        let mut bytes = Vec::with_capacity(command.len() + set.len());
        let mut copied = 0;
        for (range, is_key) in places {
            bytes.extend_from_slice(&command[copied..range.start]);
            bytes.extend_from_slice(if is_key { key.as_bytes() } else { set.as_bytes() });
            copied = range.end;
        }
        bytes.extend_from_slice(&command[copied..]);
        Ok(Some(Substituted { bytes, empty: empty && verb_takes_set }))
    }

    /// A FETCH, STORE, COPY, MOVE or UID EXPUNGE on an empty saved
    /// result: it succeeds without doing anything (RFC 5182 §2.1).
    pub(crate) fn answer_empty_saved_result(&mut self, command: &Command<'_>, out: &mut Vec<u8>) -> Option<Step> {
        let tag = command.tag.inner();
        Some(match &command.body {
            CommandBody::Fetch { uid: false, .. } => self.ok_without_expunge(out, tag, "FETCH completed"),
            CommandBody::Store { uid: false, .. } => self.ok_without_expunge(out, tag, "STORE completed"),
            CommandBody::Fetch { .. } => self.ok(out, tag, "FETCH completed"),
            CommandBody::Store { .. } => self.ok(out, tag, "STORE completed"),
            CommandBody::Copy { .. } => self.ok(out, tag, "COPY completed"),
            CommandBody::Move { .. } => self.ok(out, tag, "MOVE completed"),
            CommandBody::ExpungeUid { .. } => self.ok(out, tag, "EXPUNGE completed"),
            _ => return None,
        })
    }
}

/// The index just past the parenthesised list starting at `at` (or `at`
/// itself when no list starts there).
fn after_list(tokens: &[Token], at: usize) -> usize {
    if tokens.get(at).map(|t| t.kind) != Some(Kind::Open) {
        return at;
    }
    tokens[at..].iter().position(|t| t.kind == Kind::Close).map_or(tokens.len(), |p| at + p + 1)
}

/// `2:4,7` for ascending numbers, runs of consecutive ones joined.
pub(crate) fn sequence_set(numbers: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            end += 1;
            i += 1;
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    parts.join(",")
}

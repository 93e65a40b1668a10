//! LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819).
//!
//! imap-codec parses only the RFC 3501 form of LIST, so a LIST it refuses
//! is parsed here: selection options, several patterns, return options.
//! The grammar is small (parenthesised atoms, strings and literals);
//! anything else is still a syntax error.

use crate::op::mailbox::{list_matches, special_use, write_name, write_status};
use crate::session::ImapSession;
use crate::write;
use imap_types::status::StatusDataItemName;
use net::Step;
use std::collections::BTreeMap;

/// A LIST command in the RFC 5258 form.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ListExtended {
    pub reference: String,
    pub patterns: Vec<String>,
    /// Selection option SUBSCRIBED: subscribed names only.
    pub select_subscribed: bool,
    /// Selection option SPECIAL-USE (RFC 6154): special-use mailboxes only.
    pub select_special_use: bool,
    /// RECURSIVEMATCH: also parents of selected names, with CHILDINFO.
    pub recursive_match: bool,
    /// Return option SUBSCRIBED (implied by the selection option).
    pub return_subscribed: bool,
    /// Return option STATUS (LIST-STATUS).
    pub status: Option<Vec<StatusDataItemName>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Atom(String),
    String(Vec<u8>),
}

/// Splits a command into atoms, strings (quoted or literal) and
/// parentheses; `None` on anything malformed.
fn tokens(mut input: &[u8]) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    loop {
        while let [b' ' | b'\r' | b'\n', rest @ ..] = input {
            input = rest;
        }
        let Some(&first) = input.first() else { return Some(tokens) };
        match first {
            b'(' => {
                tokens.push(Token::Open);
                input = &input[1..];
            }
            b')' => {
                tokens.push(Token::Close);
                input = &input[1..];
            }
            b'"' => {
                let mut value = Vec::new();
                let mut i = 1;
                loop {
                    match *input.get(i)? {
                        b'"' => break,
                        b'\\' => {
                            value.push(*input.get(i + 1)?);
                            i += 2;
                        }
                        b'\r' | b'\n' => return None,
                        c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::String(value));
                input = &input[i + 1..];
            }
            b'{' => {
                let close = input.iter().position(|b| *b == b'}')?;
                let digits = input[1..close].strip_suffix(b"+").unwrap_or(&input[1..close]);
                let length: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                let rest = input[close + 1..].strip_prefix(b"\r\n")?;
                tokens.push(Token::String(rest.get(..length)?.to_vec()));
                input = &rest[length..];
            }
            _ => {
                let end = input.iter().position(|b| b" ()\r\n\"{".contains(b)).unwrap_or(input.len());
                tokens.push(Token::Atom(String::from_utf8(input[..end].to_vec()).ok()?));
                input = &input[end..];
            }
        }
    }
}

impl ListExtended {
    /// `None` when the command is not a LIST; `Some(Err)` when it is one
    /// with bad syntax or options.
    pub(crate) fn parse(command: &[u8]) -> Option<Result<ListExtended, &'static str>> {
        let tokens = tokens(command)?;
        match tokens.get(1) {
            Some(Token::Atom(name)) if name.eq_ignore_ascii_case("LIST") => Some(Self::parse_tokens(&tokens[2..])),
            _ => None,
        }
    }

    fn parse_tokens(mut tokens: &[Token]) -> Result<ListExtended, &'static str> {
        let mut list = ListExtended::default();
        let mut other_selection = false;
        if let [Token::Open, rest @ ..] = tokens {
            let (options, rest) = atoms_in_parentheses(rest)?;
            for option in options {
                match option.to_ascii_uppercase().as_str() {
                    "SUBSCRIBED" => list.select_subscribed = true,
                    "SPECIAL-USE" => list.select_special_use = true,
                    "REMOTE" => {}
                    "RECURSIVEMATCH" => list.recursive_match = true,
                    _ => return Err("unknown selection option"),
                }
            }
            other_selection = list.select_subscribed || list.select_special_use;
            tokens = rest;
        }
        if list.recursive_match && !other_selection {
            return Err("RECURSIVEMATCH needs another selection option");
        }
        let [reference, rest @ ..] = tokens else { return Err("missing reference") };
        list.reference = string(reference).ok_or("invalid reference")?;
        tokens = rest;
        match tokens {
            [Token::Open, rest @ ..] => {
                let close = rest.iter().position(|t| *t == Token::Close).ok_or("unbalanced parentheses")?;
                for pattern in &rest[..close] {
                    list.patterns.push(string(pattern).ok_or("invalid pattern")?);
                }
                if list.patterns.is_empty() {
                    return Err("no pattern");
                }
                tokens = &rest[close + 1..];
            }
            [pattern, rest @ ..] => {
                list.patterns.push(string(pattern).ok_or("invalid pattern")?);
                tokens = rest;
            }
            [] => return Err("missing pattern"),
        }
        list.return_subscribed = list.select_subscribed;
        match tokens {
            [] => {}
            [Token::Atom(word), Token::Open, rest @ ..] if word.eq_ignore_ascii_case("RETURN") => {
                list.parse_return_options(rest)?;
            }
            _ => return Err("unexpected arguments"),
        }
        Ok(list)
    }

    fn parse_return_options(&mut self, mut tokens: &[Token]) -> Result<(), &'static str> {
        loop {
            match tokens {
                [Token::Close] => return Ok(()),
                [Token::Atom(option), rest @ ..] => {
                    tokens = rest;
                    match option.to_ascii_uppercase().as_str() {
                        "SUBSCRIBED" => self.return_subscribed = true,
                        // Always returned.
                        "CHILDREN" | "SPECIAL-USE" => {}
                        "STATUS" => {
                            let [Token::Open, rest @ ..] = tokens else { return Err("STATUS needs items") };
                            let (items, rest) = atoms_in_parentheses(rest)?;
                            let items = items.iter().map(|i| status_item(i)).collect::<Option<Vec<_>>>();
                            self.status = Some(items.ok_or("unknown status item")?);
                            tokens = rest;
                        }
                        _ => return Err("unknown return option"),
                    }
                }
                _ => return Err("invalid return options"),
            }
        }
    }
}

fn atoms_in_parentheses(tokens: &[Token]) -> Result<(Vec<&str>, &[Token]), &'static str> {
    let close = tokens.iter().position(|t| *t == Token::Close).ok_or("unbalanced parentheses")?;
    let atoms = tokens[..close]
        .iter()
        .map(|t| match t {
            Token::Atom(atom) => Ok(atom.as_str()),
            _ => Err("expected an option name"),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((atoms, &tokens[close + 1..]))
}

/// An astring or list-mailbox; INBOX in any case is INBOX.
fn string(token: &Token) -> Option<String> {
    let value = match token {
        Token::Atom(atom) => atom.clone(),
        Token::String(bytes) => String::from_utf8(bytes.clone()).ok()?,
        _ => return None,
    };
    Some(if value.eq_ignore_ascii_case("INBOX") { "INBOX".to_owned() } else { value })
}

fn status_item(name: &str) -> Option<StatusDataItemName> {
    Some(match name.to_ascii_uppercase().as_str() {
        "MESSAGES" => StatusDataItemName::Messages,
        "RECENT" => StatusDataItemName::Recent,
        "UIDNEXT" => StatusDataItemName::UidNext,
        "UIDVALIDITY" => StatusDataItemName::UidValidity,
        "UNSEEN" => StatusDataItemName::Unseen,
        "DELETED" => StatusDataItemName::Deleted,
        "DELETED-STORAGE" => StatusDataItemName::DeletedStorage,
        "SIZE" => StatusDataItemName::Size,
        _ => return None,
    })
}

/// What LIST knows of one name.
#[derive(Default)]
struct Entry {
    exists: bool,
    subscribed: bool,
}

impl ImapSession {
    pub(crate) fn handle_list_extended(&mut self, tag: &str, list: ListExtended, out: &mut Vec<u8>) -> Step {
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        let enabled = self.enabled;
        if list.patterns.iter().all(String::is_empty) {
            write::line(out, format_args!("* LIST (\\Noselect) \"/\" \"\""));
            return self.ok(out, tag, "LIST completed");
        }
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        for info in account.mailboxes() {
            entries.insert(info.name, Entry { exists: true, subscribed: info.subscribed });
        }
        for name in account.subscriptions() {
            entries.entry(name).or_default().subscribed = true;
        }
        let patterns: Vec<String> = list.patterns.iter().map(|p| format!("{}{p}", list.reference)).collect();
        if patterns.iter().any(|p| p.len() > 1024) {
            return self.bad(out, tag, "pattern too long");
        }
        let selected = |name: &str, entry: &Entry| {
            (!list.select_subscribed || entry.subscribed)
                && (!list.select_special_use || (entry.exists && special_use(name).is_some()))
                && (list.select_subscribed || list.select_special_use || entry.exists)
        };
        for (name, entry) in &entries {
            if !patterns.iter().any(|p| list_matches(p, name, enabled)) {
                continue;
            }
            let prefix = format!("{name}/");
            let mut descendants = entries.range(prefix.clone()..).take_while(|(n, _)| n.starts_with(&prefix));
            // RECURSIVEMATCH: a parent of a selected name is listed too.
            let child_info = list.recursive_match && descendants.clone().any(|(n, e)| selected(n, e));
            if !selected(name, entry) && !child_info {
                continue;
            }
            let mut attributes = Vec::new();
            if entry.exists {
                let children = descendants.any(|(_, e)| e.exists);
                attributes.push(if children { "\\HasChildren" } else { "\\HasNoChildren" });
                attributes.extend(special_use(name));
            } else {
                attributes.push("\\NonExistent");
            }
            if list.return_subscribed && entry.subscribed {
                attributes.push("\\Subscribed");
            }
            let mut line = format!("* LIST ({}) \"/\" ", attributes.join(" ")).into_bytes();
            write_name(&mut line, name, enabled);
            if child_info {
                let criteria = if list.select_subscribed { "\"SUBSCRIBED\"" } else { "\"SPECIAL-USE\"" };
                line.extend_from_slice(format!(" (\"CHILDINFO\" ({criteria}))").as_bytes());
            }
            line.extend_from_slice(b"\r\n");
            out.extend_from_slice(&line);
            if let (Some(items), true) = (&list.status, entry.exists)
                && let Ok(snapshot) = account.snapshot(name)
            {
                write_status(out, &snapshot, items, enabled);
            }
        }
        self.ok(out, tag, "LIST completed")
    }
}

#[cfg(test)]
mod tests;

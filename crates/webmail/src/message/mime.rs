//! The MIME walk: IMAP part paths (`1`, `2.1`), the attachment list, the
//! body to show, and lookups by path and by Content-ID. Pure functions
//! over a parsed `mail_parser::Message`, so they are tested without HTTP.

use mail_parser::{Address, Message, MessagePart, MimeHeaders, PartType};
use std::collections::HashMap;

/// Deeper paths than this are refused: mail-parser bounds its own nesting,
/// and a path from a URL must not make us recurse without bound either.
const MAX_DEPTH: usize = 16;

/// A part path as IMAP numbers parts (RFC 9051 §6.4.5): non-zero numbers
/// joined by dots. Anything else in a URL is not a part of this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPath(Vec<u32>);

impl PartPath {
    /// Only digits and dots; no empty, zero or oversized component.
    pub fn parse(text: &str) -> Option<PartPath> {
        if text.is_empty() || text.len() > 64 {
            return None;
        }
        let mut numbers = Vec::new();
        for component in text.split('.') {
            if component.is_empty() || !component.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let number: u32 = component.parse().ok()?;
            if number == 0 {
                return None;
            }
            numbers.push(number);
        }
        (numbers.len() <= MAX_DEPTH).then_some(PartPath(numbers))
    }
}

/// One downloadable part as the message page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub path: String,
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// What the message page shows as the body, before sanitising.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    Html(String),
    Plain(String),
    Empty,
}

/// The part at `path`, following IMAP's numbering: in a message whose
/// root is not multipart the body is part `1`; inside a message/rfc822
/// part the numbering starts again on the nested message.
pub fn find_part<'a>(message: &'a Message<'a>, path: &PartPath) -> Option<&'a MessagePart<'a>> {
    let (first, rest) = path.0.split_first()?;
    let mut current = message_child(message, *first)?;
    let mut owner = message;
    for &number in rest {
        match &current.body {
            PartType::Message(nested) => {
                owner = nested;
                current = message_child(nested, number)?;
            }
            PartType::Multipart(children) => {
                let id = *children.get(index(number)?)?;
                current = owner.parts.get(id as usize)?;
            }
            _ => return None,
        }
    }
    Some(current)
}

/// Child `number` (1-based) of a message's root part.
fn message_child<'a>(message: &'a Message<'a>, number: u32) -> Option<&'a MessagePart<'a>> {
    let root = message.parts.first()?;
    match &root.body {
        PartType::Multipart(children) => message.parts.get(*children.get(index(number)?)? as usize),
        _ if number == 1 => Some(root),
        _ => None,
    }
}

fn index(number: u32) -> Option<usize> {
    usize::try_from(number).ok()?.checked_sub(1)
}

/// The path of every non-multipart part of the message (nested messages
/// count as one leaf), keyed by mail-parser's part id.
pub fn leaf_paths(message: &Message<'_>) -> HashMap<u32, String> {
    let mut paths = HashMap::new();
    let Some(root) = message.parts.first() else { return paths };
    match &root.body {
        PartType::Multipart(children) => walk(message, children, "", 0, &mut paths),
        _ => {
            paths.insert(0, "1".to_owned());
        }
    }
    paths
}

fn walk(message: &Message<'_>, children: &[u32], prefix: &str, depth: usize, paths: &mut HashMap<u32, String>) {
    if depth >= MAX_DEPTH {
        return;
    }
    for (position, &id) in children.iter().enumerate() {
        let path = format!("{prefix}{}", position + 1);
        match message.parts.get(id as usize).map(|part| &part.body) {
            Some(PartType::Multipart(grandchildren)) => {
                walk(message, grandchildren, &format!("{path}."), depth + 1, paths);
            }
            Some(_) => {
                paths.insert(id, path);
            }
            None => {}
        }
    }
}

/// The parts a reader would download: mail-parser's attachment list (which
/// leaves out the chosen text and HTML bodies), with their paths.
pub fn attachments(message: &Message<'_>) -> Vec<Attachment> {
    let paths = leaf_paths(message);
    message
        .attachments
        .iter()
        .filter_map(|id| {
            let part = message.parts.get(*id as usize)?;
            let path = paths.get(id)?.clone();
            Some(Attachment {
                name: display_name(part, &path),
                content_type: content_type(part),
                size: part.len(),
                path,
            })
        })
        .collect()
}

/// The name the sender gave the part, or one made from its path.
pub fn display_name(part: &MessagePart<'_>, path: &str) -> String {
    match part.attachment_name() {
        Some(name) if !name.trim().is_empty() => name.to_owned(),
        _ if part.is_message() => format!("message-{path}.eml"),
        _ => format!("part-{path}"),
    }
}

/// `type/subtype` in lower case, with RFC 2045's defaults.
pub fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(declared) => {
            let subtype = declared.subtype().unwrap_or("octet-stream");
            format!("{}/{}", declared.ctype(), subtype).to_ascii_lowercase()
        }
        None if part.is_message() => "message/rfc822".to_owned(),
        None if part.is_text() => "text/plain".to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

/// Content-ID (without angle brackets) → part path, for `cid:` images.
pub fn content_ids(message: &Message<'_>) -> HashMap<String, String> {
    let paths = leaf_paths(message);
    let mut ids = HashMap::new();
    for (id, path) in paths {
        let Some(part) = message.parts.get(id as usize) else { continue };
        if let Some(content_id) = part.content_id() {
            let bare = content_id.trim().trim_start_matches('<').trim_end_matches('>');
            ids.insert(bare.to_owned(), path);
        }
    }
    ids
}

/// The HTML bodies when there are any (mail-parser lists text parts in
/// `html_body` too when there is no HTML alternative), else the text ones.
pub fn body(message: &Message<'_>) -> Body {
    let html = collect(message, &message.html_body, |part| match part {
        PartType::Html(text) => Some(text.as_ref()),
        _ => None,
    });
    if !html.is_empty() {
        return Body::Html(html.join("\n"));
    }
    let plain = collect(message, &message.text_body, |part| match part {
        PartType::Text(text) => Some(text.as_ref()),
        _ => None,
    });
    if plain.is_empty() { Body::Empty } else { Body::Plain(plain.join("\n\n")) }
}

fn collect<'a>(
    message: &'a Message<'a>,
    ids: &[u32],
    pick: impl Fn(&'a PartType<'a>) -> Option<&'a str>,
) -> Vec<&'a str> {
    ids.iter().filter_map(|id| message.parts.get(*id as usize)).filter_map(|part| pick(&part.body)).collect()
}

/// `Name <address>, ...` for the page's header lines.
pub fn format_addresses(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else { return String::new() };
    address
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(name), Some(email)) if !name.is_empty() => format!("{name} <{email}>"),
            (_, Some(email)) => email.to_owned(),
            (Some(name), None) => name.to_owned(),
            (None, None) => String::new(),
        })
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "mime_tests.rs"]
mod tests;

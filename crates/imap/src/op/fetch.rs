//! FETCH and UID FETCH: flags, dates, sizes, and the message's bytes by
//! RFC 822 section (whole, HEADER, HEADER.FIELDS[.NOT], TEXT) with
//! partial ranges. Fetching a body without PEEK sets `\Seen`.

use crate::session::ImapSession;
use crate::write;
use imap_types::fetch::{Macro, MacroOrMessageDataItemNames, MessageDataItemName, Section};
use imap_types::sequence::SequenceSet;
use net::Step;
use store::{Flag, FlagOp};

impl ImapSession {
    pub(crate) async fn handle_fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'_>,
        uid: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let mut items = match items {
            MacroOrMessageDataItemNames::Macro(Macro::Fast) => {
                vec![MessageDataItemName::Flags, MessageDataItemName::InternalDate, MessageDataItemName::Rfc822Size]
            }
            MacroOrMessageDataItemNames::Macro(_) => return self.bad(out, tag, "ENVELOPE is not supported yet"),
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
        };
        for item in &items {
            if let Err(reason) = supported(item) {
                return self.bad(out, tag, reason);
            }
        }
        if uid && !items.contains(&MessageDataItemName::Uid) {
            items.insert(0, MessageDataItemName::Uid);
        }
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        let indices = match selected.resolve(set, uid) {
            Ok(indices) => indices,
            Err(_) => return self.bad(out, tag, "invalid sequence set"),
        };
        let sets_seen = !selected.read_only && items.iter().any(sets_seen);
        let mailbox = selected.id;
        let needs_body = items.iter().any(needs_body);
        if sets_seen {
            let unseen: Vec<_> = indices
                .iter()
                .map(|i| &selected.messages[*i])
                .filter(|m| !m.flags.contains(&Flag::Seen))
                .map(|m| m.uid)
                .collect();
            if !unseen.is_empty() {
                match account.set_flags(mailbox, &unseen, FlagOp::Add, &[Flag::Seen], None).await {
                    Ok((changed, _)) => {
                        if let Some(selected) = &mut self.selected {
                            selected.record(&changed);
                        }
                    }
                    Err(e) => return self.store_error(out, tag, e),
                }
                if !items.contains(&MessageDataItemName::Flags) {
                    items.push(MessageDataItemName::Flags);
                }
            }
        }
        for index in indices {
            let Some(meta) = self.selected.as_ref().map(|s| s.messages[index].clone()) else { break };
            let body = if needs_body {
                match account.read(mailbox, meta.uid).await {
                    Ok(body) => Some(body),
                    // Expunged by another session; it is reported later.
                    Err(store::StoreError::NoSuchMessage(_)) => continue,
                    Err(e) => return self.store_error(out, tag, e),
                }
            } else {
                None
            };
            let body = body.as_deref().unwrap_or_default();
            out.extend_from_slice(format!("* {} FETCH (", index + 1).as_bytes());
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                write_item(out, item, &meta, body);
            }
            out.extend_from_slice(b")\r\n");
        }
        if uid { self.ok(out, tag, "FETCH completed") } else { self.ok_without_expunge(out, tag, "FETCH completed") }
    }
}

fn supported(item: &MessageDataItemName<'_>) -> Result<(), &'static str> {
    match item {
        MessageDataItemName::Flags
        | MessageDataItemName::Uid
        | MessageDataItemName::InternalDate
        | MessageDataItemName::Rfc822Size
        | MessageDataItemName::Rfc822
        | MessageDataItemName::Rfc822Header
        | MessageDataItemName::Rfc822Text => Ok(()),
        MessageDataItemName::BodyExt { section, .. } => match section {
            None
            | Some(Section::Header(None) | Section::Text(None))
            | Some(Section::HeaderFields(None, _) | Section::HeaderFieldsNot(None, _)) => Ok(()),
            Some(_) => Err("MIME part sections are not supported yet"),
        },
        _ => Err("ENVELOPE, BODYSTRUCTURE and BINARY are not supported yet"),
    }
}

fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
            | MessageDataItemName::BodyExt { peek: false, .. }
    )
}

fn needs_body(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Header
            | MessageDataItemName::Rfc822Text
            | MessageDataItemName::BodyExt { .. }
    )
}

fn write_item(out: &mut Vec<u8>, item: &MessageDataItemName<'_>, meta: &store::MessageMeta, body: &[u8]) {
    match item {
        MessageDataItemName::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        MessageDataItemName::Flags => {
            out.extend_from_slice(format!("FLAGS {}", write::flag_list(&meta.flags)).as_bytes());
        }
        MessageDataItemName::InternalDate => {
            out.extend_from_slice(format!("INTERNALDATE {}", write::internal_date(meta.internal_date)).as_bytes());
        }
        MessageDataItemName::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
        MessageDataItemName::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            write::literal(out, body);
        }
        MessageDataItemName::Rfc822Header => {
            out.extend_from_slice(b"RFC822.HEADER ");
            write::literal(out, split(body).0);
        }
        MessageDataItemName::Rfc822Text => {
            out.extend_from_slice(b"RFC822.TEXT ");
            write::literal(out, split(body).1);
        }
        MessageDataItemName::BodyExt { section, partial, .. } => {
            let (name, data) = section_data(section.as_ref(), body);
            let data = match partial {
                Some((origin, length)) => {
                    let start = (*origin as usize).min(data.len());
                    let end = start.saturating_add(length.get() as usize).min(data.len());
                    out.extend_from_slice(format!("BODY[{name}]<{origin}> ").as_bytes());
                    &data[start..end]
                }
                None => {
                    out.extend_from_slice(format!("BODY[{name}] ").as_bytes());
                    &data[..]
                }
            };
            write::literal(out, data);
        }
        _ => {}
    }
}

/// The section's name as echoed in the response, and its bytes.
fn section_data(section: Option<&Section<'_>>, body: &[u8]) -> (String, Vec<u8>) {
    let (header, text) = split(body);
    match section {
        None => (String::new(), body.to_vec()),
        Some(Section::Header(_)) => ("HEADER".to_owned(), header.to_vec()),
        Some(Section::Text(_)) => ("TEXT".to_owned(), text.to_vec()),
        Some(Section::HeaderFields(_, names) | Section::HeaderFieldsNot(_, names)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let names: Vec<String> =
                names.as_ref().iter().map(|n| String::from_utf8_lossy(n.as_ref()).into_owned()).collect();
            let label = format!("HEADER.FIELDS{} ({})", if not { ".NOT" } else { "" }, names.join(" "));
            (label, header_fields(header, &names, not))
        }
        // Refused by `supported`.
        Some(Section::Part(_) | Section::Mime(_)) => (String::new(), Vec::new()),
    }
}

/// The header (with its blank line) and the text of a message.
pub(crate) fn split(body: &[u8]) -> (&[u8], &[u8]) {
    if let Some(at) = memchr::memmem::find(body, b"\r\n\r\n") {
        return body.split_at(at + 4);
    }
    if let Some(at) = memchr::memmem::find(body, b"\n\n") {
        return body.split_at(at + 2);
    }
    (body, &[])
}

/// The header fields named (or, with `not`, those not named), each with
/// its continuation lines, then the blank line.
fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut result = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|b| *b == b':').next().unwrap_or_default();
            let named = names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
            keep = named != not;
        }
        if keep {
            result.extend_from_slice(line);
        }
    }
    result.extend_from_slice(b"\r\n");
    result
}

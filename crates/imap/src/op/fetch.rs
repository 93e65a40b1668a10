//! FETCH and UID FETCH: flags, dates, sizes, ENVELOPE, BODY and
//! BODYSTRUCTURE, the message's bytes by section (RFC 9051 §6.4.5: part
//! numbers, HEADER, HEADER.FIELDS[.NOT], TEXT, MIME) with partial ranges,
//! and BINARY / BINARY.SIZE (RFC 3516). Fetching a body without PEEK sets
//! `\Seen`. The MIME structure is parsed once per message per command
//! (`mime.rs`).

#[cfg(test)]
mod tests;

use crate::mime;
use crate::selected::{intersect, set_ranges};
use crate::session::ImapSession;
use crate::write;
use imap_types::command::FetchModifier;
use imap_types::fetch::{Macro, MacroOrMessageDataItemNames, MessageDataItemName, Part, Section};
use imap_types::sequence::SequenceSet;
use net::Step;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::num::NonZeroU32;
use store::{Extent, Flag, FlagOp};
use types::ModSeq;

impl ImapSession {
    pub(crate) async fn handle_fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'_>,
        uid: bool,
        modifiers: &[FetchModifier],
        out: &mut Vec<u8>,
    ) -> Step {
        let mut changed_since = None;
        let mut vanished = false;
        for modifier in modifiers {
            match modifier {
                FetchModifier::ChangedSince(modseq) => changed_since = Some(modseq.get()),
                FetchModifier::Vanished => vanished = true,
            }
        }
        // RFC 7162 §3.2.6: VANISHED only in UID FETCH with CHANGEDSINCE,
        // after ENABLE QRESYNC.
        if vanished && !(uid && self.enabled.qresync && changed_since.is_some()) {
            return self.bad(out, tag, "VANISHED needs ENABLE QRESYNC, UID FETCH and CHANGEDSINCE");
        }
        let mut items = match items {
            MacroOrMessageDataItemNames::Macro(Macro::Fast) => {
                vec![MessageDataItemName::Flags, MessageDataItemName::InternalDate, MessageDataItemName::Rfc822Size]
            }
            MacroOrMessageDataItemNames::Macro(Macro::All) => vec![
                MessageDataItemName::Flags,
                MessageDataItemName::InternalDate,
                MessageDataItemName::Rfc822Size,
                MessageDataItemName::Envelope,
            ],
            MacroOrMessageDataItemNames::Macro(Macro::Full) => vec![
                MessageDataItemName::Flags,
                MessageDataItemName::InternalDate,
                MessageDataItemName::Rfc822Size,
                MessageDataItemName::Envelope,
                MessageDataItemName::Body,
            ],
            MacroOrMessageDataItemNames::Macro(_) => return self.bad(out, tag, "unknown FETCH macro"),
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
        if changed_since.is_some() && !items.contains(&MessageDataItemName::ModSeq) {
            items.push(MessageDataItemName::ModSeq);
        }
        if items.contains(&MessageDataItemName::ModSeq) {
            // A CONDSTORE-enabling command (RFC 7162 §3.1).
            self.enabled.condstore = true;
        }
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        let mut indices = match selected.resolve(set, uid) {
            Ok(indices) => indices,
            Err(_) => return self.bad(out, tag, "invalid sequence set"),
        };
        if let Some(since) = changed_since {
            indices.retain(|i| selected.messages[*i].modseq.0 > since);
            if vanished {
                let expunged = match account.expunged_since(selected.id, ModSeq(since)) {
                    Ok(expunged) => expunged,
                    Err(e) => return self.store_error(out, tag, e),
                };
                // `*` reaches past the last message: the client may know
                // of UIDs expunged above it.
                let gone = intersect(&expunged, &set_ranges(set, u32::MAX));
                if !gone.is_empty() {
                    write::line(out, format_args!("* VANISHED (EARLIER) {}", write::ranges(&gone)));
                }
            }
        }
        let sets_seen = !selected.read_only && items.iter().any(sets_seen);
        let mailbox = selected.id;
        let needs_body = items.iter().any(needs_body);
        let needs_structure = items.iter().any(needs_structure);
        // \Seen is set only once every response is built: a FETCH that
        // fails (an unknown transfer encoding, a storage error) changes
        // nothing. The responses already show the flag it will get.
        let unseen: Vec<_> = if sets_seen {
            indices
                .iter()
                .map(|i| &selected.messages[*i])
                .filter(|m| !m.flags.contains(&Flag::Seen))
                .map(|m| m.uid)
                .collect()
        } else {
            Vec::new()
        };
        if !unseen.is_empty() && !items.contains(&MessageDataItemName::Flags) {
            items.push(MessageDataItemName::Flags);
        }
        // Header-only items are served from the header's bytes alone,
        // which is all the store then reads of each message.
        let extent = if items.iter().all(header_only) { Extent::Header } else { Extent::Whole };
        let mut responses = Vec::new();
        // Messages are read a batch at a time, one trip to the store each.
        let mut read_ahead = VecDeque::new();
        for (n, index) in indices.iter().copied().enumerate() {
            let Some(mut meta) = self.selected.as_ref().map(|s| s.messages[index].clone()) else { break };
            let body = if needs_body {
                if read_ahead.is_empty() {
                    let Some(selected) = &self.selected else { break };
                    let batch = batch(&indices[n..], &selected.messages, extent);
                    let uids: Vec<_> = batch.iter().map(|i| selected.messages[*i].uid).collect();
                    match account.read_many(mailbox, &uids, extent).await {
                        Ok(bodies) => read_ahead.extend(bodies),
                        Err(e) => return self.store_error(out, tag, e),
                    }
                }
                match read_ahead.pop_front() {
                    Some(Some(body)) => Some(body),
                    // Expunged by another session; it is reported later.
                    _ => continue,
                }
            } else {
                None
            };
            if unseen.contains(&meta.uid) {
                meta.flags.push(Flag::Seen);
            }
            let body = body.as_deref().unwrap_or_default();
            let structure = needs_structure.then(|| mime::parse(body));
            responses.extend_from_slice(format!("* {} FETCH (", index + 1).as_bytes());
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    responses.push(b' ');
                }
                if let Err(code) = write_item(&mut responses, item, &meta, body, structure.as_ref()) {
                    return self.no(out, tag, code);
                }
            }
            responses.extend_from_slice(b")\r\n");
        }
        if !unseen.is_empty() {
            match account.set_flags(mailbox, &unseen, FlagOp::Add, &[Flag::Seen], None).await {
                Ok((changed, _)) => {
                    if let Some(selected) = &mut self.selected {
                        selected.record(&changed);
                        if self.enabled.condstore {
                            // The responses above were built before \Seen
                            // was set and carry the older modseq.
                            for meta in &changed {
                                let Ok(index) = selected.messages.binary_search_by_key(&meta.uid, |m| m.uid) else {
                                    continue;
                                };
                                let line =
                                    format!("* {} FETCH (UID {} MODSEQ ({}))\r\n", index + 1, meta.uid, meta.modseq.0);
                                responses.extend_from_slice(line.as_bytes());
                            }
                        }
                    }
                }
                Err(e) => return self.store_error(out, tag, e),
            }
        }
        out.extend_from_slice(&responses);
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
        | MessageDataItemName::Rfc822Text
        | MessageDataItemName::Envelope
        | MessageDataItemName::Body
        | MessageDataItemName::BodyStructure
        | MessageDataItemName::BodyExt { .. }
        | MessageDataItemName::Binary { .. }
        | MessageDataItemName::BinarySize { .. }
        | MessageDataItemName::ModSeq => Ok(()),
        #[allow(unreachable_patterns)]
        _ => Err("unsupported FETCH item"),
    }
}

fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
            | MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Binary { peek: false, .. }
    )
}

fn needs_structure(item: &MessageDataItemName<'_>) -> bool {
    match item {
        MessageDataItemName::Envelope
        | MessageDataItemName::Body
        | MessageDataItemName::BodyStructure
        | MessageDataItemName::Binary { .. }
        | MessageDataItemName::BinarySize { .. } => true,
        // Sections of the message itself are found without the MIME
        // structure, which keeps header-only fetches cheap.
        MessageDataItemName::BodyExt { section, .. } => !matches!(
            section,
            None | Some(
                Section::Header(None)
                    | Section::Text(None)
                    | Section::HeaderFields(None, _)
                    | Section::HeaderFieldsNot(None, _)
            )
        ),
        _ => false,
    }
}

fn needs_body(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Header
            | MessageDataItemName::Rfc822Text
            | MessageDataItemName::BodyExt { .. }
            | MessageDataItemName::Envelope
            | MessageDataItemName::Body
            | MessageDataItemName::BodyStructure
            | MessageDataItemName::Binary { .. }
            | MessageDataItemName::BinarySize { .. }
    )
}

/// Whether the item needs no more of the message than its header
/// (`split(body).0`), if any of it.
fn header_only(item: &MessageDataItemName<'_>) -> bool {
    !needs_body(item)
        || matches!(
            item,
            MessageDataItemName::Rfc822Header
                | MessageDataItemName::BodyExt {
                    section: Some(
                        Section::Header(None) | Section::HeaderFields(None, _) | Section::HeaderFieldsNot(None, _)
                    ),
                    ..
                }
        )
}

/// Messages read in one trip to the store: enough that the trip's cost
/// is spread thin, few enough that the bytes held at once stay bounded
/// and the session lets others run between trips.
const BATCH_MESSAGES: usize = 128;
const BATCH_BYTES: u64 = 4 << 20;
/// What a header read is counted as: most headers are a few KiB.
const HEADER_ESTIMATE: u64 = 8 << 10;

/// The first of `indices` (at least one) to read in one trip.
pub(crate) fn batch<'a>(indices: &'a [usize], messages: &[store::MessageMeta], extent: Extent) -> &'a [usize] {
    let mut bytes = 0u64;
    let mut len = 0;
    for index in indices.iter().take(BATCH_MESSAGES) {
        let size = messages[*index].size;
        bytes = bytes.saturating_add(if extent == Extent::Header { size.min(HEADER_ESTIMATE) } else { size });
        len += 1;
        if bytes >= BATCH_BYTES {
            break;
        }
    }
    &indices[..len.max(1).min(indices.len())]
}

/// Writes one item; `Err` is the text of a tagged `NO` for the command.
fn write_item(
    out: &mut Vec<u8>,
    item: &MessageDataItemName<'_>,
    meta: &store::MessageMeta,
    body: &[u8],
    structure: Option<&mime::Part>,
) -> Result<(), &'static str> {
    match (item, structure) {
        (MessageDataItemName::Uid, _) => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        (MessageDataItemName::Flags, _) => {
            out.extend_from_slice(format!("FLAGS {}", write::flag_list(&meta.flags)).as_bytes());
        }
        (MessageDataItemName::InternalDate, _) => {
            out.extend_from_slice(format!("INTERNALDATE {}", write::internal_date(meta.internal_date)).as_bytes());
        }
        (MessageDataItemName::ModSeq, _) => out.extend_from_slice(format!("MODSEQ ({})", meta.modseq.0).as_bytes()),
        (MessageDataItemName::Rfc822Size, _) => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
        (MessageDataItemName::Rfc822, _) => {
            out.extend_from_slice(b"RFC822 ");
            write::literal(out, body);
        }
        (MessageDataItemName::Rfc822Header, _) => {
            out.extend_from_slice(b"RFC822.HEADER ");
            write::literal(out, split(body).0);
        }
        (MessageDataItemName::Rfc822Text, _) => {
            out.extend_from_slice(b"RFC822.TEXT ");
            write::literal(out, split(body).1);
        }
        (MessageDataItemName::Envelope, Some(structure)) => {
            out.extend_from_slice(b"ENVELOPE ");
            mime::write_envelope(out, body, structure);
        }
        (MessageDataItemName::Body, Some(structure)) => {
            out.extend_from_slice(b"BODY ");
            mime::write_body(out, body, structure, false);
        }
        (MessageDataItemName::BodyStructure, Some(structure)) => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            mime::write_body(out, body, structure, true);
        }
        (MessageDataItemName::BodyExt { section, partial, .. }, structure) => {
            let (name, data) = section_data(section.as_ref(), body, structure);
            write_partial(out, "BODY", &name, data.as_deref(), *partial);
        }
        (MessageDataItemName::Binary { section, partial, .. }, Some(structure)) => {
            let data = binary(section, body, structure)?;
            write_partial(out, "BINARY", &part_name(section), data.as_deref(), *partial);
        }
        (MessageDataItemName::BinarySize { section }, Some(structure)) => {
            let size = binary(section, body, structure)?.map_or(0, |data| data.len());
            out.extend_from_slice(format!("BINARY.SIZE[{}] {size}", part_name(section)).as_bytes());
        }
        _ => {}
    }
    Ok(())
}

/// `BODY[name]<origin> data`: a missing part is NIL, a partial range past
/// the end an empty string. BINARY data with a NUL goes as a literal8
/// (RFC 3516); BODY data goes as it always has, a literal.
fn write_partial(out: &mut Vec<u8>, item: &str, name: &str, data: Option<&[u8]>, partial: Option<(u32, NonZeroU32)>) {
    out.extend_from_slice(format!("{item}[{name}]").as_bytes());
    let Some(data) = data else {
        out.extend_from_slice(b" NIL");
        return;
    };
    let data = match partial {
        Some((origin, length)) => {
            out.extend_from_slice(format!("<{origin}>").as_bytes());
            let start = (origin as usize).min(data.len());
            let end = start.saturating_add(length.get() as usize).min(data.len());
            &data[start..end]
        }
        None => data,
    };
    out.push(b' ');
    if item == "BINARY" && data.contains(&0) {
        out.push(b'~');
    }
    write::literal(out, data);
}

/// A leaf part's content with its content-transfer-encoding undone
/// (RFC 3516); `Ok(None)` for a part that does not exist.
fn binary<'a>(
    section: &[NonZeroU32],
    body: &'a [u8],
    structure: &mime::Part,
) -> Result<Option<Cow<'a, [u8]>>, &'static str> {
    if section.is_empty() {
        return Ok(Some(Cow::Borrowed(body)));
    }
    let Some(part) = structure.find(section) else { return Ok(None) };
    let raw = &body[part.body.clone()];
    if part.is_multipart() {
        return Ok(Some(Cow::Borrowed(raw)));
    }
    match part.transfer_encoding().as_deref() {
        None => Ok(Some(Cow::Borrowed(raw))),
        Some("base64") => mail_parser::decoders::base64::base64_decode(raw)
            .map(|d| Some(Cow::Owned(d)))
            .ok_or("[UNKNOWN-CTE] invalid base64 content"),
        Some("quoted-printable") => mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)
            .map(|d| Some(Cow::Owned(d)))
            .ok_or("[UNKNOWN-CTE] invalid quoted-printable content"),
        Some(_) => Err("[UNKNOWN-CTE] unknown content-transfer-encoding"),
    }
}

fn part_name(numbers: &[NonZeroU32]) -> String {
    let names: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    names.join(".")
}

/// `1.2.` for a section's part, empty for none.
fn prefix(part: Option<&Part>) -> String {
    part.map(|p| format!("{}.", part_name(p.0.as_ref()))).unwrap_or_default()
}

/// The section's name as echoed in the response, and its bytes (`None`
/// when the part does not exist or is not a message).
fn section_data<'a>(
    section: Option<&Section<'_>>,
    body: &'a [u8],
    structure: Option<&mime::Part>,
) -> (String, Option<Cow<'a, [u8]>>) {
    let numbers = |part: Option<&Part>| part.map(|p| p.0.as_ref().to_vec()).unwrap_or_default();
    // The message a HEADER/TEXT section is about, as (header, text).
    let message = |part: Option<&Part>| -> Option<(&'a [u8], &'a [u8])> {
        match (part, structure) {
            (None, _) => Some(split(body)),
            (Some(part), Some(structure)) => {
                let message = structure.message(&numbers(Some(part)))?;
                Some((&body[message.header.clone()], &body[message.body.clone()]))
            }
            (Some(_), None) => None,
        }
    };
    match section {
        None => (String::new(), Some(Cow::Borrowed(body))),
        Some(Section::Part(part)) => {
            let data = structure.and_then(|s| s.find(part.0.as_ref())).map(|p| Cow::Borrowed(&body[p.body.clone()]));
            (part_name(part.0.as_ref()), data)
        }
        Some(Section::Mime(part)) => {
            let data = structure.and_then(|s| s.find(part.0.as_ref())).map(|p| Cow::Borrowed(&body[p.header.clone()]));
            (format!("{}MIME", prefix(Some(part))), data)
        }
        Some(Section::Header(part)) => {
            (format!("{}HEADER", prefix(part.as_ref())), message(part.as_ref()).map(|(h, _)| Cow::Borrowed(h)))
        }
        Some(Section::Text(part)) => {
            (format!("{}TEXT", prefix(part.as_ref())), message(part.as_ref()).map(|(_, t)| Cow::Borrowed(t)))
        }
        Some(Section::HeaderFields(part, names) | Section::HeaderFieldsNot(part, names)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let names: Vec<String> =
                names.as_ref().iter().map(|n| String::from_utf8_lossy(n.as_ref()).into_owned()).collect();
            let label = format!(
                "{}HEADER.FIELDS{} ({})",
                prefix(part.as_ref()),
                if not { ".NOT" } else { "" },
                names.join(" ")
            );
            let data = message(part.as_ref()).map(|(h, _)| Cow::Owned(header_fields(h, &names, not)));
            (label, data)
        }
    }
}

/// The header (with its blank line) and the text of a message. The
/// header ends at the first empty line, as the store's header-only reads
/// and the MIME parser (`mime.rs`) have it.
pub(crate) fn split(body: &[u8]) -> (&[u8], &[u8]) {
    body.split_at(store::header_length(body))
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

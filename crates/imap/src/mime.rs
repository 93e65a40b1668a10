//! The MIME structure of a stored message, for ENVELOPE, BODYSTRUCTURE,
//! part sections and BINARY.
//!
//! The tree and its byte ranges are found here, over the raw bytes, so
//! that every section is an exact slice of the message as stored; each
//! header block is parsed by mail-parser (addresses, encoded words,
//! parameters). Malformed input never fails: a multipart without a usable
//! boundary becomes a single text/plain part (RFC 9051 §7.5.2), a missing
//! close delimiter ends the last part at the end of its parent.

use crate::write;
use mail_parser::{Addr, Address, ContentType, Header, HeaderName, HeaderValue, MessageParser};
use std::num::NonZeroU32;
use std::ops::Range;

/// Nesting deeper than this is treated as an opaque leaf.
const MAX_DEPTH: usize = 20;

/// One MIME entity: its header block (with the blank line) and body.
pub(crate) struct Part {
    pub header: Range<usize>,
    pub body: Range<usize>,
    pub kind: Kind,
    info: Info,
}

pub(crate) enum Kind {
    Leaf,
    Multipart(Vec<Part>),
    /// message/rfc822: the encapsulated message.
    Message(Box<Part>),
}

/// What the part's header says about it.
struct Info {
    media_type: String,
    subtype: String,
    params: Vec<(String, String)>,
    id: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
    encoding: Option<String>,
    disposition: Option<(String, Vec<(String, String)>)>,
    language: Vec<String>,
    location: Option<Vec<u8>>,
}

/// The message's structure; never fails.
pub(crate) fn parse(raw: &[u8]) -> Part {
    parse_entity(raw, 0..raw.len(), false, 0)
}

fn parse_entity(raw: &[u8], range: Range<usize>, digest: bool, depth: usize) -> Part {
    let bytes = &raw[range.clone()];
    let header_len = header_length(bytes);
    let header = range.start..range.start + header_len;
    let body = header.end..range.end;
    let headers = parse_headers(&raw[header.clone()]);
    let mut info = info(&headers, &raw[header.clone()], digest);
    let multipart = info.media_type.eq_ignore_ascii_case("multipart");
    let kind = if depth >= MAX_DEPTH {
        if multipart {
            info.as_text_plain();
        }
        Kind::Leaf
    } else if multipart {
        let boundary = info.params.iter().find(|(n, _)| n.eq_ignore_ascii_case("boundary")).map(|(_, v)| v.clone());
        let ranges = boundary.map(|b| split_multipart(raw, body.clone(), b.as_bytes())).unwrap_or_default();
        if ranges.is_empty() {
            info.as_text_plain();
            Kind::Leaf
        } else {
            let digest = info.subtype.eq_ignore_ascii_case("digest");
            Kind::Multipart(ranges.into_iter().map(|r| parse_entity(raw, r, digest, depth + 1)).collect())
        }
    } else if is_message(&info) && !encoded(&info) {
        Kind::Message(Box::new(parse_entity(raw, body.clone(), false, depth + 1)))
    } else {
        Kind::Leaf
    };
    Part { header, body, kind, info }
}

impl Info {
    /// The fallback for a multipart that cannot be split.
    fn as_text_plain(&mut self) {
        self.media_type = "text".into();
        self.subtype = "plain".into();
        self.params = vec![("charset".into(), "us-ascii".into())];
    }
}

/// message/rfc822, whose BODYSTRUCTURE carries an envelope, a body and
/// lines (message/global is sent as a basic part: rev1 clients do not
/// know it).
fn is_message(info: &Info) -> bool {
    info.media_type.eq_ignore_ascii_case("message") && info.subtype.eq_ignore_ascii_case("rfc822")
}

fn encoded(info: &Info) -> bool {
    info.encoding.as_deref().is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e != "7bit" && e != "8bit" && e != "binary"
    })
}

/// The length of the header block, blank line included; the whole input
/// when there is no blank line.
fn header_length(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at < bytes.len() {
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n + 1);
        let line = &bytes[at..line_end];
        if line == b"\r\n" || line == b"\n" {
            return line_end;
        }
        at = line_end;
    }
    bytes.len()
}

/// The body parts of a multipart body: the ranges between delimiter
/// lines, the line break before each delimiter belonging to it.
fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = body.start;
    while at < body.end {
        let line_end = memchr::memchr(b'\n', &raw[at..body.end]).map_or(body.end, |n| at + n + 1);
        let line = &raw[at..line_end];
        if let Some(rest) = line.strip_prefix(b"--").and_then(|l| l.strip_prefix(boundary)) {
            let close = rest.starts_with(b"--");
            let rest = if close { &rest[2..] } else { rest };
            if rest.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = start.take() {
                    let mut end = at.max(s);
                    if end > s && raw[end - 1] == b'\n' {
                        end -= 1;
                        if end > s && raw[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(s..end);
                }
                if close {
                    return parts;
                }
                start = Some(line_end);
            }
        }
        at = line_end;
    }
    if let Some(s) = start {
        parts.push(s..body.end);
    }
    parts
}

fn parse_headers(header: &[u8]) -> Vec<Header<'_>> {
    MessageParser::default()
        .parse_headers(header)
        .and_then(|m| m.parts.into_iter().next())
        .map(|p| p.headers)
        .unwrap_or_default()
}

fn info(headers: &[Header<'_>], raw_header: &[u8], digest: bool) -> Info {
    let (media_type, subtype) = if digest { ("message", "rfc822") } else { ("text", "plain") };
    let mut info = Info {
        media_type: media_type.into(),
        subtype: subtype.into(),
        params: Vec::new(),
        id: field(raw_header, "content-id"),
        description: field(raw_header, "content-description"),
        encoding: field(raw_header, "content-transfer-encoding").map(|e| String::from_utf8_lossy(&e).into_owned()),
        disposition: None,
        language: Vec::new(),
        location: field(raw_header, "content-location"),
    };
    let mut content_type = false;
    for header in headers {
        match (&header.name, &header.value) {
            (HeaderName::ContentType, HeaderValue::ContentType(ct)) if !content_type => {
                content_type = true;
                if let Some(subtype) = &ct.c_subtype {
                    info.media_type = ct.c_type.to_string();
                    info.subtype = subtype.to_string();
                    info.params = attributes(ct);
                }
            }
            (HeaderName::ContentDisposition, HeaderValue::ContentType(ct)) if info.disposition.is_none() => {
                info.disposition = Some((ct.c_type.to_string(), attributes(ct)));
            }
            (HeaderName::ContentLanguage, HeaderValue::TextList(list)) => {
                info.language = list.iter().map(|l| l.to_string()).collect();
            }
            (HeaderName::ContentLanguage, HeaderValue::Text(l)) => info.language = vec![l.to_string()],
            _ => {}
        }
    }
    if info.media_type.eq_ignore_ascii_case("text")
        && !info.params.iter().any(|(n, _)| n.eq_ignore_ascii_case("charset"))
    {
        info.params.insert(0, ("charset".into(), "us-ascii".into()));
    }
    info
}

fn attributes(ct: &ContentType<'_>) -> Vec<(String, String)> {
    ct.attributes.iter().flatten().map(|a| (a.name.to_string(), a.value.to_string())).collect()
}

/// The unfolded, trimmed value of the first field with this name.
pub(crate) fn field(header: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut value: Option<Vec<u8>> = None;
    let mut in_field = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        if content.starts_with(b" ") || content.starts_with(b"\t") {
            if in_field && let Some(v) = value.as_mut() {
                v.extend_from_slice(content);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        in_field = false;
        if let Some(colon) = memchr::memchr(b':', content)
            && content[..colon].trim_ascii().eq_ignore_ascii_case(name.as_bytes())
        {
            in_field = true;
            value = Some(content[colon + 1..].to_vec());
        }
    }
    value.map(|v| v.trim_ascii().to_vec())
}

impl Part {
    /// The part a section's part numbers name (RFC 9051 §6.4.5), if any.
    pub(crate) fn find(&self, numbers: &[NonZeroU32]) -> Option<&Part> {
        let mut current = self;
        for (i, n) in numbers.iter().enumerate() {
            if i > 0
                && let Kind::Message(inner) = &current.kind
            {
                current = inner;
            }
            let index = n.get() as usize - 1;
            current = match &current.kind {
                Kind::Multipart(children) => children.get(index)?,
                _ if index == 0 => current,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The message a HEADER or TEXT section applies to: the message
    /// itself, or the message encapsulated in a message/rfc822 part.
    pub(crate) fn message(&self, numbers: &[NonZeroU32]) -> Option<&Part> {
        if numbers.is_empty() {
            return Some(self);
        }
        match &self.find(numbers)?.kind {
            Kind::Message(inner) => Some(inner),
            _ => None,
        }
    }

    /// The content-transfer-encoding, lower-case; `None` for identity.
    pub(crate) fn transfer_encoding(&self) -> Option<String> {
        let e = self.info.encoding.as_deref()?.to_ascii_lowercase();
        (e != "7bit" && e != "8bit" && e != "binary").then_some(e)
    }

    pub(crate) fn is_multipart(&self) -> bool {
        matches!(self.kind, Kind::Multipart(_))
    }
}

/// BODYSTRUCTURE (`extended`) or BODY.
pub(crate) fn write_body(out: &mut Vec<u8>, raw: &[u8], part: &Part, extended: bool) {
    out.push(b'(');
    let info = &part.info;
    match &part.kind {
        Kind::Multipart(children) => {
            for child in children {
                write_body(out, raw, child, extended);
            }
            out.push(b' ');
            string(out, info.subtype.to_ascii_uppercase().as_bytes());
            if extended {
                out.push(b' ');
                write_params(out, &info.params);
                write_extension(out, info);
            }
        }
        kind => {
            string(out, info.media_type.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            string(out, info.subtype.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            write_params(out, &info.params);
            out.push(b' ');
            nstring(out, info.id.as_deref());
            out.push(b' ');
            nstring(out, info.description.as_deref());
            out.push(b' ');
            let encoding = info.encoding.as_deref().unwrap_or("7BIT").to_ascii_uppercase();
            string(out, encoding.as_bytes());
            let body = &raw[part.body.clone()];
            out.extend_from_slice(format!(" {}", body.len()).as_bytes());
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                write_envelope(out, raw, inner);
                out.push(b' ');
                write_body(out, raw, inner, extended);
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            } else if is_message(info) {
                // Encoded, or nested too deep to parse: the grammar still
                // wants an envelope and a body.
                out.extend_from_slice(b" (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
                out.extend_from_slice(b" (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            } else if info.media_type.eq_ignore_ascii_case("text") {
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            }
            if extended {
                out.extend_from_slice(b" NIL");
                write_extension(out, info);
            }
        }
    }
    out.push(b')');
}

/// Text lines, a last line without a line break counted too (the line
/// break before a boundary belongs to the boundary).
fn lines(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count() + usize::from(!body.is_empty() && !body.ends_with(b"\n"))
}

/// Disposition, language and location.
fn write_extension(out: &mut Vec<u8>, info: &Info) {
    out.push(b' ');
    match &info.disposition {
        Some((kind, params)) => {
            out.push(b'(');
            string(out, kind.as_bytes());
            out.push(b' ');
            write_params(out, params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match info.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => string(out, one.as_bytes()),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, l.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, info.location.as_deref());
}

fn write_params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, name.to_ascii_uppercase().as_bytes());
        out.push(b' ');
        string(out, value.as_bytes());
    }
    out.push(b')');
}

/// A string of a structure: NUL, which no IMAP string may hold, is
/// dropped.
fn string(out: &mut Vec<u8>, value: &[u8]) {
    if value.contains(&0) {
        let value: Vec<u8> = value.iter().copied().filter(|b| *b != 0).collect();
        write::string(out, &value);
    } else {
        write::string(out, value);
    }
}

fn nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// The envelope (RFC 9051 §7.5.2) of a message.
pub(crate) fn write_envelope(out: &mut Vec<u8>, raw: &[u8], message: &Part) {
    let header = &raw[message.header.clone()];
    let headers = parse_headers(header);
    let addresses = |name: HeaderName<'static>| {
        headers.iter().find(|h| h.name == name).and_then(|h| match &h.value {
            HeaderValue::Address(a) => Some(a),
            _ => None,
        })
    };
    out.push(b'(');
    nstring(out, field(header, "date").as_deref());
    out.push(b' ');
    nstring(out, field(header, "subject").as_deref());
    let from = addresses(HeaderName::From);
    for (name, default) in [
        (HeaderName::From, None),
        (HeaderName::Sender, from),
        (HeaderName::ReplyTo, from),
        (HeaderName::To, None),
        (HeaderName::Cc, None),
        (HeaderName::Bcc, None),
    ] {
        out.push(b' ');
        write_addresses(out, addresses(name).or(default));
    }
    out.push(b' ');
    nstring(out, field(header, "in-reply-to").as_deref());
    out.push(b' ');
    nstring(out, field(header, "message-id").as_deref());
    out.push(b')');
}

fn write_addresses(out: &mut Vec<u8>, address: Option<&Address<'_>>) {
    let mut list = Vec::new();
    match address {
        Some(Address::List(addrs)) => {
            for addr in addrs {
                write_addr(&mut list, addr);
            }
        }
        Some(Address::Group(groups)) => {
            for group in groups {
                match &group.name {
                    Some(name) => {
                        list.extend_from_slice(b"(NIL NIL ");
                        string(&mut list, name.as_bytes());
                        list.extend_from_slice(b" NIL)");
                        for addr in &group.addresses {
                            write_addr(&mut list, addr);
                        }
                        list.extend_from_slice(b"(NIL NIL NIL NIL)");
                    }
                    None => {
                        for addr in &group.addresses {
                            write_addr(&mut list, addr);
                        }
                    }
                }
            }
        }
        None => {}
    }
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        out.extend_from_slice(&list);
        out.push(b')');
    }
}

fn write_addr(out: &mut Vec<u8>, addr: &Addr<'_>) {
    let Some(address) = addr.address.as_deref() else { return };
    let (mailbox, host) = match address.rsplit_once('@') {
        Some((mailbox, host)) => (mailbox, Some(host)),
        None => (address, None),
    };
    out.push(b'(');
    nstring(out, addr.name.as_deref().map(str::as_bytes));
    out.extend_from_slice(b" NIL ");
    string(out, mailbox.as_bytes());
    out.push(b' ');
    match host {
        Some(host) => string(out, host.as_bytes()),
        // A NIL host would mark a group; an address without a domain
        // gets an empty one.
        None => string(out, b""),
    }
    out.push(b')');
}

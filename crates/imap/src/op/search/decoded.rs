//! The text of a message as SEARCH compares it (RFC 9051 §6.4.4): header
//! fields with encoded words decoded (RFC 2047), bodies with their
//! transfer encoding and charset decoded, all lower-cased so that
//! matching ignores case beyond ASCII. mail-parser does the decoding.

use mail_parser::{Address, Header, HeaderName, HeaderValue, Message, MessageParser, PartType};

/// What the search keys of one command need from each message.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Needs {
    /// Header fields (HEADER, SUBJECT, FROM, TO, CC, BCC).
    pub headers: bool,
    /// The Date field (SENTBEFORE, SENTON, SENTSINCE).
    pub sent_date: bool,
    /// Body text (BODY, TEXT): the whole message is parsed.
    pub body: bool,
}

impl Needs {
    /// Whether the message's bytes must be read at all.
    pub fn any(&self) -> bool {
        self.headers || self.sent_date || self.body
    }
}

/// One message, decoded as far as the keys need; dropped before the next
/// message is read, so a search holds one message at a time.
#[derive(Default)]
pub(super) struct Decoded {
    /// Top-level fields: the name as written, the decoded value in lower
    /// case.
    pub headers: Vec<(String, String)>,
    /// Each text part's decoded content in lower case, with the header
    /// fields of encapsulated messages (they are body text of the outer
    /// one).
    pub texts: Vec<String>,
    /// The Date field's calendar day in the field's own time zone
    /// (RFC 9051 §6.4.4: "disregarding time and timezone"); `None` when
    /// missing or unparseable.
    pub sent_date: Option<chrono::NaiveDate>,
}

impl Decoded {
    pub fn new(raw: &[u8], needs: Needs) -> Decoded {
        // Fields the default parser would keep raw (HEADER X-Anything)
        // are decoded as unstructured text too.
        let parser = MessageParser::new()
            .with_mime_headers()
            .with_date_headers()
            .with_address_headers()
            .with_message_ids()
            .default_header_text();
        let message = if needs.body { parser.parse(raw) } else { parser.parse_headers(crate::op::fetch::split(raw).0) };
        let Some(message) = message else { return Decoded::default() };
        let mut decoded = Decoded {
            headers: headers(&message)
                .iter()
                .map(|h| (h.name.as_str().to_owned(), header_text(h, message.raw_message()).to_lowercase()))
                .collect(),
            ..Decoded::default()
        };
        decoded.sent_date =
            headers(&message).iter().find(|h| h.name == HeaderName::Date).and_then(|h| match &h.value {
                HeaderValue::DateTime(d) => {
                    chrono::NaiveDate::from_ymd_opt(i32::from(d.year), d.month.into(), d.day.into())
                }
                _ => None,
            });
        if needs.body {
            texts(&message, &mut decoded.texts);
        }
        decoded
    }

    /// Whether a field named `name` contains `needle` (lower case); an
    /// empty needle matches any message with the field.
    pub fn header_contains(&self, name: &str, needle: &str) -> bool {
        self.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && v.contains(needle))
    }

    pub fn body_contains(&self, needle: &str) -> bool {
        self.texts.iter().any(|t| t.contains(needle))
    }
}

fn headers<'a>(message: &'a Message<'_>) -> &'a [Header<'a>] {
    message.parts.first().map_or(&[], |p| p.headers.as_slice())
}

/// Text parts, and the fields of encapsulated messages, in order.
fn texts(message: &Message<'_>, out: &mut Vec<String>) {
    for part in &message.parts {
        match &part.body {
            PartType::Text(text) | PartType::Html(text) => out.push(text.to_lowercase()),
            PartType::Message(inner) => {
                for header in headers(inner) {
                    let value = header_text(header, inner.raw_message());
                    out.push(format!("{}: {value}", header.name.as_str()).to_lowercase());
                }
                texts(inner, out);
            }
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
        }
    }
}

/// A field's value as text: decoded where mail-parser decoded it, the
/// raw value for dates and content types (compared as written).
fn header_text(header: &Header<'_>, raw: &[u8]) -> String {
    match &header.value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(" "),
        HeaderValue::Address(address) => address_text(address),
        _ => {
            let range = header.offset_start as usize..header.offset_end as usize;
            String::from_utf8_lossy(raw.get(range).unwrap_or_default()).trim().to_owned()
        }
    }
}

/// `Name <local@domain>, ...`, groups as `group: members;`.
fn address_text(address: &Address<'_>) -> String {
    let addr = |a: &mail_parser::Addr<'_>| match (&a.name, &a.address) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (Some(name), None) => name.to_string(),
        (None, Some(address)) => address.to_string(),
        (None, None) => String::new(),
    };
    match address {
        Address::List(list) => list.iter().map(addr).collect::<Vec<_>>().join(", "),
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(addr).collect::<Vec<_>>().join(", ");
                format!("{}: {members};", g.name.as_deref().unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

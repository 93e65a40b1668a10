//! The message list's rows: what a row shows, how rows sort, and which
//! match a search. Pure functions over parsed headers, so they are tested
//! without a server.

use mail_parser::{Address, MessageParser};
use store::{Flag, MessageMeta};

/// Messages per page.
pub const PAGE_SIZE: usize = 50;

/// One message as the list shows it and sorts and searches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub uid: u32,
    pub subject: String,
    /// Display name, or the address when there is none.
    pub from: String,
    /// Every address and name of From, To and Cc, lower-cased, for search.
    pub addresses: String,
    /// Unix seconds the message arrived.
    pub date: i64,
    pub size: u64,
    pub seen: bool,
    pub flagged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Date,
    From,
    Subject,
    Size,
}

impl SortKey {
    /// Unknown values fall back to the date, so no URL is an error.
    pub fn parse(value: Option<&str>) -> SortKey {
        match value {
            Some("from") => SortKey::From,
            Some("subject") => SortKey::Subject,
            Some("size") => SortKey::Size,
            _ => SortKey::Date,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Date => "date",
            SortKey::From => "from",
            SortKey::Subject => "subject",
            SortKey::Size => "size",
        }
    }

    /// Whether sorting needs every message's header (not just metadata).
    pub fn needs_headers(self) -> bool {
        matches!(self, SortKey::From | SortKey::Subject)
    }
}

fn address_text(address: Option<&Address<'_>>, out: &mut String) {
    for addr in address.into_iter().flat_map(|a| a.iter()) {
        for part in [addr.name(), addr.address()].into_iter().flatten() {
            out.push_str(&part.to_lowercase());
            out.push(' ');
        }
    }
}

impl Summary {
    /// A row with the metadata only; [`Summary::with_header`] adds the rest.
    pub fn from_meta(meta: &MessageMeta) -> Summary {
        Summary {
            uid: meta.uid.0,
            subject: String::new(),
            from: String::new(),
            addresses: String::new(),
            date: meta.internal_date,
            size: meta.size,
            seen: meta.flags.contains(&Flag::Seen),
            flagged: meta.flags.contains(&Flag::Flagged),
        }
    }

    /// Fills subject, sender and addresses from the header bytes.
    pub fn with_header(mut self, header: &[u8]) -> Summary {
        if let Some(message) = MessageParser::new().parse_headers(header) {
            self.subject = message.subject().unwrap_or_default().trim().to_owned();
            if let Some(first) = message.from().and_then(|a| a.first()) {
                self.from = first.name().or(first.address()).unwrap_or_default().trim().to_owned();
            }
            address_text(message.from(), &mut self.addresses);
            address_text(message.to(), &mut self.addresses);
            address_text(message.cc(), &mut self.addresses);
        }
        self
    }
}

/// Sorts rows; ties go by UID so pages do not shift between requests.
pub fn sort(rows: &mut [Summary], key: SortKey, descending: bool) {
    rows.sort_by(|a, b| {
        let order = match key {
            SortKey::Date => a.date.cmp(&b.date),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::From => a.from.to_lowercase().cmp(&b.from.to_lowercase()),
            SortKey::Subject => a.subject.to_lowercase().cmp(&b.subject.to_lowercase()),
        }
        .then(a.uid.cmp(&b.uid));
        if descending { order.reverse() } else { order }
    });
}

/// Whether the row's subject or addresses contain `needle` (lower-case).
pub fn header_matches(row: &Summary, needle: &str) -> bool {
    row.subject.to_lowercase().contains(needle) || row.addresses.contains(needle)
}

/// Whether the text of a whole message contains `needle` (lower-case).
pub fn body_matches(message: &[u8], needle: &str) -> bool {
    let Some(parsed) = MessageParser::new().parse(message) else { return false };
    (0..parsed.text_body_count()).filter_map(|n| parsed.body_text(n)).any(|text| text.to_lowercase().contains(needle))
}

/// Rows `[start, end)` of page `page` (1-based), and the number of pages.
pub fn page_bounds(n_rows: usize, page: usize) -> (usize, usize, usize) {
    let n_pages = n_rows.div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, n_pages);
    let start = (page - 1) * PAGE_SIZE;
    (start, (start + PAGE_SIZE).min(n_rows), n_pages)
}

/// `1.2 MB`, `15 kB`, `900 B`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{} kB", bytes.div_ceil(1_000)),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// `2026-11-22 17:04` (UTC).
pub fn display_date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|date| date.format(&format).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests;

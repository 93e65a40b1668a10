//! SEARCH and UID SEARCH: flags, sequence and UID sets, dates, sizes,
//! header and body substrings (raw bytes, case-insensitive ASCII; MIME
//! encoded words are not decoded yet), NOT, OR and lists.

use crate::op::fetch::split;
use crate::selected::{Selected, contains};
use crate::session::ImapSession;
use crate::write;
use imap_types::core::Charset;
use imap_types::datetime::NaiveDate;
use imap_types::search::SearchKey;
use net::Step;
use store::{Flag, MessageMeta};

impl ImapSession {
    pub(crate) async fn handle_search(
        &mut self,
        tag: &str,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        uid: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        if let Some(charset) = charset {
            let name = charset.as_ref();
            if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
                return self.no(out, tag, "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
            }
        }
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        let reads_body = criteria.iter().any(needs_body);
        let mut found = Vec::new();
        for (index, meta) in selected.messages.iter().enumerate() {
            let body = if reads_body {
                match account.read(selected.id, meta.uid).await {
                    Ok(body) => Some(body),
                    Err(_) => continue,
                }
            } else {
                None
            };
            let message = Message { index, meta, selected, body: body.as_deref() };
            if criteria.iter().all(|key| message.matches(key)) {
                found.push(if uid { meta.uid.0 } else { index as u32 + 1 });
            }
        }
        let list: Vec<String> = found.iter().map(u32::to_string).collect();
        if list.is_empty() {
            write::line(out, format_args!("* SEARCH"));
        } else {
            write::line(out, format_args!("* SEARCH {}", list.join(" ")));
        }
        if uid { self.ok(out, tag, "SEARCH completed") } else { self.ok_without_expunge(out, tag, "SEARCH completed") }
    }
}

struct Message<'a> {
    index: usize,
    meta: &'a MessageMeta,
    selected: &'a Selected,
    body: Option<&'a [u8]>,
}

impl Message<'_> {
    fn has(&self, flag: &Flag) -> bool {
        self.meta.flags.contains(flag)
    }

    fn keyword(&self, keyword: &str) -> bool {
        self.meta.flags.iter().any(|f| matches!(f, Flag::Keyword(k) if k.eq_ignore_ascii_case(keyword)))
    }

    fn day(&self) -> i64 {
        self.meta.internal_date.div_euclid(86_400)
    }

    fn header(&self, name: &[u8], value: &[u8]) -> bool {
        let header = split(self.body.unwrap_or_default()).0;
        let mut current: Option<Vec<u8>> = None;
        let mut fields = Vec::new();
        for line in header.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                if let Some(field) = &mut current {
                    field.extend_from_slice(line.trim_ascii_end());
                }
                continue;
            }
            if let Some(field) = current.take() {
                fields.push(field);
            }
            current = Some(line.trim_ascii_end().to_vec());
        }
        fields.extend(current);
        fields.iter().any(|field| {
            let Some(colon) = field.iter().position(|b| *b == b':') else { return false };
            field[..colon].trim_ascii().eq_ignore_ascii_case(name) && find(&field[colon + 1..], value)
        })
    }

    fn matches(&self, key: &SearchKey<'_>) -> bool {
        let largest_seq = self.selected.messages.len() as u32;
        let largest_uid = self.selected.messages.last().map_or(0, |m| m.uid.0);
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.matches(k)),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::SequenceSet(set) => contains(set, self.index as u32 + 1, largest_seq),
            SearchKey::Uid(set) => contains(set, self.meta.uid.0, largest_uid),
            SearchKey::All | SearchKey::Old => true,
            SearchKey::Recent => false,
            SearchKey::New => false,
            SearchKey::Answered => self.has(&Flag::Answered),
            SearchKey::Unanswered => !self.has(&Flag::Answered),
            SearchKey::Deleted => self.has(&Flag::Deleted),
            SearchKey::Undeleted => !self.has(&Flag::Deleted),
            SearchKey::Draft => self.has(&Flag::Draft),
            SearchKey::Undraft => !self.has(&Flag::Draft),
            SearchKey::Flagged => self.has(&Flag::Flagged),
            SearchKey::Unflagged => !self.has(&Flag::Flagged),
            SearchKey::Seen => self.has(&Flag::Seen),
            SearchKey::Unseen => !self.has(&Flag::Seen),
            SearchKey::Keyword(k) => self.keyword(k.inner()),
            SearchKey::Unkeyword(k) => !self.keyword(k.inner()),
            SearchKey::Before(date) => self.day() < day(date),
            SearchKey::On(date) => self.day() == day(date),
            SearchKey::Since(date) => self.day() >= day(date),
            SearchKey::Larger(n) => self.meta.size > u64::from(*n),
            SearchKey::Smaller(n) => self.meta.size < u64::from(*n),
            SearchKey::Header(name, value) => self.header(name.as_ref(), value.as_ref()),
            SearchKey::Subject(v) => self.header(b"subject", v.as_ref()),
            SearchKey::From(v) => self.header(b"from", v.as_ref()),
            SearchKey::To(v) => self.header(b"to", v.as_ref()),
            SearchKey::Cc(v) => self.header(b"cc", v.as_ref()),
            SearchKey::Bcc(v) => self.header(b"bcc", v.as_ref()),
            SearchKey::Body(v) => find(split(self.body.unwrap_or_default()).1, v.as_ref()),
            SearchKey::Text(v) => find(self.body.unwrap_or_default(), v.as_ref()),
            // Sent dates need the Date header parsed: not yet.
            _ => false,
        }
    }
}

fn needs_body(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(needs_body),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::Not(k) => needs_body(k),
        SearchKey::Header(..)
        | SearchKey::Subject(_)
        | SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Cc(_)
        | SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Text(_) => true,
        _ => false,
    }
}

fn day(date: &NaiveDate) -> i64 {
    let date: &chrono::NaiveDate = date.as_ref();
    date.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp()).div_euclid(86_400)
}

/// Case-insensitive (ASCII) substring search; an empty needle matches.
fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

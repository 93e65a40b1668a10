//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with every key of RFC 9051
//! and RFC 3501, MODSEQ (RFC 7162 §3.1.5), the ESEARCH result options
//! (RFC 4731, `options.rs`) and the saved result `$` (RFC 5182,
//! `saved.rs`).
//!
//! Header, body and text keys compare decoded text (`decoded.rs`); a
//! message's bytes are read only when a key needs them, one message at a
//! time.

mod decoded;
mod options;
mod saved;
#[cfg(test)]
mod tests;

use crate::op::fetch::batch;
use crate::selected::{Selected, contains};
use crate::session::ImapSession;
use crate::write;
use decoded::{Decoded, Needs};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_types::command::CommandBody;
use imap_types::core::Charset;
use imap_types::datetime::NaiveDate;
use imap_types::search::SearchKey;
use net::Step;
use options::{ReturnOptions, strip_return};
use saved::sequence_set;
use store::{Extent, Flag, MessageMeta};

impl ImapSession {
    /// A plain SEARCH: `* SEARCH`, or ESEARCH ALL once IMAP4rev2 is
    /// enabled (RFC 9051 §7.3.4).
    pub(crate) async fn handle_search(
        &mut self,
        tag: &str,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        uid: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let options = self.enabled.imap4rev2.then_some(ReturnOptions::ALL);
        self.search(tag, charset, criteria, uid, options, out).await
    }

    /// `SEARCH RETURN (...)`, which imap-codec refuses: `None` when the
    /// command is not one.
    pub(crate) async fn handle_search_return(&mut self, command: &[u8], out: &mut Vec<u8>) -> Option<Step> {
        let tag = crate::frame::tag_of(command);
        let (options, rest) = match strip_return(command)? {
            Ok(stripped) => stripped,
            Err(reason) => return Some(self.bad(out, &tag, reason)),
        };
        tracing::debug!(target: "imap", command = "SEARCH", "command");
        let Ok(([], command)) = CommandCodec::default().decode(&rest) else {
            if options.save {
                self.forget_saved_result();
            }
            return Some(self.bad(out, &tag, "syntax error in SEARCH"));
        };
        let CommandBody::Search { charset, criteria, uid } = command.body else {
            return Some(self.bad(out, &tag, "syntax error in SEARCH"));
        };
        if self.auth.is_none() {
            return Some(self.no(out, &tag, "log in first"));
        }
        Some(self.search(&tag, charset.as_ref(), criteria.as_ref(), uid, Some(options), out).await)
    }

    /// A SAVE that failed leaves an empty result (RFC 5182 §2.1), when a
    /// mailbox is selected to hold one.
    fn forget_saved_result(&mut self) {
        if self.selected.is_some() {
            self.saved_result = Some(Vec::new());
        }
    }

    /// Answers with ESEARCH when `options` is given, else `* SEARCH`.
    async fn search(
        &mut self,
        tag: &str,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        uid: bool,
        options: Option<ReturnOptions>,
        out: &mut Vec<u8>,
    ) -> Step {
        let save = options.is_some_and(|o| o.save);
        if let Some(charset) = charset {
            let name = charset.as_ref();
            if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
                if save {
                    self.forget_saved_result();
                }
                return self.no(out, tag, "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
            }
        }
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        let mut needs = Needs::default();
        for key in criteria {
            add_needs(key, &mut needs);
        }
        let mut found: Vec<usize> = Vec::new();
        // Header keys need only the header's bytes; messages are read a
        // batch at a time, one trip to the store each (as FETCH does).
        let extent = if needs.body { Extent::Whole } else { Extent::Header };
        let all: Vec<usize> = (0..selected.messages.len()).collect();
        let mut start = 0;
        while start < all.len() {
            let batch = if needs.any() { batch(&all[start..], &selected.messages, extent) } else { &all[start..] };
            let bodies = if needs.any() {
                let uids: Vec<_> = batch.iter().map(|i| selected.messages[*i].uid).collect();
                match account.read_many(selected.id, &uids, extent).await {
                    Ok(bodies) => bodies,
                    Err(e) => return self.store_error(out, tag, e),
                }
            } else {
                Vec::new()
            };
            for (n, &index) in batch.iter().enumerate() {
                let decoded = match bodies.get(n) {
                    Some(Some(body)) => Decoded::new(body, needs),
                    // Expunged by another session since the snapshot.
                    Some(None) => continue,
                    None => Decoded::default(),
                };
                let message = Message { index, meta: &selected.messages[index], selected, decoded: &decoded };
                if criteria.iter().all(|key| message.matches(key)) {
                    found.push(index);
                }
            }
            start += batch.len();
        }
        let uses_modseq = criteria.iter().any(uses_modseq);
        if uses_modseq {
            // A CONDSTORE-enabling command (RFC 7162 §3.1).
            self.enabled.condstore = true;
        }
        let number = |index: usize| {
            if uid { selected.messages[index].uid.0 } else { u32::try_from(index + 1).unwrap_or(u32::MAX) }
        };
        let highest_modseq = |indices: &mut dyn Iterator<Item = usize>| {
            indices.map(|i| selected.messages[i].modseq.0).max().filter(|_| uses_modseq)
        };
        match options {
            None => {
                let mut line = String::from("* SEARCH");
                for index in &found {
                    line.push_str(&format!(" {}", number(*index)));
                }
                if let Some(modseq) = highest_modseq(&mut found.iter().copied()) {
                    line.push_str(&format!(" (MODSEQ {modseq})"));
                }
                write::line(out, format_args!("{line}"));
            }
            Some(options) => {
                // MIN and MAX alone pick the messages they name, for SAVE
                // and MODSEQ too (RFC 5182 §2.4, RFC 7162 §3.1.10).
                let picked: Vec<usize> = if options.all || options.count || !(options.min || options.max) {
                    found.clone()
                } else {
                    let mut picked = Vec::new();
                    picked.extend(found.first().filter(|_| options.min));
                    picked.extend(found.last().filter(|_| options.max));
                    picked.dedup();
                    picked
                };
                if options.answers() {
                    let mut line = format!("* ESEARCH (TAG \"{tag}\")");
                    if uid {
                        line.push_str(" UID");
                    }
                    if let (true, Some(min)) = (options.min, found.first()) {
                        line.push_str(&format!(" MIN {}", number(*min)));
                    }
                    if let (true, Some(max)) = (options.max, found.last()) {
                        line.push_str(&format!(" MAX {}", number(*max)));
                    }
                    // COUNT is always returned, even 0 (RFC 4731 §3.1).
                    if options.count {
                        line.push_str(&format!(" COUNT {}", found.len()));
                    }
                    if options.all && !found.is_empty() {
                        let numbers: Vec<u32> = found.iter().map(|i| number(*i)).collect();
                        line.push_str(&format!(" ALL {}", sequence_set(&numbers)));
                    }
                    if let Some(modseq) = highest_modseq(&mut picked.iter().copied()) {
                        line.push_str(&format!(" MODSEQ {modseq}"));
                    }
                    write::line(out, format_args!("{line}"));
                }
                if options.save {
                    let uids = picked.iter().map(|i| selected.messages[*i].uid).collect();
                    self.saved_result = Some(uids);
                }
            }
        }
        if uid { self.ok(out, tag, "SEARCH completed") } else { self.ok_without_expunge(out, tag, "SEARCH completed") }
    }
}

struct Message<'a> {
    index: usize,
    meta: &'a MessageMeta,
    selected: &'a Selected,
    decoded: &'a Decoded,
}

impl Message<'_> {
    fn has(&self, flag: &Flag) -> bool {
        self.meta.flags.contains(flag)
    }

    fn keyword(&self, keyword: &str) -> bool {
        self.meta.flags.iter().any(|f| matches!(f, Flag::Keyword(k) if k.eq_ignore_ascii_case(keyword)))
    }

    /// The internal date's day, in UTC: the store keeps no zone.
    fn day(&self) -> i64 {
        self.meta.internal_date.div_euclid(86_400)
    }

    fn header(&self, name: &str, value: &[u8]) -> bool {
        self.decoded.header_contains(name, &lower(value))
    }

    /// SENTBEFORE, SENTON, SENTSINCE: no Date field, or one that does
    /// not parse, matches none of them.
    fn sent(&self, date: &NaiveDate, test: fn(chrono::NaiveDate, chrono::NaiveDate) -> bool) -> bool {
        self.decoded.sent_date.is_some_and(|sent| test(sent, *date.as_ref()))
    }

    fn matches(&self, key: &SearchKey<'_>) -> bool {
        let largest_seq = u32::try_from(self.selected.messages.len()).unwrap_or(u32::MAX);
        let largest_uid = self.selected.messages.last().map_or(0, |m| m.uid.0);
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.matches(k)),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::SequenceSet(set) => contains(set, self.index as u32 + 1, largest_seq),
            SearchKey::Uid(set) => contains(set, self.meta.uid.0, largest_uid),
            SearchKey::All => true,
            // No message is ever \Recent here (RFC 9051 dropped it and
            // the store keeps no per-session flag): RECENT and NEW
            // (RECENT UNSEEN) match none, OLD (NOT RECENT) matches all.
            SearchKey::Recent | SearchKey::New => false,
            SearchKey::Old => true,
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
            SearchKey::SentBefore(date) => self.sent(date, |sent, date| sent < date),
            SearchKey::SentOn(date) => self.sent(date, |sent, date| sent == date),
            SearchKey::SentSince(date) => self.sent(date, |sent, date| sent >= date),
            SearchKey::Larger(n) => self.meta.size > u64::from(*n),
            SearchKey::Smaller(n) => self.meta.size < u64::from(*n),
            SearchKey::Header(name, value) => self.header(&String::from_utf8_lossy(name.as_ref()), value.as_ref()),
            SearchKey::Subject(v) => self.header("Subject", v.as_ref()),
            SearchKey::From(v) => self.header("From", v.as_ref()),
            SearchKey::To(v) => self.header("To", v.as_ref()),
            SearchKey::Cc(v) => self.header("Cc", v.as_ref()),
            SearchKey::Bcc(v) => self.header("Bcc", v.as_ref()),
            SearchKey::Body(v) => self.decoded.body_contains(&lower(v.as_ref())),
            SearchKey::Text(v) => {
                let needle = lower(v.as_ref());
                self.decoded.headers.iter().any(|(_, value)| value.contains(&needle))
                    || self.decoded.body_contains(&needle)
            }
            // The entry (a flag's own mod-sequence) is accepted but not
            // kept apart: every flag shares the message's mod-sequence.
            SearchKey::ModSequence { modseq, .. } => self.meta.modseq.0 >= *modseq,
            // YOUNGER and OLDER (RFC 5032), if imap-codec is ever built
            // with them: not advertised.
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Adds what `key` needs from each message's bytes.
fn add_needs(key: &SearchKey<'_>, needs: &mut Needs) {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().for_each(|k| add_needs(k, needs)),
        SearchKey::Or(a, b) => {
            add_needs(a, needs);
            add_needs(b, needs);
        }
        SearchKey::Not(k) => add_needs(k, needs),
        SearchKey::Header(..)
        | SearchKey::Subject(_)
        | SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Cc(_)
        | SearchKey::Bcc(_) => needs.headers = true,
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => needs.sent_date = true,
        SearchKey::Body(_) | SearchKey::Text(_) => needs.body = true,
        _ => {}
    }
}

fn uses_modseq(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(uses_modseq),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::ModSequence { .. } => true,
        _ => false,
    }
}

fn day(date: &NaiveDate) -> i64 {
    let date: &chrono::NaiveDate = date.as_ref();
    date.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp()).div_euclid(86_400)
}

/// A search string in lower case, for matching that ignores case beyond
/// ASCII; the charset is UTF-8 (US-ASCII being a subset).
fn lower(value: &[u8]) -> String {
    String::from_utf8_lossy(value).to_lowercase()
}

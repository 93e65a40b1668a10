//! APPEND, with UIDPLUS's APPENDUID.

use crate::session::{ImapSession, mailbox_name};
use bytes::Bytes;
use imap_types::datetime::DateTime;
use imap_types::extensions::binary::LiteralOrLiteral8;
use imap_types::flag::Flag as ImapFlag;
use imap_types::mailbox::Mailbox;
use net::Step;
use store::{Flag, StoreError};

impl ImapSession {
    pub(crate) async fn handle_append(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        flags: &[ImapFlag<'_>],
        date: Option<&DateTime>,
        message: LiteralOrLiteral8<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        let body = match &message {
            LiteralOrLiteral8::Literal(literal) => literal.data(),
            LiteralOrLiteral8::Literal8(literal) => literal.data.as_ref(),
        };
        if body.is_empty() {
            return self.no(out, tag, "[CANNOT] empty message");
        }
        let internal_date = match date {
            Some(date) => date.as_ref().timestamp(),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        };
        let quota = self.auth.as_ref().and_then(|a| a.quota_bytes);
        let flags = store_flags(flags);
        match account.append(&name, Bytes::copy_from_slice(body), flags, internal_date, quota).await {
            Ok((uid_validity, uid)) => {
                self.ok(out, tag, format_args!("[APPENDUID {} {uid}] APPEND completed", uid_validity.0))
            }
            Err(StoreError::NoSuchMailbox(_)) => self.no(out, tag, "[TRYCREATE] no such mailbox"),
            Err(e) => self.store_error(out, tag, e),
        }
    }
}

/// The flags the store keeps; `\Recent` and unknown system flags are
/// dropped.
pub(crate) fn store_flags(flags: &[ImapFlag<'_>]) -> Vec<Flag> {
    flags
        .iter()
        .filter_map(|flag| match flag {
            ImapFlag::Seen => Some(Flag::Seen),
            ImapFlag::Answered => Some(Flag::Answered),
            ImapFlag::Flagged => Some(Flag::Flagged),
            ImapFlag::Deleted => Some(Flag::Deleted),
            ImapFlag::Draft => Some(Flag::Draft),
            ImapFlag::Keyword(atom) => Some(Flag::Keyword(atom.inner().to_owned())),
            ImapFlag::Extension(_) => None,
        })
        .collect()
}

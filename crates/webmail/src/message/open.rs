//! Finding one message of the session's own account from a URL's mailbox
//! and UID. Only the session's account is ever opened, so another
//! account's message is unreachable by construction: its mailbox and UID
//! name nothing (or something else) here, and the answer is 404.

use crate::WebmailServices;
use crate::error::WebError;
use crate::session::Session;
use bytes::Bytes;
use std::sync::Arc;
use store::{Account, MailboxInfo};
use types::Uid;

pub struct Opened {
    pub account: Arc<Account>,
    pub mailbox: MailboxInfo,
    pub uid: Uid,
    pub raw: Bytes,
}

/// A UID from a URL: digits only, not zero (RFC 9051 §2.3.1.1).
pub fn parse_uid(text: &str) -> Option<Uid> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|uid| *uid > 0).map(Uid)
}

/// The mailbox of the session's account, or 404.
pub async fn mailbox(
    services: &WebmailServices,
    session: &Session,
    name: &str,
) -> Result<(Arc<Account>, MailboxInfo), WebError> {
    let account = services.store.account(&session.account).await?;
    let info = account.status(name)?;
    Ok((account, info))
}

/// The message's bytes, or 404 when the mailbox or UID names nothing here.
pub async fn message(
    services: &WebmailServices,
    session: &Session,
    mailbox_name: &str,
    uid: &str,
) -> Result<Opened, WebError> {
    let uid = parse_uid(uid).ok_or(WebError::NotFound)?;
    let (account, mailbox) = mailbox(services, session, mailbox_name).await?;
    let raw = account.read(mailbox.id, uid).await?;
    Ok(Opened { account, mailbox, uid, raw })
}

/// `mailbox/uid` as the compose form's `reply=` and `forward=` carry it:
/// split at the last slash, since mailbox names may hold slashes.
pub async fn by_reference(services: &WebmailServices, session: &Session, reference: &str) -> Result<Opened, WebError> {
    let (mailbox_name, uid) = reference.rsplit_once('/').ok_or(WebError::NotFound)?;
    message(services, session, mailbox_name, uid).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_positive_decimal_numbers() {
        assert_eq!(parse_uid("42"), Some(Uid(42)));
        for bad in ["", "0", "-1", "+1", "1.0", "4294967296", "99999999999", "1 ", "0x10"] {
            assert_eq!(parse_uid(bad), None, "{bad:?}");
        }
    }
}

//! The message page's forms: flag/unflag and seen/unseen, delete, move.
//! Each checks the session's CSRF token before it touches anything and
//! answers 303 (back to the message, or to its folder once it is gone).

use super::open;
use crate::error::{WebError, see_other};
use crate::session::{Session, check_csrf};
use crate::{WebmailServices, paths};
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use store::{Flag, FlagOp, StoreError};

/// Where deleted messages go; deleting in it removes them for good.
pub const TRASH: &str = "Trash";

/// Every field defaults so that a form without its token reaches the CSRF
/// check (403) instead of failing to parse (422).
#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    set: String,
    #[serde(default)]
    to: String,
}

pub async fn flag(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path((mailbox_name, uid)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf)?;
    let (op, flag) = match form.set.as_str() {
        "flagged" => (FlagOp::Add, Flag::Flagged),
        "unflagged" => (FlagOp::Remove, Flag::Flagged),
        "seen" => (FlagOp::Add, Flag::Seen),
        "unseen" => (FlagOp::Remove, Flag::Seen),
        _ => return Err(WebError::BadRequest("unknown flag change".to_owned())),
    };
    let (account, mailbox, uid) = existing(&services, &session, &mailbox_name, &uid).await?;
    account.set_flags(mailbox.id, &[uid], op, &[flag], None).await?;
    // Opening the message again would mark it read at once.
    if form.set == "unseen" {
        return Ok(see_other(&paths::mailbox_url(&mailbox.name)));
    }
    Ok(see_other(&paths::message_url(&mailbox.name, uid.0)))
}

pub async fn delete(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path((mailbox_name, uid)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf)?;
    let (account, mailbox, uid) = existing(&services, &session, &mailbox_name, &uid).await?;
    if mailbox.name == TRASH {
        account.expunge(mailbox.id, &[uid]).await?;
    } else {
        let trash = match account.status(TRASH) {
            Ok(info) => info.id,
            // The user deleted Trash: make it again rather than lose mail.
            Err(StoreError::NoSuchMailbox(_)) => account.create_mailbox(TRASH).await?,
            Err(error) => return Err(error.into()),
        };
        account.move_messages(mailbox.id, &[uid], trash).await?;
    }
    Ok(see_other(&format!("{}?notice=deleted", paths::mailbox_url(&mailbox.name))))
}

pub async fn move_to(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path((mailbox_name, uid)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf)?;
    let (account, mailbox, uid) = existing(&services, &session, &mailbox_name, &uid).await?;
    let target = account.status(&form.to).map_err(|_| WebError::BadRequest("no such folder to move to".to_owned()))?;
    if target.id != mailbox.id {
        account.move_messages(mailbox.id, &[uid], target.id).await?;
    }
    Ok(see_other(&format!("{}?notice=moved", paths::mailbox_url(&mailbox.name))))
}

/// The mailbox and a UID that is in it (a form for a message already gone
/// is a 404, not a silent success).
async fn existing(
    services: &WebmailServices,
    session: &Session,
    mailbox_name: &str,
    uid: &str,
) -> Result<(Arc<store::Account>, store::MailboxInfo, types::Uid), WebError> {
    let uid = open::parse_uid(uid).ok_or(WebError::NotFound)?;
    let (account, mailbox) = open::mailbox(services, session, mailbox_name).await?;
    let present = account.read_many(mailbox.id, &[uid], store::Extent::Header).await?;
    if !matches!(present.first(), Some(Some(_))) {
        return Err(WebError::NotFound);
    }
    Ok((account, mailbox, uid))
}

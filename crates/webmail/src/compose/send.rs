//! `POST /compose`: check, build, queue, keep a copy in Sent.
//!
//! Order matters: the CSRF token and every address are checked before
//! anything is built; the message is queued durably (as SMTP submission
//! does) before the copy is stored, and only a queued message counts as
//! sent. A Sent copy that cannot be stored (quota) is logged, not turned
//! into an error: the message is already on its way, and a retry by the
//! user would send it twice.

use super::address::{self, Recipient};
use super::build::{self, FileAttachment, Outgoing};
use super::form::{self, ComposeForm};
use super::page::{self, ComposePage, ForwardedPart};
use crate::WebmailServices;
use crate::error::{WebError, see_other};
use crate::layout::Layout;
use crate::message::mime::{self, PartPath};
use crate::message::open;
use crate::message::view::human_size;
use crate::session::{Session, check_csrf};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::response::Response;
use bytes::Bytes;
use mail_parser::MessageParser;
use std::sync::Arc;
use store::{Flag, StoreError};

/// Where copies of sent mail go (a special-use mailbox the store creates).
pub const SENT: &str = "Sent";

pub async fn send(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let form = form::read(multipart, services.config.max_upload).await?;
    check_csrf(&session, &form.csrf)?;
    let (to, cc) = match recipients(&form) {
        Ok(lists) => lists,
        Err(reason) => return refuse(&services, &session, form, reason).await,
    };
    let forwarded = forwarded_files(&services, &session, &form).await?;
    let outgoing = Outgoing {
        from: session.account.to_string(),
        to,
        cc,
        subject: form::one_line(&form.subject),
        body: form.body,
        in_reply_to: form::message_ids(&form.in_reply_to).into_iter().next(),
        references: form::message_ids(&form.references),
        attachments: forwarded.into_iter().chain(form.files).collect(),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let message_id = build::new_message_id(&services.hostname);
    let raw = build::build(&outgoing, &message_id, now)
        .map_err(|e| WebError::Internal(format!("building a message: {e}")))?;
    let raw = Bytes::from(raw);
    services.submit(&session.account, &outgoing.envelope_recipients(), raw.clone()).await?;
    if let Err(error) = keep_copy(&services, &session, raw, now).await {
        tracing::warn!(target: "webmail::compose", account = %session.account, %error, "sent, but no copy kept in Sent");
    }
    Ok(see_other(&page::after_sending()))
}

fn recipients(form: &ComposeForm) -> Result<(Vec<Recipient>, Vec<Recipient>), String> {
    let to = address::parse_list(&form.to).map_err(|e| format!("To: {e}."))?;
    let cc = address::parse_list(&form.cc).map_err(|e| format!("Cc: {e}."))?;
    if to.is_empty() && cc.is_empty() {
        return Err("Give at least one recipient.".to_owned());
    }
    if to.len() + cc.len() > address::MAX_RECIPIENTS {
        return Err(format!("At most {} recipients.", address::MAX_RECIPIENTS));
    }
    Ok((to, cc))
}

/// The forwarded message's parts the form kept, read again from the
/// session's own account (the form only names them).
async fn forwarded_files(
    services: &WebmailServices,
    session: &Session,
    form: &ComposeForm,
) -> Result<Vec<FileAttachment>, WebError> {
    if form.forward.is_empty() || form.forward_parts.is_empty() {
        return Ok(Vec::new());
    }
    let opened = open::by_reference(services, session, &form.forward).await?;
    let message = MessageParser::default().parse(&opened.raw[..]).ok_or(WebError::NotFound)?;
    let mut files = Vec::new();
    for path_text in &form.forward_parts {
        let path = PartPath::parse(path_text).ok_or(WebError::NotFound)?;
        let part = mime::find_part(&message, &path).filter(|p| !p.is_multipart()).ok_or(WebError::NotFound)?;
        files.push(FileAttachment {
            name: mime::display_name(part, path_text),
            content_type: mime::content_type(part),
            data: part.contents().to_vec(),
        });
    }
    Ok(files)
}

async fn keep_copy(services: &WebmailServices, session: &Session, raw: Bytes, now: i64) -> Result<(), WebError> {
    let account = services.store.account(&session.account).await?;
    if let Err(StoreError::NoSuchMailbox(_)) = account.status(SENT) {
        account.create_mailbox(SENT).await?;
    }
    let quota = services.directory.account(&session.account).await?.and_then(|record| record.quota_bytes);
    account.append(SENT, raw, vec![Flag::Seen], now, quota).await?;
    Ok(())
}

/// The form again with the reason; uploads are not kept (the page says so).
async fn refuse(
    services: &WebmailServices,
    session: &Session,
    form: ComposeForm,
    reason: String,
) -> Result<Response, WebError> {
    let layout = Layout::new(services, session, None).await?;
    let reattach = if form.files.is_empty() { "" } else { " Attach your files again." };
    let forwarded = form
        .forward_parts
        .iter()
        .map(|path| ForwardedPart { path: path.clone(), name: format!("part {path}"), size: String::new() })
        .collect();
    Ok(page::refused(ComposePage {
        layout,
        error: Some(format!("{reason}{reattach}")),
        to: form.to,
        cc: form.cc,
        subject: form.subject,
        body: form.body,
        in_reply_to: form.in_reply_to,
        references: form.references,
        forward: form.forward,
        forwarded,
        max_upload: human_size(services.config.max_upload),
    }))
}

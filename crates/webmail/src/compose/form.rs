//! Reading the compose form's multipart body. The router's body limit
//! (`max_upload`) cuts the stream while it is read, so an oversized upload
//! fails here part-way, before anything is built, sent or stored.

use super::build::FileAttachment;
use crate::error::WebError;
use axum::extract::Multipart;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::http::StatusCode;

/// Forwarded parts named by one form: more would be a forged form.
const MAX_FORWARDED_PARTS: usize = 100;

/// The fields of `form#compose`, as posted.
#[derive(Debug, Default)]
pub struct ComposeForm {
    pub csrf: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub body: String,
    /// Message-ID of the message replied to.
    pub in_reply_to: String,
    /// Space-separated Message-IDs.
    pub references: String,
    /// `mailbox/uid` of the message forwarded.
    pub forward: String,
    /// Part paths of the forwarded message's attachments to carry over.
    pub forward_parts: Vec<String>,
    pub files: Vec<FileAttachment>,
}

pub async fn read(
    multipart: Result<Multipart, MultipartRejection>,
    max_upload: usize,
) -> Result<ComposeForm, WebError> {
    let mut multipart = multipart.map_err(|rejection| WebError::BadRequest(rejection.body_text()))?;
    let mut form = ComposeForm::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| field_error(e, max_upload))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachment" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
            let data = field.bytes().await.map_err(|e| field_error(e, max_upload))?;
            // An empty file input still posts a part, with no name and no bytes.
            if file_name.is_empty() && data.is_empty() {
                continue;
            }
            form.files.push(FileAttachment { name: file_name, content_type, data: data.to_vec() });
            continue;
        }
        let value = field.text().await.map_err(|e| field_error(e, max_upload))?;
        match name.as_str() {
            "csrf" => form.csrf = value,
            "to" => form.to = value,
            "cc" => form.cc = value,
            "subject" => form.subject = value,
            "body" => form.body = value,
            "in_reply_to" => form.in_reply_to = value,
            "references" => form.references = value,
            "forward" => form.forward = value,
            "forward_part" if form.forward_parts.len() < MAX_FORWARDED_PARTS => form.forward_parts.push(value),
            "forward_part" => return Err(WebError::BadRequest("too many forwarded attachments".to_owned())),
            // Unknown fields (a newer form, a browser extension) are ignored.
            _ => {}
        }
    }
    Ok(form)
}

/// A body cut by the limit is 413 with the page that says the limit; any
/// other broken multipart is the client's error.
fn field_error(error: MultipartError, max_upload: usize) -> WebError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        WebError::TooLarge { limit: max_upload }
    } else {
        WebError::BadRequest(format!("the form could not be read: {}", error.body_text()))
    }
}

/// A subject on one line: line breaks and other control characters from a
/// pasted text become spaces (mail-builder encodes the rest).
pub fn one_line(text: &str) -> String {
    text.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).collect::<String>().trim().to_owned()
}

/// Message-IDs from the hidden fields, without angle brackets; anything
/// that is not `left@right` in printable ASCII is dropped (they were ours
/// when the form was made, but the form comes back from the browser).
pub fn message_ids(text: &str) -> Vec<String> {
    text.split_ascii_whitespace()
        .map(|id| id.trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| {
            id.len() < 256 && id.contains('@') && id.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b))
        })
        .take(20)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_stay_on_one_line() {
        assert_eq!(one_line(" a\r\nBcc: eve@x\t b "), "a  Bcc: eve@x  b");
    }

    #[test]
    fn only_plausible_message_ids_survive() {
        assert_eq!(message_ids("<a@b> c@d nonsense <e\"@f> x@y\r\nBcc:"), ["a@b", "c@d", "x@y"]);
    }
}

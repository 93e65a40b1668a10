//! `GET /mail/{mailbox}/{uid}`: one message, read (and so marked \Seen).

use super::mime::{self, Body};
use super::open;
use super::sanitize::{self, Policy};
use crate::error::{WebError, page};
use crate::layout::Layout;
use crate::session::Session;
use crate::{WebmailServices, paths};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use mail_parser::{Message, MessageParser};
use serde::Deserialize;
use std::sync::Arc;
use store::{Flag, FlagOp};

/// The page's CSP when the reader asked for remote images: the base policy
/// with remote image sources allowed, on this response only.
pub const CSP_WITH_REMOTE_IMAGES: &str = "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; \
                                          script-src 'self'; frame-ancestors 'none'; form-action 'self'";

#[derive(Deserialize)]
pub struct ViewQuery {
    #[serde(default)]
    images: Option<String>,
}

/// One attachment as the page links it.
pub struct AttachmentLink {
    pub url: String,
    pub name: String,
    pub content_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    subject: String,
    from: String,
    to: String,
    cc: String,
    date: String,
    /// Sanitised HTML or escaped text: safe to insert as is.
    body_html: String,
    attachments: Vec<AttachmentLink>,
    blocked_images: usize,
    show_images_url: String,
    message_url: String,
    reference: String,
    flagged: bool,
    move_targets: Vec<String>,
}

pub async fn show(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path((mailbox_name, uid)): Path<(String, String)>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, WebError> {
    let opened = open::message(&services, &session, &mailbox_name, &uid).await?;
    let (changed, _) =
        opened.account.set_flags(opened.mailbox.id, &[opened.uid], FlagOp::Add, &[Flag::Seen], None).await?;
    let flagged = changed.first().is_some_and(|meta| meta.flags.contains(&Flag::Flagged));
    let show_remote_images = query.images.as_deref() == Some("1");
    let message = MessageParser::default().parse(&opened.raw[..]).unwrap_or_default();
    let message_url = paths::message_url(&opened.mailbox.name, opened.uid.0);
    let part_url_prefix = format!("{message_url}/part/");
    let (body, attachments) = body_and_attachments(&message, &part_url_prefix, show_remote_images);
    let layout = Layout::new(&services, &session, Some(&opened.mailbox.name)).await?;
    let move_targets =
        layout.folders.iter().map(|folder| folder.name.clone()).filter(|name| *name != opened.mailbox.name).collect();
    let page_data = MessagePage {
        layout,
        subject: message.subject().unwrap_or("(no subject)").to_owned(),
        from: mime::format_addresses(message.from()),
        to: mime::format_addresses(message.to()),
        cc: mime::format_addresses(message.cc()),
        date: message.date().map(|date| date.to_rfc822()).unwrap_or_default(),
        body_html: body.html,
        attachments,
        blocked_images: body.blocked_images,
        show_images_url: format!("{message_url}?images=1"),
        reference: format!("{}/{}", paths::encode_segment(&opened.mailbox.name), opened.uid.0),
        message_url,
        flagged,
        move_targets,
    };
    let mut response = page(&page_data)?;
    if show_remote_images {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_WITH_REMOTE_IMAGES));
    }
    Ok(response)
}

/// The body to show and the attachments to list; images the HTML shows
/// by `cid:` are part of the body and not listed again.
fn body_and_attachments(
    message: &Message<'_>,
    part_url_prefix: &str,
    show_remote_images: bool,
) -> (sanitize::Sanitized, Vec<AttachmentLink>) {
    let mut shown_inline = Vec::new();
    let body = match mime::body(message) {
        Body::Html(html) => {
            let content_ids = mime::content_ids(message);
            shown_inline = content_ids
                .iter()
                .filter(|(id, _)| html.contains(&format!("cid:{id}")))
                .map(|(_, path)| path.clone())
                .collect();
            let policy = Policy { show_remote_images, part_url_prefix: part_url_prefix.to_owned(), content_ids };
            sanitize::sanitize(&html, policy)
        }
        Body::Plain(text) => sanitize::Sanitized { html: super::plain::to_pre(&text), blocked_images: 0 },
        Body::Empty => sanitize::Sanitized { html: String::new(), blocked_images: 0 },
    };
    let attachments = mime::attachments(message)
        .into_iter()
        .filter(|attachment| !shown_inline.contains(&attachment.path))
        .map(|attachment| AttachmentLink {
            url: format!("{part_url_prefix}{}", attachment.path),
            size: human_size(attachment.size),
            name: attachment.name,
            content_type: attachment.content_type,
        })
        .collect();
    (body, attachments)
}

/// `1.2 MB` style sizes for the attachment list.
pub fn human_size(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(5 * 1024 * 1024 + 1024 * 512), "5.5 MB");
    }
}

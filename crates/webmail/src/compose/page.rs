//! `GET /compose`: the empty form, or one prefilled for a reply
//! (`?reply=mailbox/uid`) or a forward (`?forward=mailbox/uid`). The page
//! is also shown again, with what was typed, when a POST is refused.

use super::prefill::{self, Draft};
use crate::error::{WebError, page};
use crate::layout::Layout;
use crate::message::open;
use crate::message::view::human_size;
use crate::session::Session;
use crate::{WebmailServices, paths};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mail_parser::MessageParser;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct ComposeQuery {
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    forward: Option<String>,
}

/// A forwarded attachment offered on the form (a checked checkbox).
pub struct ForwardedPart {
    pub path: String,
    pub name: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "compose.html")]
pub struct ComposePage {
    pub layout: Layout,
    pub error: Option<String>,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub body: String,
    pub in_reply_to: String,
    pub references: String,
    /// `mailbox/uid` of the forwarded message, as the hidden field holds it.
    pub forward: String,
    pub forwarded: Vec<ForwardedPart>,
    pub max_upload: String,
}

pub async fn form(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Query(query): Query<ComposeQuery>,
) -> Result<Response, WebError> {
    let (draft, forward) = match (&query.reply, &query.forward) {
        (Some(reference), _) => (prefill_from(&services, &session, reference, prefill::reply).await?, String::new()),
        (None, Some(reference)) => {
            let opened = open::by_reference(&services, &session, reference).await?;
            let message = MessageParser::default().parse(&opened.raw[..]).unwrap_or_default();
            // The hidden field names the message by its canonical name.
            let forward = format!("{}/{}", opened.mailbox.name, opened.uid.0);
            (prefill::forward(&message), forward)
        }
        (None, None) => (Draft::default(), String::new()),
    };
    let layout = Layout::new(&services, &session, None).await?;
    let compose = ComposePage {
        layout,
        error: None,
        to: draft.to,
        cc: draft.cc,
        subject: draft.subject,
        body: draft.body,
        in_reply_to: draft.in_reply_to.unwrap_or_default(),
        references: draft.references.join(" "),
        forward,
        forwarded: draft
            .forwarded
            .into_iter()
            .map(|part| ForwardedPart { path: part.path, name: part.name, size: human_size(part.size) })
            .collect(),
        max_upload: human_size(services.config.max_upload),
    };
    page(&compose)
}

async fn prefill_from(
    services: &WebmailServices,
    session: &Session,
    reference: &str,
    make: fn(&mail_parser::Message<'_>) -> Draft,
) -> Result<Draft, WebError> {
    let opened = open::by_reference(services, session, reference).await?;
    let message = MessageParser::default().parse(&opened.raw[..]).unwrap_or_default();
    Ok(make(&message))
}

/// The form again, with what was typed and why it was refused (400).
pub fn refused(compose: ComposePage) -> Response {
    match page(&compose) {
        Ok(mut response) => {
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `/mail/INBOX?notice=sent`: where a sent message leads.
pub fn after_sending() -> String {
    format!("{}?notice=sent", paths::mailbox_url("INBOX"))
}

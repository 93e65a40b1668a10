//! `GET /mail/{mailbox}/{uid}/part/{path}`: one MIME part, decoded. Always
//! a download, except raster images asked for inline (`?inline=1`, what
//! `cid:` images in a shown HTML body use); never anything a browser would
//! run as a page of this site.

use super::download::{content_disposition, is_inline_image, served_content_type};
use super::mime::{self, PartPath};
use super::open;
use crate::WebmailServices;
use crate::error::WebError;
use crate::session::Session;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mail_parser::MessageParser;
use serde::Deserialize;
use std::sync::Arc;

/// A part opened directly runs in a sandbox with nothing allowed: even if
/// a browser sniffed it as a document, it could not script or fetch.
const PART_CSP: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

#[derive(Deserialize)]
pub struct PartQuery {
    #[serde(default)]
    inline: Option<String>,
}

pub async fn download(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path((mailbox_name, uid, path)): Path<(String, String, String)>,
    Query(query): Query<PartQuery>,
) -> Result<Response, WebError> {
    // Checked before anything is read: a bad path is no part of any message.
    let path_text = path;
    let path = PartPath::parse(&path_text).ok_or(WebError::NotFound)?;
    let opened = open::message(&services, &session, &mailbox_name, &uid).await?;
    let message = MessageParser::default().parse(&opened.raw[..]).ok_or(WebError::NotFound)?;
    let part = mime::find_part(&message, &path).ok_or(WebError::NotFound)?;
    if part.is_multipart() {
        return Err(WebError::NotFound);
    }
    let declared = mime::content_type(part);
    let inline = query.inline.as_deref() == Some("1") && is_inline_image(&declared);
    let content_type = if inline { declared.clone() } else { served_content_type(&declared) };
    let disposition = content_disposition(inline, &mime::display_name(part, &path_text));
    let headers = [
        (header::CONTENT_TYPE, header_value(&content_type)?),
        (header::CONTENT_DISPOSITION, header_value(&disposition)?),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PART_CSP)),
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    Ok((StatusCode::OK, headers, part.contents().to_vec()).into_response())
}

/// Every value was built from checked, printable ASCII; a failure here is
/// a bug of ours, answered as one rather than with a panic.
fn header_value(text: &str) -> Result<HeaderValue, WebError> {
    HeaderValue::from_str(text).map_err(|_| WebError::Internal(format!("bad header value {text:?}")))
}

//! `/admin/queue`: the messages waiting in this member's queue, one in
//! detail, and retrying, holding, releasing or deleting one.

use super::call::{CallError, api};
use super::{Done, Flash, Page, render};
use crate::AdminServices;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use queue::{QueueEntry, QueueId, RecipientState};
use std::sync::Arc;

/// A queue can be long; the page shows the oldest this many.
const MAX_ROWS: usize = 500;

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    total: usize,
    entries: Vec<EntryRow>,
}

#[derive(Template)]
#[template(path = "queue_entry.html")]
struct EntryPage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    entry: EntryRow,
    actions: [(&'static str, &'static str); 4],
}

/// What can be done to a queued message, and the button saying it.
const ACTIONS: [(&str, &str); 4] =
    [("retry", "Retry now"), ("hold", "Hold"), ("release", "Release"), ("delete", "Delete without delivering")];

struct EntryRow {
    id: String,
    from: String,
    received: String,
    size: u64,
    summary: String,
    recipients: Vec<(String, String)>,
}

pub async fn page(State(s): State<Arc<AdminServices>>, page: Page, Query(done): Query<Done>) -> Response {
    let (mut entries, status, flash) = match api::<Vec<QueueEntry>>(&s, Method::GET, "/api/v1/queue", None).await {
        Ok(entries) => (entries, StatusCode::OK, Flash::done(done.done.as_deref())),
        Err(e) => (Vec::new(), e.status, Flash::error(e.message)),
    };
    entries.sort_by_key(|e| (e.envelope.received_at, e.id));
    let total = entries.len();
    let entries = entries.iter().take(MAX_ROWS).map(row).collect();
    render(status, &QueuePage { page: &page, flash, section: "queue", total, entries })
}

pub async fn show(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    show_entry(&s, &page, &id, StatusCode::OK, Flash::done(done.done.as_deref())).await
}

async fn show_entry(s: &Arc<AdminServices>, page: &Page, id: &str, status: StatusCode, flash: Flash) -> Response {
    let Ok(id) = id.parse::<QueueId>() else {
        return (StatusCode::NOT_FOUND, "no such queued message").into_response();
    };
    match api::<QueueEntry>(s, Method::GET, &format!("/api/v1/queue/{id}"), None).await {
        Ok(entry) => render(status, &EntryPage { page, flash, section: "queue", entry: row(&entry), actions: ACTIONS }),
        // Gone (delivered, deleted): back to the list, saying so.
        Err(e) => {
            let flash = Flash { notice: flash.notice, error: Some(e.message) };
            let status = if e.status == StatusCode::NOT_FOUND { StatusCode::NOT_FOUND } else { e.status };
            let entries = Vec::new();
            render(status, &QueuePage { page, flash, section: "queue", total: 0, entries })
        }
    }
}

/// `POST /admin/queue/{id}/{retry|hold|release|delete}`.
pub async fn act(
    State(s): State<Arc<AdminServices>>,
    page: Page,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Ok(parsed) = id.parse::<QueueId>() else {
        return (StatusCode::NOT_FOUND, "no such queued message").into_response();
    };
    let path = format!("/api/v1/queue/{parsed}");
    let result: Result<(), CallError> = match action.as_str() {
        "retry" | "hold" | "release" => {
            api::<Option<QueueEntry>>(&s, Method::POST, &format!("{path}/{action}"), None).await.map(drop)
        }
        "delete" => api::<()>(&s, Method::DELETE, &path, None).await,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match result {
        Ok(()) if action == "delete" => page.redirect("/admin/queue?done=delete").into_response(),
        // A retry may deliver it at once; the entry page then says it is gone.
        Ok(()) => page.redirect(&format!("/admin/queue/{parsed}?done={action}")).into_response(),
        Err(e) => show_entry(&s, &page, &id, e.status, Flash::error(e.message)).await,
    }
}

fn row(entry: &QueueEntry) -> EntryRow {
    let recipients: Vec<(String, String)> = entry
        .envelope
        .recipients
        .iter()
        .zip(entry.states.iter())
        .map(|(recipient, state)| (recipient.clone(), describe(state)))
        .collect();
    let count = |f: fn(&RecipientState) -> bool| entry.states.iter().filter(|s| f(s)).count();
    let summary = [
        ("pending", count(|s| matches!(s, RecipientState::Pending))),
        ("deferred", count(|s| matches!(s, RecipientState::Deferred { .. }))),
        ("held", count(|s| matches!(s, RecipientState::Held { .. }))),
        ("delivered", count(|s| matches!(s, RecipientState::Delivered))),
        ("failed", count(|s| matches!(s, RecipientState::Failed { .. }))),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(what, n)| format!("{n} {what}"))
    .collect::<Vec<_>>()
    .join(", ");
    EntryRow {
        id: entry.id.to_string(),
        from: if entry.envelope.mail_from.is_empty() { "<>".into() } else { entry.envelope.mail_from.clone() },
        received: when(entry.envelope.received_at),
        size: entry.size,
        summary,
        recipients,
    }
}

fn describe(state: &RecipientState) -> String {
    match state {
        RecipientState::Pending => "pending".into(),
        RecipientState::Deferred { attempts, next_attempt, last_error, .. } => {
            format!("deferred after {attempts} attempts, next {}: {last_error}", when(*next_attempt))
        }
        RecipientState::Held { reason } => format!("held: {reason}"),
        RecipientState::Delivered => "delivered".into(),
        RecipientState::Failed { reason } => format!("failed: {reason}"),
    }
}

/// Unix seconds as UTC date and time.
fn when(secs: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| secs.to_string())
}
